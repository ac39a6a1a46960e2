package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// pendingRequest is a validated authorization request, carried through
// the consent page in a hidden field under the handler's MAC, so that the
// page's form cannot ask for anything the client did not.
type pendingRequest struct {
	Client    string `json:"c"`
	Redirect  string `json:"r"`
	Scope     string `json:"s"`
	Purpose   string `json:"p"`
	Duration  int64  `json:"d"` // seconds
	State     string `json:"st,omitempty"`
	Challenge string `json:"cc"`
	Subject   string `json:"sub"`
	Issued    int64  `json:"iat"`
	Nonce     string `json:"n"`
}

const maxStateLen = 1024

func (h *Handler) sealRequest(pr *pendingRequest) string {
	b, _ := json.Marshal(pr)
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + base64.RawURLEncoding.EncodeToString(h.mac("request", payload))
}

func (h *Handler) openRequest(s string) (*pendingRequest, bool) {
	payload, sig, ok := strings.Cut(s, ".")
	if !ok {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, h.mac("request", payload)) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, false
	}
	var pr pendingRequest
	if json.Unmarshal(b, &pr) != nil {
		return nil, false
	}
	return &pr, true
}

func (h *Handler) csrfToken(subject, nonce string) string {
	return base64.RawURLEncoding.EncodeToString(h.mac("csrf", subject, nonce))
}

// redirectWith sends the user agent back to the client's registered
// redirect URI with params (and iss, RFC 9207), keeping the URI's own
// query as registered.
func (h *Handler) redirectWith(w http.ResponseWriter, r *http.Request, redirect string, params url.Values) {
	params.Set("iss", h.l.issuer)
	target := redirect
	if strings.Contains(redirect, "?") {
		target += "&" + params.Encode()
	} else {
		target += "?" + params.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "same-origin")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

func (h *Handler) redirectError(w http.ResponseWriter, r *http.Request, redirect, state, code, desc string) {
	p := url.Values{"error": {code}}
	if desc != "" {
		p.Set("error_description", desc)
	}
	if state != "" {
		p.Set("state", state)
	}
	h.redirectWith(w, r, redirect, p)
}

func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil
}

func validVerifier(s string) bool {
	if len(s) < 43 || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return false
		}
	}
	return true
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// authorizePage validates an authorization request and shows the consent
// page. Errors about the client or its redirect URI are shown to the user
// and never redirected (RFC 6749 §4.1.2.1); other errors go back to the
// client.
func (h *Handler) authorizePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if len(q["client_id"]) != 1 || len(q["redirect_uri"]) != 1 {
		h.errorPage(w, http.StatusBadRequest, "Invalid request", "The application sent an invalid request: client_id and redirect_uri must each appear exactly once.")
		return
	}
	c := h.l.clients[q.Get("client_id")]
	if c == nil {
		h.errorPage(w, http.StatusBadRequest, "Unknown application", "The application that sent you here is not registered.")
		return
	}
	redirect := q.Get("redirect_uri")
	if !slices.Contains(c.RedirectURIs, redirect) {
		h.errorPage(w, http.StatusBadRequest, "Invalid request", "The application asked to send you to an address it has not registered.")
		return
	}
	state := q.Get("state")
	if len(state) > maxStateLen {
		state = ""
	}
	fail := func(code, desc string) { h.redirectError(w, r, redirect, state, code, desc) }
	for k, v := range q {
		if len(v) > 1 {
			fail("invalid_request", "parameter "+k+" repeated")
			return
		}
	}
	if len(q.Get("state")) > maxStateLen {
		fail("invalid_request", "state too long")
		return
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only the code response type is supported")
		return
	}
	challenge := q.Get("code_challenge")
	if q.Get("code_challenge_method") != "S256" || !validChallenge(challenge) {
		fail("invalid_request", "PKCE with code_challenge_method S256 is required")
		return
	}
	scopes, err := ParseScopes(q.Get("scope"))
	if err != nil {
		fail("invalid_scope", "scope is malformed")
		return
	}
	purposeID := q.Get("purpose")
	if purposeID == "" && len(c.Purposes) == 1 {
		purposeID = c.Purposes[0]
	}
	p := h.l.purposes[purposeID]
	if p == nil || (len(c.Purposes) > 0 && !slices.Contains(c.Purposes, purposeID)) {
		fail("invalid_request", "unknown or unavailable purpose")
		return
	}
	dur := p.MaxDuration
	if ds := q.Get("duration"); ds != "" {
		n, err := strconv.ParseInt(ds, 10, 64)
		if err != nil || n <= 0 {
			fail("invalid_request", "duration must be a positive number of seconds")
			return
		}
		if n < int64(p.MaxDuration/time.Second) {
			dur = time.Duration(n) * time.Second
		}
	}
	subject := h.subject(w, r)
	if subject == "" {
		return
	}
	pr := &pendingRequest{
		Client: c.ID, Redirect: redirect, Scope: FormatScopes(scopes), Purpose: p.ID,
		Duration: int64(dur / time.Second), State: state, Challenge: challenge,
		Subject: subject, Issued: time.Now().Unix(), Nonce: newID(),
	}
	h.renderConsent(w, r, c, p, scopes, dur, h.sealRequest(pr), h.csrfToken(subject, pr.Nonce), "")
}

