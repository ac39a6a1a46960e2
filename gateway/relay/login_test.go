package relay

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// loginEnv is a relay with one registered home, driven by a hand-written
// gateway so every message can be tampered with.
type loginEnv struct {
	srv  *Server
	ts   *httptest.Server
	priv ed25519.PrivateKey
}

func newLoginEnv(t *testing.T, cfg Config, wrap func(http.Handler) http.Handler) *loginEnv {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	reg := new(MemRegistry)
	reg.Register("villa", pub)
	cfg.Registry = reg
	cfg.HandshakeTimeout = 2 * time.Second
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(srv)
	}
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })
	return &loginEnv{srv: srv, ts: ts, priv: priv}
}

func (e *loginEnv) roots() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(e.ts.Certificate())
	return &tls.Config{RootCAs: pool}
}

// dial opens a gateway WebSocket and reads the challenge.
func (e *loginEnv) dial(t *testing.T) (*websocket.Conn, challenge, []byte) {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: e.roots(), Subprotocols: []string{subprotocol}}
	ws, _, err := d.Dial(strings.Replace(e.ts.URL, "https", "wss", 1)+ConnectPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	_, data, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	ch, err := parseChallenge(data)
	if err != nil {
		t.Fatal(err)
	}
	cs := ws.NetConn().(*tls.Conn).ConnectionState()
	exp, err := cs.ExportKeyingMaterial(exporterLabel, nil, exporterLen)
	if err != nil {
		t.Fatal(err)
	}
	return ws, ch, exp
}

// signedHello is an honest gateway's hello for this connection.
func (e *loginEnv) signedHello(ch challenge, exporter []byte) hello {
	pub := e.priv.Public().(ed25519.PublicKey)
	if ch.Binding == bindingNone {
		exporter = nil
	}
	h := hello{Type: msgHello, V: protocolVersion, Home: "villa", Host: "127.0.0.1", Key: pub}
	h.Sig, _ = e.priv.Sign(rand.Reader, transcript(ch.Binding, h.Home, h.Host, ch.Nonce, exporter, pub), crypto.Hash(0))
	return h
}

// verdict reads the relay's result.
func verdict(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	_, data, err := ws.ReadMessage()
	if err != nil {
		return err
	}
	return parseResult(data)
}

func TestLoginRefusesTamperedHellos(t *testing.T) {
	env := newLoginEnv(t, Config{}, nil)
	cases := []struct {
		name string
		send func(ws *websocket.Conn, h hello) error
		want error
	}{
		{"binary", func(ws *websocket.Conn, h hello) error {
			b, _ := jsonMarshalHello(h)
			return ws.WriteMessage(websocket.BinaryMessage, b)
		}, nil}, // refused with a protocol reason (ErrRefused) or dropped
		{"garbage", func(ws *websocket.Conn, h hello) error {
			return ws.WriteMessage(websocket.TextMessage, []byte("{not json"))
		}, ErrRefused},
		{"wrong home", func(ws *websocket.Conn, h hello) error {
			h.Home = "chalet"
			return ws.WriteJSON(h)
		}, ErrUnauthorized},
		{"bad signature", func(ws *websocket.Conn, h hello) error {
			h.Sig[0] ^= 1
			return ws.WriteJSON(h)
		}, ErrUnauthorized},
		{"other key", func(ws *websocket.Conn, h hello) error {
			pub, priv, _ := ed25519.GenerateKey(rand.Reader)
			h.Key = pub
			h.Sig = ed25519.Sign(priv, []byte("anything"))
			return ws.WriteJSON(h)
		}, ErrUnauthorized},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ws, ch, exp := env.dial(t)
			if err := c.send(ws, env.signedHello(ch, exp)); err != nil {
				t.Fatal(err)
			}
			err := verdict(t, ws)
			if err == nil {
				t.Fatal("relay welcomed a tampered hello")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("verdict %v, want %v", err, c.want)
			}
			deadline := time.Now().Add(5 * time.Second)
			for env.srv.Metrics().Refused != uint64(i+1) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := env.srv.Metrics().Refused; got != uint64(i+1) {
				t.Errorf("Refused = %d, want %d", got, i+1)
			}
		})
	}
	if env.srv.Connected("villa") {
		t.Error("a tampered login connected")
	}
}

