package consent

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

func testPurposes() []Purpose {
	return []Purpose{
		{ID: "comfort", Description: "Control the lights and heating of your holiday home."},
		{ID: "energy", Description: "Forecast the resort's energy use.", Retention: 7 * 24 * time.Hour, History: true},
	}
}

func testClients() []Client {
	return []Client{
		{ID: "guest-app", Name: "Guest App", RedirectURIs: []string{"https://app.example/cb"}},
		{ID: "energy-svc", Name: "Energy Service", RedirectURIs: []string{"https://energy.example/cb"}, Secret: "s3cret-energy", Purposes: []string{"energy"}},
		{ID: "gateway", Name: "Gateway", Secret: "s3cret-gateway", Introspect: true},
	}
}

func newTestLedger(t testing.TB, mods ...func(*Config)) *Ledger {
	t.Helper()
	cfg := Config{Issuer: "https://home.example/auth", Purposes: testPurposes(), Clients: testClients()}
	for _, m := range mods {
		m(&cfg)
	}
	l, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var lampRead = []Scope{{Thing: "lamp", Ops: []string{thing.OpReadProperty, thing.OpObserveProperty}}}

func grantTo(t testing.TB, l *Ledger, subject string, scopes []Scope) Grant {
	t.Helper()
	g, err := l.Grant(context.Background(), GrantRequest{Subject: subject, Holder: "guest-app", Purpose: "comfort", Scopes: scopes, Duration: time.Hour})
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	return g
}

func issue(t testing.TB, l *Ledger, grantID string) *Tokens {
	t.Helper()
	tok, err := l.IssueTokens(context.Background(), grantID, TokenOptions{})
	if err != nil {
		t.Fatalf("IssueTokens: %v", err)
	}
	return tok
}

func TestGrantAuthorize(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", []Scope{
		{Thing: "lamp", Ops: []string{thing.OpReadProperty, thing.OpWriteProperty}, Names: []string{"on"}},
		{Thing: "thermostat", Ops: []string{thing.OpReadAllProperties}},
	})
	tok := issue(t, l, g.ID)
	tests := []struct {
		req  access.Request
		want bool
	}{
		{access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}, true},
		{access.Request{ThingID: "lamp", Op: thing.OpWriteProperty, Name: "on"}, true},
		{access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "brightness"}, false},
		{access.Request{ThingID: "lamp", Op: thing.OpInvokeAction, Name: "on"}, false},
		{access.Request{ThingID: "lamp", Op: thing.OpReadAllProperties}, false},
		{access.Request{ThingID: "thermostat", Op: thing.OpReadAllProperties}, true},
		{access.Request{ThingID: "thermostat", Op: thing.OpReadProperty, Name: "temp"}, false},
		{access.Request{ThingID: "lamp2", Op: thing.OpReadProperty, Name: "on"}, false},
		{access.Request{ThingID: "lam", Op: thing.OpReadProperty, Name: "on"}, false},
		{access.Request{ThingID: "", Op: thing.OpReadProperty, Name: "on"}, false},
		{access.Request{ThingID: "lamp", Op: "bogus", Name: "on"}, false},
	}
	for _, tt := range tests {
		d, err := l.Authorize(ctx, string(tok.AccessToken), tt.req)
		if err != nil {
			t.Fatalf("Authorize(%v): %v", tt.req, err)
		}
		if d.Allow != tt.want {
			t.Errorf("Authorize(%v).Allow = %v, want %v", tt.req, d.Allow, tt.want)
		}
		if d.GrantID != g.ID || d.Subject != "alice" || d.ClientID != "guest-app" || d.Purpose != "comfort" || d.TokenID == "" || d.Scope == nil {
			t.Errorf("Decision = %+v", d)
		}
		if d.Scope.Permits(tt.req) != tt.want {
			t.Errorf("Decision.Scope.Permits(%v) disagrees with Authorize", tt.req)
		}
	}
}

func TestAuthorizeErrors(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	_, err := l.Authorize(ctx, "", access.Request{})
	if !errors.Is(err, access.ErrInvalidToken) || !errors.Is(err, ErrMissingToken) {
		t.Errorf("empty token: %v", err)
	}
	_, err = l.Authorize(ctx, "garbage", access.Request{})
	if !errors.Is(err, access.ErrInvalidToken) || !errors.Is(err, ErrMalformedToken) {
		t.Errorf("garbage token: %v", err)
	}
}

