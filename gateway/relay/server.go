package relay

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// ConnectPath is the path of the relay endpoint gateways dial.
const ConnectPath = "/relay/v1/connect"

// HomesPath prefixes the public URLs of homes: a request for
// HomesPath+"villa-7/things" reaches the handler of the gateway of home
// "villa-7" as "/things".
const HomesPath = "/homes/"

// Defaults used for zero Config and ClientConfig fields.
const (
	DefaultHeartbeatInterval = 15 * time.Second
	DefaultHandshakeTimeout  = 10 * time.Second
	DefaultMaxStreamsPerHome = 256
	DefaultMaxRequestBody    = 16 << 20
)

// maxTunnelMessage bounds one WebSocket message of the tunnel: a yamux
// frame header and body (at most the stream window).
const maxTunnelMessage = 1 << 20

// streamCloseTimeout is how long a half-closed stream waits for the other
// side's close before it is reset.
const streamCloseTimeout = time.Minute

// Config configures a Server. The zero value is a relay that knows no home
// (every gateway is refused) with the defaults described per field.
type Config struct {
	// Registry holds the public keys of the homes allowed to connect.
	// Nil means no home is known.
	Registry Registry

	// HomeDomain, if set, gives every home its own host name:
	// requests for host "villa-7."+HomeDomain go to home "villa-7" with
	// their path unchanged, and ServePassthrough routes TLS connections by
	// that server name. Empty means path routing only (HomesPath) and no
	// passthrough routing. The relay's own host name (where gateways
	// connect) must not be under HomeDomain.
	HomeDomain string

	// Hostnames are the relay's own host names, as gateways dial them.
	// When set, a gateway that signed its login for another name is
	// refused. Required with BehindTLSProxy; optional otherwise (the TLS
	// channel binding already ties each login to its connection).
	Hostnames []string

	// BehindTLSProxy says that gateways reach the relay through a proxy
	// that terminates TLS, so the relay cannot bind logins to the TLS
	// connection and binds them to Hostnames only. Gateways must opt in
	// too (ClientConfig.RelayBehindTLSProxy). False means the relay
	// terminates TLS itself and refuses gateway connections without it.
	BehindTLSProxy bool

	// MaxHomes limits the gateways connected at once. Zero means no limit.
	MaxHomes int

	// MaxStreams limits the streams (forwarded requests, WebSockets and
	// passthrough connections) open at once across all homes; beyond it
	// requests are answered 503. Zero means no limit.
	MaxStreams int

	// MaxStreamsPerHome limits the streams open at once to one home;
	// beyond it requests are answered 429. Zero means
	// DefaultMaxStreamsPerHome; negative means no limit.
	MaxStreamsPerHome int

	// MaxRequestBody limits the body of a forwarded request, in bytes;
	// larger ones are answered 413. Zero means DefaultMaxRequestBody;
	// negative means no limit. It does not apply to WebSocket or
	// passthrough traffic (see HomeBandwidth).
	MaxRequestBody int64

	// HomeBandwidth limits the traffic to and from each home, in bytes per
	// second in each direction. Zero means no limit.
	HomeBandwidth int64

	// HeartbeatInterval is how often the relay pings each gateway. Zero
	// means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration

	// HeartbeatTimeout is how long a gateway link may stay silent (no
	// data, no heartbeat) before the relay declares it dead and drops it.
	// It must exceed HeartbeatInterval. Zero means three intervals.
	HeartbeatTimeout time.Duration

	// HandshakeTimeout bounds a gateway's login and a passthrough client's
	// ClientHello. Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// ResponseHeaderTimeout, if positive, bounds the wait for a home's
	// response headers (504 after it). Zero means no limit.
	ResponseHeaderTimeout time.Duration

	// Logger receives the relay's diagnostics. It never receives tokens,
	// request paths, queries, headers or bodies. Nil discards them.
	Logger *slog.Logger
}

