package fedlearn

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// ProtocolVersion is the version of the network protocol spoken by
// HTTPHandler and Client.Connect; see # Protocol in the package
// documentation.
const ProtocolVersion = 1

// Protocol paths, relative to where the HTTPHandler is mounted.
const (
	PathConnect = "/v1/connect"
	PathModel   = "/v1/model"
	PathHistory = "/v1/history"
)

// Config keys of the join handshake.
const (
	keyProtocol  = "protocol"
	keyHeartbeat = "heartbeat_ms"
)

// HTTPConfig configures an HTTPHandler. Auth is required; every other zero
// field has the default documented on it.
//
// NewHTTPHandler copies an HTTPConfig, so it may be reused afterwards; the
// handler keeps and calls its Auth and Logger, which must be safe for
// concurrent use.
type HTTPConfig struct {
	// Auth authenticates every request by its bearer token.
	Auth Authenticator
	// Heartbeat is the interval at which the server sends heartbeats; a
	// side that hears nothing for three intervals drops the connection.
	// Zero means 15 seconds.
	Heartbeat time.Duration
	// DType is the tensor encoding of requests; clients reply in kind.
	// Zero means wire.Float32, half the bytes of wire.Float64.
	DType wire.DType
	// Limits bounds decoded messages; zero fields mean wire's defaults
	// (64 MiB frames, 16 Mi elements).
	Limits wire.Limits
	// QueueSize bounds each connection's outgoing queue; zero means 8. A
	// request that finds the queue full waits for room until its context
	// ends; a heartbeat that finds it full is skipped.
	QueueSize int
	// WriteTimeout bounds each frame write; zero means one minute.
	WriteTimeout time.Duration
	// Logger receives the transport's logs; nil discards them.
	Logger *slog.Logger
}

// HTTPHandler is the network transport of a Server: an http.Handler that
// accepts clients over WebSocket at PathConnect and serves the current
// model at PathModel and the public part of the round history
// (RoundRecord.Public) at PathHistory, all behind bearer-token
// authentication. Serve Server.History, with its shared metrics, only to
// the operator. Mount it anywhere, typically under a
// prefix with http.StripPrefix, and serve it over TLS.
//
// An HTTPHandler is safe for concurrent use. Close it to end all client
// connections; http.Server.Shutdown does not, as they are hijacked.
type HTTPHandler struct {
	srv *Server
	cfg HTTPConfig
	log *slog.Logger
	up  websocket.Upgrader

	mu       sync.Mutex
	closed   bool
	sessions map[*wsConn]struct{}
	wg       sync.WaitGroup
}

// NewHTTPHandler returns the network transport for srv.
func NewHTTPHandler(srv *Server, cfg HTTPConfig) (*HTTPHandler, error) {
	if srv == nil || cfg.Auth == nil {
		return nil, fmt.Errorf("%w: HTTPHandler needs a server and an Authenticator", ErrConfig)
	}
	if cfg.Heartbeat < 0 || cfg.QueueSize < 0 || cfg.WriteTimeout < 0 {
		return nil, fmt.Errorf("%w: negative HTTPHandler setting", ErrConfig)
	}
	if cfg.DType != 0 && cfg.DType != wire.Float32 && cfg.DType != wire.Float64 {
		return nil, fmt.Errorf("%w: unknown dtype %v", ErrConfig, cfg.DType)
	}
	cfg.Heartbeat = cmp.Or(cfg.Heartbeat, 15*time.Second)
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 8)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, time.Minute)
	cfg.DType = cmp.Or(cfg.DType, wire.Float32)
	return &HTTPHandler{
		srv: srv, cfg: cfg, log: orDiscard(cfg.Logger),
		up:       websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10},
		sessions: map[*wsConn]struct{}{},
	}, nil
}

// bearer extracts the token of an "Authorization: Bearer" header.
func bearer(r *http.Request) Token {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return Token(strings.TrimSpace(h[7:]))
	}
	return ""
}

// ServeHTTP implements http.Handler.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case PathConnect, PathModel, PathHistory:
	default:
		http.NotFound(w, r)
		return
	}
	id, err := h.cfg.Auth.Authenticate(r.Context(), bearer(r))
	if err != nil {
		if errors.Is(err, ErrUnauthorized) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fedlearn"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.log.Error("fedlearn: authenticator failed", "err", err)
		http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
		return
	}
	switch r.URL.Path {
	case PathConnect:
		h.connect(w, r, id)
	case PathModel:
		dt := h.cfg.DType
		if r.URL.Query().Get("dtype") == "float64" {
			dt = wire.Float64
		}
		round := h.srv.Round()
		b, err := wire.AppendTensor(nil, h.srv.Params(), dt)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Fedlearn-Round", strconv.Itoa(round))
		w.Write(b)
	case PathHistory:
		// Every client may read this: publish only what is safe for all.
		hist := h.srv.History()
		for i, r := range hist {
			hist[i] = r.Public()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(hist)
	}
}

