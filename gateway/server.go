package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// Config configures a Server. The zero value works: it serves the W3C WoT
// surface and the directory, refuses every request that needs a token with
// 401 (there is no Authorizer to accept one), keeps no history and leaves
// the WebThings API off. New copies what it needs: changing a Config
// afterwards has no effect on the Server.
type Config struct {
	// Authorizer decides every access. Nil means no token is ever accepted:
	// only the directory's own description (/.well-known/wot) is served.
	// InsecureAllowAll exists for development and interoperability tests
	// only.
	Authorizer access.Authorizer

	// Logger receives the server's diagnostics. Nil means discard. Tokens
	// and query strings are never logged.
	Logger *slog.Logger

	// Security describes the real authorization endpoints in every Thing
	// Description the server writes. The zero value describes bearer
	// tokens only.
	Security Security

	// WebThings enables the WebThings Web Thing API (REST + WebSocket) in
	// the single- or multi-thing layout of the webthing libraries. The zero
	// value leaves it off.
	WebThings WebThings

	// Directory describes the server's own Thing Description, served at
	// /.well-known/wot.
	Directory Directory

	// AllowedHosts lists the Host header values the server answers, as
	// protection against DNS rebinding. An entry is a host name or address
	// without port ("gateway.example.com", "192.0.2.7"), a wildcard suffix
	// ("*.example.com"), or "*" to disable the check. Nil means: IP
	// literals, "localhost", and names under .localhost, .local and
	// .home.arpa. A request for another host is answered 421.
	AllowedHosts []string

	// CORS configures cross-origin access from browsers. The zero value
	// sends no CORS headers, so browsers allow same-origin use only, and
	// the Server refuses (403) a state-changing request (POST, PUT,
	// DELETE) a browser sends from another origin without a preflight.
	// Origins CORS allows may make them.
	CORS CORS

	// TrustedProxies lists the peers whose Forwarded / X-Forwarded-Proto /
	// X-Forwarded-Host / X-Forwarded-Prefix headers are honoured when the
	// server computes the base URI of its Thing Descriptions. Nil means
	// forwarded headers are ignored.
	TrustedProxies []netip.Prefix

	// TrustForwarded, when non-nil, also marks a request as coming from a
	// trusted proxy, for proxies that are not a network peer: for example
	// relay.Relayed, for requests that reached a home through its own
	// tunnel to a remote-access relay. It must not trust anything a client
	// can forge, such as a header. Nil means TrustedProxies alone decides.
	TrustForwarded func(*http.Request) bool

	// MaxBodyBytes limits request bodies and WebSocket messages. Zero means
	// 64 KiB.
	MaxBodyBytes int64

	// DeviceTimeout bounds each adapter call made for a request: reading
	// or writing a property, a synchronous action. Zero means 10 seconds.
	// An adapter call that exceeds it is answered 504.
	DeviceTimeout time.Duration

	// SendQueue bounds the messages waiting to be sent on one WebSocket or
	// SSE stream. Property updates are coalesced (only the newest value of
	// a property waits); a stream whose queue still overflows is closed.
	// Zero means 256.
	SendQueue int

	// WriteTimeout bounds one write to a WebSocket or SSE stream; a consumer
	// that does not take a message within it is disconnected. Zero means
	// 10 seconds.
	WriteTimeout time.Duration

	// MaxSubscriptions caps the event subscriptions of one WebSocket
	// connection. Zero means 64.
	MaxSubscriptions int

	// MaxStreams caps the WebSocket and SSE streams open at once; further
	// ones are refused with 503. Zero means 10,000.
	MaxStreams int

	// MaxActions caps the action requests a thing keeps (running ones and
	// finished ones still listed). The oldest finished request is dropped
	// first; when all are running, new requests are refused with 503. Zero
	// means 100.
	MaxActions int

	// ActionRetention is how long a finished action request stays listed
	// (and can be queried) before it is forgotten. Zero means 10 minutes.
	ActionRetention time.Duration

	// EventLog is how many past events per thing the WebThings API lists.
	// Zero means 32; negative keeps none.
	EventLog int

	// EventRetention is how long a past event stays in that list. Zero
	// means 10 minutes.
	EventRetention time.Duration

	// History, when non-nil, records property values for the consents the
	// Authorizer's access.HistoryPolicy returns. Nil records nothing. The
	// caller owns it: close a durable History (OpenHistory) after the
	// Server.
	History *History

	// HistoryPurgeInterval is how often expired history is purged. Zero
	// means one minute.
	HistoryPurgeInterval time.Duration
}

