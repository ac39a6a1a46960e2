package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/fedlearn"
	"github.com/hearth-wot/hearth/gateway/relay"
)

// The resort's purposes and clients, as every home's consent ledger knows
// them. The cloud hands the third-party apps' registrations to the homes
// at enrollment (the resort curates which apps its guests are offered).
const (
	energySaverID = "energysaver"

	flClipNorm = 0.5  // L2 bound of every home's update (and the DP sensitivity)
	flServerLR = 0.03 // damps the DP noise: the model moves 3% of the way along each noisy mean
)

// appInfo describes a third-party app the homes register as an OAuth client.
type appInfo struct {
	ID           string   `json:"id"`
	Name         string   `json:"name"`
	URI          string   `json:"uri"`
	RedirectURIs []string `json:"redirect_uris"`
	Purposes     []string `json:"purposes"`
	Description  string   `json:"description"`
}

// enrollResponse is what the resort answers.
type enrollResponse struct {
	Token       string    `json:"token"`        // the home's bearer token for FL and the cloud API
	CloudURL    string    `json:"cloud_url"`    // https: relay, FL, API
	FLURL       string    `json:"fl_url"`       // the federated-learning endpoint
	RemoteURL   string    `json:"remote_url"`   // the home's public URL through the relay (http)
	RemoteHTTPS string    `json:"remote_https"` // the same over https
	Apps        []appInfo `json:"apps"`
}

// cloud is the resort's side: the federated-learning server, the relay that
// gives homes remote access, the owner's dashboard and a third-party app.
type cloud struct {
	cfg  *config
	log  *slog.Logger
	dir  string
	ca   *resortCA
	cert tls.Certificate

	enrollSecret string
	challenges   challenges
	ownerKey     string
	owners       *sessions[string]
	ownerTries   guessLimiter

	reg   *registry
	relay *relay.Server
	fl    *fedlearn.Server
	flh   *fedlearn.HTTPHandler
	show  *showHome
	eval  *fedlearn.Dataset
	naive float64 // persistence baseline on the show home, kWh
	es    *energySaver

	httpLn, httpsLn, esLn net.Listener
	domain                string       // homes are home-N.<domain> through the relay
	ownerHost             string       // the owner's dashboard's host name
	publicURL             string       // http://ownerHost:port: the owner's dashboard
	secureURL             string       // https://ip:port, for gateways and FL clients
	hc                    *http.Client // dials the resort's own names itself

	mu       sync.Mutex
	forecast []forecastPoint
	maint    map[string]*tokenSource
	stopped  string // why rounds stopped, if they did
}

func newCloud(ctx context.Context, cfg *config) (*cloud, error) {
	c := &cloud{
		cfg: cfg, log: cfg.Log.With("part", "cloud"), dir: filepath.Join(cfg.DataDir, "cloud"),
		owners: newSessions[string]("hh_owner", 12*time.Hour),
		show:   newShowHome(), maint: map[string]*tokenSource{},
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return nil, err
	}
	var err error
	if c.ca, err = loadOrCreateCA(c.dir); err != nil {
		return nil, err
	}
	if c.enrollSecret, err = loadOrCreateSecret(filepath.Join(c.dir, "enroll-secret")); err != nil {
		return nil, err
	}
	c.ownerKey = newSecret(10)
	if c.reg, err = openRegistry(filepath.Join(c.dir, "homes.json")); err != nil {
		return nil, err
	}

	// Listeners first: the URLs go into the TLS certificate and the apps.
	if c.httpLn, err = listen(cfg.Host, cfg.port(0), c.log); err != nil {
		return nil, err
	}
	if c.httpsLn, err = listen(cfg.Host, cfg.port(1), c.log); err != nil {
		c.httpLn.Close()
		return nil, err
	}
	if c.esLn, err = listen(cfg.Host, cfg.port(2), c.log); err != nil {
		c.httpLn.Close()
		c.httpsLn.Close()
		return nil, err
	}
	c.domain = cfg.domain()
	c.ownerHost = c.domain
	if c.domain == defaultDomain {
		c.ownerHost = "resort." + defaultDomain
	}
	c.publicURL = "http://" + net.JoinHostPort(c.ownerHost, port(c.httpLn))
	c.secureURL = "https://" + urlHost(c.httpsLn)
	hosts := append([]string{"127.0.0.1", "::1", "localhost", c.ownerHost, "*." + c.domain}, cfg.Hostnames...)
	if h := cfg.Host; h != "" && net.ParseIP(h) != nil && !net.ParseIP(h).IsUnspecified() {
		hosts = append(hosts, h)
	}
	if c.cert, err = c.ca.serverCert(hosts); err != nil {
		c.closeListeners()
		return nil, err
	}
	// The cloud reaches the homes through its own relay, and EnergySaver
	// through its own listener: it dials its own names itself, so that
	// neither needs DNS for them.
	self, _, _ := net.SplitHostPort(urlHost(c.httpLn))
	c.hc = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: c.ca.pool()}, MaxIdleConnsPerHost: 16,
		DialContext: localDialer(func(host string) (string, bool) {
			if host == c.domain || strings.HasSuffix(host, "."+c.domain) {
				return self, true
			}
			return "", false
		}),
	}}

	if c.relay, err = relay.NewServer(relay.Config{Registry: c.reg, HomeDomain: c.domain, Logger: cfg.Log.With("part", "relay")}); err != nil {
		c.closeListeners()
		return nil, err
	}
	if err := c.startFL(ctx); err != nil {
		c.relay.Close()
		c.closeListeners()
		return nil, err
	}
	c.es = newEnergySaver(c)
	return c, nil
}

