package consent

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// FuzzAuthorizeToken feeds arbitrary strings to Authorize and Introspect:
// nothing but the one genuine token may be accepted, and every refusal must
// be an invalid-token error.
func FuzzAuthorizeToken(f *testing.F) {
	l := newTestLedger(f)
	g := grantTo(f, l, "alice", lampRead)
	tok := issue(f, l, g.ID)
	genuine := string(tok.AccessToken)
	f.Add(genuine)
	f.Add(genuine[:len(genuine)-2])
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(string(tok.RefreshToken))
	f.Add(strings.Replace(genuine, ".", "..", 1))
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	f.Fuzz(func(t *testing.T, token string) {
		d, err := l.Authorize(context.Background(), token, req)
		if token == genuine {
			if err != nil || !d.Allow {
				t.Fatalf("genuine token refused: %v", err)
			}
			return
		}
		if err == nil || !errors.Is(err, access.ErrInvalidToken) || d.Allow {
			t.Fatalf("Authorize(%q) = %+v, %v", token, d, err)
		}
		if in := l.Introspect(context.Background(), Secret(token)); in.Active && token != string(tok.RefreshToken) {
			t.Fatalf("Introspect(%q) active", token)
		}
	})
}

// FuzzParseScopes checks that whatever ParseScopes accepts is valid and is
// in canonical form: formatting it again gives the same string.
func FuzzParseScopes(f *testing.F) {
	for _, s := range []string{"lamp:readproperty", "*:readproperty,writeproperty", "urn%3Adev%3Alamp:readproperty:on,off", "lamp:readproperty heater:invokeaction:boost", "lamp%2A:readproperty", "a:b:c:d", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		scopes, err := ParseScopes(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("error %v does not wrap ErrInvalidScope", err)
			}
			return
		}
		if err := validateScopes(scopes); err != nil {
			t.Fatalf("ParseScopes(%q) accepted invalid scopes: %v", s, err)
		}
		if got := FormatScopes(scopes); got != s {
			// Ops may be listed in another order than the canonical one.
			again, err := ParseScopes(got)
			if err != nil || FormatScopes(again) != got {
				t.Fatalf("FormatScopes(ParseScopes(%q)) = %q, which does not round-trip", s, got)
			}
		}
	})
}

// FuzzDecodeFrame fuzzes the file store's frame decoder and the ledger's
// record decoder on whatever a frame holds.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(appendFrame(nil, []byte(`{"ops":[{"k":"forget","id":"x"}]}`)))
	f.Add(appendFrame(nil, nil))
	f.Add([]byte("HREC\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		payload, n, err := decodeFrame(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if got := appendFrame(nil, payload); string(got) != string(b[:n]) {
			t.Fatal("decoded frame does not re-encode to its bytes")
		}
		if _, err := decodeTxn(payload); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeTxn error %v does not wrap ErrCorrupt", err)
		}
	})
}

// FuzzLedgerRecord applies arbitrary decoded records to a ledger: a
// damaged store must produce errors, never a panic.
func FuzzLedgerRecord(f *testing.F) {
	l := newTestLedger(f)
	g := grantTo(f, l, "alice", lampRead)
	issue(f, l, g.ID)
	for rec := range l.store.Records(context.Background()) {
		f.Add(rec)
	}
	f.Add([]byte(`{"ops":[{"k":"rotate","id":"x","hash":"AAAA"}]}`))
	f.Add([]byte(`{"ops":[{"k":"grant","grant":{"id":"g","subject":"s","holder":"h","purpose":"comfort","scopes":[{"thing":"*","ops":["readproperty"]}],"nonce":"AA=="}}]}`))
	f.Fuzz(func(t *testing.T, rec []byte) {
		ops, err := decodeTxn(rec)
		if err != nil {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		if err := l.apply(ops); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("apply error %v does not wrap ErrCorrupt", err)
		}
	})
}

