package main

import (
	"context"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/gateway/relay"
	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/thing"
)

// guestSession is a checked-in browser: the guest's pseudonymous subject
// and the tokens of the guest app's grant, which the app fetches from
// /api/token (the refresh token never reaches the browser).
type guestSession struct {
	subject string
	mu      sync.Mutex
	tokens  *consent.Tokens
}

// guestCookie is the name of a home's session cookie.
func guestCookie(home string) string { return "hh_" + home }

// handler returns the home's routes, the same on the home's network and
// through the relay: there the home has an origin of its own
// (home-N.<domain>), so its pages are at the root either way.
func (h *home) handler() http.Handler {
	mux := http.NewServeMux()
	app := http.FileServerFS(webAssets("guest"))
	mux.HandleFunc("GET /{$}", h.serveApp)
	mux.Handle("GET /app/", app)
	mux.Handle("GET /manifest.webmanifest", app)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, webAssets("guest"), "app/icon-192.png")
	})
	mux.HandleFunc("GET /sw.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		app.ServeHTTP(w, r)
	})
	mux.HandleFunc("GET /checkin", h.serveCheckinPage)
	mux.HandleFunc("POST /checkin", h.serveCheckin)
	mux.HandleFunc("POST /api/logout", h.serveLogout)
	mux.HandleFunc("GET /api/session", h.guest(h.serveSession))
	mux.HandleFunc("GET /api/token", h.guest(h.serveToken))
	mux.HandleFunc("POST /api/forecast-consent", h.guest(h.serveForecastConsent))
	mux.HandleFunc("GET /api/receipts/{id}", h.guest(h.serveReceipt))
	mux.HandleFunc("POST /api/devices/unbox", h.guest(h.serveUnbox))
	mux.HandleFunc("POST /api/devices/add", h.guest(h.serveAddDevice))
	mux.HandleFunc("GET /api/history", h.serveHistory)
	mux.Handle("/consent/", http.StripPrefix("/consent", h.consentH))
	for _, p := range []string{"/things", "/things/", "/.well-known/wot", "/webthings", "/webthings/"} {
		mux.Handle(p, h.gw)
	}
	hd := securityHeaders(mux)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only the home's own names, against DNS rebinding; and only its
		// own cookie, whatever else a browser sends for an address that
		// other apps share.
		if !h.hosts.allows(r.Host) {
			problem(w, http.StatusMisdirectedRequest, "this home does not answer for that host name")
			return
		}
		keepCookies(r, h.guests.cookie)
		hd.ServeHTTP(w, r)
	})
}

// guest wraps a handler for checked-in guests, called by the guest app's
// own pages: a request a browser marks as coming from another origin is
// refused, even if it carries the session cookie.
func (h *home) guest(fn func(http.ResponseWriter, *http.Request, *guestSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !sameOriginRequest(r) {
			problem(w, http.StatusForbidden, "cross-origin request refused")
			return
		}
		g, err := h.guests.get(r)
		if err != nil || g.subject != h.stay.subject() {
			problem(w, http.StatusUnauthorized, "check in first")
			return
		}
		fn(w, r, g)
	}
}

// guestAuth tells the consent handler who the guest is: the subject of the
// session cookie. Without one it sends the browser to check in, and back.
type guestAuth struct{ h *home }

func (a guestAuth) Subject(r *http.Request) (string, error) {
	g, err := a.h.guests.get(r)
	if err != nil || g.subject != a.h.stay.subject() {
		return "", consent.ErrUnauthenticated
	}
	return g.subject, nil
}

// Challenge implements consent.Challenger.
func (a guestAuth) Challenge(w http.ResponseWriter, r *http.Request) {
	// r.URL.Path is below /consent (StripPrefix).
	next := "consent" + r.URL.Path
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	http.Redirect(w, r, "/checkin?next="+url.QueryEscape(next), http.StatusSeeOther)
}

func (h *home) serveApp(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeFileFS(w, r, webAssets("guest"), "index.html")
}

var checkinPage = template.Must(template.New("checkin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Check in · {{.Title}}</title><link rel="stylesheet" href="app/app.css"><link rel="manifest" href="manifest.webmanifest">
<meta name="theme-color" content="#1f4d45"></head>
<body class="checkin"><main class="card narrow">
<img src="app/icon.svg" alt="" width="56" height="56">
<h1>Welcome to {{.Title}}</h1>
<p>Enter the check-in code from your key card to use this home's guest app.</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="checkin">
<label for="code">Check-in code</label>
<input id="code" name="code" value="{{.Code}}" inputmode="numeric" autocomplete="one-time-code" required minlength="8" maxlength="12" placeholder="0000-0000">
<input type="hidden" name="next" value="{{.Next}}">
<button type="submit" class="primary">Check in</button>
</form>
<p class="small">Your stay is known to this home only by a random pseudonym. See what it keeps, and take it with you or erase it, in the app's Privacy tab.</p>
</main></body></html>`))

type checkinData struct {
	Title, Code, Next, Error string
}

func (h *home) serveCheckinPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	q := r.URL.Query()
	checkinPage.Execute(w, checkinData{Title: h.title, Code: q.Get("code"), Next: safeNext(q.Get("next"))})
}

// safeNext keeps a post-check-in destination only if it is one of the
// home's consent pages, as a relative path: "consent/" and letters, digits,
// '-', '_' and '/' up to the query, so no scheme, host, dot segment or
// escape can lead anywhere else.
func safeNext(next string) string {
	path, _, _ := strings.Cut(next, "?")
	if !strings.HasPrefix(path, "consent/") || strings.Contains(path, "//") || strings.ContainsAny(next, "\\\r\n#") {
		return ""
	}
	for _, c := range path {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '/') {
			return ""
		}
	}
	return next
}

// serveCheckin checks a guest in with the code printed at start: it
// starts a session and makes sure the guest app holds a grant for the stay.
func (h *home) serveCheckin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil || !sameOriginRequest(r) {
		problem(w, http.StatusBadRequest, "malformed check-in")
		return
	}
	code := strings.NewReplacer(" ", "", "-", "").Replace(r.PostForm.Get("code"))
	next := safeNext(r.PostForm.Get("next"))
	fail := func(status int, msg string) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		checkinPage.Execute(w, checkinData{Title: h.title, Next: next, Error: msg})
	}
	src := clientSource(r)
	if wait, ok := h.checkTries.allow(src); !ok {
		retryAfter(w, wait)
		fail(http.StatusTooManyRequests, "Too many wrong codes. Wait a moment and try again.")
		return
	}
	if !equalSecret(code, strings.ReplaceAll(h.checkin, "-", "")) {
		h.checkTries.fail(src)
		fail(http.StatusUnauthorized, "That code is not right. Check your key card.")
		return
	}
	h.checkTries.succeed(src)
	g, err := h.newGuestSession(r.Context())
	if err != nil {
		h.log.Error("check-in", "err", err)
		fail(http.StatusServiceUnavailable, "Check-in is not possible just now. Try again in a moment.")
		return
	}
	h.stay.update(func(s *stayRecord) { s.CheckIns++ })
	h.guests.start(w, r, "/", g)
	http.Redirect(w, r, "/"+next, http.StatusSeeOther)
}

// newGuestSession returns a session for the current guest with tokens of
// the guest app's grant, recording the grant when there is none.
func (h *home) newGuestSession(ctx context.Context) (*guestSession, error) {
	subject := h.stay.subject()
	var grantID string
	if gs := h.ledger.Grants(consent.GrantFilter{Subject: subject, Holder: guestAppID, Status: consent.StatusActive}); len(gs) > 0 {
		grantID = gs[len(gs)-1].ID
	} else {
		g, err := h.ledger.Grant(ctx, consent.GrantRequest{
			Subject: subject, Holder: guestAppID, Purpose: purposeStay, Duration: 7 * 24 * time.Hour,
			Scopes: []consent.Scope{{Thing: consent.AllThings, Ops: consent.ReadWriteOps()}},
		})
		if err != nil {
			return nil, err
		}
		grantID = g.ID
	}
	t, err := h.ledger.IssueTokens(ctx, grantID, consent.TokenOptions{})
	if err != nil {
		return nil, err
	}
	return &guestSession{subject: subject, tokens: t}, nil
}

func (h *home) serveLogout(w http.ResponseWriter, r *http.Request) {
	if !sameOriginRequest(r) {
		problem(w, http.StatusForbidden, "cross-origin request refused")
		return
	}
	if g, err := h.guests.get(r); err == nil {
		g.mu.Lock()
		if g.tokens != nil {
			h.ledger.RevokeToken(r.Context(), g.tokens.RefreshToken, guestAppID)
		}
		g.mu.Unlock()
	}
	h.guests.end(w, r, "/")
	w.WriteHeader(http.StatusNoContent)
}

// serveToken gives the guest app a short-lived access token for the
// gateway (Authorization header, or ?jwt= on WebSocket URLs), refreshing
// it with the refresh token kept in the session.
func (h *home) serveToken(w http.ResponseWriter, r *http.Request, g *guestSession) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.tokens == nil || time.Until(g.tokens.Expires) < time.Minute {
		if g.tokens == nil {
			problem(w, http.StatusUnauthorized, "check in again")
			return
		}
		t, err := h.ledger.Refresh(r.Context(), g.tokens.RefreshToken, guestAppID, nil)
		if err != nil {
			g.tokens = nil
			if errors.Is(err, access.ErrInvalidToken) {
				h.guests.end(w, r, "/")
				problem(w, http.StatusUnauthorized, "the guest app's access was withdrawn; check in again")
				return
			}
			h.log.Error("refreshing the guest app's token", "err", err)
			problem(w, http.StatusServiceUnavailable, "try again")
			return
		}
		g.tokens = t
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": string(g.tokens.AccessToken), "expires_at": g.tokens.Expires, "grant": g.tokens.GrantID,
	})
}

// sessionInfo is what the guest app learns about the stay.
type sessionInfo struct {
	Home        string            `json:"home"`
	Title       string            `json:"title"`
	Since       time.Time         `json:"since"`
	Remote      bool              `json:"remote"` // reached through the resort's relay
	LocalURL    string            `json:"local_url"`
	RemoteURL   string            `json:"remote_url"`
	Forecast    *consent.Grant    `json:"forecast,omitempty"` // the forecast consent, if given
	Clients     map[string]string `json:"clients"`            // client id → name
	Purposes    []consent.Purpose `json:"purposes"`
	Maintenance []consent.Scope   `json:"maintenance"` // what the resort may do, without consent
	Apps        []appView         `json:"apps"`
	Pending     []label           `json:"pending_devices"`
}

type appView struct {
	appInfo
	ConnectURL string `json:"connect_url"`
}

func (h *home) serveSession(w http.ResponseWriter, r *http.Request, g *guestSession) {
	st := h.stay.get()
	info := sessionInfo{
		Home: h.name, Title: h.title, Since: st.Since, Remote: relay.Relayed(r),
		LocalURL: h.localURL, RemoteURL: h.enroll.RemoteURL,
		Forecast: h.forecastGrant(), Clients: map[string]string{}, Purposes: h.ledger.Purposes(),
		Maintenance: maintenanceScopes, Pending: h.onb.pending(),
	}
	for _, id := range []string{guestAppID, forecastClientID, maintenanceClientID, resortClientID} {
		c, _ := h.ledger.Client(id)
		info.Clients[id] = c.Name
	}
	via := "local"
	if info.Remote {
		via = "relay"
	}
	for _, a := range h.enroll.Apps {
		info.Clients[a.ID] = a.Name
		info.Apps = append(info.Apps, appView{appInfo: a, ConnectURL: a.URI + "connect?home=" + url.QueryEscape(h.name) + "&via=" + via})
	}
	writeJSON(w, http.StatusOK, info)
}

// serveForecastConsent gives or withdraws the guest's consent to the
// resort's energy forecast learning from this home.
func (h *home) serveForecastConsent(w http.ResponseWriter, r *http.Request, g *guestSession) {
	var req struct {
		Consent bool `json:"consent"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	var err error
	if req.Consent {
		if h.forecastGrant() == nil {
			_, err = h.ledger.Grant(r.Context(), consent.GrantRequest{
				Subject: g.subject, Holder: forecastClientID, Purpose: purposeForecast, Scopes: forecastScopes, Duration: 7 * 24 * time.Hour,
			})
		}
	} else {
		_, err = h.ledger.RevokeAll(r.Context(), consent.GrantFilter{Subject: g.subject, Holder: forecastClientID})
	}
	if err != nil {
		h.log.Error("forecast consent", "err", err)
		problem(w, http.StatusServiceUnavailable, "your choice could not be recorded; try again")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"consent": h.forecastGrant() != nil, "grant": h.forecastGrant()})
}