// authorizeDecision handles the consent page's form: approve (some or all
// of the requested scopes) or deny.
func (h *Handler) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	form, status, msg := parsePostForm(w, r, "request", "csrf", "decision")
	if status != 0 {
		h.errorPage(w, status, "Invalid request", msg)
		return
	}
	if !sameOrigin(r) {
		h.errorPage(w, http.StatusForbidden, "Invalid request", "This form was submitted from another site.")
		return
	}
	subject := h.subject(w, r)
	if subject == "" {
		return
	}
	pr, ok := h.openRequest(form.Get("request"))
	if !ok || pr.Subject != subject {
		h.errorPage(w, http.StatusBadRequest, "This page is no longer valid", "Go back to the application and try again.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(form.Get("csrf")), []byte(h.csrfToken(subject, pr.Nonce))) != 1 {
		h.errorPage(w, http.StatusForbidden, "Invalid request", "The form's security token does not match. Go back to the application and try again.")
		return
	}
	if time.Since(time.Unix(pr.Issued, 0)) > h.formTTL {
		h.errorPage(w, http.StatusBadRequest, "This page has expired", "Go back to the application and try again.")
		return
	}
	if !h.spendForm(pr.Nonce, time.Unix(pr.Issued, 0).Add(h.formTTL)) {
		h.errorPage(w, http.StatusBadRequest, "Already answered", "You have already answered this request.")
		return
	}
	scopes, err := ParseScopes(pr.Scope)
	if err != nil || h.l.clients[pr.Client] == nil {
		h.errorPage(w, http.StatusBadRequest, "This page is no longer valid", "Go back to the application and try again.")
		return
	}
	switch form.Get("decision") {
	case "deny":
		h.redirectError(w, r, pr.Redirect, pr.State, "access_denied", "the user denied the request")
		return
	case "approve":
	default:
		h.errorPage(w, http.StatusBadRequest, "Invalid request", "Choose whether to allow or deny.")
		return
	}
	var chosen []Scope
	seen := map[int]bool{}
	for _, s := range form["scope"] {
		i, err := strconv.Atoi(s)
		if err != nil || i < 0 || i >= len(scopes) || seen[i] || strconv.Itoa(i) != s {
			h.errorPage(w, http.StatusBadRequest, "Invalid request", "The form named something the application did not ask for.")
			return
		}
		seen[i] = true
		chosen = append(chosen, scopes[i])
	}
	if len(chosen) == 0 {
		h.redirectError(w, r, pr.Redirect, pr.State, "access_denied", "the user allowed nothing")
		return
	}
	g, err := h.l.Grant(r.Context(), GrantRequest{
		Subject: subject, Holder: pr.Client, Purpose: pr.Purpose, Scopes: chosen,
		Duration: time.Duration(pr.Duration) * time.Second,
	})
	if err != nil {
		h.l.logger.Error("consent: recording grant", "err", err)
		h.errorPage(w, http.StatusServiceUnavailable, "Try again later", "Your consent could not be recorded.")
		return
	}
	code, ok := h.newCode(&authCode{client: pr.Client, redirect: pr.Redirect, challenge: pr.Challenge, grantID: g.ID})
	if !ok {
		h.errorPage(w, http.StatusServiceUnavailable, "Try again later", "Too many requests are pending.")
		return
	}
	p := url.Values{"code": {code}}
	if pr.State != "" {
		p.Set("state", pr.State)
	}
	h.redirectWith(w, r, pr.Redirect, p)
}

// spendForm marks a consent form as answered; it reports false if it was.
// Spent forms are remembered (under a hash) until they would expire.
func (h *Handler) spendForm(nonce string, until time.Time) bool {
	k := sha256.Sum256([]byte("form:" + nonce))
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sweepLocked(time.Now())
	if h.codes[k] != nil {
		return false
	}
	h.codes[k] = &authCode{expires: until, used: true}
	return true
}

func (h *Handler) sweepLocked(now time.Time) {
	if len(h.codes) < 64 {
		return
	}
	for k, c := range h.codes {
		if now.After(c.expires) {
			delete(h.codes, k)
		}
	}
}

func (h *Handler) newCode(c *authCode) (string, bool) {
	code := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	now := time.Now()
	c.expires = now.Add(h.codeTTL)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.sweepLocked(now)
	if len(h.codes) >= h.maxCode {
		return "", false
	}
	h.codes[sha256.Sum256([]byte("code:"+code))] = c
	return code, true
}

