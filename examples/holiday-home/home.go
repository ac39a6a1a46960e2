package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/fedlearn"
	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/discovery"
	"github.com/hearth-wot/hearth/gateway/relay"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// Purposes every home's consent ledger declares.
const (
	purposeStay        = "stay"            // the guest's own app, for the stay (contract)
	purposeForecast    = "energy-forecast" // the resort's federated forecast (consent)
	purposeInsights    = "energy-insights" // third-party energy apps (consent, history)
	purposeMaintenance = "maintenance"     // the resort keeps devices working (legitimate interests)
	purposeReview      = "usage-review"    // the resort may see the stay's usage history (consent, history)
)

// Clients every home's consent ledger knows, besides the third-party apps
// the resort hands it at enrollment.
const (
	guestAppID          = "guest-app"
	forecastClientID    = "resort-forecast"
	maintenanceClientID = "resort-maintenance"
	resortClientID      = "resort"
	staffSubject        = "resort-staff" // the data subject of the maintenance grant: the resort itself
)

// Thing ids of the devices of virtual.NewHome that the example names.
const (
	meterID      = virtual.HomeIDPrefix + "energy-meter"
	thermostatID = virtual.HomeIDPrefix + "thermostat"
	washerID     = virtual.HomeIDPrefix + "washing-machine"
	livingLampID = virtual.HomeIDPrefix + "living-room-light"
)

var purposes = []consent.Purpose{
	{ID: purposeStay, LawfulBasis: consent.BasisContract, MaxDuration: 14 * 24 * time.Hour,
		Description: "Let your guest app show and control the devices of the home you rented, for your stay."},
	{ID: purposeForecast, LawfulBasis: consent.BasisConsent, MaxDuration: 14 * 24 * time.Hour,
		Description: "Let this home's energy model learn from its meter for the resort's energy forecast. Only model updates leave the home, never your readings."},
	{ID: purposeInsights, LawfulBasis: consent.BasisConsent, MaxDuration: 30 * 24 * time.Hour, Retention: 30 * 24 * time.Hour, History: true,
		Description: "Show you how much energy your stay uses, with tips to use less. Readings are kept for 30 days."},
	{ID: purposeMaintenance, LawfulBasis: consent.BasisLegitimateInterests, MaxDuration: 30 * 24 * time.Hour,
		Description: "Keep the heating and appliances working: read their state and set the heating mode. No usage history."},
	{ID: purposeReview, LawfulBasis: consent.BasisConsent, MaxDuration: 30 * 24 * time.Hour, Retention: 30 * 24 * time.Hour, History: true,
		Description: "Share this stay's energy-use history with the resort for an energy review."},
}

// maintenanceScopes is what the resort's maintenance grant covers: the
// state of the heating and the washing machine, and the heating mode. No
// meter, no lights, no door sensors, no history.
var maintenanceScopes = []consent.Scope{
	{Thing: thermostatID, Ops: []string{thing.OpReadProperty}, Names: []string{"mode", "targetTemperature", "temperature", "heatingCooling"}},
	{Thing: thermostatID, Ops: []string{thing.OpWriteProperty}, Names: []string{"mode", "targetTemperature"}},
	{Thing: washerID, Ops: []string{thing.OpReadProperty}, Names: []string{"state", "remaining"}},
}

// maintenanceReads are the values the maintenance console shows.
var maintenanceReads = []struct{ label, thing, property string }{
	{"heating mode", thermostatID, "mode"},
	{"target °C", thermostatID, "targetTemperature"},
	{"room °C", thermostatID, "temperature"},
	{"washing machine", washerID, "state"},
}

// insightsScopes is what EnergySaver asks for: reading and observing the
// meter's power and energy.
var insightsScopes = []consent.Scope{
	{Thing: meterID, Ops: []string{thing.OpReadProperty, thing.OpObserveProperty}, Names: []string{"power", "energy"}},
}

// forecastScopes is what the forecast consent covers: the meter's readings,
// used on the gateway only.
var forecastScopes = []consent.Scope{
	{Thing: meterID, Ops: []string{thing.OpReadProperty}, Names: []string{"power", "energy"}},
}