func TestRevokeSeenAtOnceAndNotified(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	if d, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil || !d.Allow {
		t.Fatalf("before revoke: %v %v", d, err)
	}
	var mu sync.Mutex
	var got []string
	cancel := l.SubscribeRevocations(func(r access.Revocation) {
		mu.Lock()
		got = append(got, r.GrantID)
		mu.Unlock()
	})
	defer cancel()
	if err := l.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	_, err := l.Authorize(ctx, string(tok.AccessToken), req)
	if !errors.Is(err, access.ErrInvalidToken) || !errors.Is(err, ErrRevoked) {
		t.Errorf("cached token after revoke: %v", err)
	}
	mu.Lock()
	if !slices.Equal(got, []string{g.ID}) {
		t.Errorf("notified %v", got)
	}
	mu.Unlock()
	if gg, _ := l.Get(g.ID); gg.Status != StatusRevoked || gg.Revoked.IsZero() {
		t.Errorf("grant after revoke: %+v", gg)
	}
	if _, err := l.IssueTokens(ctx, g.ID, TokenOptions{}); !errors.Is(err, ErrRevoked) {
		t.Errorf("IssueTokens on revoked grant: %v", err)
	}
	if _, err := l.Refresh(ctx, tok.RefreshToken, "guest-app", nil); !errors.Is(err, ErrRevoked) {
		t.Errorf("Refresh on revoked grant: %v", err)
	}
}

func TestRevokeAll(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	a1 := grantTo(t, l, "alice", lampRead)
	a2 := grantTo(t, l, "alice", lampRead)
	b := grantTo(t, l, "bob", lampRead)
	if _, err := l.RevokeAll(ctx, GrantFilter{}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("RevokeAll without subject or holder: %v", err)
	}
	n, err := l.RevokeAll(ctx, GrantFilter{Subject: "alice"})
	if err != nil || n != 2 {
		t.Fatalf("RevokeAll = %d, %v", n, err)
	}
	for _, id := range []string{a1.ID, a2.ID} {
		if g, _ := l.Get(id); g.Status != StatusRevoked {
			t.Errorf("%s: %s", id, g.Status)
		}
	}
	if g, _ := l.Get(b.ID); g.Status != StatusActive {
		t.Errorf("bob's grant: %s", g.Status)
	}
	n, err = l.RevokeAll(ctx, GrantFilter{Holder: "guest-app"})
	if err != nil || n != 1 {
		t.Errorf("RevokeAll by holder = %d, %v", n, err)
	}
	if got := l.Grants(GrantFilter{Status: StatusActive}); len(got) != 0 {
		t.Errorf("active grants left: %v", got)
	}
}

func TestGrantsFilter(t *testing.T) {
	l := newTestLedger(t)
	grantTo(t, l, "alice", lampRead)
	grantTo(t, l, "alice", []Scope{{Thing: "heater", Ops: []string{thing.OpReadProperty}}})
	grantTo(t, l, "bob", []Scope{{Thing: AllThings, Ops: []string{thing.OpReadProperty}}})
	if got := l.Grants(GrantFilter{Subject: "alice"}); len(got) != 2 {
		t.Errorf("alice: %d grants", len(got))
	}
	if got := l.Grants(GrantFilter{Thing: "lamp"}); len(got) != 2 { // alice's lamp + bob's all-things
		t.Errorf("lamp: %d grants", len(got))
	}
	if got := l.Grants(GrantFilter{Thing: "heater", Subject: "bob"}); len(got) != 1 {
		t.Errorf("heater/bob: %d grants", len(got))
	}
	if got := l.Grants(GrantFilter{Holder: "nobody"}); len(got) != 0 {
		t.Errorf("nobody: %d grants", len(got))
	}
}