func (c *cloud) closeListeners() {
	c.httpLn.Close()
	c.httpsLn.Close()
	c.esLn.Close()
}

// homeOfHost returns the home a host name under the domain names, the way
// the relay routes it (Config.HomeDomain).
func (c *cloud) homeOfHost(hostport string) (string, bool) {
	name, ok := strings.CutSuffix(hostOnly(hostport), "."+c.domain)
	if !ok || !relay.ValidHome(name) || slices.Contains(reservedHomes, name) {
		return "", false
	}
	return name, true
}

// homeHost is a home's host name through the relay.
func (c *cloud) homeHost(home string) string {
	return home + "." + c.domain
}

// startFL creates the federated-learning server: it starts from a model
// pretrained on public synthetic data (or resumes its checkpoint), samples
// every connected home each round, runs secure aggregation (fedlearn's
// default: the server learns only the sum of the homes' clipped updates,
// never one home's), releases only aggregates of at least three homes, and
// adds Gaussian noise to the sum for central differential privacy.
func (c *cloud) startFL(ctx context.Context) error {
	eval, err := c.show.evalSet()
	if err != nil {
		return err
	}
	c.eval, c.naive = eval, persistenceMAE(eval)
	model := newForecaster()
	dir := filepath.Join(c.dir, "fl")
	var params []float64
	if _, err := os.Stat(filepath.Join(dir, fedlearn.CheckpointFile)); errors.Is(err, fs.ErrNotExist) {
		if params, err = publicPretraining(ctx); err != nil {
			return err
		}
	}
	var privacy *fedlearn.DPConfig
	if c.cfg.DPNoise > 0 {
		privacy = &fedlearn.DPConfig{ClipNorm: flClipNorm, NoiseMultiplier: c.cfg.DPNoise}
	}
	c.fl, err = fedlearn.NewServer(fedlearn.ServerConfig{
		Params:           params,
		FractionFit:      1,
		WaitTimeout:      time.Second,
		RoundTimeout:     30 * time.Second,
		StragglerTimeout: 2 * time.Second,
		Train:            fedlearn.TrainConfig{Epochs: 1, BatchSize: 32, LearningRate: 0.05},
		Strategy:         &fedlearn.FedAvg{ServerLR: flServerLR},
		Privacy:          privacy,
		Evaluate: func(ctx context.Context, _ int, p []float64) (fedlearn.EvalResult, error) {
			return model.Evaluate(ctx, p, c.eval)
		},
		CheckpointDir: dir,
		Logger:        c.cfg.Log.With("part", "fl-server"),
	})
	if err != nil {
		return fmt.Errorf("federated learning: %w (delete %s to start the model afresh)", err, dir)
	}
	c.flh, err = fedlearn.NewHTTPHandler(c.fl, fedlearn.HTTPConfig{Auth: c.reg, Heartbeat: 5 * time.Second, Logger: c.cfg.Log.With("part", "fl-transport")})
	if err != nil {
		return err
	}
	c.updateForecast(ctx)
	return nil
}