// Metrics is a snapshot of a Server's counters. It marshals to JSON as is,
// so it can be published with expvar.Func.
type Metrics struct {
	// Homes is the number of gateways connected now.
	Homes int `json:"homes"`
	// Streams is the number of streams open now: forwarded requests,
	// WebSockets and passthrough connections.
	Streams int `json:"streams"`
	// StreamsTotal counts the streams opened since the Server started.
	StreamsTotal uint64 `json:"streams_total"`
	// BytesIn counts the bytes received from homes.
	BytesIn uint64 `json:"bytes_in"`
	// BytesOut counts the bytes sent to homes.
	BytesOut uint64 `json:"bytes_out"`
	// Connects counts successful gateway logins.
	Connects uint64 `json:"connects"`
	// Refused counts refused gateway logins (unknown home, wrong key,
	// bad signature, relay full, malformed handshake).
	Refused uint64 `json:"refused"`
	// Rejected counts public requests and passthrough connections turned
	// away (home offline, a limit reached, unroutable).
	Rejected uint64 `json:"rejected"`
}

// Server is the cloud side of remote access: it holds the connections
// gateways dial out to it and forwards public requests to them. It is an
// http.Handler that serves ConnectPath (gateways) and the homes' public
// URLs, and it can serve end-to-end TLS passthrough on a separate listener
// (ServePassthrough).
//
// A Server is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	domain   string // "." + HomeDomain, lower case; empty if none
	upgrader websocket.Upgrader
	proxy    *httputil.ReverseProxy
	ymux     *yamux.Config

	mu        sync.Mutex
	state     int // stateRunning, stateDraining, stateClosed
	homes     map[string]*home
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{} // passthrough clients
	wg        sync.WaitGroup        // gateway handlers and passthrough goroutines

	streams      gate
	streamsTotal atomic.Uint64
	bytesIn      atomic.Uint64
	bytesOut     atomic.Uint64
	connects     atomic.Uint64
	refused      atomic.Uint64
	rejected     atomic.Uint64
}

const (
	stateRunning = iota
	stateDraining
	stateClosed
)

// home is one connected gateway.
type home struct {
	name    string
	key     ed25519.PublicKey
	streams gate
	in, out *limiter

	// ready is closed once the login has finished, successfully (sess
	// and link are set) or not (they are nil). Read them only after.
	ready chan struct{}
	sess  *yamux.Session
	link  *wsConn
}

func (h *home) done() <-chan struct{} { return h.sess.CloseChan() }

// close ends the home's connection, once its login has finished (which
// Close hastens by closing the login's connection).
func (h *home) close() {
	<-h.ready
	if h.sess != nil {
		h.sess.Close()
	}
}

