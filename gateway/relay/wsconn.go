package relay

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wsConn turns a WebSocket into the byte stream yamux runs on, and keeps
// the link honest with heartbeats: it pings the peer every interval and
// declares the link dead (closing it, which ends the yamux session) when
// nothing at all has arrived from the peer for timeout.
//
// Writes are coalesced: Write appends to a buffer and a writer goroutine
// sends whatever has accumulated as one binary message. Under load, the
// frames of many streams share a message, a TLS record and a system call;
// when idle, a frame goes out at once. The buffer is bounded (Write waits
// for room), so yamux's flow control still reaches the network.
//
// Read must be called from one goroutine (the yamux receive loop); Write
// and Close may be called from any goroutine.
type wsConn struct {
	ws       *websocket.Conn
	interval time.Duration
	timeout  time.Duration

	r io.Reader // the message being read, if any (reader goroutine only)

	mu       sync.Mutex
	room     sync.Cond // signalled when the writer took the buffer or failed
	buf      []byte    // bytes waiting for the writer
	spare    []byte    // the writer's previous buffer, for reuse
	closed   bool
	closeErr error // why the link ended, reported by err
	pinger   *time.Timer

	kick      chan struct{} // wakes the writer; capacity 1
	done      chan struct{} // closed by closeWith
	writerEnd chan struct{} // closed when the writer has returned
	closeOnce sync.Once
}

// maxPendingWrite bounds one coalesced message; it stays well under the
// peer's read limit (maxTunnelMessage) since one yamux frame is at most a
// stream window (256 KiB) plus its header.
const maxPendingWrite = 512 << 10

func newWSConn(ws *websocket.Conn, interval, timeout time.Duration) *wsConn {
	c := &wsConn{
		ws: ws, interval: interval, timeout: timeout,
		kick: make(chan struct{}, 1), done: make(chan struct{}), writerEnd: make(chan struct{}),
	}
	c.room.L = &c.mu
	c.alive()
	ws.SetPongHandler(func(string) error { c.alive(); return nil })
	ws.SetPingHandler(func(data string) error {
		c.alive()
		err := ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(c.timeout))
		var ne net.Error
		if err == nil || errors.Is(err, websocket.ErrCloseSent) || errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		return err
	})
	c.mu.Lock()
	c.pinger = time.AfterFunc(interval, c.ping)
	c.mu.Unlock()
	go c.writer()
	return c
}

// alive pushes the read deadline one timeout into the future. It runs only
// on the reading goroutine (control-frame handlers run inside NextReader).
func (c *wsConn) alive() {
	c.ws.SetReadDeadline(time.Now().Add(c.timeout))
}

func (c *wsConn) ping() {
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
				return 0, c.fail(err)
			}
			if typ != websocket.BinaryMessage {
				return 0, c.fail(fmt.Errorf("%w: unexpected text message on tunnel", ErrProtocol))
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
			return n, c.fail(err)
		}
		return n, nil
	}
}

// Write queues p for the writer goroutine.
func (c *wsConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for !c.closed && len(c.buf) > 0 && len(c.buf)+len(p) > maxPendingWrite {
		c.room.Wait()
	}
	if c.closed {
		return 0, c.closeErr
	}
	c.buf = append(c.buf, p...)
	select {
	case c.kick <- struct{}{}:
	default:
	}
	return len(p), nil
}

// writer sends the queued bytes, as one message per batch.
func (c *wsConn) writer() {
	defer close(c.writerEnd)
	for {
		select {
		case <-c.kick:
		case <-c.done:
			return
		}
		runtime.Gosched() // let the frames of the moment join the batch
		c.mu.Lock()
		batch := c.buf
		c.buf, c.spare = c.spare[:0], nil
		c.room.Broadcast()
		c.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		c.ws.SetWriteDeadline(time.Now().Add(c.timeout))
		if err := c.ws.WriteMessage(websocket.BinaryMessage, batch); err != nil {
			c.fail(err)
			return
		}
		c.mu.Lock()
		if cap(batch) <= maxPendingWrite { // keep a normal-sized buffer for reuse
			c.spare = batch[:0]
		}
		c.mu.Unlock()
	}
}

// fail closes the link because of err and returns the reason it ended: a
// deadline that expired means the heartbeat timed out.
func (c *wsConn) fail(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		err = ErrHeartbeatTimeout
	}
	c.closeWith(err)
	return c.err()
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
		c.pinger.Stop()
		c.room.Broadcast()
		c.mu.Unlock()
		close(c.done)
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
	if cause != net.ErrClosed {
		return
	}
	// A deliberate Close waits for the writer, so nothing of the link
	// outlives it.
	<-c.writerEnd
}

// err reports why the link ended (nil while it is up).
func (c *wsConn) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeErr
}

func (c *wsConn) LocalAddr() net.Addr  { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }
