package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/consent"
)

// energySaver is the scripted third-party app of the story: a web service
// (hosted here next to the resort's cloud, but a stranger to it) that asks
// a guest, over OAuth 2.0 with PKCE, for read access to their home's
// energy meter for the purpose "energy-insights", then reads the meter and
// streams its readings through the resort's relay, until the guest
// withdraws their consent. It holds only what the guest's token gives it.
// It has an origin of its own (its own host name and port), so its pages
// can neither read the homes' pages nor pass their same-origin checks.
type energySaver struct {
	c        *cloud
	log      *slog.Logger
	host     string // its host name: energysaver.<domain>
	base     string // its public URL, ending in "/"
	browsers *sessions[string]
	stream   *http.Client // no overall timeout: SSE streams last

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]*esPending // by OAuth state
	conns   map[string]*esConn    // by browser + home
	notes   map[string]string     // by browser: the last outcome to show
}

// esPath is EnergySaver's page, at the root of its own origin.
const esPath = "/"

type esPending struct {
	browser, home, verifier string
	expires                 time.Time
}

func newEnergySaver(c *cloud) *energySaver {
	ctx, cancel := context.WithCancel(context.Background())
	host := "energysaver." + c.domain
	return &energySaver{
		c: c, log: c.cfg.Log.With("part", "energysaver"), host: host, base: "http://" + net.JoinHostPort(host, port(c.esLn)) + "/",
		browsers: newSessions[string]("es_browser", 30*24*time.Hour),
		stream:   &http.Client{Transport: c.hc.Transport},
		ctx:      ctx, cancel: cancel,
		pending: map[string]*esPending{}, conns: map[string]*esConn{}, notes: map[string]string{},
	}
}

// info is EnergySaver's registration, which homes add to their ledgers.
func (e *energySaver) info() appInfo {
	return appInfo{
		ID: energySaverID, Name: "EnergySaver", URI: e.base,
		RedirectURIs: []string{e.base + "callback"}, Purposes: []string{purposeInsights},
		Description: "See what your stay uses, live, with tips to save energy.",
	}
}

func (e *energySaver) handler() http.Handler {
	mux := http.NewServeMux()
	static := http.FileServerFS(webAssets("energysaver"))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		e.browser(w, r)
		http.ServeFileFS(w, r, webAssets("energysaver"), "index.html")
	})
	mux.Handle("GET /es.js", static)
	mux.Handle("GET /es.css", static)
	mux.HandleFunc("GET /connect", e.serveConnect)
	mux.HandleFunc("GET /callback", e.serveCallback)
	mux.HandleFunc("GET /api/status", e.serveStatus)
	return mux
}

func (e *energySaver) run(ctx context.Context) {
	<-ctx.Done()
	e.close()
}

func (e *energySaver) close() {
	e.cancel()
	e.wg.Wait()
}

// browser returns the id of this browser, setting the cookie if needed.
func (e *energySaver) browser(w http.ResponseWriter, r *http.Request) string {
	if id, err := e.browsers.get(r); err == nil {
		return id
	}
	id := newSecret(16)
	e.browsers.start(w, r, esPath, id)
	return id
}

// serveConnect starts the OAuth 2.0 authorization-code flow with PKCE: it
// sends the guest to their home's consent page.
func (e *energySaver) serveConnect(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	home := q.Get("home")
	rec, ok := e.c.reg.get(home)
	if !ok {
		problem(w, http.StatusNotFound, "EnergySaver does not know that home")
		return
	}
	var homeBase string
	switch q.Get("via") {
	case "relay":
		homeBase = e.c.homeURL(home)
	case "local", "":
		homeBase = rec.LocalURL
	default:
		problem(w, http.StatusBadRequest, "via must be local or relay")
		return
	}
	verifier, challenge := pkce()
	state := newSecret(16)
	browser := e.browser(w, r)
	e.mu.Lock()
	now := time.Now()
	for k, p := range e.pending {
		if now.After(p.expires) {
			delete(e.pending, k)
		}
	}
	e.pending[state] = &esPending{browser: browser, home: home, verifier: verifier, expires: now.Add(15 * time.Minute)}
	e.mu.Unlock()
	v := url.Values{
		"response_type": {"code"}, "client_id": {energySaverID}, "redirect_uri": {e.base + "callback"},
		"scope": {consent.FormatScopes(insightsScopes)}, "purpose": {purposeInsights},
		"state": {state}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
		"duration": {strconv.Itoa(7 * 24 * 3600)},
	}
	http.Redirect(w, r, homeBase+"consent/authorize?"+v.Encode(), http.StatusSeeOther)
}