func TestGrantValidation(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	tests := []struct {
		name string
		req  GrantRequest
		want error
	}{
		{"no subject", GrantRequest{Holder: "guest-app", Purpose: "comfort", Scopes: lampRead}, ErrInvalidRequest},
		{"unknown purpose", GrantRequest{Subject: "a", Holder: "guest-app", Purpose: "ads", Scopes: lampRead}, ErrUnknownPurpose},
		{"purpose not allowed for client", GrantRequest{Subject: "a", Holder: "energy-svc", Purpose: "comfort", Scopes: lampRead}, ErrUnknownPurpose},
		{"no scopes", GrantRequest{Subject: "a", Holder: "guest-app", Purpose: "comfort"}, ErrInvalidScope},
		{"empty thing is not all things", GrantRequest{Subject: "a", Holder: "guest-app", Purpose: "comfort", Scopes: []Scope{{Ops: []string{thing.OpReadProperty}}}}, ErrInvalidScope},
		{"too long", GrantRequest{Subject: "a", Holder: "guest-app", Purpose: "comfort", Scopes: lampRead, Duration: 365 * 24 * time.Hour}, ErrInvalidRequest},
	}
	for _, tt := range tests {
		if _, err := l.Grant(ctx, tt.req); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}
	g, err := l.Grant(ctx, GrantRequest{Subject: "a", Holder: "guest-app", Purpose: "comfort", Scopes: lampRead})
	if err != nil {
		t.Fatal(err)
	}
	if d := g.Expires.Sub(g.Created); d != DefaultMaxDuration {
		t.Errorf("default duration %v", d)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{Algorithm: "HS256"},
		{Purposes: []Purpose{{ID: "x"}}},
		{Purposes: []Purpose{{ID: "x", Description: "d"}, {ID: "x", Description: "d"}}},
		{Purposes: []Purpose{{ID: "x", Description: "d", History: true}}},
		{Clients: []Client{{ID: "c", RedirectURIs: []string{"/relative"}}}},
		{Clients: []Client{{ID: "c", Purposes: []string{"nope"}}}},
		{Clients: []Client{{ID: "c", Introspect: true}}},
		{AuditOrigin: "has space"},
	}
	for i, cfg := range bad {
		if _, err := New(t.Context(), cfg); !errors.Is(err, ErrInvalidRequest) && !errors.Is(err, ErrUnknownPurpose) {
			t.Errorf("config %d: err = %v", i, err)
		}
	}
	l, err := New(t.Context(), Config{})
	if err != nil {
		t.Fatalf("zero Config: %v", err)
	}
	l.Close()
}

func TestTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := newTestLedger(t, func(c *Config) { c.AccessTokenLifetime = time.Minute; c.ClockSkew = 5 * time.Second })
		g := grantTo(t, l, "alice", lampRead)
		tok := issue(t, l, g.ID)
		req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
		if _, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute) // inside the skew
		if _, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil {
			t.Fatalf("within skew: %v", err)
		}
		time.Sleep(6 * time.Second)
		if _, err := l.Authorize(ctx, string(tok.AccessToken), req); !errors.Is(err, ErrExpired) || !errors.Is(err, access.ErrInvalidToken) {
			t.Fatalf("after expiry (cached): %v", err)
		}
		// Also uncached (the cache dropped the entry).
		if _, err := l.Authorize(ctx, string(tok.AccessToken), req); !errors.Is(err, ErrExpired) {
			t.Fatalf("after expiry (uncached): %v", err)
		}
		// The refresh token still works, and the new token too.
		tok2, err := l.Refresh(ctx, tok.RefreshToken, "guest-app", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.Authorize(ctx, string(tok2.AccessToken), req); err != nil {
			t.Fatal(err)
		}
		// Grant expiry ends everything, also cached tokens.
		time.Sleep(time.Hour)
		if _, err := l.Authorize(ctx, string(tok2.AccessToken), req); !errors.Is(err, ErrExpired) {
			t.Fatalf("after grant expiry: %v", err)
		}
		if _, err := l.Refresh(ctx, tok2.RefreshToken, "guest-app", nil); !errors.Is(err, ErrExpired) {
			t.Fatalf("refresh after grant expiry: %v", err)
		}
		if g, _ := l.Get(g.ID); g.Status != StatusExpired {
			t.Errorf("status %s", g.Status)
		}
	})
}

