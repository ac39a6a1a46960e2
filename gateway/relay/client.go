package relay

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// Defaults used for zero ClientConfig fields.
const (
	DefaultMinBackoff       = time.Second
	DefaultMaxBackoff       = time.Minute
	DefaultMaxClientStreams = 1024
)

// ClientConfig configures a Client. URL, Home, Key and Handler are
// required; every other field has a working zero value.
type ClientConfig struct {
	// URL is the relay: "https://relay.example" (the gateway endpoint is
	// then ConnectPath) or the full "wss://" URL of the endpoint. Plain
	// http and ws are refused: the login is bound to TLS.
	URL string

	// Home is the home's name at the relay (see ValidHome).
	Home string

	// Key is the gateway's Ed25519 key (an ed25519.PrivateKey or any
	// crypto.Signer holding one, such as a key in a TPM). Its public half
	// must be registered with the relay.
	Key crypto.Signer

	// Handler serves the requests the relay forwards, typically a
	// gateway.Server. It sees the request as the public client made it,
	// minus the HomesPath prefix, with X-Forwarded-For, -Host, -Proto and
	// (for path routing) -Prefix set by the relay and no other forwarding
	// header, and with RemoteAddr set to the public client's address as
	// the relay reported it. On passthrough streams it sees the client's
	// own request, headers untouched (Relayed is false).
	Handler http.Handler

	// TLSClientConfig configures TLS to the relay (root CAs, for
	// instance). Nil means the system defaults.
	TLSClientConfig *tls.Config

	// TLSConfig, if set, terminates end-to-end TLS passthrough
	// connections (Server.ServePassthrough) at the gateway: it must hold a
	// certificate for the home's host name. Nil means passthrough
	// connections are refused.
	TLSConfig *tls.Config

	// RelayBehindTLSProxy accepts a relay that cannot bind the login to
	// the TLS connection because a proxy terminates TLS in front of it
	// (Config.BehindTLSProxy). The login is then bound to the relay's host
	// name only.
	RelayBehindTLSProxy bool

	// HeartbeatInterval is how often the gateway pings the relay. Zero
	// means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration

	// HeartbeatTimeout is how long the link may stay silent before the
	// gateway declares it dead and reconnects. It must exceed
	// HeartbeatInterval. Zero means three intervals.
	HeartbeatTimeout time.Duration

	// HandshakeTimeout bounds dialling and logging in to the relay, and
	// the preamble of each stream. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// MinBackoff and MaxBackoff bound the jittered exponential wait
	// between reconnection attempts. Zero means DefaultMinBackoff and
	// DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration

	// MaxStreams limits the streams the gateway serves at once; streams
	// beyond it are closed at once. Zero means DefaultMaxClientStreams;
	// negative means no limit.
	MaxStreams int

	// OnConnect, if set, is called each time the gateway has logged in to
	// the relay. OnDisconnect, if set, is called each time a connection
	// ends or an attempt fails, with the reason. Both are called from the
	// goroutine running Run and must not block.
	OnConnect    func()
	OnDisconnect func(err error)

	// Logger receives the client's diagnostics. It never receives
	// request contents. Nil discards them.
	Logger *slog.Logger
}

// ClientMetrics is a snapshot of a Client's counters. It marshals to JSON
// as is.
type ClientMetrics struct {
	// Connected reports whether the gateway is logged in to the relay now.
	Connected bool `json:"connected"`
	// Connects counts successful logins.
	Connects uint64 `json:"connects"`
	// Streams is the number of streams being served now.
	Streams int `json:"streams"`
	// StreamsTotal counts the streams accepted since the Client started.
	StreamsTotal uint64 `json:"streams_total"`
	// BytesIn counts the bytes received from the relay on streams.
	BytesIn uint64 `json:"bytes_in"`
	// BytesOut counts the bytes sent to the relay on streams.
	BytesOut uint64 `json:"bytes_out"`
}