// TestLoginCannotBeReplayed shows that a hello captured on one connection
// (by a relay impostor, say) is worthless on another: it is bound to the
// nonce and to the TLS connection.
func TestLoginCannotBeReplayed(t *testing.T) {
	env := newLoginEnv(t, Config{}, nil)
	_, ch, exp := env.dial(t)
	captured := env.signedHello(ch, exp)

	ws, _, _ := env.dial(t)
	if err := ws.WriteJSON(captured); err != nil {
		t.Fatal(err)
	}
	if err := verdict(t, ws); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("replayed hello: %v, want ErrUnauthorized", err)
	}

	// The honest login on a fresh connection works.
	ws, ch, exp = env.dial(t)
	if err := ws.WriteJSON(env.signedHello(ch, exp)); err != nil {
		t.Fatal(err)
	}
	if err := verdict(t, ws); err != nil {
		t.Fatalf("honest login: %v", err)
	}
}

func TestLoginHostnames(t *testing.T) {
	env := newLoginEnv(t, Config{Hostnames: []string{"relay.example"}}, nil)
	ws, ch, exp := env.dial(t)
	if err := ws.WriteJSON(env.signedHello(ch, exp)); err != nil { // signed for 127.0.0.1
		t.Fatal(err)
	}
	if err := verdict(t, ws); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("login signed for another relay name: %v, want ErrUnauthorized", err)
	}
}

func TestLoginBehindTLSProxy(t *testing.T) {
	// A front end that terminates TLS: the relay sees plain HTTP.
	stripTLS := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.TLS = nil
			h.ServeHTTP(w, r)
		})
	}
	env := newLoginEnv(t, Config{BehindTLSProxy: true, Hostnames: []string{"127.0.0.1"}}, stripTLS)
	client := func(optIn bool) *Client {
		c, err := NewClient(ClientConfig{
			URL: env.ts.URL, Home: "villa", Key: env.priv, Handler: http.NotFoundHandler(),
			TLSClientConfig: env.roots(), RelayBehindTLSProxy: optIn,
		})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if _, err := client(false).login(t.Context()); !errors.Is(err, ErrProtocol) {
		t.Errorf("gateway not opted in: %v, want ErrProtocol", err)
	}
	ws, err := client(true).login(t.Context())
	if err != nil {
		t.Fatalf("gateway opted in: %v", err)
	}
	ws.Close()

	// And a relay that terminates TLS refuses gateways without it.
	plain := newLoginEnv(t, Config{}, stripTLS)
	d := websocket.Dialer{TLSClientConfig: plain.roots(), Subprotocols: []string{subprotocol}}
	if _, resp, err := d.Dial(strings.Replace(plain.ts.URL, "https", "wss", 1)+ConnectPath, nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("gateway without TLS: %v, %v; want 403", err, resp)
	}
}

func TestConfigValidation(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	for name, cfg := range map[string]Config{
		"heartbeat":      {HeartbeatInterval: time.Second, HeartbeatTimeout: time.Second},
		"proxy no names": {BehindTLSProxy: true},
		"domain":         {HomeDomain: "bad domain"},
		"negative":       {MaxHomes: -1},
	} {
		if _, err := NewServer(cfg); err == nil {
			t.Errorf("NewServer(%s) succeeded", name)
		}
	}
	if _, err := NewServer(Config{}); err != nil {
		t.Errorf("NewServer(zero Config) = %v", err)
	}
	good := ClientConfig{URL: "https://relay.example", Home: "villa", Key: priv, Handler: http.NotFoundHandler()}
	for name, mut := range map[string]func(*ClientConfig){
		"scheme":  func(c *ClientConfig) { c.URL = "http://relay.example" },
		"home":    func(c *ClientConfig) { c.Home = "Villa 7" },
		"no key":  func(c *ClientConfig) { c.Key = nil },
		"handler": func(c *ClientConfig) { c.Handler = nil },
		"backoff": func(c *ClientConfig) { c.MinBackoff, c.MaxBackoff = time.Minute, time.Second },
	} {
		cfg := good
		mut(&cfg)
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%s) succeeded", name)
		}
	}
	c, err := NewClient(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "wss://relay.example"+ConnectPath || !c.PublicKey().Equal(priv.Public()) {
		t.Errorf("url %q", c.url)
	}
}
