package webthing

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// Config configures an Adapter. The zero value is ready to use.
type Config struct {
	// Client makes the HTTP requests. Nil means a client of the adapter's
	// own, whose idle connections Close releases. It must not have a
	// Timeout (event streams are long-lived); the adapter applies Timeout
	// to each request itself. To authenticate to remotes in other ways
	// than a bearer Token, give a Client whose Transport adds credentials
	// (and then check that it adds them for the remote's host only). The
	// adapter uses a copy whose CheckRedirect first applies Remote.AnyHost
	// to redirects, then calls the Client's own CheckRedirect, if any.
	Client *http.Client

	// Dialer opens WebSocket connections to WebThings remotes. Nil means
	// a dialer with a handshake timeout of Timeout.
	Dialer *websocket.Dialer

	// Timeout bounds each request to a remote (and each WebSocket
	// handshake). Zero means ten seconds.
	Timeout time.Duration

	// MaxBodyBytes bounds a response body. Zero means 1 MiB.
	MaxBodyBytes int64

	// MaxMessageBytes bounds one WebSocket message or one Server-Sent
	// Event. Zero means 64 KiB.
	MaxMessageBytes int64

	// MinBackoff and MaxBackoff bound the wait before reconnecting a
	// broken event stream: it doubles from MinBackoff up to MaxBackoff,
	// with jitter, and starts again from MinBackoff after a connection
	// that lasted longer than MaxBackoff. Zero means 500 ms and one minute.
	MinBackoff, MaxBackoff time.Duration

	// PingInterval is how often a WebSocket connection is pinged; a
	// connection silent for two intervals is considered dead and
	// reconnected. Zero means 30 seconds; negative disables pings.
	PingInterval time.Duration

	// ActionPollInterval is the first wait between polls of a running
	// action's status; it doubles up to five seconds. Zero means 250 ms.
	ActionPollInterval time.Duration

	// Logger receives the adapter's diagnostics. Nil means discard.
	Logger *slog.Logger
}

// Remote names a remote thing (or a server of several) to front.
type Remote struct {
	// URL serves the thing's description: a W3C Thing Description, a
	// WebThings thing description, or a JSON array of either (a WebThings
	// multiple-thing server or gateway /things, a directory listing).
	URL string
	// Style is the protocol; StyleAuto detects it.
	Style Style
	// ID is the local thing id. Empty means the remote's own id, or URL if
	// it has none. It may only be set when URL describes one thing.
	ID string
	// Token, if set, is sent to the remote as a bearer token.
	Token Token
	// AnyHost lets the description send the adapter to other hosts than
	// URL's: forms with another base (a directory listing the TDs of
	// other devices), links, action status locations, HTTP redirects. Off
	// by default, so that a description or a redirect cannot turn the
	// gateway against other hosts of its network. Either way the Token
	// never follows a redirect to another host than the request's.
	AnyHost bool
}

// Adapter fronts remote Web Things by URL, so that a gateway serves them
// as its own (behind its own access control). It implements
// gateway.Adapter, gateway.PropertyWriter, gateway.ActionInvoker,
// gateway.EventSource and gateway.Remover.
//
// An Adapter is safe for concurrent use.
type Adapter struct {
	cfg       Config
	log       *slog.Logger
	client    *http.Client
	ownClient *http.Transport // closed by Close when the client is ours
	dialer    *websocket.Dialer

	mu     sync.RWMutex
	things map[string]*remote
	subs   map[*subscription]struct{}
	closed bool
	done   chan struct{}
}

var (
	_ gateway.Adapter        = (*Adapter)(nil)
	_ gateway.PropertyWriter = (*Adapter)(nil)
	_ gateway.ActionInvoker  = (*Adapter)(nil)
	_ gateway.EventSource    = (*Adapter)(nil)
	_ gateway.Remover        = (*Adapter)(nil)
)

// New returns an Adapter fronting no things yet.
func New(cfg Config) *Adapter {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = 64 << 10
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Minute
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.PingInterval == 0 {
		cfg.PingInterval = 30 * time.Second
	}
	if cfg.ActionPollInterval <= 0 {
		cfg.ActionPollInterval = 250 * time.Millisecond
	}
	a := &Adapter{
		cfg:    cfg,
		log:    cfg.Logger,
		client: cfg.Client,
		dialer: cfg.Dialer,
		things: map[string]*remote{},
		subs:   map[*subscription]struct{}{},
		done:   make(chan struct{}),
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 4
		tr.ResponseHeaderTimeout = cfg.Timeout
		a.ownClient = tr
		a.client = &http.Client{Transport: tr}
	} else {
		c := *a.client // the caller's client stays as it is
		a.client = &c
	}
	a.client.CheckRedirect = checkRedirect(a.client.CheckRedirect)
	if a.dialer == nil {
		a.dialer = &websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: cfg.Timeout}
	}
	return a
}