// serveCallback receives the guest's answer and redeems the code.
func (e *energySaver) serveCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	browser := e.browser(w, r)
	e.mu.Lock()
	p := e.pending[q.Get("state")]
	delete(e.pending, q.Get("state"))
	e.mu.Unlock()
	if p == nil || p.browser != browser || time.Now().After(p.expires) {
		problem(w, http.StatusBadRequest, "this sign-in is unknown or expired; start again from your guest app")
		return
	}
	note := func(s string) {
		e.mu.Lock()
		e.notes[browser] = s
		e.mu.Unlock()
		http.Redirect(w, r, esPath, http.StatusSeeOther)
	}
	if errc := q.Get("error"); errc != "" {
		if errc == "access_denied" {
			note("You said no: EnergySaver has no access to " + p.home + ".")
		} else {
			note("Your home refused the request (" + errc + ").")
		}
		return
	}
	tok, err := requestTokens(r.Context(), e.c.hc, e.c.homeURL(p.home)+"consent/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {e.base + "callback"},
		"code_verifier": {p.verifier}, "client_id": {energySaverID},
	})
	if err != nil {
		e.log.Warn("redeeming the code", "home", p.home, "err", err)
		note("Connecting to " + p.home + " failed: " + err.Error())
		return
	}
	conn := &esConn{
		home: p.home, base: e.c.homeURL(p.home), hc: e.c.hc, stream: e.stream, log: e.log,
		ts:     &tokenSource{hc: e.c.hc, tokenURL: e.c.homeURL(p.home) + "consent/token", clientID: energySaverID, tok: tok},
		status: "connected",
	}
	e.mu.Lock()
	if old := e.conns[browser+"/"+p.home]; old != nil {
		old.stop()
	}
	ctx, cancel := context.WithCancel(e.ctx)
	conn.cancel = cancel
	e.conns[browser+"/"+p.home] = conn
	e.notes[browser] = "Connected to " + p.home + "."
	e.mu.Unlock()
	e.wg.Go(func() { conn.run(ctx) })
	http.Redirect(w, r, esPath, http.StatusSeeOther)
}

