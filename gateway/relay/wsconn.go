package relay

import (
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn turns a WebSocket into the byte stream yamux runs on, and keeps
// the link honest with heartbeats: it pings the peer every interval and
// declares the link dead (closing it, which ends the yamux session) when
// nothing at all has arrived from the peer for timeout.
//
// Read must be called from one goroutine and Write from one goroutine (the
// yamux receive and send loops); Close may be called from any goroutine.
type wsConn struct {
	ws       *websocket.Conn
	interval time.Duration
	timeout  time.Duration

	r       io.Reader // the message being read, if any
	pending []byte    // a yamux data-frame header waiting for its body
	hdrBuf  [yamuxHeaderLen]byte

	mu        sync.Mutex
	pinger    *time.Timer
	closed    bool
	closeErr  error // why the link ended, reported by err
	closeOnce sync.Once
}

const (
	yamuxHeaderLen = 12 // yamux frame header: version, type, flags, stream id, length
	yamuxTypeData  = 0
)

func newWSConn(ws *websocket.Conn, interval, timeout time.Duration) *wsConn {
	c := &wsConn{ws: ws, interval: interval, timeout: timeout}
	c.alive()
	ws.SetPongHandler(func(string) error { c.alive(); return nil })
	ws.SetPingHandler(func(data string) error {
		c.alive()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.timeout))
		if err != nil && !errors.Is(err, websocket.ErrCloseSent) {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return nil
			}
			return err
		}
		return nil
	})
	c.mu.Lock()
	c.pinger = time.AfterFunc(interval, c.ping)
	c.mu.Unlock()
	return c
}

// alive pushes the read deadline one timeout into the future. It runs only
// on the reading goroutine (control-frame handlers run inside NextReader).
func (c *wsConn) alive() {
	c.ws.SetReadDeadline(time.Now().Add(c.timeout))
}

func (c *wsConn) ping() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.timeout)); err != nil {
		c.closeWith(fmt.Errorf("heartbeat: %w", err))
		return
	}
	c.mu.Lock()
	if !c.closed {
		c.pinger.Reset(c.interval)
	}
	c.mu.Unlock()
}

// Read reads the payload of consecutive binary messages as one stream.
func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, c.readErr(err)
			}
			if typ != websocket.BinaryMessage {
				err := fmt.Errorf("%w: unexpected text message on tunnel", ErrProtocol)
				c.closeWith(err)
				return 0, err
			}
			c.alive()
			c.r = r
		}
		n, err := c.r.Read(p)
		if err == io.EOF {
			c.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, c.readErr(err)
		}
		return n, nil
	}
}

// readErr records why reading failed: a read deadline that expired means
// the heartbeat timed out.
func (c *wsConn) readErr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = ErrHeartbeatTimeout
	}
	c.closeWith(err)
	return c.err()
}

// Write sends p as one binary message. yamux writes every data frame as a
// 12-byte header followed by its body; the header is held back and sent in
// the same message as the body, halving the messages (and TLS records and
// system calls) on the link.
func (c *wsConn) Write(p []byte) (int, error) {
	if c.pending == nil && len(p) == yamuxHeaderLen && p[1] == yamuxTypeData && binary.BigEndian.Uint32(p[8:]) > 0 {
		c.pending = append(c.hdrBuf[:0], p...)
		return len(p), nil
	}
	c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
	var err error
	if c.pending != nil {
		var w io.WriteCloser
		w, err = c.ws.NextWriter(websocket.BinaryMessage)
		if err == nil {
			_, err = w.Write(c.pending)
			if err == nil {
				_, err = w.Write(p)
			}
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		c.pending = nil
	} else {
		err = c.ws.WriteMessage(websocket.BinaryMessage, p)
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			err = ErrHeartbeatTimeout
		}
		c.closeWith(err)
		return 0, c.err()
	}
	return len(p), nil
}

// Close closes the link, telling the peer with a close frame when it can.
func (c *wsConn) Close() error {
	c.closeWith(net.ErrClosed)
	return nil
}

func (c *wsConn) closeWith(cause error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.closeErr = cause
		if c.pinger != nil {
			c.pinger.Stop()
		}
		c.mu.Unlock()
		if !errors.Is(cause, ErrHeartbeatTimeout) {
			msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
			c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(100*time.Millisecond))
		}
		// Close the transport under TLS first: tls.Conn.Close would try to
		// send close_notify, which can block for seconds on a dead link.
		if tc, ok := c.ws.NetConn().(*tls.Conn); ok {
			tc.NetConn().Close()
		}
		c.ws.Close()
	})
}

// err reports why the link ended (nil while it is up).
func (c *wsConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }
