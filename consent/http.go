package consent

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// An Authenticator tells the HTTP handler who is using the consent page
// and the grants API. The embedder supplies it (a session cookie, a guest
// login, a device pairing): the ledger does not manage accounts.
//
// Subject returns the data subject's pseudonymous id for the person who
// made r, or an error wrapping ErrUnauthenticated when nobody is signed
// in. It is called concurrently.
type Authenticator interface {
	Subject(r *http.Request) (string, error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
//
// An AuthenticatorFunc is as safe for concurrent use as the function it
// wraps, which the Handler calls concurrently.
type AuthenticatorFunc func(r *http.Request) (string, error)

// Subject calls f(r).
func (f AuthenticatorFunc) Subject(r *http.Request) (string, error) { return f(r) }

// A Challenger is an optional Authenticator capability: Challenge answers
// a request from someone not signed in, typically with a redirect to a
// sign-in page that comes back to r's URL. Without it the handler answers
// 401 with a short page.
//
// The Handler calls Challenge concurrently.
type Challenger interface {
	Challenge(w http.ResponseWriter, r *http.Request)
}

// A ThingNamer gives the consent page a human title for a thing id. A
// gateway's directory is a natural implementation. It is called
// concurrently.
type ThingNamer interface {
	ThingTitle(ctx context.Context, id string) (title string, ok bool)
}

// HandlerConfig configures NewHandler. The zero value works, except that
// without an Authenticator the consent page and the grants API answer 501.
//
// NewHandler only reads a HandlerConfig and keeps copies of its fields, so
// one value may be shared by concurrent calls (it is not safe to modify while one is
// running); the Authenticator and ThingNamer it names are called
// concurrently.
type HandlerConfig struct {
	// Authenticator identifies the data subject on the consent page and
	// the grants API.
	Authenticator Authenticator
	// Things gives things titles on the consent page. Nil shows their ids.
	Things ThingNamer
	// Title names the service in page headings. Zero means "Consent".
	Title string
	// MaxBodyBytes bounds request bodies. Zero means 64 KiB.
	MaxBodyBytes int64
	// CodeLifetime is how long an authorization code may be redeemed.
	// Zero means one minute.
	CodeLifetime time.Duration
	// FormLifetime is how long a consent page may sit before it is
	// submitted. Zero means 15 minutes.
	FormLifetime time.Duration
	// MaxPendingCodes bounds the authorization codes held in memory. Zero
	// means 10000.
	MaxPendingCodes int
}

// Handler serves a Ledger over HTTP: the OAuth 2.0 authorization server
// (authorization code flow with PKCE, token, revocation, introspection and
// metadata endpoints), the JWKS, the consent page, the page where a data
// subject sees and withdraws their consents, and a JSON grants API.
//
// Routes, relative to where the Handler is mounted (all links it writes are
// relative, so it works under a prefix with http.StripPrefix):
//
//	GET  .well-known/oauth-authorization-server   RFC 8414 metadata
//	GET  .well-known/jwks.json, jwks.json         the token verification keys
//	GET  authorize                                the consent page
//	POST authorize                                approve or deny (the page's form)
//	POST token                                    authorization_code, refresh_token
//	POST revoke                                   RFC 7009
//	POST introspect                               RFC 7662 (clients with Introspect)
//	GET  consents                                 the subject's consents, to withdraw
//	POST consents                                 withdraw one, or erase everything
//	GET  api/grants                               the subject's grants (JSON)
//	POST api/grants/{id}/revoke, DELETE api/grants/{id}
//	GET  api/grants/{id}/receipt                  a signed consent receipt
//	GET  api/export                               everything about the subject (JSON)
//	POST api/erase                                erase the subject ({"confirm":true})
//
// The metadata lists endpoints under Config.Issuer, which should therefore
// be the URL the Handler is mounted at. A Handler is safe for concurrent
// use.
type Handler struct {
	l       *Ledger
	auth    Authenticator
	things  ThingNamer
	title   string
	maxBody int64
	codeTTL time.Duration
	formTTL time.Duration
	maxCode int
	issuer  *url.URL
	key     []byte // MACs the consent form and CSRF tokens
	mux     *http.ServeMux
	tmpl    *template.Template

	mu    sync.Mutex
	codes map[[32]byte]*authCode
}

// authCode is an issued authorization code, kept (by hash) until it
// expires so that a second redemption is detected.
type authCode struct {
	client    string
	redirect  string
	challenge string
	grantID   string
	expires   time.Time
	used      bool
	family    *family // issued on redemption
}

// NewHandler returns the HTTP handler for l. Config.Issuer must be an
// https URL (http only for loopback hosts).
func NewHandler(l *Ledger, cfg HandlerConfig) (*Handler, error) {
	u, err := url.Parse(l.issuer)
	if err != nil || !u.IsAbs() || u.RawQuery != "" || u.Fragment != "" || u.Host == "" ||
		(u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
		return nil, fmt.Errorf("%w: issuer %q must be an https URL (http only on loopback) without query or fragment", ErrInvalidRequest, l.issuer)
	}
	h := &Handler{
		l: l, auth: cfg.Authenticator, things: cfg.Things, title: cfg.Title,
		maxBody: cfg.MaxBodyBytes, codeTTL: cfg.CodeLifetime, formTTL: cfg.FormLifetime, maxCode: cfg.MaxPendingCodes,
		issuer: u, key: randomBytes(32), codes: make(map[[32]byte]*authCode),
	}
	if h.title == "" {
		h.title = "Consent"
	}
	if h.maxBody <= 0 {
		h.maxBody = 64 << 10
	}
	if h.codeTTL <= 0 {
		h.codeTTL = time.Minute
	}
	if h.formTTL <= 0 {
		h.formTTL = 15 * time.Minute
	}
	if h.maxCode <= 0 {
		h.maxCode = 10000
	}
	h.tmpl = pageTemplates
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", h.metadata)
	mux.HandleFunc("GET /.well-known/jwks.json", h.jwks)
	mux.HandleFunc("GET /jwks.json", h.jwks)
	mux.HandleFunc("GET /authorize", h.authorizePage)
	mux.HandleFunc("POST /authorize", h.authorizeDecision)
	mux.HandleFunc("POST /token", h.token)
	mux.HandleFunc("POST /revoke", h.revoke)
	mux.HandleFunc("POST /introspect", h.introspect)
	mux.HandleFunc("GET /consents", h.consentsPage)
	mux.HandleFunc("POST /consents", h.consentsAction)
	mux.HandleFunc("GET /api/grants", h.apiGrants)
	mux.HandleFunc("POST /api/grants/{id}/revoke", h.apiRevoke)
	mux.HandleFunc("DELETE /api/grants/{id}", h.apiRevoke)
	mux.HandleFunc("GET /api/grants/{id}/receipt", h.apiReceipt)
	mux.HandleFunc("GET /api/export", h.apiExport)
	mux.HandleFunc("POST /api/erase", h.apiErase)
	h.mux = mux
	return h, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	h.mux.ServeHTTP(w, r)
}

// endpoint returns the absolute URL of a route under the issuer.
func (h *Handler) endpoint(path string) string {
	return strings.TrimSuffix(h.issuer.String(), "/") + "/" + path
}

func (h *Handler) metadata(w http.ResponseWriter, r *http.Request) {
	md := map[string]any{
		"issuer":                                         h.l.issuer,
		"authorization_endpoint":                         h.endpoint("authorize"),
		"token_endpoint":                                 h.endpoint("token"),
		"revocation_endpoint":                            h.endpoint("revoke"),
		"introspection_endpoint":                         h.endpoint("introspect"),
		"jwks_uri":                                       h.endpoint(".well-known/jwks.json"),
		"response_types_supported":                       []string{"code"},
		"response_modes_supported":                       []string{"query"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"code_challenge_methods_supported":               []string{"S256"},
		"token_endpoint_auth_methods_supported":          []string{"none", "client_secret_basic", "client_secret_post"},
		"revocation_endpoint_auth_methods_supported":     []string{"none", "client_secret_basic", "client_secret_post"},
		"introspection_endpoint_auth_methods_supported":  []string{"client_secret_basic", "client_secret_post"},
		"authorization_response_iss_parameter_supported": true,
		"scopes_supported":                               []string{},
		"hearth_purposes_supported":                      purposeIDs(h.l),
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, md)
}

func purposeIDs(l *Ledger) []string {
	ids := make([]string, 0, len(l.purposeList))
	for _, p := range l.purposeList {
		ids = append(ids, p.ID)
	}
	return ids
}

func (h *Handler) jwks(w http.ResponseWriter, r *http.Request) {
	b, err := h.l.JWKS()
	if err != nil {
		h.l.logger.Error("consent: JWKS", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/jwk-set+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// oauthError writes an RFC 6749 §5.2 error response.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	writeJSON(w, status, body)
}

// parsePostForm parses an application/x-www-form-urlencoded body and
// refuses repeated parameters among single, as RFC 6749 §3.1 asks.
func parsePostForm(w http.ResponseWriter, r *http.Request, single ...string) (url.Values, int, string) {
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, http.StatusRequestEntityTooLarge, "request body too large"
		}
		return nil, http.StatusBadRequest, "malformed form body"
	}
	for _, k := range single {
		if len(r.PostForm[k]) > 1 {
			return nil, http.StatusBadRequest, "parameter " + k + " repeated"
		}
	}
	return r.PostForm, 0, ""
}

// authenticateClient authenticates the client of a token, revocation or
// introspection request: HTTP Basic (client_secret_basic), client_id and
// client_secret in the body (client_secret_post), or client_id alone for a
// public client. It returns the client, or nil after writing the error.
func (h *Handler) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) *Client {
	id, secret, basic := r.BasicAuth()
	if basic {
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil || form.Has("client_secret") || (form.Has("client_id") && form.Get("client_id") != id) {
			h.clientError(w, basic)
			return nil
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	c := h.l.clients[id]
	if c == nil {
		h.clientError(w, basic)
		return nil
	}
	if c.Secret == "" {
		if secret != "" {
			h.clientError(w, basic)
			return nil
		}
		return c
	}
	want := sha256.Sum256([]byte(c.Secret))
	got := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		h.clientError(w, basic)
		return nil
	}
	return c
}

func (h *Handler) clientError(w http.ResponseWriter, basic bool) {
	if basic {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.l.issuer+`"`)
	}
	oauthError(w, http.StatusUnauthorized, "invalid_client", "client authentication failed")
}

// mac returns an HMAC of the parts under the handler's key.
func (h *Handler) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, h.key)
	for _, p := range parts {
		fmt.Fprintf(m, "%d:%s|", len(p), p)
	}
	return m.Sum(nil)
}

// subject authenticates the person behind r for the page and the API. It
// returns "" after answering when there is nobody (or no Authenticator).
func (h *Handler) subject(w http.ResponseWriter, r *http.Request) string {
	if h.auth == nil {
		http.Error(w, "consent: no Authenticator configured", http.StatusNotImplemented)
		return ""
	}
	s, err := h.auth.Subject(r)
	switch {
	case err == nil && s != "":
		return s
	case err == nil || errors.Is(err, ErrUnauthenticated):
		if c, ok := h.auth.(Challenger); ok {
			c.Challenge(w, r)
			return ""
		}
		h.errorPage(w, http.StatusUnauthorized, "Please sign in", "You need to be signed in to manage your consents.")
		return ""
	default:
		h.l.logger.Error("consent: authenticator failed", "err", err)
		h.errorPage(w, http.StatusServiceUnavailable, "Try again later", "We could not check who you are just now.")
		return ""
	}
}

// sameOrigin refuses state-changing requests that a browser marks as
// cross-site, on top of the CSRF tokens and content-type checks.
func sameOrigin(r *http.Request) bool {
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
		return false
	}
	switch o := r.Header.Get("Origin"); o {
	case "":
	case "null":
		// Browsers send "Origin: null" when a user or extension enforces
		// no-referrer; accept it only when the browser itself vouches, in
		// Sec-Fetch-Site (which no page can set), that the post is
		// same-origin. The CSRF token is checked either way.
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	default:
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}