func (e *energySaver) serveStatus(w http.ResponseWriter, r *http.Request) {
	browser, err := e.browsers.get(r)
	out := map[string]any{"connections": []esStatus{}}
	if err == nil {
		var list []esStatus
		e.mu.Lock()
		for k, c := range e.conns {
			if strings.HasPrefix(k, browser+"/") {
				list = append(list, c.snapshot())
			}
		}
		out["note"] = e.notes[browser]
		e.mu.Unlock()
		if list != nil {
			out["connections"] = list
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// connections returns EnergySaver's connections to a home (for tests).
func (e *energySaver) connections(home string) []*esConn {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*esConn
	for _, c := range e.conns {
		if c.home == home {
			out = append(out, c)
		}
	}
	return out
}

// esConn is EnergySaver's access to one home's meter.
type esConn struct {
	home   string
	base   string // the home through the relay
	hc     *http.Client
	stream *http.Client
	ts     *tokenSource
	log    *slog.Logger
	cancel context.CancelFunc

	mu        sync.Mutex
	status    string // connected, withdrawn, error
	message   string
	power     *float64
	energy    *float64
	updated   time.Time
	streaming bool
	events    int
}

// esStatus is a snapshot of a connection, for the app's page.
type esStatus struct {
	Home      string    `json:"home"`
	Status    string    `json:"status"`
	Message   string    `json:"message,omitempty"`
	PowerW    *float64  `json:"power_w,omitempty"`
	EnergyKWh *float64  `json:"energy_kwh,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
	Streaming bool      `json:"streaming"`
	Events    int       `json:"events"`
}

func (c *esConn) snapshot() esStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return esStatus{Home: c.home, Status: c.status, Message: c.message, PowerW: c.power, EnergyKWh: c.energy, Updated: c.updated, Streaming: c.streaming, Events: c.events}
}

func (c *esConn) stop() {
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *esConn) set(fn func(c *esConn)) {
	c.mu.Lock()
	fn(c)
	c.mu.Unlock()
}

func (c *esConn) propertyURL(name string) string {
	return c.base + "things/" + meterID + "/properties/" + name
}

// read reads a meter property with the current access token, as any
// request of the app does (no refresh: a refused token is reported).
func (c *esConn) read(ctx context.Context, name string) (float64, error) {
	tok, err := c.ts.token(ctx, false)
	if err != nil {
		return 0, err
	}
	var v float64
	err = getJSON(ctx, c.hc, c.propertyURL(name), tok, &v)
	return v, err
}

// run reads the meter, and streams its energy count over SSE, until the
// guest withdraws consent (or EnergySaver stops).
func (c *esConn) run(ctx context.Context) {
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := c.poll(ctx)
		if err == nil {
			err = c.observe(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errUnauthorized) || errors.Is(err, errForbidden) {
			// Maybe the access token expired: refresh once. A withdrawn
			// consent makes the refresh fail too.
			if _, rerr := c.ts.token(ctx, true); rerr != nil {
				err = rerr
			} else {
				continue
			}
		}
		if errors.Is(err, errGrantGone) {
			c.set(func(c *esConn) {
				c.status, c.streaming = "withdrawn", false
				c.message = "The guest withdrew consent: EnergySaver can no longer read this home's meter."
			})
			c.log.Info("access withdrawn by the guest", "home", c.home)
			return
		}
		c.set(func(c *esConn) { c.status, c.message, c.streaming = "error", err.Error(), false })
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// poll reads power and energy once.
func (c *esConn) poll(ctx context.Context) error {
	p, err := c.read(ctx, "power")
	if err != nil {
		return err
	}
	en, err := c.read(ctx, "energy")
	if err != nil {
		return err
	}
	c.set(func(c *esConn) {
		c.status, c.message, c.power, c.energy, c.updated = "connected", "", &p, &en, time.Now()
	})
	return nil
}

// observe streams the meter's energy count (observeproperty, SSE) and
// re-reads its power every few seconds, until the stream ends.
func (c *esConn) observe(ctx context.Context) error {
	tok, err := c.ts.token(ctx, false)
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(sctx, http.MethodGet, c.propertyURL("energy")+"/observable", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized:
		return errUnauthorized
	case http.StatusForbidden:
		return errForbidden
	default:
		return fmt.Errorf("observing answered %s", resp.Status)
	}
	c.set(func(c *esConn) { c.streaming = true })
	defer c.set(func(c *esConn) { c.streaming = false })
	go func() { // refresh the power reading while the stream runs
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
				if p, err := c.read(sctx, "power"); err == nil {
					c.set(func(c *esConn) { c.power = &p })
				}
			}
		}
	}()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data:")
		if !ok {
			continue
		}
		var v float64
		if json.Unmarshal([]byte(strings.TrimSpace(data)), &v) == nil {
			c.set(func(c *esConn) { c.energy, c.updated, c.events = &v, time.Now(), c.events+1 })
		}
	}
	// The stream ended: the home closed it (a revocation does that at
	// once) or the link broke. A fresh read tells which.
	_, err = c.read(ctx, "power")
	if err == nil {
		err = errors.New("stream ended")
	}
	return err
}