// NewServer returns a relay configured by cfg, or an error describing every
// invalid field.
func NewServer(cfg Config) (*Server, error) {
	var errs []error
	if cfg.HeartbeatInterval < 0 || cfg.HeartbeatTimeout < 0 || cfg.HandshakeTimeout < 0 || cfg.ResponseHeaderTimeout < 0 {
		errs = append(errs, errors.New("relay: negative duration in Config"))
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
	if cfg.MaxStreamsPerHome == 0 {
		cfg.MaxStreamsPerHome = DefaultMaxStreamsPerHome
	}
	if cfg.MaxRequestBody == 0 {
		cfg.MaxRequestBody = DefaultMaxRequestBody
	}
	if cfg.MaxHomes < 0 || cfg.MaxStreams < 0 || cfg.HomeBandwidth < 0 {
		errs = append(errs, errors.New("relay: negative MaxHomes, MaxStreams or HomeBandwidth"))
	}
	cfg.HomeDomain = strings.ToLower(strings.Trim(cfg.HomeDomain, "."))
	if cfg.HomeDomain != "" && !validHostName(cfg.HomeDomain) {
		errs = append(errs, fmt.Errorf("relay: invalid HomeDomain %q", cfg.HomeDomain))
	}
	cfg.Hostnames = slices.Clone(cfg.Hostnames)
	for i, h := range cfg.Hostnames {
		cfg.Hostnames[i] = strings.ToLower(h)
	}
	if cfg.BehindTLSProxy && len(cfg.Hostnames) == 0 {
		errs = append(errs, errors.New("relay: BehindTLSProxy requires Hostnames"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		homes:     make(map[string]*home),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[net.Conn]struct{}),
		streams:   gate{cap: cfg.MaxStreams},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if cfg.HomeDomain != "" {
		s.domain = "." + cfg.HomeDomain
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.HandshakeTimeout,
		Subprotocols:     []string{subprotocol},
		// Gateways are not browsers; a request with an Origin is a web
		// page trying its luck.
		CheckOrigin:     func(r *http.Request) bool { return r.Header.Get("Origin") == "" },
		WriteBufferPool: &sync.Pool{},
		Error: func(w http.ResponseWriter, _ *http.Request, status int, _ error) {
			http.Error(w, http.StatusText(status), status)
		},
	}
	s.proxy = &httputil.ReverseProxy{
		Rewrite:        rewrite,
		Transport:      streamTransport{s},
		ErrorHandler:   s.proxyError,
		ModifyResponse: liftStreamDeadlines,
		ErrorLog:       log.New(io.Discard, "", 0),
		BufferPool:     bufferPool{},
	}
	s.ymux = yamuxConfig(cfg.HeartbeatTimeout, s.log)
	return s, nil
}

// yamuxConfig is the multiplexer configuration of both sides: keepalives
// off (the WebSocket heartbeat does that job), writes and stream opens
// bounded by the heartbeat timeout.
func yamuxConfig(timeout time.Duration, lg *slog.Logger) *yamux.Config {
	c := yamux.DefaultConfig()
	c.EnableKeepAlive = false
	c.ConnectionWriteTimeout = timeout
	c.StreamOpenTimeout = 0 // a goroutine per open; the heartbeat finds dead links
	c.StreamCloseTimeout = streamCloseTimeout
	c.LogOutput = nil
	c.Logger = log.New(slogWriter{lg}, "", 0)
	return c
}

// slogWriter passes yamux's log lines to a slog.Logger at debug level.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Debug(strings.TrimSpace(string(p)))
	return len(p), nil
}

// ServeHTTP serves gateway connections at ConnectPath and forwards every
// request for a home (under HomesPath, or for a host name under HomeDomain)
// to that home's gateway. It answers 404 for anything else, 502 when the
// home is not connected (registered or not: the public cannot tell), 429
// or 503 when a stream limit is reached and 413 for a body over
// MaxRequestBody.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if name, ok := s.hostHome(r.Host); ok {
		s.forward(w, r, &route{home: name, path: r.URL.Path, rawPath: r.URL.RawPath})
		return
	}
	if r.URL.Path == ConnectPath {
		s.serveGateway(w, r)
		return
	}
	rt, err := parseHomePath(r.URL.Path, r.URL.RawPath)
	if errors.Is(err, errMalformedPath) {
		s.reject(w, http.StatusBadRequest)
		return
	}
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if rt.path == "" {
		u := *r.URL
		u.Path, u.RawPath = r.URL.Path+"/", ""
		http.Redirect(w, r, u.RequestURI(), http.StatusPermanentRedirect)
		return
	}
	s.forward(w, r, rt)
}

// Errors of parseHomePath.
var (
	errNotHome       = errors.New("relay: not a home path")
	errMalformedPath = errors.New("relay: malformed home path")
)

// parseHomePath splits a public path "/homes/{home}/rest" into the home
// and the path its gateway sees ("/rest"; empty for "/homes/{home}").
// rawPath is the escaped path when it differs from the default escaping
// of path (url.URL.RawPath). It returns errNotHome for a path outside
// HomesPath or naming no valid home, and errMalformedPath when the
// escaped path does not split the same way: the home name escaped, or an
// escaped slash right after it ("/homes/villa%2Fthings"), which would
// leave the gateway a path without its leading slash.
func parseHomePath(path, rawPath string) (*route, error) {
	rest, ok := strings.CutPrefix(path, HomesPath)
	if !ok {
		return nil, errNotHome
	}
	name, _, _ := strings.Cut(rest, "/")
	if !ValidHome(name) {
		return nil, errNotHome
	}
	rt := &route{home: name, prefix: HomesPath + name}
	rt.path = path[len(rt.prefix):] // "" or "/…"
	if rawPath != "" {
		// Home names need no escaping, so the escaped path has the same
		// prefix, then the same slash; keep the escaping of the rest.
		rawRest, ok := strings.CutPrefix(rawPath, rt.prefix)
		if !ok || (rawRest == "") != (rt.path == "") || rawRest != "" && rawRest[0] != '/' {
			return nil, errMalformedPath
		}
		rt.rawPath = rawRest
	}
	return rt, nil
}