// Client is the home side of remote access: it dials out to a relay (the
// home needs no inbound port), logs in with the gateway's key, and serves
// the relay's streams with a Handler, reconnecting with jittered
// exponential back-off whenever the link is lost.
//
// Run it with Run; stop it with Shutdown or Close. A Client is safe for
// concurrent use.
type Client struct {
	cfg  ClientConfig
	log  *slog.Logger
	url  string
	host string // the relay host name the login is signed for
	pub  ed25519.PublicKey
	ymux *yamux.Config
	tls  *tls.Config // for passthrough streams
	srv  *http.Server
	ln   *streamListener

	started  atomic.Bool
	draining atomic.Bool
	runDone  chan struct{}

	mu      sync.Mutex
	stopped bool
	cancel  context.CancelFunc // cancels Run's context
	sess    *yamux.Session
	conns   map[*clientStream]struct{}
	wg      sync.WaitGroup // stream goroutines

	streams      gate
	connected    atomic.Bool
	connects     atomic.Uint64
	streamsTotal atomic.Uint64
	bytesIn      atomic.Uint64
	bytesOut     atomic.Uint64
}

// NewClient returns a Client configured by cfg, or an error describing
// every invalid field. It does not connect; Run does.
func NewClient(cfg ClientConfig) (*Client, error) {
	var errs []error
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil:
		errs = append(errs, fmt.Errorf("relay: URL: %w", err))
	case u.Scheme != "https" && u.Scheme != "wss":
		errs = append(errs, fmt.Errorf("relay: URL scheme %q, want https or wss", u.Scheme))
	case u.Hostname() == "":
		errs = append(errs, errors.New("relay: URL has no host"))
	}
	if !ValidHome(cfg.Home) {
		errs = append(errs, fmt.Errorf("%w: %q", ErrInvalidHome, cfg.Home))
	}
	var pub ed25519.PublicKey
	if cfg.Key == nil {
		errs = append(errs, fmt.Errorf("%w: no Key", ErrInvalidKey))
	} else if p, ok := cfg.Key.Public().(ed25519.PublicKey); !ok || len(p) != ed25519.PublicKeySize {
		errs = append(errs, fmt.Errorf("%w: Key is %T, want an Ed25519 key", ErrInvalidKey, cfg.Key.Public()))
	} else {
		pub = p
	}
	if cfg.Handler == nil {
		errs = append(errs, errors.New("relay: no Handler"))
	}
	if cfg.HeartbeatInterval < 0 || cfg.HeartbeatTimeout < 0 || cfg.HandshakeTimeout < 0 || cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 {
		errs = append(errs, errors.New("relay: negative duration in ClientConfig"))
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 3 * cfg.HeartbeatInterval
	}
	if cfg.HeartbeatTimeout <= cfg.HeartbeatInterval {
		errs = append(errs, errors.New("relay: HeartbeatTimeout must exceed HeartbeatInterval"))
	}
	if cfg.HandshakeTimeout == 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		errs = append(errs, errors.New("relay: MaxBackoff below MinBackoff"))
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = DefaultMaxClientStreams
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	if u.Scheme == "https" {
		u.Scheme = "wss"
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = ConnectPath
	}
	c := &Client{
		cfg:     cfg,
		log:     cfg.Logger,
		url:     u.String(),
		host:    strings.ToLower(u.Hostname()),
		pub:     pub,
		runDone: make(chan struct{}),
		conns:   make(map[*clientStream]struct{}),
		streams: gate{cap: cfg.MaxStreams},
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.ymux = yamuxConfig(cfg.HeartbeatTimeout, c.log)
	if cfg.TLSConfig != nil {
		c.tls = cfg.TLSConfig.Clone()
		c.tls.NextProtos = []string{"http/1.1"} // the stream server speaks HTTP/1.1
	}
	c.ln = &streamListener{ch: make(chan net.Conn), done: make(chan struct{})}
	c.srv = &http.Server{
		Handler: cfg.Handler,
		// Only the relay's own HTTP streams are relayed: on a passthrough
		// stream (TLS to the home) every header is the public client's.
		ConnContext: func(ctx context.Context, conn net.Conn) context.Context {
			if _, ok := conn.(*clientStream); ok {
				return context.WithValue(ctx, relayedKey{}, true)
			}
			return ctx
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(slogWriter{c.log}, "", 0),
	}
	return c, nil
}

type relayedKey struct{}

// Relayed reports whether r reached the home as HTTP forwarded by the
// relay through a Client's tunnel (rather than on a listener of the
// home's own), so that a gateway can honour the forwarding headers the
// relay set, and only those: the relay drops those of the public client.
// It is false for requests on an end-to-end TLS passthrough stream, whose
// every header comes from the public client. No header or address a
// remote client controls can make it true. Use it as
// gateway.Config.TrustForwarded.
func Relayed(r *http.Request) bool {
	v, _ := r.Context().Value(relayedKey{}).(bool)
	return v
}

// PublicKey returns the public key to register with the relay.
func (c *Client) PublicKey() ed25519.PublicKey { return c.pub }

// Run connects to the relay and serves its streams, reconnecting after
// every failure with jittered exponential back-off, until ctx ends (it
// returns ctx's error), Shutdown or Close is called (ErrClosed), or the
// relay refuses the gateway's credentials (an error wrapping
// ErrUnauthorized, which is not retried). Run may be called only once.
func (c *Client) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return errors.New("relay: Client.Run called twice")
	}
	defer close(c.runDone)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return ErrClosed
	}
	c.cancel = cancel
	c.mu.Unlock()

	serveDone := make(chan struct{})
	go func() {
		defer close(serveDone)
		c.srv.Serve(c.ln)
	}()
	defer func() {
		c.ln.Close()
		c.srv.Close()
		c.closeConns()
		<-serveDone
		c.wg.Wait()
	}()

	for attempt := 0; ; {
		up, err := c.connect(ctx)
		if c.isStopped() || c.draining.Load() {
			<-ctx.Done()
			return ErrClosed
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrUnauthorized) {
			c.log.Error("relay: gateway refused by the relay", "home", c.cfg.Home, "err", err)
			return err
		}
		if up {
			attempt = 0
		}
		d := backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff, mrand.Float64)
		attempt++
		c.log.Info("relay: reconnecting", "home", c.cfg.Home, "in", d, "err", err)
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// connect logs in and serves one connection until it ends. up reports
// whether the login succeeded.
func (c *Client) connect(ctx context.Context) (up bool, err error) {
	defer func() {
		if c.cfg.OnDisconnect != nil && ctx.Err() == nil {
			c.cfg.OnDisconnect(err)
		}
	}()
	hctx, cancel := context.WithTimeout(ctx, c.cfg.HandshakeTimeout)
	ws, err := c.login(hctx)
	cancel()
	if err != nil {
		return false, err
	}
	ws.SetReadLimit(maxTunnelMessage)
	link := newWSConn(ws, c.cfg.HeartbeatInterval, c.cfg.HeartbeatTimeout)
	sess, _ := yamux.Server(link, c.ymux) // the config is valid

	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { sess.Close() })
	c.connected.Store(true)
	c.connects.Add(1)
	c.log.Info("relay: connected", "home", c.cfg.Home)
	if c.cfg.OnConnect != nil {
		c.cfg.OnConnect()
	}

	for {
		st, err := sess.AcceptStream()
		if err != nil {
			break
		}
		if !c.streams.acquire() {
			st.Close()
			continue
		}
		c.streamsTotal.Add(1)
		c.wg.Add(1)
		go c.serveStream(st)
	}
	stop()
	sess.Close()
	c.connected.Store(false)
	c.mu.Lock()
	c.sess = nil
	c.mu.Unlock()
	err = link.err()
	if errors.Is(err, net.ErrClosed) || err == nil {
		err = fmt.Errorf("%w: connection closed", ErrHomeOffline)
	}
	return true, err
}