// Add fetches the description at r.URL and fronts the thing (or things) it
// describes, announcing them to subscribers. It returns their local
// descriptions. Nothing is added if any of them fails to parse or its id
// is taken (an error wrapping ErrExists).
func (a *Adapter) Add(ctx context.Context, r Remote) ([]*thing.Description, error) {
	u, err := url.Parse(r.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("webthing: remote URL %q is not an absolute http(s) URL", r.URL)
	}
	_, body, err := a.do(ctx, request{
		method: http.MethodGet, url: u, token: r.Token, anyHost: r.AnyHost,
		accept: "application/td+json, application/json;q=0.9",
	})
	if err != nil {
		return nil, err
	}
	remotes, err := parseDescriptions(body, u, r.Style)
	if err != nil {
		return nil, fmt.Errorf("webthing: %s: %w", redactURL(u), err)
	}
	if r.ID != "" && len(remotes) != 1 {
		return nil, fmt.Errorf("webthing: %s describes %d things; Remote.ID needs exactly one", redactURL(u), len(remotes))
	}
	for _, rt := range remotes {
		rt.token = r.Token
		rt.id = cmp.Or(r.ID, rt.id, redactURL(u))
		rt.local.ID = rt.id
		rt.host, rt.anyHost = u.Host, r.AnyHost
		if err := rt.checkAll(); err != nil {
			return nil, err
		}
	}

	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	seen := map[string]bool{}
	for _, rt := range remotes {
		if _, dup := a.things[rt.id]; dup || seen[rt.id] {
			a.mu.Unlock()
			return nil, fmt.Errorf("webthing: thing id %q: %w", rt.id, ErrExists)
		}
		seen[rt.id] = true
	}
	tds := make([]*thing.Description, len(remotes))
	for i, rt := range remotes {
		a.things[rt.id] = rt
		tds[i] = cloneTD(rt.local)
		a.log.Info("webthing: fronting a remote thing", "thing", rt.id, "style", rt.style.String(), "url", redactURL(u))
	}
	for s := range a.subs {
		for _, rt := range remotes {
			s.post(subEvent{added: rt})
		}
	}
	a.mu.Unlock()
	return tds, nil
}

// RemoveThing stops fronting a thing (the remote device is left alone) and
// announces its removal to subscribers.
func (a *Adapter) RemoveThing(ctx context.Context, thingID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.things[thingID]; !ok {
		return fmt.Errorf("webthing: unknown thing %q: %w", thingID, gateway.ErrNotFound)
	}
	delete(a.things, thingID)
	for s := range a.subs {
		s.post(subEvent{removed: thingID})
	}
	return nil
}

// Things returns the local descriptions of the fronted things, by id.
func (a *Adapter) Things(ctx context.Context) ([]*thing.Description, error) {
	a.mu.RLock()
	rs := make([]*remote, 0, len(a.things))
	for _, r := range a.things {
		rs = append(rs, r)
	}
	a.mu.RUnlock()
	slices.SortFunc(rs, func(x, y *remote) int { return cmp.Compare(x.id, y.id) })
	tds := make([]*thing.Description, len(rs))
	for i, r := range rs {
		tds[i] = cloneTD(r.local)
	}
	return tds, nil
}

func (a *Adapter) remote(id string) (*remote, error) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return nil, ErrClosed
	}
	r, ok := a.things[id]
	if !ok {
		return nil, fmt.Errorf("webthing: unknown thing %q: %w", id, gateway.ErrNotFound)
	}
	return r, nil
}

func notFound(r *remote, kind, name string) error {
	return fmt.Errorf("webthing: thing %q has no %s %q: %w", r.id, kind, name, gateway.ErrNotFound)
}

// ReadProperty reads a property from the remote.
func (a *Adapter) ReadProperty(ctx context.Context, thingID, name string) (any, error) {
	r, err := a.remote(thingID)
	if err != nil {
		return nil, err
	}
	if r.style == StyleLegacy {
		return a.legacyRead(ctx, r, name)
	}
	return a.tdRead(ctx, r, name)
}

