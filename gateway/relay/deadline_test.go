package relay_test

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// newRelayWithTimeouts serves a relay from an http.Server with short read
// and write timeouts, as an embedder following http.Server advice would.
func newRelayWithTimeouts(t *testing.T, timeout time.Duration) *relayEnv {
	t.Helper()
	reg := new(relay.MemRegistry)
	srv, err := relay.NewServer(relay.Config{Registry: reg, HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Config.ReadTimeout = timeout
	ts.Config.WriteTimeout = timeout
	ts.StartTLS()
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() })
	return &relayEnv{srv: srv, ts: ts, reg: reg}
}

// Streams through the relay must outlive the embedding server's
// ReadTimeout and WriteTimeout: they bound ordinary requests, not an SSE
// stream or an upgraded WebSocket.
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	// The timeouts also bound each new connection's TLS handshake, which
	// can take hundreds of milliseconds on a loaded machine under -race.
	const timeout = 1500 * time.Millisecond // generous: it also bounds TLS handshakes on a loaded CI machine
	env := newRelayWithTimeouts(t, timeout)
	up := websocket.Upgrader{}
	mux := http.NewServeMux()
	mux.Handle("/events", sseHandler(nil))
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			typ, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if ws.WriteMessage(typ, msg) != nil {
				return
			}
		}
	})
	startHome(t, env, "villa", mux)

	resp, err := env.guest(t).Get(env.url("villa", "/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	start := time.Now()
	for time.Since(start) < 2*timeout {
		if !sc.Scan() {
			t.Fatalf("SSE stream cut after %v: %v", time.Since(start), sc.Err())
		}
	}

	d := websocket.Dialer{TLSClientConfig: env.roots()}
	ws, _, err := d.Dial(strings.Replace(env.url("villa", "/ws"), "https", "wss", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	time.Sleep(2 * timeout) // idle past both timeouts
	if err := ws.WriteMessage(websocket.TextMessage, []byte("still there?")); err != nil {
		t.Fatal(err)
	}
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, msg, err := ws.ReadMessage(); err != nil || string(msg) != "still there?" {
		t.Fatalf("WebSocket after the server timeouts: %q, %v", msg, err)
	}
}

// Relayed is true for requests that came through the tunnel and for no
// others, whatever headers a client sends.
func TestRelayed(t *testing.T) {
	env := newRelay(t, relay.Config{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if relay.Relayed(r) {
			w.Write([]byte("relayed"))
		} else {
			w.Write([]byte("direct"))
		}
	})
	startHome(t, env, "villa", h)
	direct := httptest.NewServer(h)
	defer direct.Close()

	get := func(c *http.Client, url string) string {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		req.Header.Set("X-Forwarded-Prefix", "/homes/villa")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		bufio.NewReader(resp.Body).WriteTo(&b)
		return b.String()
	}
	if got := get(env.guest(t), env.url("villa", "/")); got != "relayed" {
		t.Errorf("through the relay: %q, want relayed", got)
	}
	if got := get(direct.Client(), direct.URL); got != "direct" {
		t.Errorf("direct with forged forwarding headers: %q, want direct", got)
	}
}
