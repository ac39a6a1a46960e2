package relay_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/gateway/relay"
)

// fakeAuthorizer stands in for the consent ledger at home: a set of valid
// tokens, each allowing reads of one thing.
type fakeAuthorizer struct {
	mu     sync.Mutex
	tokens map[string]string // token -> thing it may read
	seen   []string          // tokens presented, as received
}

func (a *fakeAuthorizer) Authorize(_ context.Context, token string, req access.Request) (access.Decision, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, token)
	thingID, ok := a.tokens[token]
	if !ok {
		return access.Decision{}, fmt.Errorf("%w: unknown or revoked", access.ErrInvalidToken)
	}
	return access.Decision{Allow: req.ThingID == thingID && req.Op == "readproperty"}, nil
}

func (a *fakeAuthorizer) revoke(token string) {
	a.mu.Lock()
	delete(a.tokens, token)
	a.mu.Unlock()
}

// protected serves GET /things/{id}/properties/{name} behind an
// Authorizer, the way the gateway server does.
func protected(a access.Authorizer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /things/{id}/properties/{name}", func(w http.ResponseWriter, r *http.Request) {
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		d, err := a.Authorize(r.Context(), token, access.Request{ThingID: r.PathValue("id"), Op: "readproperty", Name: r.PathValue("name")})
		switch {
		case errors.Is(err, access.ErrInvalidToken):
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, "authorizer failed", http.StatusServiceUnavailable)
		case !d.Allow:
			http.Error(w, "insufficient scope", http.StatusForbidden)
		default:
			io.WriteString(w, "true")
		}
	})
	return mux
}

func TestTokenRevokedAtHomeRefusedThroughRelay(t *testing.T) {
	env := newRelay(t, relay.Config{})
	const token = "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiIxIn0.c2ln"
	authz := &fakeAuthorizer{tokens: map[string]string{token: "lamp"}}
	startHome(t, env, "villa", protected(authz))
	guest := env.guest(t)

	get := func(thing, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", env.url("villa", "/things/"+thing+"/properties/on"), nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := guest.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("lamp", token); got != http.StatusOK {
		t.Fatalf("valid token through relay: %d, want 200", got)
	}
	if got := get("heater", token); got != http.StatusForbidden {
		t.Errorf("token used beyond its scope: %d, want 403", got)
	}
	if got := get("lamp", ""); got != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", got)
	}
	authz.revoke(token) // the guest revokes at home; the relay is not told
	if got := get("lamp", token); got != http.StatusUnauthorized {
		t.Errorf("revoked token through relay: %d, want 401", got)
	}
	authz.mu.Lock()
	defer authz.mu.Unlock()
	for _, s := range authz.seen {
		if s != token && s != "" {
			t.Errorf("the gateway received token %q, want it untouched", s)
		}
	}
}

func TestPassthroughEndToEndTLS(t *testing.T) {
	env := newRelay(t, relay.Config{HomeDomain: "homes.test"})
	cert, pool := selfSigned(t, "villa.homes.test")
	seen := make(chan *tls.ConnectionState, 1)
	relayed := make(chan bool, 8)
	startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case seen <- r.TLS:
		default:
		}
		select {
		case relayed <- relay.Relayed(r):
		default:
		}
		io.WriteString(w, "hello from home over "+r.Proto)
	}), func(c *relay.ClientConfig) {
		c.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- env.srv.ServePassthrough(ln) }()
	defer func() {
		env.srv.Close()
		if err := <-served; !errors.Is(err, relay.ErrClosed) {
			t.Errorf("ServePassthrough = %v, want ErrClosed", err)
		}
	}()

	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	}
	tr := &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	guest := &http.Client{Transport: tr, Timeout: 10 * time.Second}

	for i := range 3 { // keep-alive: several requests on one passthrough stream
		resp, err := guest.Get("https://villa.homes.test/things")
		if err != nil {
			t.Fatal(err)
		}
		if got := body(t, resp); got != "hello from home over HTTP/1.1" {
			t.Fatalf("request %d: %q", i, got)
		}
		// The certificate the guest verified is the home's own: the relay
		// could not have read the exchange.
		if resp.TLS == nil || !resp.TLS.PeerCertificates[0].Equal(cert.Leaf) {
			t.Fatal("guest did not talk TLS with the home's certificate")
		}
	}
	if cs := <-seen; cs == nil || cs.ServerName != "villa.homes.test" {
		t.Errorf("home saw TLS state %+v", cs)
	}
	// Every header on a passthrough stream is the guest's own: none may be
	// trusted as the relay's word.
	if <-relayed {
		t.Error("a request on a passthrough stream is Relayed")
	}
	if m := env.srv.Metrics(); m.BytesIn == 0 || m.BytesOut == 0 {
		t.Errorf("passthrough bytes not counted: %+v", m)
	}

	// Names the relay cannot route are dropped.
	for _, name := range []string{"ghost.homes.test", "elsewhere.test"} {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: name, RootCAs: pool})
		if err == nil {
			c.Close()
			t.Errorf("TLS to %s through the relay succeeded", name)
		}
	}
	tr.CloseIdleConnections()
	waitFor(t, "passthrough streams to close", func() bool { return env.srv.Metrics().Streams == 0 })
}

func TestGatewayProtocolErrorsRefused(t *testing.T) {
	env := newRelay(t, relay.Config{HandshakeTimeout: time.Second})
	wsURL := strings.Replace(env.ts.URL, "https", "wss", 1) + relay.ConnectPath
	// Without the subprotocol or with an Origin (a web page), no upgrade.
	for _, hdr := range []http.Header{
		{},
		{"Sec-Websocket-Protocol": {"hearth-relay.v1"}, "Origin": {"https://evil.example"}},
	} {
		req, _ := http.NewRequest("GET", env.ts.URL+relay.ConnectPath, nil)
		req.Header = hdr.Clone()
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Sec-Websocket-Version", "13")
		req.Header.Set("Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		resp, err := env.guest(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusSwitchingProtocols {
			t.Errorf("upgraded with header %v", hdr)
		}
	}
	_ = wsURL
	if m := env.srv.Metrics(); m.Homes != 0 {
		t.Errorf("Metrics = %+v", m)
	}
}