// WriteProperty writes a property on the remote.
func (a *Adapter) WriteProperty(ctx context.Context, thingID, name string, value any) error {
	r, err := a.remote(thingID)
	if err != nil {
		return err
	}
	if r.style == StyleLegacy {
		return a.legacyWrite(ctx, r, name, value)
	}
	return a.tdWrite(ctx, r, name, value)
}

// InvokeAction invokes an action on the remote and waits for its outcome:
// the output of a synchronous action, or, for one the remote runs
// asynchronously (201 Created with a status resource, or a WebThings action
// request), the final status, polled. If ctx is cancelled (or the adapter
// closed) while the action runs, the adapter asks the remote to cancel it
// and returns ctx.Err().
func (a *Adapter) InvokeAction(ctx context.Context, thingID, name string, input any) (any, error) {
	r, err := a.remote(thingID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-a.done:
			cancel()
		case <-stop:
		}
	}()
	if r.style == StyleLegacy {
		return a.legacyInvoke(ctx, r, name, input)
	}
	return a.tdInvoke(ctx, r, name, input)
}

// Close ends all subscriptions and running actions and makes further
// calls fail with ErrClosed. It does not wait for Subscribe calls to
// return. Close is idempotent.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.done)
	}
	a.mu.Unlock()
	if a.ownClient != nil {
		a.ownClient.CloseIdleConnections()
	}
	return nil
}

// Subscribe watches every fronted thing (and those added later) and
// delivers to sink, first, a ThingAdded for every current thing, then
// property changes, events, additions and removals, until
// ctx is done or the adapter is closed; it returns once all its
// connections are closed: nil when ctx is done, ErrClosed after Close.
//
// WebThings remotes are watched over their WebSocket (propertyStatus and
// event messages, after an addEventSubscription for every event). W3C
// remotes are watched over Server-Sent Events: the thing-level
// observeallproperties and subscribeallevents forms if offered, else one
// stream per observable property and per event with an SSE form. Broken
// connections are retried with exponential back-off; changes made while a
// connection was down are not replayed.
func (a *Adapter) Subscribe(ctx context.Context, sink gateway.Sink) error {
	s := &subscription{wake: make(chan struct{}, 1)}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	// Announce the current things first: a gateway lists the things before
	// it subscribes, and one added in between would otherwise be missed.
	// Announcing a thing the gateway serves already is harmless.
	for _, id := range sortedKeys(a.things) {
		s.pending = append(s.pending, subEvent{added: a.things[id]})
	}
	a.subs[s] = struct{}{}
	a.mu.Unlock()
	s.wake <- struct{}{}

	watchers := map[string]context.CancelFunc{}
	var wg sync.WaitGroup
	defer func() {
		a.mu.Lock()
		delete(a.subs, s)
		a.mu.Unlock()
		for _, cancel := range watchers {
			cancel()
		}
		wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.done:
			return ErrClosed
		case <-s.wake:
		}
		for _, ev := range s.take() {
			switch {
			case ev.added != nil:
				r := ev.added
				if cancel, ok := watchers[r.id]; ok { // re-added under the same id
					cancel()
				}
				wctx, cancel := context.WithCancel(ctx)
				watchers[r.id] = cancel
				sink.ThingAdded(cloneTD(r.local))
				a.watch(wctx, &wg, r, sink)
			default:
				if cancel, ok := watchers[ev.removed]; ok {
					cancel()
					delete(watchers, ev.removed)
				}
				sink.ThingRemoved(ev.removed)
			}
		}
	}
}

// subscription is one Subscribe call's inbox of things added and removed.
type subscription struct {
	mu      sync.Mutex
	pending []subEvent
	wake    chan struct{}
}

type subEvent struct {
	added   *remote
	removed string
}

func (s *subscription) post(ev subEvent) {
	s.mu.Lock()
	s.pending = append(s.pending, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscription) take() []subEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pending
	s.pending = nil
	return p
}

// watch starts the goroutines that watch r for the subscription.
func (a *Adapter) watch(ctx context.Context, wg *sync.WaitGroup, r *remote, sink gateway.Sink) {
	if r.style == StyleLegacy {
		if r.ws != nil {
			wg.Go(func() { a.watchWebSocket(ctx, r, sink) })
		}
		return
	}
	for _, st := range a.tdStreams(r) {
		wg.Go(func() { a.watchSSE(ctx, r, st, sink) })
	}
}

// errorsIsContext reports whether err is a context cancellation or
// deadline.
func errorsIsContext(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