// hostHome maps a Host header or TLS server name under HomeDomain to the
// home it names.
func (s *Server) hostHome(host string) (string, bool) {
	if s.domain == "" || host == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	name, ok := strings.CutSuffix(host, s.domain)
	if !ok || !ValidHome(name) {
		return "", false
	}
	return name, true
}

// route is where one public request goes; it travels in the request
// context from ServeHTTP to the proxy's Rewrite, dial and error handler.
type route struct {
	home     string
	prefix   string // the public path prefix the gateway does not see
	path     string
	rawPath  string
	h        *home
	client   string // public client address, "ip:port"
	rc       *http.ResponseController
	tooLarge atomic.Bool
}

type routeKey struct{}

func (s *Server) forward(w http.ResponseWriter, r *http.Request, rt *route) {
	if s.stateNow() != stateRunning {
		s.reject(w, http.StatusServiceUnavailable)
		return
	}
	h := s.lookup(rt.home)
	if h == nil {
		s.reject(w, http.StatusBadGateway)
		return
	}
	maxBody := s.cfg.MaxRequestBody
	if maxBody > 0 && r.ContentLength > maxBody {
		s.reject(w, http.StatusRequestEntityTooLarge)
		return
	}
	if !s.streams.acquire() {
		s.reject(w, http.StatusServiceUnavailable)
		return
	}
	defer s.streams.release()
	if !h.streams.acquire() {
		s.reject(w, http.StatusTooManyRequests)
		return
	}
	defer h.streams.release()
	s.streamsTotal.Add(1)

	rt.h = h
	rt.rc = http.NewResponseController(w)
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		rt.client = ap.String()
	}
	if maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = &limitedBody{rc: r.Body, n: maxBody, rt: rt}
	}
	s.proxy.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), routeKey{}, rt)))
}

// liftStreamDeadlines clears the embedding http.Server's deadlines for
// responses that stream: an SSE stream must outlive WriteTimeout, and an
// upgraded (WebSocket) connection both ReadTimeout and WriteTimeout. The
// heartbeat and the home's own limits bound them instead.
func liftStreamDeadlines(resp *http.Response) error {
	rt, _ := resp.Request.Context().Value(routeKey{}).(*route)
	if rt == nil || rt.rc == nil {
		return nil
	}
	upgrade := resp.StatusCode == http.StatusSwitchingProtocols
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if upgrade || mt == "text/event-stream" {
		_ = rt.rc.SetWriteDeadline(time.Time{}) // ErrNotSupported: nothing to lift
	}
	if upgrade {
		_ = rt.rc.SetReadDeadline(time.Time{})
	}
	return nil
}

func (s *Server) reject(w http.ResponseWriter, status int) {
	s.rejected.Add(1)
	switch status {
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(status), status)
}

// rewrite turns a public request into the request the gateway sees. The
// hop-by-hop headers are already gone (httputil.ReverseProxy removes them,
// keeping a WebSocket upgrade). The relay is the edge: it drops every
// forwarding header the public client sent (Forwarded and all
// X-Forwarded-*, not only those ReverseProxy knows) and sets its own, so
// that a gateway trusting relayed requests (Relayed) trusts the relay's
// word only. Authorization, cookies and the body pass through untouched.
func rewrite(pr *httputil.ProxyRequest) {
	rt := pr.In.Context().Value(routeKey{}).(*route)
	pr.Out.URL.Scheme = "http"
	pr.Out.URL.Host = rt.home
	pr.Out.URL.Path = rt.path
	pr.Out.URL.RawPath = rt.rawPath
	pr.Out.Host = pr.In.Host
	dropForwarding(pr.Out.Header)
	pr.SetXForwarded()
	if rt.prefix != "" {
		pr.Out.Header.Set("X-Forwarded-Prefix", rt.prefix)
	}
	// The relay's own server answered any Expect: 100-continue already.
	pr.Out.Header.Del("Expect")
}

// dropForwarding deletes the forwarding headers of h: Forwarded and every
// X-Forwarded-* header.
func dropForwarding(h http.Header) {
	for k := range h {
		if lk := strings.ToLower(k); lk == "forwarded" || strings.HasPrefix(lk, "x-forwarded-") {
			delete(h, k)
		}
	}
}