// Close ends every client connection and refuses new ones.
func (h *HTTPHandler) Close() error {
	h.mu.Lock()
	h.closed = true
	for s := range h.sessions {
		s.close(ErrClosed)
	}
	h.mu.Unlock()
	h.wg.Wait()
	return nil
}

func (h *HTTPHandler) connect(w http.ResponseWriter, r *http.Request, id string) {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := h.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	limit := h.cfg.Limits.MaxBytes
	if limit <= 0 {
		limit = wire.DefaultMaxBytes
	}
	ws.SetReadLimit(int64(limit) + 1)
	c := newWSConn(id, ws, h.cfg.QueueSize, h.cfg.Limits)
	c.dtype = h.cfg.DType
	if err := h.handshake(c); err != nil {
		h.log.Info("fedlearn: handshake failed", "client", id, "err", err)
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "handshake"), time.Now().Add(time.Second))
		ws.Close()
		return
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.Close()
		return
	}
	h.sessions[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	detach := h.srv.Attach(c)
	h.log.Info("fedlearn: client connected", "client", id, "remote", r.RemoteAddr)
	go func() {
		defer h.wg.Done()
		err := c.run(h.cfg.Heartbeat, h.cfg.WriteTimeout, func(m *wire.Message) error {
			if m.Kind == wire.KindSecAgg {
				return nil // a late reply to a stage that has closed
			}
			return fmt.Errorf("%w: unexpected %v from client", ErrProtocol, m.Kind)
		})
		detach()
		h.mu.Lock()
		delete(h.sessions, c)
		h.mu.Unlock()
		h.log.Info("fedlearn: client disconnected", "client", id, "err", err)
	}()
}

// handshake reads the client's join message and answers it.
func (h *HTTPHandler) handshake(c *wsConn) error {
	c.ws.SetReadDeadline(time.Now().Add(cmp.Or(h.cfg.Heartbeat, 10*time.Second)))
	m, err := c.readMessage()
	if err != nil {
		return err
	}
	if m.Kind != wire.KindJoin {
		return fmt.Errorf("%w: first message is %v, not join", ErrProtocol, m.Kind)
	}
	if v, _ := m.Config[keyProtocol].(int64); v != ProtocolVersion {
		reply := &wire.Message{Kind: wire.KindError, Code: uint32(CodeProtocol), Text: fmt.Sprintf("protocol version %d not supported; server speaks %d", v, ProtocolVersion)}
		b, _ := reply.MarshalBinary()
		c.ws.WriteMessage(websocket.BinaryMessage, b)
		return fmt.Errorf("%w: client speaks protocol %v", ErrProtocol, m.Config[keyProtocol])
	}
	reply := &wire.Message{Kind: wire.KindJoin, Text: c.id, Config: map[string]any{
		keyProtocol:  int64(ProtocolVersion),
		keyHeartbeat: h.cfg.Heartbeat.Milliseconds(),
	}}
	b, err := reply.MarshalBinary()
	if err != nil {
		return err
	}
	c.ws.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
	return c.ws.WriteMessage(websocket.BinaryMessage, b)
}

// wsConn is one side of a WebSocket connection carrying wire messages: it
// correlates requests with replies by Seq, sends heartbeats, and has one
// writer goroutine fed by a bounded queue. The server uses it as a Conn;
// the client uses the same machinery in the other direction.
type wsConn struct {
	id     string
	ws     *websocket.Conn
	limits wire.Limits
	dtype  wire.DType
	out    chan *[]byte
	done   chan struct{}

	lastFrame int // size of the largest frame read so far: a hint for the next

	mu      sync.Mutex
	seq     uint64
	pending map[uint64]chan *wire.Message
	err     error
	once    sync.Once
}

// frames recycles encoded frames between the senders and the writer
// goroutines, and readBufs the buffers frames are read into, so that a
// round does not allocate model-sized buffers per message and idle
// connections pin none.
var (
	frames   sync.Pool // of *[]byte
	readBufs sync.Pool // of *bytes.Buffer
)

func newWSConn(id string, ws *websocket.Conn, queue int, limits wire.Limits) *wsConn {
	return &wsConn{
		id: id, ws: ws, limits: limits,
		out:     make(chan *[]byte, queue),
		done:    make(chan struct{}),
		pending: map[uint64]chan *wire.Message{},
	}
}

func (c *wsConn) ID() string { return c.id }