// login dials the relay and runs the gateway's side of the handshake.
func (c *Client) login(ctx context.Context) (*websocket.Conn, error) {
	d := websocket.Dialer{
		TLSClientConfig:  c.cfg.TLSClientConfig,
		HandshakeTimeout: c.cfg.HandshakeTimeout,
		Subprotocols:     []string{subprotocol},
		WriteBufferPool:  &clientWriteBuffers,
	}
	ws, resp, err := d.DialContext(ctx, c.url, nil)
	if err != nil {
		if resp != nil && resp.StatusCode == http.StatusServiceUnavailable {
			return nil, fmt.Errorf("%w: relay unavailable", ErrRefused)
		}
		if resp != nil {
			return nil, fmt.Errorf("relay: dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("relay: dial: %w", err)
	}
	fail := func(err error) (*websocket.Conn, error) {
		ws.Close()
		return nil, err
	}
	if ws.Subprotocol() != subprotocol {
		return fail(fmt.Errorf("%w: relay speaks %q", ErrProtocol, ws.Subprotocol()))
	}
	ws.SetReadLimit(maxHandshakeMessage)
	if dl, ok := ctx.Deadline(); ok {
		ws.SetReadDeadline(dl)
		ws.SetWriteDeadline(dl)
	}
	typ, data, err := ws.ReadMessage()
	if err != nil {
		return fail(fmt.Errorf("relay: reading challenge: %w", err))
	}
	if typ != websocket.TextMessage {
		return fail(fmt.Errorf("%w: binary challenge", ErrProtocol))
	}
	ch, err := parseChallenge(data)
	if err != nil {
		return fail(err)
	}
	var exporter []byte
	switch ch.Binding {
	case bindingTLSExporter:
		tc, ok := ws.NetConn().(*tls.Conn)
		if !ok {
			return fail(fmt.Errorf("%w: no TLS connection to bind", ErrProtocol))
		}
		cs := tc.ConnectionState()
		if exporter, err = cs.ExportKeyingMaterial(exporterLabel, nil, exporterLen); err != nil {
			return fail(fmt.Errorf("relay: channel binding: %w", err))
		}
	case bindingNone:
		if !c.cfg.RelayBehindTLSProxy {
			return fail(fmt.Errorf("%w: relay offers no TLS channel binding (set RelayBehindTLSProxy if it is behind a TLS proxy)", ErrProtocol))
		}
	}
	msg := transcript(ch.Binding, c.cfg.Home, c.host, ch.Nonce, exporter, c.pub)
	sig, err := c.cfg.Key.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil {
		return fail(fmt.Errorf("relay: signing login: %w", err))
	}
	if err := ws.WriteJSON(hello{Type: msgHello, V: protocolVersion, Home: c.cfg.Home, Host: c.host, Key: c.pub, Sig: sig}); err != nil {
		return fail(fmt.Errorf("relay: sending hello: %w", err))
	}
	typ, data, err = ws.ReadMessage()
	if err != nil {
		return fail(fmt.Errorf("relay: reading result: %w", err))
	}
	if typ != websocket.TextMessage {
		return fail(fmt.Errorf("%w: binary result", ErrProtocol))
	}
	if err := parseResult(data); err != nil {
		return fail(err)
	}
	ws.SetReadDeadline(time.Time{})
	ws.SetWriteDeadline(time.Time{})
	return ws, nil
}

var clientWriteBuffers sync.Pool

// serveStream reads a stream's preamble and hands the stream to the HTTP
// server.
func (c *Client) serveStream(st *yamux.Stream) {
	defer c.wg.Done()
	st.SetReadDeadline(time.Now().Add(c.cfg.HandshakeTimeout))
	p, err := readPreamble(st)
	if err != nil || (p.kind == kindTLS && c.tls == nil) {
		c.streams.release()
		st.Close()
		if err != nil {
			c.log.Warn("relay: bad stream from relay", "err", err)
		}
		return
	}
	st.SetReadDeadline(time.Time{})
	cs := &clientStream{Stream: st, c: c, remote: p.addr}
	if !c.track(cs) {
		cs.Close()
		return
	}
	var conn net.Conn = cs
	if p.kind == kindTLS {
		conn = tls.Server(cs, c.tls)
	}
	select {
	case c.ln.ch <- conn:
	case <-c.ln.done:
		cs.Close()
	}
}

func (c *Client) track(cs *clientStream) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return false
	}
	c.conns[cs] = struct{}{}
	return true
}