func TestRefreshRotationAndReuse(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", lampRead)
	t1 := issue(t, l, g.ID)
	t2, err := l.Refresh(ctx, t1.RefreshToken, "guest-app", nil)
	if err != nil {
		t.Fatal(err)
	}
	if t2.RefreshToken == t1.RefreshToken {
		t.Fatal("refresh token did not rotate")
	}
	if _, err := l.Refresh(ctx, t2.RefreshToken, "other-app", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("refresh by another client: %v", err)
	}
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	if _, err := l.Authorize(ctx, string(t2.AccessToken), req); err != nil {
		t.Fatal(err)
	}
	// An attacker replays the spent t1 refresh token: the family dies.
	if _, err := l.Refresh(ctx, t1.RefreshToken, "guest-app", nil); !errors.Is(err, ErrRefreshReuse) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := l.Authorize(ctx, string(t2.AccessToken), req); !errors.Is(err, ErrRevoked) {
		t.Errorf("access token of the reused family: %v", err)
	}
	if _, err := l.Refresh(ctx, t2.RefreshToken, "guest-app", nil); !errors.Is(err, ErrRevoked) {
		t.Errorf("current refresh token of the reused family: %v", err)
	}
	// The grant (the consent) stands: a new family can be issued.
	t3 := issue(t, l, g.ID)
	if _, err := l.Authorize(ctx, string(t3.AccessToken), req); err != nil {
		t.Errorf("new family: %v", err)
	}
}

func TestScopeNarrowingAndEscalation(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", []Scope{{Thing: "lamp", Ops: []string{thing.OpReadProperty, thing.OpWriteProperty}}})
	narrow := []Scope{{Thing: "lamp", Ops: []string{thing.OpReadProperty}, Names: []string{"on"}}}
	tok, err := l.IssueTokens(ctx, g.ID, TokenOptions{Scopes: narrow})
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "lamp", Op: thing.OpWriteProperty, Name: "on"})
	if err != nil || d.Allow {
		t.Errorf("narrowed token may write: %v %v", d.Allow, err)
	}
	for _, wider := range [][]Scope{
		{{Thing: "lamp", Ops: []string{thing.OpInvokeAction}}},
		{{Thing: "lamp2", Ops: []string{thing.OpReadProperty}}},
		{{Thing: AllThings, Ops: []string{thing.OpReadProperty}}},
	} {
		if _, err := l.IssueTokens(ctx, g.ID, TokenOptions{Scopes: wider}); !errors.Is(err, ErrScopeExceeded) {
			t.Errorf("IssueTokens(%v): %v", wider, err)
		}
	}
	// Refresh may not widen the family's scope either.
	if _, err := l.Refresh(ctx, tok.RefreshToken, "guest-app", []Scope{{Thing: "lamp", Ops: []string{thing.OpWriteProperty}}}); !errors.Is(err, ErrScopeExceeded) {
		t.Errorf("widening refresh: %v", err)
	}
}

func TestHistoryConsents(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	grantTo(t, l, "alice", lampRead) // comfort: no history
	e, err := l.Grant(ctx, GrantRequest{Subject: "bob", Holder: "energy-svc", Purpose: "energy", Scopes: []Scope{{Thing: "meter", Ops: []string{thing.OpObserveProperty}, Names: []string{"power"}}}})
	if err != nil {
		t.Fatal(err)
	}
	hc, err := l.HistoryConsents(ctx, "meter", "power")
	if err != nil || len(hc) != 1 || hc[0].GrantID != e.ID || hc[0].Subject != "bob" || hc[0].Retention != 7*24*time.Hour || hc[0].Purpose != "energy" {
		t.Fatalf("HistoryConsents = %+v, %v", hc, err)
	}
	for _, c := range [][2]string{{"lamp", "on"}, {"meter", "voltage"}, {"meter2", "power"}} {
		if hc, _ := l.HistoryConsents(ctx, c[0], c[1]); len(hc) != 0 {
			t.Errorf("HistoryConsents(%v) = %v", c, hc)
		}
	}
	if err := l.Revoke(ctx, e.ID); err != nil {
		t.Fatal(err)
	}
	if hc, _ := l.HistoryConsents(ctx, "meter", "power"); len(hc) != 0 {
		t.Errorf("after revoke: %v", hc)
	}
}