// handler returns the cloud's routes on its http listener (secure false)
// or its TLS listener. On both, every host name under the domain is a
// home, which the relay forwards to its gateway (lifting the server's
// deadlines for SSE and WebSocket streams), with only that home's cookie.
// The http listener serves the owner's dashboard on its own host name;
// the TLS listener serves the gateways' relay logins, the FL clients and
// enrollment, on any host name (gateways dial its address).
func (c *cloud) handler(secure bool) http.Handler {
	mux := http.NewServeMux()
	if secure {
		mux.Handle(relay.ConnectPath, c.relay)
		mux.Handle("/fl/", http.StripPrefix("/fl", c.flh))
		mux.HandleFunc("POST /api/enroll/challenge", c.serveEnrollChallenge)
		mux.HandleFunc("POST /api/enroll", c.serveEnroll)
		mux.HandleFunc("POST /api/homes/{home}/maintenance", c.serveMaintenanceToken)
	} else {
		static := http.FileServerFS(webAssets("cloud"))
		mux.Handle("GET /dashboard.css", static)
		mux.Handle("GET /dashboard.js", static)
		mux.Handle("GET /icon.svg", static)
		mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
			http.ServeFileFS(w, r, webAssets("guest"), "app/icon-192.png")
		})
		mux.HandleFunc("GET /{$}", c.serveDashboard)
		mux.HandleFunc("GET /owner/login", c.serveOwnerLogin)
		mux.HandleFunc("GET /api/summary", c.owner(c.serveSummary))
		mux.HandleFunc("GET /api/maintenance", c.owner(c.serveMaintenance))
		mux.HandleFunc("POST /api/maintenance/{home}/history", c.owner(c.serveOwnerHistory))
	}
	var own http.Handler = securityHeaders(mux)
	if !secure {
		own = onlyHost(c.ownerHost, own)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if home, ok := c.homeOfHost(r.Host); ok {
			keepCookies(r, guestCookie(home))
			c.relay.ServeHTTP(w, r)
			return
		}
		own.ServeHTTP(w, r)
	})
}

// run serves the cloud until ctx ends.
func (c *cloud) run(ctx context.Context) error {
	httpSrv := newHTTPServer(c.handler(false), c.log)
	httpsSrv := newHTTPServer(c.handler(true), c.log)
	httpsSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{c.cert}, MinVersion: tls.VersionTLS12}
	tlsLn := tls.NewListener(c.httpsLn, httpsSrv.TLSConfig)
	esSrv := newHTTPServer(onlyHost(c.es.host, securityHeaders(c.es.handler())), c.log)
	errc := make(chan error, 4)
	var wg sync.WaitGroup
	wg.Go(func() { errc <- serve(ctx, httpSrv, c.httpLn) })
	wg.Go(func() { errc <- serve(ctx, httpsSrv, tlsLn) })
	wg.Go(func() { errc <- serve(ctx, esSrv, c.esLn) })
	wg.Go(func() { c.runRounds(ctx) })
	wg.Go(func() { c.es.run(ctx) })
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// The relay and the FL transport hold hijacked connections that the
	// http.Servers do not track: close them first.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	c.relay.Shutdown(sctx)
	cancel()
	c.relay.Close()
	c.flh.Close()
	c.es.close()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// runRounds runs a federated round every RoundEvery while enough homes are
// connected and the privacy budget lasts.
func (c *cloud) runRounds(ctx context.Context) {
	t := time.NewTicker(c.cfg.RoundEvery)
	defer t.Stop()
	waiting := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if why := c.budgetLeft(); why != "" {
			c.mu.Lock()
			first := c.stopped == ""
			c.stopped = why
			c.mu.Unlock()
			if first {
				fmt.Fprintf(c.cfg.Out, "fl: %s; the model stays as it is (delete %s to start afresh)\n", why, filepath.Join(c.dir, "fl"))
			}
			continue
		}
		if n := len(c.fl.Clients()); n < fedlearn.DefaultMinCohort {
			if !waiting {
				fmt.Fprintf(c.cfg.Out, "fl: waiting for at least %d homes to connect (%d now)\n", fedlearn.DefaultMinCohort, n)
				waiting = true
			}
			continue
		}
		waiting = false
		rec, err := c.fl.RunRound(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Warn("fl: round failed", "err", err)
			}
			continue
		}
		c.updateForecast(ctx)
		fmt.Fprintln(c.cfg.Out, c.roundLine(rec))
	}
}