// home is one holiday home: its gateway with virtual devices, its consent
// ledger, the guest's app, its federated-learning client and its link to
// the resort's relay.
type home struct {
	cfg   *config
	n     int
	name  string // "home-1", its name at the relay
	title string // "Holiday home 1"
	dir   string
	log   *slog.Logger

	ln       net.Listener
	localURL string    // the gateway on the home's network: its own origin
	hosts    homeHosts // the host names every route answers
	enroll   *enrollResponse
	cloudTLS *tls.Config
	hc       *http.Client
	key      ed25519.PrivateKey

	ledger   *consent.Ledger
	consentH *consent.Handler
	history  *gateway.History
	devices  *virtual.Adapter
	meter    *virtual.EnergyMeter
	gw       *gateway.Server
	onb      *onboarder
	fl       *fedlearn.Client
	relayc   *relay.Client

	stay       *stayStore
	guests     *sessions[*guestSession]
	checkin    string       // this run's check-in code
	checkTries guessLimiter // wrong check-in codes, per client
}

// homeOptions are what a home needs from the resort to start.
type homeOptions struct {
	cloudURL string         // https URL of the cloud
	pool     *x509.CertPool // the resort's CA
	secret   string         // the enrollment secret
}

func newHome(ctx context.Context, cfg *config, n int, opt homeOptions) (_ *home, err error) {
	h := &home{
		cfg: cfg, n: n, name: fmt.Sprintf("home-%d", n), title: fmt.Sprintf("Holiday home %d", n),
		dir:     filepath.Join(cfg.DataDir, fmt.Sprintf("home-%d", n)),
		checkin: newCode(),
	}
	h.log = cfg.Log.With("part", h.name)
	h.guests = newSessions[*guestSession](guestCookie(h.name), 7*24*time.Hour)
	var closers []func()
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return nil, err
	}
	if h.ln, err = listen(cfg.Host, cfg.port(10+n), h.log); err != nil {
		return nil, err
	}
	closers = append(closers, func() { h.ln.Close() })
	// On this machine the home has a name of its own under .localhost (an
	// origin of its own, and cookies of its own); bound to a network
	// address, it is reached by that address.
	localHost := urlHost(h.ln)
	if ip := net.ParseIP(cfg.Host); ip == nil || ip.IsLoopback() || ip.IsUnspecified() {
		localHost = net.JoinHostPort(h.name+".localhost", port(h.ln))
	}
	h.localURL = "http://" + localHost + "/"
	if h.key, err = loadOrCreateKey(filepath.Join(h.dir, "gateway.key")); err != nil {
		return nil, err
	}
	h.cloudTLS = &tls.Config{RootCAs: opt.pool, MinVersion: tls.VersionTLS12}
	h.hc = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: h.cloudTLS}}

	// Join the resort: register the gateway's key with the relay, get the
	// home's token and the resort's app catalogue.
	if h.enroll, err = enrollHome(ctx, h.hc, opt.cloudURL, opt.secret, h.name, h.localURL, h.key); err != nil {
		return nil, err
	}

	if h.stay, err = openStay(filepath.Join(h.dir, "stay.json")); err != nil {
		return nil, err
	}
	if err := h.openLedger(ctx); err != nil {
		return nil, err
	}
	closers = append(closers, func() { h.ledger.Close(); h.history.Close() })

	h.devices = virtual.New(virtual.Config{Logger: h.log.With("part", h.name+"/devices")})
	closers = append(closers, func() { h.devices.Close() })
	devs := virtual.NewHome(uint64(n), time.Local)
	for _, d := range devs {
		if m, ok := d.(*virtual.EnergyMeter); ok {
			h.meter = m
		}
	}
	if err := h.devices.Add(devs...); err != nil {
		return nil, err
	}
	// The home answers its own names only: its local name and its name
	// through the relay, which the relay passes on as the Host.
	h.hosts.names = []string{hostOnly(localHost)}
	if u, err := url.Parse(h.enroll.RemoteURL); err == nil && u.Hostname() != "" {
		h.hosts.names = append(h.hosts.names, strings.ToLower(u.Hostname()))
	}
	issuer := h.ledger.Issuer()
	h.gw, err = gateway.New(gateway.Config{
		Authorizer: h.ledger,
		Logger:     h.log.With("part", h.name+"/gateway"),
		Security:   gateway.Security{AuthorizationURL: issuer + "/authorize", TokenURL: issuer + "/token", BearerFormat: "jwt", BearerAlg: "EdDSA"},
		WebThings:  gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/webthings"},
		Directory:  gateway.Directory{ID: "urn:hearth:" + h.name, Title: h.title},
		History:    h.history,
		// The home's handler checks every route's Host (h.hosts), the
		// gateway's included, before the gateway sees the request: its
		// policy (IP literals among them) is not a list AllowedHosts can
		// express.
		AllowedHosts: []string{"*"},
		// Honour the relay's X-Forwarded-* headers on requests that came
		// through the home's own tunnel, so TDs fetched through the relay
		// point back through it; nothing a client sends can fake this.
		TrustForwarded: relay.Relayed,
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() { h.gw.Close() })
	// Erasure also forgets the guest's action requests (a washing
	// programme's input, when it ran) and the gateway's lists of past
	// events, which may tell of the stay.
	h.ledger.RegisterEraser("gateway", h.gw)
	if err := h.gw.AddAdapter(ctx, h.devices); err != nil {
		return nil, err
	}
	if h.consentH, err = consent.NewHandler(h.ledger, consent.HandlerConfig{
		Authenticator: guestAuth{h}, Things: thingNamer{h.gw}, Title: h.title,
	}); err != nil {
		return nil, err
	}
	h.onb = newOnboarder(h.name, h.devices, h.gw.Refresh, h.log.With("part", h.name+"/onboarding"))
	closers = append(closers, h.onb.close)

	if err := h.grantMaintenance(ctx); err != nil {
		return nil, err
	}
	if err := h.startFL(); err != nil {
		return nil, err
	}
	if h.relayc, err = relay.NewClient(relay.ClientConfig{
		URL: h.enroll.CloudURL, Home: h.name, Key: h.key, Handler: h.handler(),
		TLSClientConfig: h.cloudTLS, MinBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second,
		Logger:       h.log.With("part", h.name+"/relay"),
		OnConnect:    func() { h.log.Debug("connected to the resort's relay") },
		OnDisconnect: func(err error) { h.log.Debug("relay link lost", "err", err) },
	}); err != nil {
		return nil, err
	}
	return h, nil
}