func TestPersistenceAcrossReopen(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "consent.log")
	open := func() *Ledger {
		s, err := OpenFileStore(path, FileStoreOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := New(ctx, Config{Issuer: "https://home.example/auth", Store: s, Purposes: testPurposes(), Clients: testClients()})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	l := open()
	g1 := grantTo(t, l, "alice", lampRead)
	g2 := grantTo(t, l, "bob", lampRead)
	tok := issue(t, l, g1.ID)
	if err := l.Revoke(ctx, g2.ID); err != nil {
		t.Fatal(err)
	}
	cp1, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	vkey := l.AuditVerifierKey()
	jwks1, _ := l.JWKS()
	l.Close()

	l = open()
	defer l.Close()
	if l.AuditVerifierKey() != vkey {
		t.Error("audit key changed across reopen")
	}
	if jwks2, _ := l.JWKS(); string(jwks2) != string(jwks1) {
		t.Error("JWKS changed across reopen")
	}
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	if d, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil || !d.Allow {
		t.Errorf("token after reopen: %v %v", d.Allow, err)
	}
	if g, _ := l.Get(g2.ID); g.Status != StatusRevoked {
		t.Errorf("revocation lost: %s", g.Status)
	}
	if _, err := l.Refresh(ctx, tok.RefreshToken, "guest-app", nil); err != nil {
		t.Errorf("refresh after reopen: %v", err)
	}
	// The log after reopen extends the one before.
	v, _ := NewVerifier(vkey)
	c1, err := v.Checkpoint(cp1)
	if err != nil {
		t.Fatal(err)
	}
	cp2, _ := l.Checkpoint(ctx)
	c2, err := v.Checkpoint(cp2)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := l.ConsistencyProof(ctx, c1.Size, c2.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyConsistency(c1, c2, proof); err != nil {
		t.Error(err)
	}
	// Compaction keeps all of it.
	if err := l.Compact(ctx); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l = open()
	defer l.Close()
	cp3, _ := l.Checkpoint(ctx)
	if c3, _ := v.Checkpoint(cp3); c3 != c2 {
		t.Errorf("checkpoint after compaction %+v, want %+v", c3, c2)
	}
	if g, _ := l.Get(g2.ID); g.Status != StatusRevoked {
		t.Errorf("revocation lost in compaction: %s", g.Status)
	}
}

func TestExportErase(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "consent.log")
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := newTestLedger(t, func(c *Config) { c.Store = s })
	hist := &fakeHistory{data: map[string]string{"alice": `{"lamp/on":[true,false]}`}}
	l.RegisterExporter("history", hist)
	l.RegisterEraser("history", hist)
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	grantTo(t, l, "bob", lampRead)

	raw, err := l.Export(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	var ex Export
	if err := json.Unmarshal(raw, &ex); err != nil {
		t.Fatal(err)
	}
	if ex.Subject != "alice" || len(ex.Grants) != 1 || ex.Grants[0].ID != g.ID || string(ex.Data["history"]) != hist.data["alice"] || len(ex.Purposes) != 1 {
		t.Errorf("export = %s", raw)
	}
	if len(ex.Audit) != 2 || ex.Audit[0].Entry.Event != EventGrant || ex.Audit[1].Entry.Event != EventIssue {
		t.Errorf("exported audit = %+v", ex.Audit)
	}

	hist.fail = true
	if err := l.Erase(ctx, "alice"); err == nil {
		t.Fatal("Erase succeeded although an eraser failed")
	}
	if _, err := l.Get(g.ID); err != nil {
		t.Error("grant deleted although the eraser failed")
	}
	if _, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); !errors.Is(err, ErrRevoked) {
		t.Errorf("token after failed erase: %v", err)
	}
	hist.fail = false
	if err := l.Erase(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, ok := hist.data["alice"]; ok {
		t.Error("eraser not called")
	}
	if _, err := l.Get(g.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("grant after erase: %v", err)
	}
	if len(l.Grants(GrantFilter{Subject: "alice"})) != 0 || len(l.Grants(GrantFilter{Subject: "bob"})) != 1 {
		t.Error("wrong grants after erase")
	}
	// The store file no longer holds the subject id.
	if data := readFile(t, path); containsBytes(data, "alice") {
		t.Error("store still contains the erased subject id")
	}
	// The audit log still verifies and holds no subject id.
	for i := range l.AuditSize() {
		e, _ := l.AuditEntry(i)
		if containsBytes(e, "alice") {
			t.Errorf("audit entry %d names the subject: %s", i, e)
		}
	}
	// A new export for alice finds nothing of the old pseudonym.
	raw, err = l.Export(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(raw, &ex)
	if len(ex.Grants) != 0 || len(ex.Audit) != 0 {
		t.Errorf("export after erase: %s", raw)
	}
}

type fakeHistory struct {
	mu   sync.Mutex
	data map[string]string
	fail bool
}

func (h *fakeHistory) ExportSubject(ctx context.Context, subject string) (json.RawMessage, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if d, ok := h.data[subject]; ok {
		return json.RawMessage(d), nil
	}
	return nil, nil
}

func (h *fakeHistory) EraseSubject(ctx context.Context, subject string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.fail {
		return errors.New("history store offline")
	}
	delete(h.data, subject)
	return nil
}

func TestPurge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := newTestLedger(t)
		c := grantTo(t, l, "alice", lampRead) // comfort: retention 0
		e, err := l.Grant(ctx, GrantRequest{Subject: "bob", Holder: "energy-svc", Purpose: "energy", Scopes: lampRead, Duration: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if n, _ := l.Purge(ctx); n != 0 {
			t.Fatalf("purged %d active grants", n)
		}
		if err := l.Revoke(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		if n, err := l.Purge(ctx); n != 1 || err != nil {
			t.Fatalf("Purge = %d, %v", n, err)
		}
		if _, err := l.Get(c.ID); !errors.Is(err, ErrNotFound) {
			t.Error("revoked comfort grant not purged")
		}
		time.Sleep(2 * time.Hour) // energy grant expired, retention 7 days
		if n, _ := l.Purge(ctx); n != 0 {
			t.Fatal("purged before retention ended")
		}
		time.Sleep(7 * 24 * time.Hour)
		if n, _ := l.Purge(ctx); n != 1 {
			t.Fatal("not purged after retention")
		}
		if _, err := l.Get(e.ID); !errors.Is(err, ErrNotFound) {
			t.Error("energy grant not purged")
		}
	})
}

func TestKeyRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		l := newTestLedger(t, func(c *Config) { c.AccessTokenLifetime = 5 * time.Minute; c.ClockSkew = time.Second })
		g := grantTo(t, l, "alice", lampRead)
		old := issue(t, l, g.ID)
		if err := l.RotateKey(ctx); err != nil {
			t.Fatal(err)
		}
		var set struct{ Keys []map[string]any }
		jw, _ := l.JWKS()
		json.Unmarshal(jw, &set)
		if len(set.Keys) != 2 {
			t.Fatalf("JWKS after rotation has %d keys", len(set.Keys))
		}
		newTok := issue(t, l, g.ID)
		req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
		for _, tok := range []*Tokens{old, newTok} {
			if _, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(5*time.Minute + 2*time.Second)
		jw, _ = l.JWKS()
		json.Unmarshal(jw, &set)
		if len(set.Keys) != 1 {
			t.Errorf("JWKS keeps %d keys after the old key's last token expired", len(set.Keys))
		}
		if kid, _ := set.Keys[0]["kid"].(string); kid != l.currentKey().kid {
			t.Errorf("JWKS key %v is not the current key", set.Keys[0]["kid"])
		}
	})
}

func TestES256(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t, func(c *Config) { c.Algorithm = AlgES256 })
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	if d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); err != nil || !d.Allow {
		t.Fatalf("ES256 token: %v %v", d.Allow, err)
	}
	var set struct{ Keys []map[string]any }
	jw, _ := l.JWKS()
	json.Unmarshal(jw, &set)
	if len(set.Keys) != 1 || set.Keys[0]["alg"] != "ES256" || set.Keys[0]["crv"] != "P-256" {
		t.Errorf("JWKS = %s", jw)
	}
}

func TestSecretRedacts(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{s.String(), s.GoString(), s.LogValue().String()} {
		if got != redacted {
			t.Errorf("redaction leaked: %q", got)
		}
	}
	b, _ := json.Marshal(struct{ T Secret }{s})
	if containsBytes(b, "hunter2") {
		t.Errorf("JSON leaked: %s", b)
	}
}