// budgetLeft returns why no further round may run, or "".
func (c *cloud) budgetLeft() string {
	if c.cfg.DPNoise <= 0 || c.cfg.Epsilon <= 0 {
		return ""
	}
	h := c.fl.History()
	var last, prev float64
	for _, r := range h {
		if r.Epsilon > 0 {
			prev, last = last, r.Epsilon
		}
	}
	step := last - prev
	if last > 0 && last+step > c.cfg.Epsilon {
		return fmt.Sprintf("privacy budget spent (ε = %.1f of %.1f)", last, c.cfg.Epsilon)
	}
	return ""
}

func (c *cloud) roundLine(r fedlearn.RoundRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "fl: round %d · %d of %d homes took part", r.Round, r.Accepted, r.Available)
	if r.Declined > 0 {
		fmt.Fprintf(&b, " (%d declined: no consent)", r.Declined)
	}
	if !r.Released() {
		fmt.Fprintf(&b, " · no model released: %s", r.Err)
	} else if r.Eval != nil {
		fmt.Fprintf(&b, " · forecast error %.2f kWh (naive %.2f)", r.Eval.Metrics["mae"]*fedlearn.EnergyScale, c.naive)
	}
	if r.Epsilon > 0 {
		fmt.Fprintf(&b, " · ε %.1f spent (δ %.0e)", r.Epsilon, r.Delta)
	}
	return b.String()
}

func (c *cloud) updateForecast(ctx context.Context) {
	pts, err := c.show.forecast(ctx, c.fl.Params())
	if err != nil {
		c.log.Warn("forecast", "err", err)
		return
	}
	c.mu.Lock()
	c.forecast = pts
	c.mu.Unlock()
}

// homeAuth returns the home whose token r carries, which must be the home
// the path names.
func (c *cloud) homeAuth(w http.ResponseWriter, r *http.Request) (string, bool) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	home, ok := c.reg.homeOfToken(tok)
	if !ok || home != r.PathValue("home") {
		problem(w, http.StatusUnauthorized, "unknown home token")
		return "", false
	}
	return home, true
}

// serveMaintenanceToken stores the refresh token with which the resort's
// maintenance console obtains access tokens from the home's ledger. The
// grant behind it covers device maintenance only.
func (c *cloud) serveMaintenanceToken(w http.ResponseWriter, r *http.Request) {
	home, ok := c.homeAuth(w, r)
	if !ok {
		return
	}
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	if req.RefreshToken == "" {
		problem(w, http.StatusBadRequest, "refresh_token is required")
		return
	}
	if err := c.reg.setMaintenance(home, req.RefreshToken); err != nil {
		problem(w, http.StatusServiceUnavailable, "could not record the token")
		return
	}
	c.mu.Lock()
	delete(c.maint, home)
	c.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// maintenanceTokens returns the token source of the resort's maintenance
// grant at a home.
func (c *cloud) maintenanceTokens(home string) (*tokenSource, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ts := c.maint[home]; ts != nil {
		return ts, nil
	}
	rec, ok := c.reg.get(home)
	if !ok || rec.Maintenance == "" {
		return nil, errGrantGone
	}
	ts := &tokenSource{
		hc: c.hc, tokenURL: c.homeURL(home) + "consent/token", clientID: maintenanceClientID,
		onRotate: func(refresh string) { c.reg.setMaintenance(home, refresh) },
	}
	ts.tok.Refresh = rec.Maintenance
	c.maint[home] = ts
	return ts, nil
}

// homeURL is a home's base URL through the relay: its own origin.
func (c *cloud) homeURL(home string) string {
	return "http://" + net.JoinHostPort(c.homeHost(home), port(c.httpLn)) + "/"
}

// loadOrCreateSecret reads a secret from path, creating it if needed.
func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	s := newSecret(20)
	return s, writeFileAtomic(path, []byte(s+"\n"), 0o600)
}

// ---- the owner's dashboard ----

// owner wraps a handler that only the resort's owner may use.
func (c *cloud) owner(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := c.owners.get(r); err != nil {
			problem(w, http.StatusUnauthorized, "sign in with the owner link printed at start")
			return
		}
		h(w, r)
	}
}