// serveReceipt returns a grant's signed consent receipt, verified with the
// audit log's public key, so the guest sees that it checks out.
func (h *home) serveReceipt(w http.ResponseWriter, r *http.Request, g *guestSession) {
	gr, err := h.ledger.Get(r.PathValue("id"))
	if err != nil || gr.Subject != g.subject {
		problem(w, http.StatusNotFound, "no such consent")
		return
	}
	raw, err := h.ledger.Receipt(r.Context(), gr.ID)
	if err != nil {
		problem(w, http.StatusServiceUnavailable, "no receipt just now")
		return
	}
	v, err := consent.NewVerifier(h.ledger.AuditVerifierKey())
	if err != nil {
		problem(w, http.StatusInternalServerError, "no verifier")
		return
	}
	rec, verr := v.Receipt(raw)
	res := map[string]any{"verified": verr == nil, "receipt": rec, "signed": string(raw), "verifier_key": h.ledger.AuditVerifierKey()}
	if verr != nil {
		res["error"] = verr.Error()
	}
	writeJSON(w, http.StatusOK, res)
}

// serveUnbox switches on a new smart plug near the home (the simulation of
// taking it out of its box and plugging it in) and returns its label.
func (h *home) serveUnbox(w http.ResponseWriter, r *http.Request, g *guestSession) {
	if len(h.onb.pending()) >= 3 {
		problem(w, http.StatusTooManyRequests, "three new devices are already waiting to be added")
		return
	}
	l, err := h.onb.unbox(r.Context(), "Desk lamp plug")
	if err != nil {
		problem(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, l)
}

// serveAddDevice is the "Add device" button: the user gesture that lets
// the home's radio look for the device whose code the guest entered.
func (h *home) serveAddDevice(w http.ResponseWriter, r *http.Request, g *guestSession) {
	var req struct {
		Code string `json:"code"` // the label's QR payload, or its 8-digit code
	}
	if !readJSON(w, r, &req) {
		return
	}
	payload := strings.TrimSpace(req.Code)
	if !strings.HasPrefix(payload, "HRT1:") {
		// A typed code: find the waiting device it belongs to.
		digits := strings.NewReplacer(" ", "", "-", "").Replace(payload)
		for _, l := range h.onb.pending() {
			if strings.HasSuffix(l.Payload, ":"+digits) {
				payload = l.Payload
			}
		}
	}
	var steps []string
	ctx, cancel := context.WithTimeout(r.Context(), 45*time.Second)
	defer cancel()
	id, err := h.onb.add(ctx, payload, func(p onboarding.Progress) { steps = append(steps, p.State.String()) })
	switch {
	case err == nil:
		h.stay.update(func(s *stayRecord) { s.Devices = append(s.Devices, id) })
		writeJSON(w, http.StatusOK, map[string]any{"thing": id, "steps": steps})
	case errors.Is(err, onboarding.ErrInvalidSetupCode), errors.Is(err, errNoSuchBox):
		problem(w, http.StatusBadRequest, "No new device with that code is switched on nearby. Check the code on its label.")
	case errors.Is(err, onboarding.ErrAuthentication):
		problem(w, http.StatusBadRequest, "The device did not accept that code. Check the code on its label.")
	case errors.Is(err, onboarding.ErrRateLimited):
		w.Header().Set("Retry-After", "5")
		problem(w, http.StatusTooManyRequests, "The device is pausing after a wrong code. Try again in a few seconds.")
	default:
		h.log.Warn("onboarding failed", "err", err)
		problem(w, http.StatusBadGateway, "Adding the device failed: "+err.Error())
	}
}

// serveHistory returns recorded property history to the holder of a token,
// and only the values recorded under the consent that token carries: a
// token whose grant does not cover the property (the resort's maintenance
// token and the meter, say), or whose purpose allows no history, gets 403.
func (h *home) serveHistory(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	q := r.URL.Query()
	thingID, prop := q.Get("thing"), q.Get("property")
	if thingID == "" || prop == "" {
		problem(w, http.StatusBadRequest, "thing and property are required")
		return
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", "Bearer")
		problem(w, http.StatusUnauthorized, "a bearer token is required")
		return
	}
	dec, err := h.ledger.Authorize(r.Context(), tok, access.Request{ThingID: thingID, Op: thing.OpReadProperty, Name: prop})
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		problem(w, http.StatusUnauthorized, "the token is not valid")
		return
	}
	if !dec.Allow {
		problem(w, http.StatusForbidden, "no consent covers reading this property")
		return
	}
	p, ok := h.ledger.Purpose(dec.Purpose)
	if !ok || !p.History {
		problem(w, http.StatusForbidden, "the purpose of this consent does not cover usage history")
		return
	}
	vals, err := h.history.Values(r.Context(), gateway.HistoryQuery{ThingID: thingID, Property: prop})
	if err != nil {
		problem(w, http.StatusServiceUnavailable, "history unavailable")
		return
	}
	out := []gateway.HistoryValue{}
	for _, v := range vals {
		if v.GrantID == dec.GrantID {
			out = append(out, v)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"thing": thingID, "property": prop, "values": out})
}