// openLedger opens the home's durable consent ledger.
func (h *home) openLedger(ctx context.Context) error {
	store, err := consent.OpenFileStore(filepath.Join(h.dir, "consent.log"), consent.FileStoreOptions{Logger: h.log})
	if errors.Is(err, consent.ErrLocked) {
		return fmt.Errorf("%s is in use by another holiday-home process; stop it or choose another -data directory", h.dir)
	}
	if err != nil {
		return err
	}
	clients := []consent.Client{
		{ID: guestAppID, Name: "Your guest app", Purposes: []string{purposeStay}},
		{ID: forecastClientID, Name: "Resort energy forecast", Purposes: []string{purposeForecast}},
		{ID: maintenanceClientID, Name: "Resort maintenance", Purposes: []string{purposeMaintenance}},
		{ID: resortClientID, Name: "Holiday resort", Purposes: []string{purposeReview}},
	}
	for _, a := range h.enroll.Apps {
		clients = append(clients, consent.Client{ID: a.ID, Name: a.Name, URI: a.URI, RedirectURIs: a.RedirectURIs, Purposes: a.Purposes})
	}
	h.ledger, err = consent.New(ctx, consent.Config{
		Issuer:   h.enroll.RemoteHTTPS + "consent",
		Audience: "urn:hearth:" + h.name,
		// The issuer follows the cloud's address, which may change between
		// runs; the audit log's name must not.
		AuditOrigin: "holiday-resort.example/" + h.name,
		Store:       store,
		Purposes:    purposes,
		Clients:     clients,
		Controller:  consent.Controller{Name: "Hearth Holiday Resort (demo)", Email: "privacy@resort.example", Jurisdiction: "EU"},
		Logger:      h.log.With("part", h.name+"/consent"),
	})
	if err != nil {
		store.Close()
		return err
	}
	// Readings recorded under consents that allow it, durable like the
	// ledger; erasure removes them from the file too.
	h.history, err = gateway.OpenHistory(gateway.HistoryConfig{Dir: filepath.Join(h.dir, "history"), Logger: h.log})
	if err != nil {
		h.ledger.Close()
		return err
	}
	h.ledger.RegisterExporter("history", h.history)
	h.ledger.RegisterEraser("history", h.history)
	h.ledger.RegisterExporter("stay", h.stay)
	h.ledger.RegisterEraser("stay", stayEraser{h})
	return nil
}

