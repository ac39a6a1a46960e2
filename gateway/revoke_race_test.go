package gateway_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/access"
)

// racyAuthorizer answers from a Scope that never changes (as a Scope
// derived from a signed token does) and, when armed, announces a
// revocation just before it returns the Decision that allows the stream:
// the notice reaches the gateway after Authorize decided but before the
// stream is registered.
type racyAuthorizer struct {
	mu     sync.Mutex
	subs   map[int]func(access.Revocation)
	next   int
	armed  *access.Revocation // fired by the next Authorize call, then cleared
	tokens map[string]access.Decision
}

type permitAll struct{}

func (permitAll) Permits(access.Request) bool { return true }

func (a *racyAuthorizer) Authorize(_ context.Context, token string, _ access.Request) (access.Decision, error) {
	a.mu.Lock()
	d, ok := a.tokens[token]
	r := a.armed
	a.armed = nil
	subs := make([]func(access.Revocation), 0, len(a.subs))
	for _, f := range a.subs {
		subs = append(subs, f)
	}
	a.mu.Unlock()
	if !ok {
		return access.Decision{}, access.ErrInvalidToken
	}
	if r != nil {
		for _, f := range subs {
			f(*r)
		}
	}
	return d, nil
}

func (a *racyAuthorizer) SubscribeRevocations(fn func(access.Revocation)) func() {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := a.next
	a.next++
	a.subs[id] = fn
	return func() {
		a.mu.Lock()
		delete(a.subs, id)
		a.mu.Unlock()
	}
}

func (a *racyAuthorizer) arm(r access.Revocation) {
	a.mu.Lock()
	a.armed = &r
	a.mu.Unlock()
}

// TestRevocationWhileStreamOpens: a revocation announced after the
// Authorizer allowed a stream but before the gateway registered it still
// refuses the stream (401), for SSE and WebSocket, by grant and by token;
// streams of other grants and tokens are not affected.
func TestRevocationWhileStreamOpens(t *testing.T) {
	auth := &racyAuthorizer{subs: map[int]func(access.Revocation){}, tokens: map[string]access.Decision{
		"racy":  {Allow: true, GrantID: "g-race", TokenID: "jti-race", Subject: "guest", Scope: permitAll{}},
		"other": {Allow: true, GrantID: "g-other", TokenID: "jti-other", Subject: "guest", Scope: permitAll{}},
		"twin":  {Allow: true, GrantID: "g-race", TokenID: "jti-twin", Subject: "guest", Scope: permitAll{}},
	}}
	h := newHarness(t, gateway.Config{Authorizer: auth, WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})

	sseStatus := func(token string) int {
		t.Helper()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.ts.URL+lamp+"/properties/on/observable", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	wsStatus := func(token string) int {
		t.Helper()
		c, resp, err := h.tryWS("/0", token, nil)
		if err == nil {
			c.Close()
			return http.StatusSwitchingProtocols
		}
		if resp == nil {
			t.Fatal(err)
		}
		return resp.StatusCode
	}

	for _, c := range []struct {
		name   string
		rev    access.Revocation
		token  string
		status func(string) int
		want   int
	}{
		{"SSE, grant revoked", access.Revocation{GrantID: "g-race"}, "racy", sseStatus, http.StatusUnauthorized},
		{"WebSocket, grant revoked", access.Revocation{GrantID: "g-race"}, "racy", wsStatus, http.StatusUnauthorized},
		{"SSE, token revoked", access.Revocation{GrantID: "g-race", TokenID: "jti-race"}, "racy", sseStatus, http.StatusUnauthorized},
		{"WebSocket, token revoked", access.Revocation{GrantID: "g-race", TokenID: "jti-race"}, "racy", wsStatus, http.StatusUnauthorized},
		{"SSE, other grant revoked", access.Revocation{GrantID: "g-race"}, "other", sseStatus, http.StatusOK},
		{"WebSocket, other token revoked", access.Revocation{GrantID: "g-race", TokenID: "jti-race"}, "twin", wsStatus, http.StatusSwitchingProtocols},
	} {
		auth.arm(c.rev)
		if got := c.status(c.token); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	// A revocation long before the stream opens does not refuse it.
	if got := sseStatus("racy"); got != http.StatusOK {
		t.Errorf("stream opened after the revocations: status %d, want 200 (this Authorizer still allows it)", got)
	}
}