func (c *Client) closeConns() {
	c.mu.Lock()
	conns := make([]*clientStream, 0, len(c.conns))
	for cs := range c.conns {
		conns = append(conns, cs)
	}
	c.mu.Unlock()
	for _, cs := range conns {
		cs.Close()
	}
}

func (c *Client) isStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// stop makes Run return.
func (c *Client) stop() {
	c.mu.Lock()
	c.stopped = true
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Metrics returns a snapshot of the client's counters.
func (c *Client) Metrics() ClientMetrics {
	return ClientMetrics{
		Connected:    c.connected.Load(),
		Connects:     c.connects.Load(),
		Streams:      c.streams.count(),
		StreamsTotal: c.streamsTotal.Load(),
		BytesIn:      c.bytesIn.Load(),
		BytesOut:     c.bytesOut.Load(),
	}
}

// Shutdown stops the gateway gracefully: it tells the relay to open no
// more streams, waits for the requests being served to finish (as
// http.Server.Shutdown does; hijacked connections such as WebSockets are
// not waited for), then closes everything as Close does. If ctx ends
// first, Shutdown returns its error and leaves the rest to Close.
func (c *Client) Shutdown(ctx context.Context) error {
	c.draining.Store(true)
	c.mu.Lock()
	sess := c.sess
	c.mu.Unlock()
	if sess != nil {
		sess.GoAway()
	}
	if !c.started.Load() {
		c.stop()
		return nil
	}
	err := c.srv.Shutdown(ctx)
	if err != nil {
		return err
	}
	c.stop()
	select {
	case <-c.runDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the gateway at once: it closes the relay connection and
// every stream being served, and waits for Run to return.
func (c *Client) Close() error {
	c.draining.Store(true)
	c.stop()
	if c.started.Load() {
		<-c.runDone
	}
	return nil
}

// clientStream is the gateway's end of one stream: it counts bytes,
// reports the public client's address, and frees its slot when closed.
type clientStream struct {
	*yamux.Stream
	c      *Client
	remote netip.AddrPort
	once   sync.Once
}

func (s *clientStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	s.c.bytesIn.Add(uint64(n))
	return n, err
}

func (s *clientStream) Write(p []byte) (int, error) {
	n, err := s.Stream.Write(p)
	s.c.bytesOut.Add(uint64(n))
	return n, err
}

func (s *clientStream) Close() error {
	s.once.Do(func() {
		s.Stream.Close()
		s.c.mu.Lock()
		delete(s.c.conns, s)
		s.c.mu.Unlock()
		s.c.streams.release()
	})
	return nil
}

// RemoteAddr returns the public client's address, if the relay reported
// one.
func (s *clientStream) RemoteAddr() net.Addr {
	if s.remote.IsValid() {
		return net.TCPAddrFromAddrPort(s.remote)
	}
	return s.Stream.RemoteAddr()
}

// streamListener hands streams to the gateway's http.Server.
type streamListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func (l *streamListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *streamListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *streamListener) Addr() net.Addr { return relayAddr{} }

type relayAddr struct{}

func (relayAddr) Network() string { return "relay" }
func (relayAddr) String() string  { return "relay" }