func (s *Server) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	rt, _ := r.Context().Value(routeKey{}).(*route)
	status := http.StatusBadGateway
	var ne net.Error
	switch {
	case rt != nil && rt.tooLarge.Load():
		status = http.StatusRequestEntityTooLarge
	case r.Context().Err() != nil:
		// The public client went away; nobody reads the answer.
	case errors.As(err, &ne) && ne.Timeout():
		status = http.StatusGatewayTimeout
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // never log the URL: its query may hold a token
	}
	home := ""
	if rt != nil {
		home = rt.home
	}
	s.log.Debug("relay: forwarding failed", "home", home, "status", status, "err", err)
	s.rejected.Add(1)
	http.Error(w, http.StatusText(status), status)
}

// limitedBody is http.MaxBytesReader for a proxied body: it remembers in
// the route that the limit was hit, so the proxy's error handler can
// answer 413 whichever error the transport reports.
type limitedBody struct {
	rc io.ReadCloser
	n  int64
	rt *route
}

var errBodyTooLarge = errors.New("relay: request body too large")

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.n < 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > b.n+1 {
		p = p[:b.n+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.n {
		b.n -= int64(n)
		return n, err
	}
	b.n = -1
	b.rt.tooLarge.Store(true)
	return n - 1, errBodyTooLarge
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// bufferPool lends the proxy its copy buffers.
type bufferPool struct{}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *copyBuffers.Get().(*[]byte) }
func (bufferPool) Put(b []byte) { copyBuffers.Put(&b) }

// streamConn is the relay's end of one stream to a home: it counts bytes,
// applies the home's bandwidth limit, sends the preamble with the first
// write, and reports a stream cut by a lost link as an error rather than a
// clean end.
type streamConn struct {
	*yamux.Stream
	s       *Server
	h       *home
	prefix  []byte
	aborted atomic.Bool
}

func (s *Server) newStreamConn(h *home, st *yamux.Stream, prefix []byte) *streamConn {
	return &streamConn{Stream: st, s: s, h: h, prefix: prefix}
}

// abort cuts the stream at once: pending reads and writes fail, and the
// home is told the stream is over.
func (c *streamConn) abort() {
	c.aborted.Store(true)
	c.Stream.SetDeadline(time.Now())
	c.Stream.Close()
}

// errAborted is what an aborted stream's reads and writes report. (A
// yamux deadline alone does not stop a read that races with arriving
// data.)
var errAborted = errors.New("relay: stream aborted")

func (c *streamConn) Read(p []byte) (int, error) {
	n, err := c.Stream.Read(p)
	if c.aborted.Load() {
		return 0, errAborted
	}
	if n > 0 {
		c.s.bytesIn.Add(uint64(n))
		if !c.h.in.wait(n, c.h.done()) && err == nil {
			err = ErrHomeOffline
		}
	}
	if err == io.EOF && c.h.sess.IsClosed() {
		err = fmt.Errorf("%w: %w", ErrHomeOffline, io.ErrUnexpectedEOF)
	}
	return n, err
}

func (c *streamConn) Write(p []byte) (int, error) {
	if c.aborted.Load() {
		return 0, errAborted
	}
	if !c.h.out.wait(len(p), c.h.done()) {
		return 0, ErrHomeOffline
	}
	buf := p
	if c.prefix != nil {
		buf = append(c.prefix, p...)
		c.prefix = nil
	}
	n, err := c.Stream.Write(buf)
	c.s.bytesOut.Add(uint64(n))
	if len(buf) != len(p) { // report only p's share
		n = max(0, n-(len(buf)-len(p)))
	}
	return n, err
}

// serveGateway authenticates a gateway and holds its connection until it
// ends.
func (s *Server) serveGateway(w http.ResponseWriter, r *http.Request) {
	if !s.addWorker() {
		http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	binding, exporter := bindingNone, []byte(nil)
	if !s.cfg.BehindTLSProxy {
		if r.TLS == nil {
			http.Error(w, "gateways must connect over TLS", http.StatusForbidden)
			return
		}
		var err error
		exporter, err = r.TLS.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
		if err != nil {
			http.Error(w, "TLS 1.3 (or TLS 1.2 with extended master secret) required", http.StatusForbidden)
			return
		}
		binding = bindingTLSExporter
	}
	if !slices.Contains(websocket.Subprotocols(r), subprotocol) {
		http.Error(w, "relay: unsupported gateway protocol", http.StatusBadRequest)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	// Close must not wait for a slow login to time out.
	if !s.hold(ws.NetConn()) {
		ws.Close()
		return
	}
	h, err := s.login(r.Context(), ws, binding, exporter)
	s.unhold(ws.NetConn())
	if err != nil {
		if _, told := errors.AsType[*refusal](err); !told {
			s.refused.Add(1) // refuse counted the others
		}
		s.log.Info("relay: gateway refused", "remote", r.RemoteAddr, "err", err)
		ws.Close()
		return
	}
	s.connects.Add(1)
	s.log.Info("relay: gateway connected", "home", h.name, "key", keyID(h.key))
	s.runHome(h)
}

// refusal is a login failure with the reason the gateway is told.
type refusal struct {
	reason string
	err    error
}

func (e *refusal) Error() string { return e.reason + ": " + e.err.Error() }
func (e *refusal) Unwrap() error { return e.err }

// login runs the relay's side of the handshake and, on success, installs
// the home.
func (s *Server) login(ctx context.Context, ws *websocket.Conn, binding string, exporter []byte) (*home, error) {
	ws.SetReadLimit(maxHandshakeMessage)
	deadline := time.Now().Add(s.cfg.HandshakeTimeout)
	ws.SetReadDeadline(deadline)
	ws.SetWriteDeadline(deadline)

	nonce := make([]byte, nonceLen)
	rand.Read(nonce)
	if err := ws.WriteJSON(challenge{Type: msgChallenge, V: protocolVersion, Nonce: nonce, Binding: binding}); err != nil {
		return nil, err
	}
	typ, data, err := ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	if typ != websocket.TextMessage {
		return nil, s.refuse(ws, reasonProtocol, fmt.Errorf("%w: binary hello", ErrProtocol))
	}
	hl, err := parseHello(data)
	if err != nil {
		return nil, s.refuse(ws, reasonProtocol, err)
	}
	if len(s.cfg.Hostnames) > 0 && !slices.Contains(s.cfg.Hostnames, strings.ToLower(hl.Host)) {
		return nil, s.refuse(ws, reasonUnauthorized, fmt.Errorf("home %q signed for another relay", hl.Home))
	}
	var keys []ed25519.PublicKey
	if s.cfg.Registry == nil {
		err = ErrUnknownHome
	} else {
		keys, err = s.cfg.Registry.HomeKeys(ctx, hl.Home)
	}
	switch {
	case errors.Is(err, ErrUnknownHome):
		return nil, s.refuse(ws, reasonUnauthorized, fmt.Errorf("home %q: %w", hl.Home, ErrUnknownHome))
	case err != nil:
		return nil, s.refuse(ws, reasonUnavailable, fmt.Errorf("registry: %w", err))
	}
	key := ed25519.PublicKey(hl.Key)
	if !slices.ContainsFunc(keys, func(k ed25519.PublicKey) bool { return k.Equal(key) }) {
		return nil, s.refuse(ws, reasonUnauthorized, fmt.Errorf("home %q: key %s not registered", hl.Home, keyID(key)))
	}
	if !verifyHello(hl, binding, nonce, exporter) {
		return nil, s.refuse(ws, reasonUnauthorized, fmt.Errorf("home %q: bad signature", hl.Home))
	}
	h := &home{
		name:    hl.Home,
		key:     key,
		streams: gate{cap: s.cfg.MaxStreamsPerHome},
		in:      newLimiter(s.cfg.HomeBandwidth),
		out:     newLimiter(s.cfg.HomeBandwidth),
		ready:   make(chan struct{}),
	}
	// Install the home before welcoming it, so that once the gateway
	// knows it is connected, requests reach it; they wait on ready for
	// the instant between the two.
	if reason := s.install(h); reason != "" {
		return nil, s.refuse(ws, reason, fmt.Errorf("home %q: %s", hl.Home, reason))
	}
	err = ws.WriteJSON(result{Type: msgWelcome, V: protocolVersion})
	if err == nil {
		ws.SetReadDeadline(time.Time{})
		ws.SetWriteDeadline(time.Time{})
		ws.SetReadLimit(maxTunnelMessage)
		h.link = newWSConn(ws, s.cfg.HeartbeatInterval, s.cfg.HeartbeatTimeout)
		h.sess, _ = yamux.Client(h.link, s.ymux) // the config is valid
	}
	close(h.ready)
	if err != nil {
		s.remove(h)
		return nil, err
	}
	return h, nil
}

// refuse tells the gateway why it is refused (best effort) and returns the
// error to log.
func (s *Server) refuse(ws *websocket.Conn, reason string, err error) error {
	s.refused.Add(1)
	ws.WriteJSON(result{Type: msgRefused, V: protocolVersion, Reason: reason})
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "")
	ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return &refusal{reason, err}
}

// install makes h the home's gateway, replacing (and closing) any earlier
// connection of the same home: a gateway that reconnects before the relay
// noticed its old link die must not be locked out. It returns why it
// cannot, if it cannot.
func (s *Server) install(h *home) (reason string) {
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		return reasonShutdown
	}
	old := s.homes[h.name]
	if old == nil && s.cfg.MaxHomes > 0 && len(s.homes) >= s.cfg.MaxHomes {
		s.mu.Unlock()
		return reasonFull
	}
	s.homes[h.name] = h
	s.mu.Unlock()
	if old != nil {
		s.log.Info("relay: gateway replaced by a new connection", "home", h.name)
		old.close()
	}
	return ""
}

// runHome serves a connected home until its link ends.
func (s *Server) runHome(h *home) {
	defer s.remove(h)
	for {
		st, err := h.sess.AcceptStream()
		if err != nil {
			break
		}
		// Only the relay opens streams; a gateway that tries is broken or
		// hostile.
		st.Close()
		s.log.Warn("relay: gateway opened a stream; disconnecting", "home", h.name)
		break
	}
	h.close()
	s.log.Info("relay: gateway disconnected", "home", h.name, "err", h.link.err())
}

func (s *Server) remove(h *home) {
	s.mu.Lock()
	if s.homes[h.name] == h {
		delete(s.homes, h.name)
	}
	s.mu.Unlock()
	h.close()
}

// lookup returns the connected gateway of home name, or nil.
func (s *Server) lookup(name string) *home {
	s.mu.Lock()
	h := s.homes[name]
	s.mu.Unlock()
	if h == nil {
		return nil
	}
	<-h.ready
	if h.sess == nil || h.sess.IsClosed() {
		return nil
	}
	return h
}

// Connected reports whether a gateway of home is connected now.
func (s *Server) Connected(home string) bool {
	return s.lookup(home) != nil
}

// Disconnect drops the connection of home's gateway, if any, and reports
// whether there was one. Use it after removing a home's key from the
// Registry: the gateway's reconnection attempts are then refused.
func (s *Server) Disconnect(home string) bool {
	h := s.lookup(home)
	if h == nil {
		return false
	}
	h.close()
	return true
}

// Metrics returns a snapshot of the relay's counters.
func (s *Server) Metrics() Metrics {
	s.mu.Lock()
	homes := len(s.homes)
	s.mu.Unlock()
	return Metrics{
		Homes:        homes,
		Streams:      s.streams.count(),
		StreamsTotal: s.streamsTotal.Load(),
		BytesIn:      s.bytesIn.Load(),
		BytesOut:     s.bytesOut.Load(),
		Connects:     s.connects.Load(),
		Refused:      s.refused.Load(),
		Rejected:     s.rejected.Load(),
	}
}

func (s *Server) stateNow() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// addWorker counts a goroutine Close must wait for, unless the Server is
// no longer running.
func (s *Server) addWorker() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		return false
	}
	s.wg.Add(1)
	return true
}

