package consent

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// headerAuth authenticates the test user from a header; a real embedder
// would use its session cookie.
var headerAuth = AuthenticatorFunc(func(r *http.Request) (string, error) {
	if s := r.Header.Get("X-Test-User"); s != "" {
		return s, nil
	}
	return "", ErrUnauthenticated
})

type testServer struct {
	t      *testing.T
	l      *Ledger
	srv    *httptest.Server
	base   string // where the handler is mounted, with trailing slash
	client *http.Client
}

// newTestServer mounts the handler under /auth/ with http.StripPrefix, as
// an embedder sharing a server with a gateway would.
func newTestServer(t *testing.T, mods ...func(*Config)) *testServer {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	l := newTestLedger(t, append([]func(*Config){func(c *Config) { c.Issuer = srv.URL + "/auth" }}, mods...)...)
	h, err := NewHandler(l, HandlerConfig{Authenticator: headerAuth, Title: "Holiday Home", Things: namer{"lamp": "Living room lamp"}})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/auth/", http.StripPrefix("/auth", h))
	return &testServer{t: t, l: l, srv: srv, base: srv.URL + "/auth/", client: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type namer map[string]string

func (n namer) ThingTitle(_ context.Context, id string) (string, bool) {
	t, ok := n[id]
	return t, ok
}

func (ts *testServer) do(method, path, user string, body url.Values, hdr ...string) *http.Response {
	ts.t.Helper()
	var r io.Reader
	if body != nil {
		r = strings.NewReader(body.Encode())
	}
	req, err := http.NewRequest(method, ts.base+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-plus-some-more-entropy"

func challengeOf(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authzQuery(mods ...func(url.Values)) url.Values {
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {"guest-app"},
		"redirect_uri":          {"https://app.example/cb"},
		"scope":                 {"lamp:readproperty,observeproperty heater:readproperty,writeproperty"},
		"purpose":               {"comfort"},
		"state":                 {"xyz"},
		"code_challenge":        {challengeOf(verifier)},
		"code_challenge_method": {"S256"},
		"duration":              {"3600"},
	}
	for _, m := range mods {
		m(q)
	}
	return q
}

var (
	hiddenRequest = regexp.MustCompile(`name="request" value="([^"]+)"`)
	hiddenCSRF    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

// consentForm loads the consent page and returns its hidden fields.
func (ts *testServer) consentForm(user string, q url.Values) (request, csrf, page string) {
	ts.t.Helper()
	resp := ts.do("GET", "authorize?"+q.Encode(), user, nil)
	page = readAll(ts.t, resp)
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("consent page: %d %s", resp.StatusCode, page)
	}
	m1, m2 := hiddenRequest.FindStringSubmatch(page), hiddenCSRF.FindStringSubmatch(page)
	if m1 == nil || m2 == nil {
		ts.t.Fatalf("consent page lacks its form: %s", page)
	}
	return htmlUnescape(m1[1]), htmlUnescape(m2[1]), page
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&#61;", "=", "&amp;", "&").Replace(s)
}

// approve runs the consent page and returns the redirect's parameters.
func (ts *testServer) approve(user string, q url.Values, scopes ...string) url.Values {
	ts.t.Helper()
	req, csrf, _ := ts.consentForm(user, q)
	if scopes == nil {
		scopes = []string{"0", "1"}
	}
	resp := ts.do("POST", "authorize", user, url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": scopes})
	if resp.StatusCode != http.StatusSeeOther {
		ts.t.Fatalf("approve: %d %s", resp.StatusCode, readAll(ts.t, resp))
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), "https://app.example/cb?") {
		ts.t.Fatalf("redirect to %q", resp.Header.Get("Location"))
	}
	return loc.Query()
}

func (ts *testServer) exchange(code, verifier string, mods ...func(url.Values)) (*http.Response, map[string]any) {
	ts.t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {"https://app.example/cb"}, "client_id": {"guest-app"}, "code_verifier": {verifier}}
	for _, m := range mods {
		m(form)
	}
	resp := ts.do("POST", "token", "", form)
	var body map[string]any
	json.NewDecoder(resp.Body).Decode(&body)
	return resp, body
}

func TestOAuthFlow(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()
	_, _, page := ts.consentForm("alice", authzQuery())
	for _, want := range []string{"Guest App", "Living room lamp", "Control the lights and heating", "1 hour", "See:", "See and control:", "your consent (GDPR Art. 6(1)(a))", "Allow", "Deny"} {
		if !strings.Contains(page, want) {
			t.Errorf("consent page lacks %q", want)
		}
	}
	cb := ts.approve("alice", authzQuery(), "0") // only the lamp, not the heater
	if cb.Get("state") != "xyz" || cb.Get("iss") != ts.l.Issuer() || cb.Get("code") == "" {
		t.Fatalf("callback %v", cb)
	}
	resp, body := ts.exchange(cb.Get("code"), verifier)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || body["token_type"] != "Bearer" || body["scope"] != "lamp:readproperty,observeproperty" {
		t.Errorf("token response %v %v", resp.Header, body)
	}
	at := body["access_token"].(string)
	d, err := ts.l.Authorize(ctx, at, access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"})
	if err != nil || !d.Allow || d.Subject != "alice" {
		t.Fatalf("Authorize: %+v %v", d, err)
	}
	if d, _ := ts.l.Authorize(ctx, at, access.Request{ThingID: "heater", Op: thing.OpReadProperty, Name: "t"}); d.Allow {
		t.Error("the unticked scope was granted")
	}

	// Refresh rotates.
	resp = ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {"guest-app"}})
	var body2 map[string]any
	json.NewDecoder(resp.Body).Decode(&body2)
	if resp.StatusCode != http.StatusOK || body2["refresh_token"] == body["refresh_token"] {
		t.Fatalf("refresh: %d %v", resp.StatusCode, body2)
	}
	// Reusing the spent refresh token is an attack: the family dies.
	resp = ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {"guest-app"}})
	if e := oauthErr(t, resp); resp.StatusCode != http.StatusBadRequest || e != "invalid_grant" {
		t.Errorf("refresh reuse: %d %s", resp.StatusCode, e)
	}
	if _, err := ts.l.Authorize(ctx, body2["access_token"].(string), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); !errors.Is(err, ErrRevoked) {
		t.Errorf("after refresh reuse: %v", err)
	}

	// Introspection needs a permitted client.
	resp = ts.do("POST", "introspect", "", url.Values{"token": {at}, "client_id": {"guest-app"}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("introspection by a plain client: %d", resp.StatusCode)
	}
	intro := func(tok string) string {
		req, _ := http.NewRequest("POST", ts.base+"introspect", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("gateway", "s3cret-gateway")
		resp, err := ts.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return readAll(t, resp)
	}
	if got := intro(at); got != `{"active":false}` {
		t.Errorf("introspecting a token of a revoked family: %s", got)
	}
	if got := intro("nonsense"); got != `{"active":false}` {
		t.Errorf("introspecting nonsense: %s", got)
	}
	// A fresh authorization, introspected while valid, then revoked (RFC 7009).
	cb = ts.approve("alice", authzQuery())
	_, body = ts.exchange(cb.Get("code"), verifier)
	at = body["access_token"].(string)
	var in Introspection
	json.Unmarshal([]byte(intro(at)), &in)
	if !in.Active || in.Subject != "alice" || in.ClientID != "guest-app" || in.Purpose != "comfort" {
		t.Errorf("introspection of a valid token: %+v", in)
	}
	resp = ts.do("POST", "revoke", "", url.Values{"token": {body["refresh_token"].(string)}, "client_id": {"guest-app"}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("revoke: %d", resp.StatusCode)
	}
	if got := intro(at); got != `{"active":false}` {
		t.Errorf("after revocation: %s", got)
	}
	resp = ts.do("POST", "revoke", "", url.Values{"token": {"unknown-token"}, "client_id": {"guest-app"}})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("revoking an unknown token: %d (RFC 7009 wants 200)", resp.StatusCode)
	}
}

func oauthErr(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e struct{ Error string }
	json.NewDecoder(resp.Body).Decode(&e)
	return e.Error
}

func TestOAuthAttacks(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()

	t.Run("PKCE missing", func(t *testing.T) {
		for _, mod := range []func(url.Values){
			func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
			func(q url.Values) { q.Del("code_challenge_method") },
			func(q url.Values) { q.Set("code_challenge_method", "plain") },
			func(q url.Values) { q.Set("code_challenge", "short") },
		} {
			resp := ts.do("GET", "authorize?"+authzQuery(mod).Encode(), "alice", nil)
			loc, _ := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("state") != "xyz" {
				t.Errorf("authorize without S256 PKCE: %d %s", resp.StatusCode, loc)
			}
		}
	})
	t.Run("PKCE wrong", func(t *testing.T) {
		cb := ts.approve("alice", authzQuery())
		resp, body := ts.exchange(cb.Get("code"), "wrong-verifier-wrong-verifier-wrong-verifier-wrong")
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("wrong verifier: %d %v", resp.StatusCode, body)
		}
		// The code is burnt even for the right verifier now.
		resp, body = ts.exchange(cb.Get("code"), verifier)
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("code after failed PKCE: %d %v", resp.StatusCode, body)
		}
		cb = ts.approve("alice", authzQuery())
		resp, body = ts.exchange(cb.Get("code"), "", func(f url.Values) { f.Del("code_verifier") })
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("missing verifier: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("redirect URI mismatch", func(t *testing.T) {
		for _, r := range []string{"https://evil.example/cb", "https://app.example/cb/", "https://app.example/cb?x=1", "https://app.example/cb/../evil", "https://APP.example/cb", "http://app.example/cb", ""} {
			resp := ts.do("GET", "authorize?"+authzQuery(func(q url.Values) { q.Set("redirect_uri", r) }).Encode(), "alice", nil)
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("redirect_uri %q: %d, Location %q", r, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		cb := ts.approve("alice", authzQuery())
		resp, body := ts.exchange(cb.Get("code"), verifier, func(f url.Values) { f.Set("redirect_uri", "https://app.example/cb/") })
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("token with another redirect_uri: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("code reuse", func(t *testing.T) {
		cb := ts.approve("alice", authzQuery())
		resp, body := ts.exchange(cb.Get("code"), verifier)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("first exchange: %v", body)
		}
		resp, body2 := ts.exchange(cb.Get("code"), verifier)
		if resp.StatusCode != http.StatusBadRequest || body2["error"] != "invalid_grant" {
			t.Errorf("second exchange: %d %v", resp.StatusCode, body2)
		}
		if _, err := ts.l.Authorize(ctx, body["access_token"].(string), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "x"}); !errors.Is(err, ErrRevoked) {
			t.Errorf("tokens of a reused code still work: %v", err)
		}
	})
	t.Run("code for another client", func(t *testing.T) {
		cb := ts.approve("alice", authzQuery())
		resp, body := ts.exchange(cb.Get("code"), verifier, func(f url.Values) {
			f.Set("client_id", "energy-svc")
			f.Set("client_secret", "s3cret-energy")
		})
		if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
			t.Errorf("code redeemed by another client: %d %v", resp.StatusCode, body)
		}
	})
	t.Run("scope escalation", func(t *testing.T) {
		// A forged checkbox value.
		req, csrf, _ := ts.consentForm("alice", authzQuery())
		for _, bad := range [][]string{{"2"}, {"-1"}, {"0", "0"}, {"01"}, {"x"}} {
			resp := ts.do("POST", "authorize", "alice", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": bad})
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("scope %v: %d", bad, resp.StatusCode)
			}
		}
		// A tampered request blob (asking for all things).
		payload, sig, _ := strings.Cut(req, ".")
		b, _ := base64.RawURLEncoding.DecodeString(payload)
		b = []byte(strings.Replace(string(b), `"s":"lamp:`, `"s":"*:`, 1))
		forged := base64.RawURLEncoding.EncodeToString(b) + "." + sig
		resp := ts.do("POST", "authorize", "alice", url.Values{"request": {forged}, "csrf": {csrf}, "decision": {"approve"}, "scope": {"0"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("forged request: %d", resp.StatusCode)
		}
		// Refresh asking for more than the grant.
		cb := ts.approve("alice", authzQuery(), "0")
		_, body := ts.exchange(cb.Get("code"), verifier)
		resp = ts.do("POST", "token", "", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}, "client_id": {"guest-app"}, "scope": {"heater:readproperty"}})
		if e := oauthErr(t, resp); resp.StatusCode != http.StatusBadRequest || e != "invalid_scope" {
			t.Errorf("escalating refresh: %d %s", resp.StatusCode, e)
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		req, csrf, _ := ts.consentForm("alice", authzQuery())
		// Mallory replays alice's form under her own session, and alice's
		// browser is made to post a form from another site.
		if resp := ts.do("POST", "authorize", "mallory", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": {"0"}}); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("form under another subject: %d", resp.StatusCode)
		}
		if resp := ts.do("POST", "authorize", "alice", url.Values{"request": {req}, "csrf": {"forged"}, "decision": {"approve"}, "scope": {"0"}}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("wrong csrf: %d", resp.StatusCode)
		}
		if resp := ts.do("POST", "authorize", "alice", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": {"0"}}, "Sec-Fetch-Site", "cross-site"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site post: %d", resp.StatusCode)
		}
		// The genuine submission still works, once.
		if resp := ts.do("POST", "authorize", "alice", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": {"0"}}); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("genuine post: %d", resp.StatusCode)
		}
		if resp := ts.do("POST", "authorize", "alice", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"approve"}, "scope": {"0"}}); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("double submission: %d", resp.StatusCode)
		}
	})
	t.Run("deny", func(t *testing.T) {
		req, csrf, _ := ts.consentForm("bob", authzQuery())
		resp := ts.do("POST", "authorize", "bob", url.Values{"request": {req}, "csrf": {csrf}, "decision": {"deny"}})
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "access_denied" || loc.Query().Get("state") != "xyz" {
			t.Errorf("deny: %d %s", resp.StatusCode, loc)
		}
		if n := len(ts.l.Grants(GrantFilter{Subject: "bob"})); n != 0 {
			t.Errorf("deny recorded %d grants", n)
		}
	})
	t.Run("client authentication", func(t *testing.T) {
		for _, f := range []url.Values{
			{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"energy-svc"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"energy-svc"}, "client_secret": {"wrong"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"nobody"}},
			{"grant_type": {"refresh_token"}, "refresh_token": {"x"}, "client_id": {"guest-app"}, "client_secret": {"public-clients-have-none"}},
		} {
			if resp := ts.do("POST", "token", "", f); resp.StatusCode != http.StatusUnauthorized || oauthErr(t, resp) != "invalid_client" {
				t.Errorf("%v: %d", f, resp.StatusCode)
			}
		}
	})
	t.Run("repeated and oversized parameters", func(t *testing.T) {
		resp := ts.do("POST", "token", "", url.Values{"grant_type": {"authorization_code", "refresh_token"}, "client_id": {"guest-app"}})
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("repeated grant_type: %d", resp.StatusCode)
		}
		resp = ts.do("POST", "token", "", url.Values{"client_id": {"guest-app"}, "pad": {strings.Repeat("x", 100<<10)}})
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized body: %d", resp.StatusCode)
		}
	})
	t.Run("not signed in", func(t *testing.T) {
		resp := ts.do("GET", "authorize?"+authzQuery().Encode(), "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous consent page: %d", resp.StatusCode)
		}
	})
}