// Close closes the connection; pending calls fail with ErrClosed.
func (c *wsConn) Close() error {
	c.close(ErrClosed)
	return nil
}

func (c *wsConn) close(err error) {
	c.once.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.ws.Close()
	})
}

func (c *wsConn) closeErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Errorf("%w: connection to %s: %w", ErrClosed, c.id, c.err)
}

// readMessage reads and decodes one binary frame. The frame is read into a
// pooled buffer (decoding copies everything it keeps).
func (c *wsConn) readMessage() (*wire.Message, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	if typ != websocket.BinaryMessage {
		return nil, fmt.Errorf("%w: text frame", ErrProtocol)
	}
	buf, _ := readBufs.Get().(*bytes.Buffer)
	if buf == nil {
		buf = new(bytes.Buffer)
	}
	defer readBufs.Put(buf)
	buf.Reset()
	buf.Grow(c.lastFrame + bytes.MinRead) // one allocation at most, even on a pool miss
	if _, err := buf.ReadFrom(r); err != nil {
		return nil, err
	}
	c.lastFrame = max(c.lastFrame, buf.Len())
	var m wire.Message
	if err := c.limits.Unmarshal(buf.Bytes(), &m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	return &m, nil
}

// send queues an encoded message, waiting for room until ctx ends.
func (c *wsConn) send(ctx context.Context, m *wire.Message) error {
	bp, _ := frames.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, err := m.AppendBinary((*bp)[:0])
	if err != nil {
		frames.Put(bp)
		return err
	}
	*bp = b
	select {
	case c.out <- bp:
		return nil
	case <-c.done:
		frames.Put(bp)
		return c.closeErr()
	case <-ctx.Done():
		frames.Put(bp)
		return ctx.Err()
	}
}

// Call implements Conn.
func (c *wsConn) Call(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	m := *req // never modify the caller's message: it is shared by a cohort
	m.DType = cmp.Or(m.DType, c.dtype)
	ch := make(chan *wire.Message, 1)
	c.mu.Lock()
	c.seq++
	m.Seq = c.seq
	c.pending[m.Seq] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, m.Seq)
		c.mu.Unlock()
	}()
	if err := c.send(ctx, &m); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		if r.Kind == wire.KindError {
			return nil, remoteError(r)
		}
		return r, nil
	case <-c.done:
		return nil, c.closeErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run serves the connection until it fails or is closed: a writer
// goroutine drains the queue and sends heartbeats every hb; this goroutine
// reads, routing replies to pending calls and handing requests to handle
// (which must not block). A peer silent for three heartbeats is dropped.
func (c *wsConn) run(hb, writeTimeout time.Duration, handle func(*wire.Message) error) error {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop(hb, writeTimeout)
	}()
	err := c.readLoop(hb, handle)
	c.close(err)
	<-writerDone
	return err
}

func (c *wsConn) readLoop(hb time.Duration, handle func(*wire.Message) error) error {
	for {
		c.ws.SetReadDeadline(time.Now().Add(3 * hb))
		m, err := c.readMessage()
		if err != nil {
			return err
		}
		switch m.Kind {
		case wire.KindHeartbeat:
			// Nothing to do: any frame resets the read deadline.
		case wire.KindFitResult, wire.KindEvaluateResult, wire.KindError, wire.KindSecAgg:
			c.mu.Lock()
			ch, ok := c.pending[m.Seq]
			c.mu.Unlock()
			if !ok && m.Kind == wire.KindSecAgg {
				// Not a reply to one of our calls: a request.
				if err := handle(m); err != nil {
					return err
				}
				continue
			}
			if ch != nil {
				select {
				case ch <- m:
				default:
				}
			} // else a late reply to a call that gave up: dropped
		default:
			if err := handle(m); err != nil {
				return err
			}
		}
	}
}

// heartbeat encodes a heartbeat message.
func heartbeat(seq uint64) []byte {
	b, _ := (&wire.Message{Kind: wire.KindHeartbeat, Seq: seq}).MarshalBinary()
	return b
}

func (c *wsConn) writeLoop(hb, writeTimeout time.Duration) {
	var tick <-chan time.Time
	if hb > 0 {
		t := time.NewTicker(hb)
		defer t.Stop()
		tick = t.C
	}
	var beat uint64
	write := func(b []byte) bool {
		c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
		if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
			c.close(err)
			return false
		}
		return true
	}
	for {
		select {
		case bp := <-c.out:
			ok := write(*bp)
			frames.Put(bp)
			if !ok {
				return
			}
		case <-tick:
			beat++
			if !write(heartbeat(beat)) {
				return
			}
		case <-c.done:
			return
		}
	}
}