// tokenResponse is the RFC 6749 §5.1 success body.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func writeTokens(w http.ResponseWriter, t *Tokens) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: string(t.AccessToken), TokenType: t.TokenType,
		ExpiresIn: max(0, int64(time.Until(t.Expires)/time.Second)), RefreshToken: string(t.RefreshToken), Scope: t.Scope,
	})
}

// token is the token endpoint (RFC 6749 §3.2).
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	form, status, msg := parsePostForm(w, r, "grant_type", "code", "redirect_uri", "code_verifier", "refresh_token", "scope", "client_id", "client_secret")
	if status != 0 {
		oauthError(w, status, "invalid_request", msg)
		return
	}
	c := h.authenticateClient(w, r, form)
	if c == nil {
		return
	}
	switch form.Get("grant_type") {
	case "authorization_code":
		h.redeemCode(w, r, c, form)
	case "refresh_token":
		var scopes []Scope
		if form.Has("scope") {
			s, err := ParseScopes(form.Get("scope"))
			if err != nil {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "scope is malformed")
				return
			}
			scopes = s
		}
		t, err := h.l.Refresh(r.Context(), Secret(form.Get("refresh_token")), c.ID, scopes)
		switch {
		case err == nil:
			writeTokens(w, t)
		case errors.Is(err, ErrScopeExceeded):
			oauthError(w, http.StatusBadRequest, "invalid_scope", "scope exceeds the grant")
		case errors.Is(err, access.ErrInvalidToken):
			oauthError(w, http.StatusBadRequest, "invalid_grant", "refresh token is invalid, expired or revoked")
		default:
			h.l.logger.Error("consent: refresh", "err", err)
			oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		}
	case "":
		oauthError(w, http.StatusBadRequest, "invalid_request", "grant_type missing")
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "")
	}
}

func (h *Handler) redeemCode(w http.ResponseWriter, r *http.Request, c *Client, form url.Values) {
	code, redirect, verifier := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier")
	if code == "" || redirect == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "code and redirect_uri are required")
		return
	}
	k := sha256.Sum256([]byte("code:" + code))
	now := time.Now()
	h.mu.Lock()
	ac := h.codes[k]
	if ac == nil || ac.grantID == "" || now.After(ac.expires) || ac.client != c.ID {
		h.mu.Unlock()
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code is invalid or expired")
		return
	}
	if ac.used {
		// A second redemption: the code leaked. Revoke what the first
		// one issued (RFC 6749 §4.1.2).
		fam := ac.family
		h.mu.Unlock()
		if fam != nil {
			if err := h.l.revokeFamily(r.Context(), fam); err != nil {
				h.l.logger.Error("consent: revoking tokens of a reused code", "err", err)
			}
		}
		h.l.logger.Warn("consent: authorization code reused; its tokens are revoked", "client", c.ID, "grant", ac.grantID)
		oauthError(w, http.StatusBadRequest, "invalid_grant", "authorization code already used")
		return
	}
	// Whatever happens next, the code is spent: a wrong verifier may be
	// an attacker holding a stolen code.
	ac.used = true
	h.mu.Unlock()
	if ac.redirect != redirect {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri does not match")
		return
	}
	if !validVerifier(verifier) || subtle.ConstantTimeCompare([]byte(s256(verifier)), []byte(ac.challenge)) != 1 {
		oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
		return
	}
	t, fam, err := h.l.issueTokens(r.Context(), ac.grantID, nil)
	if err != nil {
		if errors.Is(err, ErrRevoked) || errors.Is(err, ErrExpired) || errors.Is(err, ErrNotFound) {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the consent no longer stands")
			return
		}
		h.l.logger.Error("consent: issuing tokens", "err", err)
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	h.mu.Lock()
	ac.family = fam
	h.mu.Unlock()
	writeTokens(w, t)
}

// revoke is the RFC 7009 revocation endpoint: 200 for any token,
// including unknown ones.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	form, status, msg := parsePostForm(w, r, "token", "token_type_hint", "client_id", "client_secret")
	if status != 0 {
		oauthError(w, status, "invalid_request", msg)
		return
	}
	c := h.authenticateClient(w, r, form)
	if c == nil {
		return
	}
	if !form.Has("token") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token missing")
		return
	}
	if err := h.l.RevokeToken(r.Context(), Secret(form.Get("token")), c.ID); err != nil {
		h.l.logger.Error("consent: revoking token", "err", err)
		oauthError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// introspect is the RFC 7662 endpoint, open only to clients allowed to
// introspect. Anything not active is answered with {"active":false} alone.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	form, status, msg := parsePostForm(w, r, "token", "token_type_hint", "client_id", "client_secret")
	if status != 0 {
		oauthError(w, status, "invalid_request", msg)
		return
	}
	c := h.authenticateClient(w, r, form)
	if c == nil {
		return
	}
	if !c.Introspect {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "client may not introspect")
		return
	}
	if !form.Has("token") {
		oauthError(w, http.StatusBadRequest, "invalid_request", "token missing")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, h.l.Introspect(r.Context(), Secret(form.Get("token"))))
}