func TestMetadataAndJWKS(t *testing.T) {
	ts := newTestServer(t)
	resp := ts.do("GET", ".well-known/oauth-authorization-server", "", nil)
	var md map[string]any
	json.NewDecoder(resp.Body).Decode(&md)
	if md["issuer"] != ts.l.Issuer() || md["token_endpoint"] != ts.base+"token" || md["authorization_endpoint"] != ts.base+"authorize" {
		t.Errorf("metadata %v", md)
	}
	if m, _ := md["code_challenge_methods_supported"].([]any); len(m) != 1 || m[0] != "S256" {
		t.Errorf("PKCE methods %v", md["code_challenge_methods_supported"])
	}
	resp = ts.do("GET", ".well-known/jwks.json", "", nil)
	var set struct{ Keys []map[string]any }
	json.NewDecoder(resp.Body).Decode(&set)
	if len(set.Keys) != 1 || set.Keys[0]["alg"] != "EdDSA" || set.Keys[0]["kid"] == nil || set.Keys[0]["d"] != nil {
		t.Errorf("JWKS %v", set)
	}
}

func TestConsentsPageAndAPI(t *testing.T) {
	ts := newTestServer(t)
	ctx := t.Context()
	ts.approve("alice", authzQuery())
	ts.approve("bob", authzQuery())

	resp := ts.do("GET", "consents", "alice", nil)
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Withdraw consent") || !strings.Contains(page, "Guest App") {
		t.Fatalf("consents page: %d %s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	csrf := htmlUnescape(hiddenCSRF.FindStringSubmatch(page)[1])
	grants := ts.l.Grants(GrantFilter{Subject: "alice"})
	bobs := ts.l.Grants(GrantFilter{Subject: "bob"})

	// Alice cannot withdraw Bob's consent.
	resp = ts.do("POST", "consents", "alice", url.Values{"csrf": {csrf}, "action": {"revoke"}, "grant": {bobs[0].ID}})
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("withdrawing someone else's grant: %d", resp.StatusCode)
	}
	// One click withdraws hers; the redirect is relative, so it stays under the prefix.
	resp = ts.do("POST", "consents", "alice", url.Values{"csrf": {csrf}, "action": {"revoke"}, "grant": {grants[0].ID}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "consents?done=revoked" {
		t.Errorf("withdraw: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if g, _ := ts.l.Get(grants[0].ID); g.Status != StatusRevoked {
		t.Errorf("grant %s", g.Status)
	}

	// JSON API.
	resp = ts.do("GET", "api/grants", "bob", nil)
	var list struct{ Grants []Grant }
	json.NewDecoder(resp.Body).Decode(&list)
	if len(list.Grants) != 1 || list.Grants[0].ID != bobs[0].ID {
		t.Errorf("api/grants: %+v", list)
	}
	if resp := ts.do("GET", "api/grants", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("anonymous api: %d", resp.StatusCode)
	}
	// A form post (simple request) cannot revoke through the API.
	if resp := ts.do("POST", "api/grants/"+bobs[0].ID+"/revoke", "bob", url.Values{}); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form post to the API: %d", resp.StatusCode)
	}
	resp = ts.do("GET", "api/grants/"+bobs[0].ID+"/receipt", "bob", nil)
	receipt := readAll(t, resp)
	v, _ := NewVerifier(ts.l.AuditVerifierKey())
	r, err := v.Receipt([]byte(receipt))
	if err != nil || r.Terms.Grant != bobs[0].ID || r.PIIPrincipalID != "bob" {
		t.Errorf("receipt: %v %+v", err, r)
	}
	if resp := ts.do("GET", "api/grants/"+bobs[0].ID+"/receipt", "alice", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("alice fetched bob's receipt: %d", resp.StatusCode)
	}
	if resp := ts.do("DELETE", "api/grants/"+bobs[0].ID, "bob", nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("DELETE: %d", resp.StatusCode)
	}
	resp = ts.do("GET", "api/export", "bob", nil)
	var ex Export
	json.NewDecoder(resp.Body).Decode(&ex)
	if ex.Subject != "bob" || len(ex.Grants) != 1 || ex.Grants[0].Status != StatusRevoked {
		t.Errorf("export %+v", ex)
	}
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.base+"api/erase", strings.NewReader(`{"confirm":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "bob")
	req.Header.Set("Origin", "https://evil.example")
	if resp, _ := ts.client.Do(req); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin erase: %d", resp.StatusCode)
	}
	req, _ = http.NewRequestWithContext(ctx, "POST", ts.base+"api/erase", strings.NewReader(`{"confirm":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "bob")
	if resp, _ := ts.client.Do(req); resp.StatusCode != http.StatusNoContent {
		t.Errorf("erase: %d", resp.StatusCode)
	}
	if n := len(ts.l.Grants(GrantFilter{Subject: "bob"})); n != 0 {
		t.Errorf("bob has %d grants after erasure", n)
	}
}

func TestHandlerNeedsHTTPSIssuer(t *testing.T) {
	for _, iss := range []string{"urn:hearth:consent", "http://home.example/auth", "https://home.example/auth?x=1", "https://home.example/auth#f"} {
		l := newTestLedger(t, func(c *Config) { c.Issuer = iss })
		if _, err := NewHandler(l, HandlerConfig{}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("issuer %q: %v", iss, err)
		}
	}
	l := newTestLedger(t, func(c *Config) { c.Issuer = "http://127.0.0.1:8080/auth" })
	h, err := NewHandler(l, HandlerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/consents", nil))
	if rec.Code != http.StatusNotImplemented {
		t.Errorf("consents without an Authenticator: %d", rec.Code)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin, fetchSite string
		want              bool
	}{
		{"", "", true},                                // non-browser client: CSRF token decides
		{"", "same-origin", true},                     // form post without Origin
		{"https://home.example", "same-origin", true}, // ordinary same-origin post
		{"https://evil.example", "", false},           // another site
		{"https://home.example", "cross-site", false}, // the browser says cross-site
		{"null", "same-origin", true},                 // no-referrer enforced by the user: browser vouches
		{"null", "", false},                           // opaque origin with nothing vouching (sandboxed frame)
		{"null", "cross-site", false},                 // opaque origin from another site
		{"https://home.example", "same-site", false},  // a sibling subdomain
		{"://bad", "same-origin", false},              // unparsable Origin
	} {
		r := httptest.NewRequest("POST", "https://home.example/auth/authorize", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
		}
		if got := sameOrigin(r); got != tc.want {
			t.Errorf("Origin %q, Sec-Fetch-Site %q: sameOrigin = %v, want %v", tc.origin, tc.fetchSite, got, tc.want)
		}
	}
}