// grantMaintenance records the resort's maintenance grant (replacing the
// previous run's) and hands its refresh token to the resort.
func (h *home) grantMaintenance(ctx context.Context) error {
	if _, err := h.ledger.RevokeAll(ctx, consent.GrantFilter{Holder: maintenanceClientID}); err != nil {
		return err
	}
	g, err := h.ledger.Grant(ctx, consent.GrantRequest{
		Subject: staffSubject, Holder: maintenanceClientID, Purpose: purposeMaintenance, Scopes: maintenanceScopes,
	})
	if err != nil {
		return err
	}
	t, err := h.ledger.IssueTokens(ctx, g.ID, consent.TokenOptions{})
	if err != nil {
		return err
	}
	return postJSON(ctx, h.hc, h.enroll.CloudURL+"/api/homes/"+h.name+"/maintenance", h.enroll.Token,
		map[string]string{"refresh_token": string(t.RefreshToken)}, nil)
}

// startFL creates the home's federated-learning client: it trains the
// forecaster on this home's own meter history, on the gateway, and takes
// part only while the current guest's energy-forecast consent stands.
func (h *home) startFL() error {
	tr, err := homeTrainer(h.name, h.meter, uint64(h.n))
	if err != nil {
		return err
	}
	h.fl, err = fedlearn.NewClient(tr, fedlearn.ClientConfig{
		Consent:  fedlearn.ConsentFunc(h.forecastConsent),
		ClipNorm: flClipNorm,
		Logger:   h.log.With("part", h.name+"/fl"),
	})
	return err
}

// forecastConsent reports whether the current guest consents to the
// resort's energy forecast learning from this home.
func (h *home) forecastConsent(context.Context) bool {
	return h.forecastGrant() != nil
}

func (h *home) forecastGrant() *consent.Grant {
	gs := h.ledger.Grants(consent.GrantFilter{Subject: h.stay.subject(), Holder: forecastClientID, Status: consent.StatusActive})
	if len(gs) == 0 {
		return nil
	}
	return &gs[len(gs)-1]
}

// simulateGuestOptIn plays the guest of a simulated home ticking "help the
// resort forecast energy use" at check-in, once per stay: the demo's other
// homes need guests who agreed, as the first home's guest is you.
func (h *home) simulateGuestOptIn(ctx context.Context) error {
	if len(h.ledger.Grants(consent.GrantFilter{Subject: h.stay.subject(), Holder: forecastClientID})) > 0 {
		return nil // this guest already decided, one way or the other
	}
	_, err := h.ledger.Grant(ctx, consent.GrantRequest{
		Subject: h.stay.subject(), Holder: forecastClientID, Purpose: purposeForecast, Scopes: forecastScopes,
	})
	return err
}

// run serves the home until ctx ends.
func (h *home) run(ctx context.Context) error {
	srv := newHTTPServer(h.handler(), h.log)
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	wg.Go(func() { errc <- serve(ctx, srv, h.ln) })
	wg.Go(func() {
		if err := h.ledger.Run(ctx); err != nil && ctx.Err() == nil {
			h.log.Error("consent ledger housekeeping stopped", "err", err)
		}
	})
	wg.Go(func() { h.runRelay(ctx) })
	wg.Go(func() { h.runFL(ctx) })
	if h.cfg.MDNS {
		wg.Go(func() { h.advertise(ctx) })
	}
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
	}
	// Streams first (the http.Server does not track WebSockets), then the
	// relay link, then the rest.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	h.gw.Shutdown(sctx)
	h.relayc.Shutdown(sctx)
	cancel()
	h.relayc.Close()
	wg.Wait()
	h.onb.close()
	h.devices.Close()
	h.gw.Close()
	if cerr := h.history.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := h.ledger.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// runRelay keeps the home connected to the resort's relay.
func (h *home) runRelay(ctx context.Context) {
	err := h.relayc.Run(ctx)
	if err != nil && ctx.Err() == nil && !errors.Is(err, relay.ErrClosed) {
		h.log.Error("remote access stopped", "err", err)
	}
}