// Shutdown stops the relay gracefully: it stops accepting gateways,
// passthrough connections and new requests (503), waits for the open
// streams to end, then closes every gateway connection as Close does. If
// ctx ends first, Shutdown returns its error and leaves the rest to Close.
// Long-lived streams (WebSockets, SSE, passthrough connections) hold
// Shutdown until they end or ctx does.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if s.state == stateRunning {
		s.state = stateDraining
	}
	s.closeListenersLocked()
	s.mu.Unlock()

	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for s.streams.count() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return s.Close()
}

// Close closes the relay at once: passthrough listeners, passthrough
// connections and every gateway connection (so every forwarded request in
// flight fails), and waits for the goroutines the Server started. It does
// not close the http.Server the Server is mounted in.
func (s *Server) Close() error {
	s.mu.Lock()
	s.state = stateClosed
	s.closeListenersLocked()
	for c := range s.conns {
		c.Close()
	}
	homes := make([]*home, 0, len(s.homes))
	for _, h := range s.homes {
		homes = append(homes, h)
	}
	s.mu.Unlock()
	for _, h := range homes {
		h.close()
	}
	s.wg.Wait()
	return nil
}

func (s *Server) closeListenersLocked() {
	for l := range s.listeners {
		l.Close()
		delete(s.listeners, l)
	}
}