// FuzzOpenFileStore opens arbitrary files as stores: the result is either
// a store whose records all read back, or an ErrCorrupt error.
func FuzzOpenFileStore(f *testing.F) {
	good := append([]byte(fileHeader), appendFrame(appendFrame(nil, []byte("one")), []byte("two"))...)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte(fileHeader))
	f.Add([]byte("HEARTH"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.log")
		os.Remove(path + ".lock")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := OpenFileStore(path, FileStoreOptions{})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("open error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer s.Close()
		for _, err := range s.Records(context.Background()) {
			if err != nil {
				t.Fatalf("store opened but does not read back: %v", err)
			}
		}
	})
}

func fuzzHandler(f *testing.F) (*Ledger, http.Handler) {
	l := newTestLedger(f, func(c *Config) { c.Issuer = "https://home.example/auth" })
	h, err := NewHandler(l, HandlerConfig{Authenticator: headerAuth})
	if err != nil {
		f.Fatal(err)
	}
	return l, h
}

// FuzzTokenEndpoint posts arbitrary form bodies to the token, revocation
// and introspection endpoints: answers are well-formed OAuth responses,
// never server errors, and never tokens.
func FuzzTokenEndpoint(f *testing.F) {
	_, h := fuzzHandler(f)
	f.Add("token", "grant_type=authorization_code&code=x&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&client_id=guest-app&code_verifier=abc")
	f.Add("token", "grant_type=refresh_token&refresh_token=x&client_id=guest-app&scope=lamp%3Areadproperty")
	f.Add("revoke", "token=x&client_id=guest-app")
	f.Add("introspect", "token=x&client_id=gateway&client_secret=s3cret-gateway")
	f.Add("token", "%zz=&&&=")
	f.Fuzz(func(t *testing.T, endpoint, body string) {
		switch endpoint {
		case "token", "revoke", "introspect":
		default:
			endpoint = "token"
		}
		req := httptest.NewRequest("POST", "/"+endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", endpoint, body, rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK && endpoint == "token" {
			t.Fatalf("tokens issued for %q", body)
		}
		if rec.Code == http.StatusOK && endpoint == "introspect" && rec.Body.String() != `{"active":false}` {
			t.Fatalf("introspection of %q: %s", body, rec.Body)
		}
		if rec.Code != http.StatusOK && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("error body is not JSON: %s", rec.Body)
		}
	})
}

// FuzzAuthorizeForm fuzzes the consent page's query and form: no server
// errors, and a redirect only ever goes to the client's registered URI.
func FuzzAuthorizeForm(f *testing.F) {
	_, h := fuzzHandler(f)
	f.Add(authzQuery().Encode(), "decision=approve&scope=0")
	f.Add(authzQuery(func(q url.Values) { q.Set("redirect_uri", "https://evil.example/") }).Encode(), "")
	f.Add("client_id=guest-app&redirect_uri=https%3A%2F%2Fapp.example%2Fcb", "request=a.b&csrf=c&decision=deny")
	f.Add("", "scope=0&scope=1&decision=approve")
	f.Fuzz(func(t *testing.T, query, form string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/authorize", nil)
		req.URL.RawQuery = query
		req.Header.Set("X-Test-User", "alice")
		h.ServeHTTP(rec, req)
		checkAuthorizeResponse(t, rec)
		if m := hiddenRequest.FindStringSubmatch(rec.Body.String()); m != nil {
			// Submit the fuzzed form together with the genuine hidden fields.
			csrf := hiddenCSRF.FindStringSubmatch(rec.Body.String())
			form = "request=" + url.QueryEscape(htmlUnescape(m[1])) + "&csrf=" + url.QueryEscape(htmlUnescape(csrf[1])) + "&" + form
		}
		rec = httptest.NewRecorder()
		req = httptest.NewRequest("POST", "/authorize", strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Test-User", "alice")
		h.ServeHTTP(rec, req)
		checkAuthorizeResponse(t, rec)
	})
}

func checkAuthorizeResponse(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if rec.Code >= 500 {
		t.Fatalf("server error %d: %s", rec.Code, rec.Body)
	}
	if rec.Code == http.StatusSeeOther {
		loc := rec.Header().Get("Location")
		if !strings.HasPrefix(loc, "https://app.example/cb?") && !strings.HasPrefix(loc, "https://energy.example/cb?") {
			t.Fatalf("redirect to unregistered %q", loc)
		}
	}
}