// runFL keeps the federated-learning client connected to the resort.
func (h *home) runFL(ctx context.Context) {
	err := h.fl.Connect(ctx, fedlearn.DialConfig{
		URL: h.enroll.FLURL, Token: fedlearn.Token(h.enroll.Token), Name: h.name, TLSConfig: h.cloudTLS,
		MinBackoff: 200 * time.Millisecond, MaxBackoff: 10 * time.Second,
	})
	if err != nil && ctx.Err() == nil {
		h.log.Error("federated learning stopped", "err", err)
	}
}

// advertise announces the gateway on the local network (mDNS/DNS-SD).
func (h *home) advertise(ctx context.Context) {
	adv, err := discovery.New(discovery.Config{Logger: h.log})
	if err != nil {
		h.log.Warn("mDNS", "err", err)
		return
	}
	port := h.ln.Addr().(*net.TCPAddr).Port
	adv.Add(discovery.WoTDirectory(h.title, port, "/.well-known/wot", false))
	adv.Add(discovery.WebThing(h.title, port, "/webthings", false))
	if err := adv.Run(ctx); err != nil && ctx.Err() == nil {
		h.log.Warn("mDNS", "err", err)
	}
}

// loadOrCreateKey reads the gateway's Ed25519 key, creating it if needed.
func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != ed25519.SeedSize {
			return nil, fmt.Errorf("%s: not an Ed25519 seed", path)
		}
		return ed25519.NewKeyFromSeed(b), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	seed := make([]byte, ed25519.SeedSize)
	rand.Read(seed)
	if err := writeFileAtomic(path, seed, 0o600); err != nil {
		return nil, err
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// thingNamer gives the consent page the titles of the gateway's things.
type thingNamer struct{ gw *gateway.Server }

func (t thingNamer) ThingTitle(_ context.Context, id string) (string, bool) {
	for _, td := range t.gw.Things() {
		if td.ID == id {
			return td.Title, td.Title != ""
		}
	}
	return "", false
}

// ---- the stay ----

// stayRecord is what the home keeps about the current stay: the guest's
// pseudonymous subject id and a few facts the guest can export. It holds
// no name, no e-mail, no booking reference.
type stayRecord struct {
	Subject  string    `json:"subject"`
	Since    time.Time `json:"since"`
	CheckIns int       `json:"check_ins"`
	Devices  []string  `json:"devices_added,omitempty"`
}

// stayStore keeps the stay record in a file. It is safe for concurrent use.
type stayStore struct {
	path string
	mu   sync.Mutex
	rec  stayRecord
}

func openStay(path string) (*stayStore, error) {
	s := &stayStore{path: path}
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s.rec); err != nil || s.rec.Subject == "" {
			return nil, fmt.Errorf("%s: not a stay record", path)
		}
		return s, nil
	case errors.Is(err, fs.ErrNotExist):
		return s, s.newStay()
	default:
		return nil, err
	}
}

// newStay starts a new stay with a fresh pseudonym.
func (s *stayStore) newStay() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rec = stayRecord{Subject: "guest-" + newSecret(10), Since: time.Now().UTC().Truncate(time.Second)}
	return s.saveLocked()
}

func (s *stayStore) saveLocked() error {
	b, err := json.Marshal(s.rec)
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, b, 0o600)
}

func (s *stayStore) subject() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rec.Subject
}

func (s *stayStore) get() stayRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.rec
	r.Devices = append([]string(nil), s.rec.Devices...)
	return r
}

func (s *stayStore) update(fn func(*stayRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(&s.rec)
	return s.saveLocked()
}

// ExportSubject implements consent.Exporter: the stay record, for its guest.
func (s *stayStore) ExportSubject(_ context.Context, subject string) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rec.Subject != subject {
		return nil, nil
	}
	return json.Marshal(s.rec)
}

// stayEraser implements consent.Eraser: it deletes the stay record, ends
// the guest's sessions and starts a new stay under a new pseudonym, so
// nothing the home keeps links to the erased guest.
type stayEraser struct{ h *home }

func (e stayEraser) EraseSubject(_ context.Context, subject string) error {
	s := e.h.stay
	if s.subject() != subject {
		return nil // already erased
	}
	e.h.guests.drop(func(g *guestSession) bool { return g.subject == subject })
	return s.newStay()
}