// serveOwnerLogin signs the owner in with the key printed at start.
func (c *cloud) serveOwnerLogin(w http.ResponseWriter, r *http.Request) {
	src := clientSource(r)
	if wait, ok := c.ownerTries.allow(src); !ok {
		retryAfter(w, wait)
		problem(w, http.StatusTooManyRequests, "too many wrong keys; wait a moment")
		return
	}
	if !equalSecret(r.URL.Query().Get("key"), c.ownerKey) {
		c.ownerTries.fail(src)
		problem(w, http.StatusUnauthorized, "wrong owner key")
		return
	}
	c.ownerTries.succeed(src)
	c.owners.start(w, r, "/", "owner")
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (c *cloud) serveDashboard(w http.ResponseWriter, r *http.Request) {
	if _, err := c.owners.get(r); err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Resort dashboard</title><link rel="stylesheet" href="dashboard.css"><main class="signin"><h1>Resort dashboard</h1><p>Open the owner link that <code>holiday-home</code> printed when it started.</p></main>`)
		return
	}
	http.ServeFileFS(w, r, webAssets("cloud"), "index.html")
}

// summary is what the dashboard shows: aggregates only.
type summary struct {
	Homes     int `json:"homes"`     // enrolled
	Connected int `json:"connected"` // gateways connected to the relay now
	FL        struct {
		Round       int     `json:"round"`
		Clients     int     `json:"clients"` // connected FL clients
		TookPart    int     `json:"took_part"`
		Declined    int     `json:"declined"`
		Sampled     int     `json:"sampled"`
		MAE         float64 `json:"mae"`   // kWh on the show home
		Naive       float64 `json:"naive"` // persistence baseline, kWh
		Epsilon     float64 `json:"epsilon"`
		Delta       float64 `json:"delta"`
		Budget      float64 `json:"budget"`
		Noise       float64 `json:"noise"`
		SecureAgg   bool    `json:"secure_aggregation"` // the server sees only the sum of the updates
		MinCohort   int     `json:"min_cohort"`
		Stopped     string  `json:"stopped,omitempty"`
		RoundsEvery string  `json:"rounds_every"`
	} `json:"fl"`
	Rounds   []roundRow      `json:"rounds"`
	Forecast []forecastPoint `json:"forecast"`
	Relay    relay.Metrics   `json:"relay"`
}

type roundRow struct {
	Round    int       `json:"round"`
	Time     time.Time `json:"time"`
	Sampled  int       `json:"sampled"`
	TookPart int       `json:"took_part"`
	Declined int       `json:"declined"`
	MAE      *float64  `json:"mae,omitempty"`
	Epsilon  float64   `json:"epsilon"`
	Err      string    `json:"error,omitempty"`
}

func (c *cloud) summary() summary {
	var s summary
	names := c.reg.names()
	s.Homes = len(names)
	for _, n := range names {
		if c.relay.Connected(n) {
			s.Connected++
		}
	}
	hist := c.fl.History()
	s.FL.Round = c.fl.Round()
	s.FL.Clients = len(c.fl.Clients())
	s.FL.Naive = c.naive
	s.FL.Budget = c.cfg.Epsilon
	s.FL.Noise = c.cfg.DPNoise
	s.FL.SecureAgg = true // fedlearn's default, which startFL keeps; the last round says so below
	s.FL.MinCohort = fedlearn.DefaultMinCohort
	s.FL.RoundsEvery = c.cfg.RoundEvery.String()
	s.FL.MAE = math.NaN()
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		row := roundRow{Round: r.Round, Time: r.Start, Sampled: r.Sampled, TookPart: r.Accepted, Declined: r.Declined, Epsilon: r.Epsilon, Err: r.Err}
		if r.Eval != nil {
			row.MAE = ptr(r.Eval.Metrics["mae"] * fedlearn.EnergyScale)
		}
		if len(s.Rounds) < 12 {
			s.Rounds = append(s.Rounds, row)
		}
		if i == len(hist)-1 {
			s.FL.TookPart, s.FL.Declined, s.FL.Sampled = r.Accepted, r.Declined, r.Sampled
			s.FL.SecureAgg = r.SecureAggregation
		}
		if math.IsNaN(s.FL.MAE) && row.MAE != nil {
			s.FL.MAE = *row.MAE
		}
		if s.FL.Epsilon == 0 && r.Epsilon > 0 {
			s.FL.Epsilon, s.FL.Delta = r.Epsilon, r.Delta
		}
	}
	if math.IsNaN(s.FL.MAE) {
		if ev, err := newForecaster().Evaluate(context.Background(), c.fl.Params(), c.eval); err == nil {
			s.FL.MAE = ev.Metrics["mae"] * fedlearn.EnergyScale
		}
	}
	c.mu.Lock()
	s.Forecast = c.forecast
	s.FL.Stopped = c.stopped
	c.mu.Unlock()
	s.Relay = c.relay.Metrics()
	return s
}

func (c *cloud) serveSummary(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, c.summary())
}

// maintenanceRow is what the maintenance console reads from one home, with
// the resort's maintenance grant there.
type maintenanceRow struct {
	Home    string         `json:"home"`
	Online  bool           `json:"online"`
	Devices map[string]any `json:"devices,omitempty"`
	Error   string         `json:"error,omitempty"`
}

// serveMaintenance reads the maintenance properties of every home through
// the relay, as the resort's maintenance client.
func (c *cloud) serveMaintenance(w http.ResponseWriter, r *http.Request) {
	names := c.reg.names()
	rows := make([]maintenanceRow, len(names))
	var wg sync.WaitGroup
	for i, n := range names {
		rows[i] = maintenanceRow{Home: n, Online: c.relay.Connected(n)}
		if !rows[i].Online {
			continue
		}
		wg.Go(func() {
			dev, err := c.readMaintenance(r.Context(), n)
			if err != nil {
				rows[i].Error = err.Error()
			}
			rows[i].Devices = dev
		})
	}
	wg.Wait()
	writeJSON(w, http.StatusOK, map[string]any{"homes": rows})
}

// readMaintenance reads what the maintenance grant covers at one home.
func (c *cloud) readMaintenance(ctx context.Context, home string) (map[string]any, error) {
	out := map[string]any{}
	for _, p := range maintenanceReads {
		v, err := c.maintenanceGet(ctx, home, "things/"+p.thing+"/properties/"+p.property)
		if err != nil {
			return out, err
		}
		out[p.label] = v
	}
	return out, nil
}

// maintenanceGet GETs a path of a home's gateway through the relay with a
// maintenance token, refreshing it once on 401.
func (c *cloud) maintenanceGet(ctx context.Context, home, path string) (any, error) {
	ts, err := c.maintenanceTokens(home)
	if err != nil {
		return nil, err
	}
	for attempt := range 2 {
		tok, err := ts.token(ctx, attempt > 0)
		if err != nil {
			return nil, err
		}
		var v any
		err = getJSON(ctx, c.hc, c.homeURL(home)+path, tok, &v)
		if errors.Is(err, errUnauthorized) && attempt == 0 {
			continue
		}
		return v, err
	}
	return nil, errUnauthorized
}

// serveOwnerHistory tries to read the current guest's raw energy usage
// history with the resort's maintenance token. The home refuses: the
// guest's consent does not cover it.
func (c *cloud) serveOwnerHistory(w http.ResponseWriter, r *http.Request) {
	home := r.PathValue("home")
	if _, ok := c.reg.get(home); !ok {
		problem(w, http.StatusNotFound, "no such home")
		return
	}
	v, err := c.maintenanceGet(r.Context(), home, "api/history?thing="+url.QueryEscape(meterID)+"&property=power")
	res := map[string]any{"home": home}
	switch {
	case err == nil:
		res["allowed"], res["history"] = true, v
	case errors.Is(err, errForbidden):
		res["allowed"], res["reason"] = false, "Refused by the home: the guest has not consented to sharing their usage history with the resort."
	default:
		res["allowed"], res["reason"] = false, err.Error()
	}
	writeJSON(w, http.StatusOK, res)
}

// httpError is an error answer from the other side of an API call.
type httpError struct {
	Status int    // the HTTP status code
	Detail string // the problem detail, if any
}

func (e *httpError) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Detail)
}

// postJSON POSTs v as JSON with a bearer token and decodes the answer into
// out (unless nil).
func postJSON(ctx context.Context, hc *http.Client, u, token string, v, out any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var p struct {
			Detail string `json:"detail"`
		}
		json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p)
		return &httpError{Status: resp.StatusCode, Detail: p.Detail}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