// Security describes how clients obtain tokens, for the security
// definitions of the Thing Descriptions the server writes.
type Security struct {
	// AuthorizationURL and TokenURL are the OAuth 2.0 authorization-code
	// endpoints. When both are set, TDs offer an oauth2 "code" scheme
	// (oauth2_sc) as their security; otherwise a bearer scheme (bearer_sc).
	AuthorizationURL string
	TokenURL         string
	// Scopes lists the OAuth 2.0 scopes to advertise. Nil advertises none.
	Scopes []string
	// BearerFormat and BearerAlg describe the tokens (e.g. "jwt", "ES256").
	// Empty leaves the TD defaults (jwt, ES256) unstated.
	BearerFormat string
	BearerAlg    string
}

// Directory describes the server's own Thing Description.
type Directory struct {
	// ID is the directory's id. Empty means none is written.
	ID string
	// Title is its title. Empty means "Hearth gateway".
	Title string
}

// WebThingsLayout selects how the WebThings Web Thing API is laid out.
type WebThingsLayout int

const (
	// WebThingsOff leaves the WebThings API off.
	WebThingsOff WebThingsLayout = iota
	// WebThingsSingle serves one thing at the mount path itself, as the
	// webthing libraries' SingleThing does.
	WebThingsSingle
	// WebThingsMulti lists every thing at the mount path and serves each at
	// mount/<index>, as the webthing libraries' MultipleThings does. An
	// index is assigned when a thing first appears and never reused.
	WebThingsMulti
)

// WebThings configures the WebThings Web Thing API.
type WebThings struct {
	// Layout selects the layout; the zero value is WebThingsOff.
	Layout WebThingsLayout
	// Path is the mount path, such as "/webthings". Empty means the root.
	// It must not be "/things" or under it.
	Path string
	// ThingID selects the thing of the single-thing layout. Empty means the
	// first thing registered.
	ThingID string
}

// Server is a Web of Things gateway: an http.Handler that exposes the things
// of its adapters over the W3C WoT HTTP binding (TD 1.1 forms, SSE), the
// WebThings Web Thing API (REST and WebSocket) and a WoT Discovery
// directory, and asks its Authorizer before every access.
//
// The caller owns the listener and TLS: mount a Server in an http.Server
// (use RecommendedHTTPServer for its timeouts) and call Shutdown or Close
// when done, which also ends the WebSocket and SSE streams the http.Server
// does not track.
//
// A Server is safe for concurrent use.
type Server struct {
	cfg      Config
	log      *slog.Logger
	auth     access.Authorizer
	insecure bool
	hosts    hostPolicy
	cors     corsPolicy
	csrf     http.CrossOriginProtection // no trusted origins: CORS decides those
	upgrader websocket.Upgrader
	wtPath   string // cleaned WebThings mount path ("" for root)

	ctx    context.Context // cancelled by Close: adapters, actions, streams
	cancel context.CancelFunc

	closing atomic.Bool // no new requests, streams or goroutines
	spawnMu sync.Mutex  // orders goroutine starts before closing
	closeMu sync.Mutex  // serialises Shutdown/Close
	closed  bool

	reg     registry
	streams streamSet

	mu       sync.Mutex
	adapters []*adapterState

	wg      sync.WaitGroup // every goroutine the Server starts
	actions sync.WaitGroup // running action goroutines (graceful shutdown)

	revokeCancel func()
	history      *History
	histQ        chan historyItem
}

// ErrClosed is returned by Server methods called after Shutdown or Close.
var ErrClosed = errors.New("gateway: server closed")

