package relay

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sync"
	"time"
)

// maxResponseHeader bounds the response header a home may send.
const maxResponseHeader = 1 << 20

// streamTransport is the relay's http.RoundTripper: each request is one
// HTTP/1.1 exchange on a stream of its own, written and read on the
// caller's goroutine (plus one goroutine while a request body is being
// sent), with no connection pool and nothing left behind.
type streamTransport struct {
	s *Server
}

var (
	bufReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4<<10) }}
	bufWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 4<<10) }}
)

func (t streamTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt, _ := req.Context().Value(routeKey{}).(*route)
	if rt == nil || rt.h == nil {
		return nil, ErrHomeOffline
	}
	st, err := rt.h.sess.OpenStream()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrHomeOffline, err)
	}
	conn := t.s.newStreamConn(rt.h, st, appendPreamble(nil, kindHTTP, rt.client))
	// A cancelled request (the public client left) cuts the stream, which
	// also unblocks any read or write in progress.
	stop := context.AfterFunc(req.Context(), conn.abort)
	fail := func(err error) (*http.Response, error) {
		stop()
		conn.abort()
		if req.Context().Err() != nil {
			err = req.Context().Err()
		}
		return nil, err
	}

	// One exchange per stream: the home closes it after the response
	// (an upgrade keeps it for the new protocol instead).
	req.Close = req.Header.Get("Upgrade") == ""
	bw := bufWriters.Get().(*bufio.Writer)
	bw.Reset(conn)
	hasBody := req.Body != nil && req.Body != http.NoBody
	var bodyErr chan error
	if !hasBody {
		err = req.Write(bw)
		if err == nil {
			err = bw.Flush()
		}
		bw.Reset(nil)
		bufWriters.Put(bw)
		if err != nil {
			return fail(err)
		}
	} else {
		// Send the body while reading the response: a home may answer
		// (401, 413) before it has read it all.
		bodyErr = make(chan error, 1)
		go func() {
			err := req.Write(bw)
			if err == nil {
				err = bw.Flush()
			}
			bw.Reset(nil)
			bufWriters.Put(bw)
			if err != nil {
				// The home would wait for the rest of the body forever.
				conn.abort()
			}
			bodyErr <- err
		}()
	}

	limit := &io.LimitedReader{R: conn, N: maxResponseHeader}
	br := bufReaders.Get().(*bufio.Reader)
	br.Reset(limit)
	if d := t.s.cfg.ResponseHeaderTimeout; d > 0 {
		conn.SetReadDeadline(time.Now().Add(d))
	}
	var resp *http.Response
	for {
		resp, err = http.ReadResponse(br, req)
		if err != nil {
			break
		}
		// Skip informational answers (100 Continue, 103 Early Hints): the
		// relay's own server deals with the public client's Expect.
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			break
		}
	}
	if err != nil {
		if bodyErr != nil {
			conn.abort()
			if werr := <-bodyErr; rt.tooLarge.Load() {
				err = werr
			}
		}
		br.Reset(nil)
		bufReaders.Put(br)
		return fail(err)
	}
	conn.SetReadDeadline(time.Time{})
	limit.N = math.MaxInt64 // the header is in; the body is not limited here

	if resp.StatusCode == http.StatusSwitchingProtocols {
		// The stream now carries the upgraded protocol (a WebSocket);
		// httputil.ReverseProxy copies it both ways through this body.
		resp.Body = &upgradedBody{br: br, conn: conn, stop: stop}
		return resp, nil
	}
	resp.Body = &responseBody{ReadCloser: resp.Body, br: br, conn: conn, stop: stop, bodyErr: bodyErr}
	return resp, nil
}

// responseBody ends the stream when the proxy is done with the response.
type responseBody struct {
	io.ReadCloser
	br      *bufio.Reader
	conn    *streamConn
	stop    func() bool
	bodyErr chan error
	once    sync.Once
}

func (b *responseBody) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.Close()
		if b.bodyErr != nil {
			// The request body may still be on its way if the home
			// answered early: cut it off, then wait for the sender.
			select {
			case <-b.bodyErr:
			default:
				b.conn.abort()
				<-b.bodyErr
			}
		}
		b.br.Reset(nil)
		bufReaders.Put(b.br)
	})
	return nil
}

// upgradedBody is the stream after a 101 Switching Protocols answer.
type upgradedBody struct {
	br   *bufio.Reader
	conn *streamConn
	stop func() bool
	once sync.Once
}

func (b *upgradedBody) Read(p []byte) (int, error)  { return b.br.Read(p) }
func (b *upgradedBody) Write(p []byte) (int, error) { return b.conn.Write(p) }
func (b *upgradedBody) Close() error {
	b.once.Do(func() {
		b.stop()
		b.conn.abort()
	})
	return nil
}