// ServePassthrough accepts TLS connections on l and pipes each, untouched,
// to the home its server name (SNI) names under Config.HomeDomain: the
// home's gateway terminates TLS with its own certificate (see
// ClientConfig.TLSConfig), so the relay sees neither the requests nor the
// tokens, only the home name, the client's address, timing and byte
// counts. Connections without a routable server name are closed.
//
// ServePassthrough returns ErrClosed after Shutdown or Close, or the
// listener's error. It closes l when it returns.
func (s *Server) ServePassthrough(l net.Listener) error {
	if s.domain == "" {
		l.Close()
		return errors.New("relay: ServePassthrough needs Config.HomeDomain")
	}
	s.mu.Lock()
	if s.state != stateRunning {
		s.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()

	var delay time.Duration
	for {
		c, err := l.Accept()
		if err != nil {
			if s.stateNow() != stateRunning {
				return ErrClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		if !s.trackConn(c) {
			c.Close()
			return ErrClosed
		}
		go func() {
			defer s.wg.Done()
			defer s.untrackConn(c)
			s.passthrough(c)
		}()
	}
}

// trackConn holds a passthrough connection for Close and counts its
// goroutine.
func (s *Server) trackConn(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateRunning {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrackConn(c net.Conn) {
	s.unhold(c)
	c.Close()
}

// hold records a connection Close must close.
func (s *Server) hold(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateClosed {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) unhold(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// passthrough routes one TLS connection by its ClientHello's server name.
func (s *Server) passthrough(c net.Conn) {
	c.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	name, raw, err := readClientHello(c)
	if err != nil {
		s.rejected.Add(1)
		s.log.Debug("relay: passthrough: bad ClientHello", "remote", c.RemoteAddr().String(), "err", err)
		return
	}
	homeName, ok := s.hostHome(name)
	var h *home
	if ok {
		h = s.lookup(homeName)
	}
	if h == nil {
		s.rejected.Add(1)
		return
	}
	if !s.streams.acquire() {
		s.rejected.Add(1)
		return
	}
	defer s.streams.release()
	if !h.streams.acquire() {
		s.rejected.Add(1)
		return
	}
	defer h.streams.release()
	s.streamsTotal.Add(1)
	c.SetReadDeadline(time.Time{})

	st, err := h.sess.OpenStream()
	if err != nil {
		return
	}
	client := ""
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		client = ap.String()
	}
	sc := s.newStreamConn(h, st, appendPreamble(nil, kindTLS, client))
	defer sc.Close()
	if _, err := sc.Write(raw); err != nil {
		return
	}
	pipe(c, sc)
}

// pipe copies between a public connection and a stream both ways until
// both directions end, passing half-closes on. A public client that
// lingers after the home finished is cut after a grace period.
func pipe(pub net.Conn, sc *streamConn) {
	up := make(chan struct{})
	go func() {
		defer close(up)
		_, err := io.Copy(sc, pub)
		if err != nil {
			sc.Close()
			pub.Close()
			return
		}
		sc.Close() // half-close: the home reads EOF and may still answer
	}()
	_, err := io.Copy(pub, sc)
	if cw, ok := pub.(interface{ CloseWrite() error }); ok && err == nil {
		cw.CloseWrite()
		pub.SetReadDeadline(time.Now().Add(5 * time.Second))
	} else {
		pub.Close()
	}
	<-up
}