// ErrThingExists is wrapped by errors for a thing whose id another thing of
// the Server already has.
var ErrThingExists = errors.New("gateway: thing id already registered")

// New returns a Server for cfg, which it validates. The Server has no
// adapters yet: add them with AddAdapter.
func New(cfg Config) (*Server, error) {
	var errs []error
	if cfg.MaxBodyBytes < 0 || cfg.DeviceTimeout < 0 || cfg.SendQueue < 0 || cfg.WriteTimeout < 0 ||
		cfg.MaxSubscriptions < 0 || cfg.MaxStreams < 0 || cfg.MaxActions < 0 || cfg.HistoryPurgeInterval < 0 ||
		cfg.ActionRetention < 0 || cfg.EventRetention < 0 {
		errs = append(errs, errors.New("gateway: negative limit in Config"))
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.DeviceTimeout == 0 {
		cfg.DeviceTimeout = 10 * time.Second
	}
	if cfg.SendQueue == 0 {
		cfg.SendQueue = 256
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.MaxSubscriptions == 0 {
		cfg.MaxSubscriptions = 64
	}
	if cfg.MaxStreams == 0 {
		cfg.MaxStreams = 10000
	}
	if cfg.MaxActions == 0 {
		cfg.MaxActions = 100
	}
	if cfg.EventLog == 0 {
		cfg.EventLog = 32
	}
	if cfg.ActionRetention == 0 {
		cfg.ActionRetention = 10 * time.Minute
	}
	if cfg.EventRetention == 0 {
		cfg.EventRetention = 10 * time.Minute
	}
	if cfg.HistoryPurgeInterval == 0 {
		cfg.HistoryPurgeInterval = time.Minute
	}
	cfg.TrustedProxies = slices.Clone(cfg.TrustedProxies)
	cfg.Security.Scopes = slices.Clone(cfg.Security.Scopes)
	if cfg.Directory.Title == "" {
		cfg.Directory.Title = "Hearth gateway"
	}
	if (cfg.Security.AuthorizationURL == "") != (cfg.Security.TokenURL == "") {
		errs = append(errs, errors.New("gateway: Security needs both AuthorizationURL and TokenURL, or neither"))
	}
	wtPath, err := cleanMount(cfg.WebThings)
	if err != nil {
		errs = append(errs, err)
	}
	hosts, err := newHostPolicy(cfg.AllowedHosts)
	if err != nil {
		errs = append(errs, err)
	}
	cors, err := newCORSPolicy(cfg.CORS)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:     cfg,
		log:     log,
		auth:    cfg.Authorizer,
		hosts:   hosts,
		cors:    cors,
		wtPath:  wtPath,
		history: cfg.History,
	}
	if s.auth == nil {
		s.auth = denyAll{}
	}
	if _, ok := s.auth.(insecureAllowAll); ok {
		s.insecure = true
		log.Warn("gateway: INSECURE: every request is allowed without a token (InsecureAllowAll); never use this outside development")
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      s.checkOrigin,
		// Idle connections hold no write buffer: many subscribers that
		// rarely receive cost little memory.
		WriteBufferPool: &sync.Pool{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.reg.init()
	s.streams.init()

	if rn, ok := s.auth.(access.RevocationNotifier); ok {
		s.revokeCancel = rn.SubscribeRevocations(func(r access.Revocation) {
			s.streams.revoke(r)
		})
	}
	if s.history != nil {
		if _, ok := s.auth.(access.HistoryPolicy); ok {
			s.histQ = make(chan historyItem, 1024)
		} else {
			log.Info("gateway: History is configured but the Authorizer grants no history consents (access.HistoryPolicy): nothing will be recorded")
		}
		s.wg.Go(s.historyLoop)
	}
	return s, nil
}

// denyAll is the Authorizer of a Server configured without one.
type denyAll struct{}

func (denyAll) Authorize(context.Context, string, access.Request) (access.Decision, error) {
	return access.Decision{}, fmt.Errorf("%w: the gateway has no authorizer", access.ErrInvalidToken)
}

// InsecureAllowAll returns an Authorizer that allows EVERY request, with or
// without a token, and makes Thing Descriptions say "nosec".
//
// It exists for development and for interoperability tests against tools
// that know no authentication (such as the WebThings conformance tester).
// Never use it for a gateway that anyone else can reach: it exposes every
// device to everyone. A Server using it logs a warning when created.
func InsecureAllowAll() access.Authorizer { return insecureAllowAll{} }

type insecureAllowAll struct{}

func (insecureAllowAll) Authorize(context.Context, string, access.Request) (access.Decision, error) {
	return access.Decision{Allow: true, Scope: allowScope{}}, nil
}

type allowScope struct{}

func (allowScope) Permits(access.Request) bool { return true }

// Shutdown stops the Server gracefully: it refuses new requests and
// streams, closes the open WebSocket streams with "going away" and ends
// the SSE streams, lets running actions finish until ctx is done, then
// cancels what remains, stops its adapters' subscriptions and waits for its
// goroutines. It returns ctx's error if ctx ends first (everything has then
// been cancelled, as by Close). Adapters are not closed: they belong to the
// caller.
//
// Call it before the http.Server's own Shutdown, or register it with
// http.Server.RegisterOnShutdown, since the http.Server does not track
// hijacked WebSocket connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.stopSpawning()
	s.streams.closeAll(websocket.CloseGoingAway, "server shutting down")

	done := make(chan struct{})
	go func() { s.actions.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.finish()
	return err
}

// Close stops the Server at once: it cancels running actions and adapter
// subscriptions, closes every stream and waits for the Server's goroutines
// to return (an adapter that ignores its context delays Close). It is safe
// to call more than once.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.stopSpawning()
	s.streams.closeAll(websocket.CloseGoingAway, "server closed")
	s.finish()
	return nil
}

// finish cancels everything and waits. closeMu is held.
func (s *Server) finish() {
	s.closed = true
	if s.revokeCancel != nil {
		s.revokeCancel()
	}
	s.cancel()
	s.streams.closeAll(websocket.CloseGoingAway, "server closed")
	s.streams.wait()
	s.wg.Wait()
}

// spawn runs f in a goroutine the Server tracks, unless it is closing.
func (s *Server) spawn(f func()) bool {
	s.spawnMu.Lock()
	defer s.spawnMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.wg.Go(f)
	return true
}

// spawnAction is spawn for an action request, which graceful shutdown
// waits for.
func (s *Server) spawnAction(f func()) bool {
	s.spawnMu.Lock()
	defer s.spawnMu.Unlock()
	if s.closing.Load() {
		return false
	}
	s.actions.Add(1)
	s.wg.Go(func() {
		defer s.actions.Done()
		f()
	})
	return true
}

// stopSpawning makes sure no goroutine starts after it returns (closing
// is set), so that waiting for them is safe.
func (s *Server) stopSpawning() {
	s.closing.Store(true)
	s.spawnMu.Lock()
	s.spawnMu.Unlock()
}

// Things returns the Thing Descriptions of the things the Server serves
// now, as their adapters gave them (without the Server's forms), sorted by
// id. They are shared: treat them as read-only.
func (s *Server) Things() []*thing.Description {
	entries := s.reg.list()
	out := make([]*thing.Description, len(entries))
	for i, e := range entries {
		out[i] = e.td
	}
	return out
}

// EraseSubject forgets what the Server holds about a data subject: it
// removes the subject's action requests from every thing (cancelling those
// still running), so that their inputs, outputs and times are gone, and
// clears every thing's list of past events, which carry no subject but
// may tell of the subject's stay. It does not touch Config.History, whose
// own EraseSubject erases the recorded property values. An empty subject
// erases nothing.
//
// EraseSubject is idempotent and has the signature of consent's Eraser, so
// a consent ledger can call it (Ledger.RegisterEraser) when the subject
// asks for erasure. It returns ctx's error if ctx is already done.
func (s *Server) EraseSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if subject == "" {
		return nil
	}
	n := 0
	for _, e := range s.reg.list() {
		n += e.acts.erase(subject)
		e.evlog.clear()
	}
	s.log.Debug("gateway: subject erased", "actionRequests", n)
	return nil
}
