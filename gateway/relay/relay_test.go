package relay_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/hearth-wot/hearth/gateway/relay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// echo is what echoHandler reports about the request it got.
type echo struct {
	Method, Path, RawPath, Query, Host, RemoteAddr string
	Body                                           string
	Header                                         http.Header
	Relayed                                        bool
}

var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(echo{
		Method: r.Method, Path: r.URL.Path, RawPath: r.URL.RawPath, Query: r.URL.RawQuery,
		Host: r.Host, RemoteAddr: r.RemoteAddr, Body: string(b), Header: r.Header,
		Relayed: relay.Relayed(r),
	})
})

func getEcho(t *testing.T, c *http.Client, req *http.Request) echo {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d", req.Method, req.URL, resp.StatusCode)
	}
	var e echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestForwardsManyConcurrentRequests(t *testing.T) {
	env := newRelay(t, relay.Config{})
	startHome(t, env, "villa", echoHandler)
	guest := env.guest(t)

	const workers, perWorker = 32, 8
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				id := fmt.Sprintf("%d-%d", w, i)
				req, _ := http.NewRequest("POST", env.url("villa", "/things/lamp-"+id+"?n="+id), strings.NewReader("body-"+id))
				req.Header.Set("Authorization", "Bearer tok-"+id)
				resp, err := guest.Do(req)
				if err != nil {
					errs <- err
					continue
				}
				var e echo
				err = json.NewDecoder(resp.Body).Decode(&e)
				resp.Body.Close()
				switch {
				case err != nil:
					errs <- err
				case e.Path != "/things/lamp-"+id || e.Query != "n="+id || e.Body != "body-"+id ||
					e.Header.Get("Authorization") != "Bearer tok-"+id:
					errs <- fmt.Errorf("request %s answered with %+v", id, e)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	m := env.srv.Metrics()
	if m.StreamsTotal < workers*perWorker || m.BytesIn == 0 || m.BytesOut == 0 || m.Homes != 1 {
		t.Errorf("Metrics = %+v", m)
	}
	waitFor(t, "streams to drain", func() bool { return env.srv.Metrics().Streams == 0 })
}

func TestForwardedHeaders(t *testing.T) {
	env := newRelay(t, relay.Config{})
	startHome(t, env, "villa", echoHandler)
	req, _ := http.NewRequest("GET", env.url("villa", "/a%2Fb/c?x=1"), nil)
	req.Header.Set("Authorization", "Bearer  exact.To+k/en==")
	req.Header.Set("X-Forwarded-For", "6.6.6.6") // spoofed: the relay is the edge
	req.Header.Set("X-Forwarded-Prefix", "/evil")
	req.Header.Set("Connection", "X-Hop")
	req.Header.Set("X-Hop", "must not pass")
	req.Header.Set("Proxy-Authorization", "Basic cmVsYXk=")
	e := getEcho(t, env.guest(t), req)

	checks := []struct{ name, got, want string }{
		{"path", e.Path, "/a/b/c"},
		{"raw path", e.RawPath, "/a%2Fb/c"},
		{"query", e.Query, "x=1"},
		{"host", e.Host, strings.TrimPrefix(env.ts.URL, "https://")},
		{"Authorization", e.Header.Get("Authorization"), "Bearer  exact.To+k/en=="},
		{"X-Forwarded-For", e.Header.Get("X-Forwarded-For"), "127.0.0.1"},
		{"X-Forwarded-Proto", e.Header.Get("X-Forwarded-Proto"), "https"},
		{"X-Forwarded-Host", e.Header.Get("X-Forwarded-Host"), strings.TrimPrefix(env.ts.URL, "https://")},
		{"X-Forwarded-Prefix", e.Header.Get("X-Forwarded-Prefix"), "/homes/villa"},
		{"X-Hop", e.Header.Get("X-Hop"), ""},
		{"Proxy-Authorization", e.Header.Get("Proxy-Authorization"), ""},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if host, _, _ := net.SplitHostPort(e.RemoteAddr); host != "127.0.0.1" {
		t.Errorf("RemoteAddr = %q, want the public client's address", e.RemoteAddr)
	}
}

// TestClientForwardingHeadersDropped: whichever routing mode, the gateway
// sees no forwarding header of the public client's, only the relay's own,
// on a request that is Relayed.
func TestClientForwardingHeadersDropped(t *testing.T) {
	env := newRelay(t, relay.Config{HomeDomain: "homes.test"})
	startHome(t, env, "villa", echoHandler)
	relayHost := strings.TrimPrefix(env.ts.URL, "https://")
	for _, c := range []struct {
		mode, url, host, prefix string
	}{
		{"path routing", env.url("villa", "/things"), relayHost, "/homes/villa"},
		{"host routing", env.ts.URL + "/things", "villa.homes.test", ""},
	} {
		req, _ := http.NewRequest("GET", c.url, nil)
		req.Host = c.host
		req.Header.Set("X-Forwarded-Prefix", "/evil")
		req.Header.Set("X-Forwarded-Host", "evil.example")
		req.Header.Set("X-Forwarded-Port", "1")
		req.Header.Set("X-Forwarded-Server", "evil")
		req.Header.Set("Forwarded", `host=evil.example;proto=http`)
		e := getEcho(t, env.guest(t), req)
		if !e.Relayed {
			t.Errorf("%s: request not Relayed", c.mode)
		}
		want := http.Header{
			"X-Forwarded-For":   {"127.0.0.1"},
			"X-Forwarded-Host":  {c.host},
			"X-Forwarded-Proto": {"https"},
		}
		if c.prefix != "" {
			want.Set("X-Forwarded-Prefix", c.prefix)
		}
		got := http.Header{}
		for k, v := range e.Header {
			if k == "Forwarded" || strings.HasPrefix(k, "X-Forwarded-") {
				got[k] = v
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: forwarding headers %v, want %v", c.mode, got, want)
		}
	}
}

func TestRouting(t *testing.T) {
	env := newRelay(t, relay.Config{HomeDomain: "homes.test"})
	startHome(t, env, "villa", echoHandler)
	guest := env.guest(t)
	guest.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	resp, err := guest.Get(env.url("villa", "?q=1"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/homes/villa/?q=1" {
		t.Errorf("GET /homes/villa: %d to %q, want 308 to /homes/villa/?q=1", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Per-home host name: the path is the gateway's own.
	req, _ := http.NewRequest("GET", env.ts.URL+"/things", nil)
	req.Host = "Villa.homes.test"
	if e := getEcho(t, guest, req); e.Path != "/things" || e.Header.Get("X-Forwarded-Prefix") != "" {
		t.Errorf("host routing: path %q prefix %q", e.Path, e.Header.Get("X-Forwarded-Prefix"))
	}

	for _, path := range []string{"/", "/homes/", "/homes/Bad_Name/x", "/elsewhere"} {
		resp, err := guest.Get(env.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// TestMalformedHomePathRefused: an escaped slash right after the home
// name would reach the gateway as a request line without its leading
// slash; the relay answers 400 instead.
func TestMalformedHomePathRefused(t *testing.T) {
	env := newRelay(t, relay.Config{})
	startHome(t, env, "villa", echoHandler)
	guest := env.guest(t)
	for _, p := range []string{"/homes/villa%2Fthings", "/homes/villa%2F", "/homes/vill%61/things"} {
		before := env.srv.Metrics().StreamsTotal
		resp, err := guest.Get(env.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d, want 400", p, resp.StatusCode)
		}
		if n := env.srv.Metrics().StreamsTotal - before; n != 0 {
			t.Errorf("GET %s: forwarded to the home (%d streams)", p, n)
		}
	}
	// An escaped slash further on is the gateway's business.
	req, _ := http.NewRequest("GET", env.url("villa", "/things/a%2Fb"), nil)
	if e := getEcho(t, guest, req); e.RawPath != "/things/a%2Fb" {
		t.Errorf("escaped slash in the rest: gateway got raw path %q", e.RawPath)
	}
}

func TestOfflineAndUnknownHomesLookAlike(t *testing.T) {
	env := newRelay(t, relay.Config{})
	_, key, _ := ed25519.GenerateKey(nil)
	env.reg.Register("registered", key.Public().(ed25519.PublicKey))
	guest := env.guest(t)
	var bodies []string
	for _, home := range []string{"registered", "unknown"} {
		resp, err := guest.Get(env.url(home, "/"))
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("%s: status %d, want 502", home, resp.StatusCode)
		}
		bodies = append(bodies, body(t, resp))
	}
	if bodies[0] != bodies[1] {
		t.Errorf("offline and unknown homes answer differently: %q vs %q", bodies[0], bodies[1])
	}
}

func TestWebSocketThroughRelay(t *testing.T) {
	env := newRelay(t, relay.Config{})
	up := websocket.Upgrader{}
	startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
			if err := ws.WriteMessage(typ, append([]byte("echo:"), msg...)); err != nil {
				return
			}
		}
	}))

	d := websocket.Dialer{TLSClientConfig: env.roots()}
	ws, resp, err := d.Dial(strings.Replace(env.url("villa", "/things/lamp/ws"), "https", "wss", 1), nil)
	if err != nil {
		t.Fatalf("dial through relay: %v (%v)", err, resp)
	}
	defer ws.Close()
	for i := range 200 {
		msg := fmt.Sprintf("message %d %s", i, strings.Repeat("x", i*50))
		if err := ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, got, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "echo:"+msg {
			t.Fatalf("message %d: got %.40q", i, got)
		}
	}
	if m := env.srv.Metrics(); m.Streams != 1 {
		t.Errorf("open WebSocket counts %d streams, want 1", m.Streams)
	}
	ws.Close()
	waitFor(t, "WebSocket stream to close", func() bool { return env.srv.Metrics().Streams == 0 })
}

// sseHandler sends an event every 10 ms until the client goes away, and
// reports that on gone.
func sseHandler(gone chan<- struct{}) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, "data: %d\n\n", i); err != nil {
				break
			}
			if rc.Flush() != nil {
				break
			}
			select {
			case <-r.Context().Done():
				if gone != nil {
					gone <- struct{}{}
				}
				return
			case <-t.C:
			}
		}
		if gone != nil {
			gone <- struct{}{}
		}
	})
}

func TestSSEStreamsPromptly(t *testing.T) {
	env := newRelay(t, relay.Config{})
	gone := make(chan struct{}, 1)
	startHome(t, env, "villa", sseHandler(gone))
	resp, err := env.guest(t).Get(env.url("villa", "/events"))
	if err != nil {
		t.Fatal(err)
	}
	// The stream never ends: reading events at all shows every one is
	// flushed through the relay as it comes.
	sc := bufio.NewScanner(resp.Body)
	for want := 0; want < 3; {
		if !sc.Scan() {
			t.Fatalf("stream ended: %v", sc.Err())
		}
		if line := sc.Text(); line != "" {
			if line != fmt.Sprintf("data: %d", want) {
				t.Fatalf("got %q, want event %d", line, want)
			}
			want++
		}
	}
	resp.Body.Close()
	select {
	case <-gone: // the guest leaving reached the home's handler
	case <-time.After(10 * time.Second):
		t.Fatal("home handler still streaming after the guest left")
	}
}

func TestCutAndRestoreMidStream(t *testing.T) {
	env := newRelay(t, relay.Config{})
	proxy := newFlakyProxy(t, env.ts.Listener.Addr().String())
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.Handle("/events", sseHandler(nil))
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.Handle("/", echoHandler)
	th := startHome(t, env, "villa", mux, func(c *relay.ClientConfig) { c.URL = "https://" + proxy.addr() })
	guest := env.guest(t)

	sse, err := guest.Get(env.url("villa", "/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer sse.Body.Close()
	br := bufio.NewReader(sse.Body)
	if _, err := br.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	slow := make(chan *http.Response, 1)
	go func() {
		resp, err := guest.Get(env.url("villa", "/slow"))
		if err != nil {
			t.Errorf("slow request: %v", err)
			close(slow)
			return
		}
		slow <- resp
	}()
	waitFor(t, "both streams open", func() bool { return env.srv.Metrics().Streams == 2 })

	proxy.cut()

	// The stream in flight fails: an error, not a clean end of stream.
	_, err = io.Copy(io.Discard, br)
	if err == nil {
		t.Error("SSE stream ended cleanly when the home's link was cut; want an error")
	}
	if resp := recv(t, slow, "slow request"); resp != nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadGateway {
			t.Errorf("request in flight: status %d, want 502", resp.StatusCode)
		}
	}
	waitFor(t, "relay to drop the home", func() bool { return !env.srv.Connected("villa") })
	if err := <-th.lost; err == nil {
		t.Error("OnDisconnect(nil), want the reason")
	}
	resp, err := guest.Get(env.url("villa", "/"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("while cut: status %d, want 502", resp.StatusCode)
	}

	proxy.restore()
	waitFor(t, "gateway to reconnect", func() bool { return env.srv.Connected("villa") })
	req, _ := http.NewRequest("GET", env.url("villa", "/after"), nil)
	if e := getEcho(t, guest, req); e.Path != "/after" {
		t.Errorf("after reconnect: path %q", e.Path)
	}
	if m := th.c.Metrics(); m.Connects < 2 || !m.Connected {
		t.Errorf("client Metrics = %+v, want connected after a reconnect", m)
	}
	close(release)
}

func TestHeartbeatDetectsDeadLink(t *testing.T) {
	env := newRelay(t, relay.Config{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 300 * time.Millisecond})
	proxy := newFlakyProxy(t, env.ts.Listener.Addr().String())
	th := startHome(t, env, "villa", echoHandler, func(c *relay.ClientConfig) {
		c.URL = "https://" + proxy.addr()
		c.HeartbeatInterval = 50 * time.Millisecond
		c.HeartbeatTimeout = 300 * time.Millisecond
	})
	other := startHome(t, env, "chalet", echoHandler)
	guest := env.guest(t)

	proxy.freeze() // a dead link: nothing flows, nothing closes
	frozeAt := time.Now()
	// Requests to the frozen home wait; another home is unaffected.
	req, _ := http.NewRequest("GET", env.url("chalet", "/ok"), nil)
	if e := getEcho(t, guest, req); e.Path != "/ok" {
		t.Errorf("other home: path %q", e.Path)
	}
	select {
	case err := <-th.lost:
		if !errors.Is(err, relay.ErrHeartbeatTimeout) {
			t.Errorf("gateway lost its link with %v, want ErrHeartbeatTimeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway did not notice its dead link")
	}
	waitFor(t, "relay to drop the dead home", func() bool { return !env.srv.Connected("villa") })
	t.Logf("dead link detected by both sides %v after the freeze (timeout 300ms)", time.Since(frozeAt).Round(time.Millisecond))

	proxy.thaw()
	waitFor(t, "gateway to reconnect", func() bool { return env.srv.Connected("villa") })
	_ = other
}

func TestUnknownAndImpostorGatewaysRefused(t *testing.T) {
	env := newRelay(t, relay.Config{})
	legit := startHome(t, env, "villa", echoHandler)

	cases := []struct {
		name  string
		home  string
		setup func(*testHome)
	}{
		{"unknown home", "ghost", func(*testHome) {}},
		{"impostor key", "villa", func(*testHome) {}}, // a key of its own, never registered
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			th := newHome(t, env, c.home, http.NotFoundHandler())
			th.run(t)
			select {
			case err := <-th.runErr:
				th.runErr <- err
				if !errors.Is(err, relay.ErrUnauthorized) {
					t.Fatalf("Run = %v, want ErrUnauthorized", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("refused gateway still running")
			}
		})
	}
	if m := env.srv.Metrics(); m.Refused != 2 || m.Homes != 1 {
		t.Errorf("Metrics = %+v, want 2 refused and the legitimate home still connected", m)
	}
	req, _ := http.NewRequest("GET", env.url("villa", "/still-mine"), nil)
	if e := getEcho(t, env.guest(t), req); e.Path != "/still-mine" {
		t.Errorf("legitimate home displaced: %+v", e)
	}
	if m := legit.c.Metrics(); m.Connects != 1 {
		t.Errorf("legitimate home reconnected %d times", m.Connects)
	}
}

func TestKeyRevokedAtRelay(t *testing.T) {
	env := newRelay(t, relay.Config{})
	th := startHome(t, env, "villa", echoHandler)
	env.reg.Unregister("villa")
	if !env.srv.Disconnect("villa") {
		t.Fatal("Disconnect found no gateway")
	}
	select {
	case err := <-th.runErr:
		th.runErr <- err
		if !errors.Is(err, relay.ErrUnauthorized) {
			t.Fatalf("Run = %v, want ErrUnauthorized", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gateway with a revoked key still running")
	}
}

func TestSlowHomeDoesNotStallOthers(t *testing.T) {
	env := newRelay(t, relay.Config{})
	release := make(chan struct{})
	var entered sync.WaitGroup
	const stuck = 40
	entered.Add(stuck)
	startHome(t, env, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered.Done()
		<-release
		io.WriteString(w, "late")
	}))
	startHome(t, env, "fast", echoHandler)
	guest := env.guest(t)

	var wg sync.WaitGroup
	for range stuck {
		wg.Go(func() {
			resp, err := guest.Get(env.url("slow", "/"))
			if err != nil {
				t.Error(err)
				return
			}
			if got := body(t, resp); got != "late" {
				t.Errorf("slow home answered %d %q", resp.StatusCode, got)
			}
		})
	}
	// Every slow request is being served, and stuck. A request that
	// failed never enters the handler: wait boundedly, and report why.
	allIn := make(chan struct{})
	go func() { entered.Wait(); close(allIn) }()
	select {
	case <-allIn:
	case <-time.After(30 * time.Second):
		close(release)
		wg.Wait() // reports each failed slow request through t.Error
		t.Fatalf("not every slow request reached the home within 30 s")
	}
	for i := range 50 {
		req, _ := http.NewRequest("GET", env.url("fast", fmt.Sprintf("/%d", i)), nil)
		if e := getEcho(t, guest, req); e.Path != fmt.Sprintf("/%d", i) {
			t.Fatalf("fast home: path %q", e.Path)
		}
	}
	close(release)
	wg.Wait()
}

func TestLimits(t *testing.T) {
	t.Run("streams per home", func(t *testing.T) {
		env := newRelay(t, relay.Config{MaxStreamsPerHome: 2})
		release := make(chan struct{})
		startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		guest := env.guest(t)
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if resp, err := guest.Get(env.url("villa", "/")); err == nil {
					resp.Body.Close()
				}
			})
		}
		waitFor(t, "two streams", func() bool { return env.srv.Metrics().Streams == 2 })
		resp, err := guest.Get(env.url("villa", "/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("third stream: %d, want 429 with Retry-After", resp.StatusCode)
		}
		close(release)
		wg.Wait()
	})
	t.Run("streams per relay", func(t *testing.T) {
		env := newRelay(t, relay.Config{MaxStreams: 1})
		release := make(chan struct{})
		startHome(t, env, "a", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
		startHome(t, env, "b", echoHandler)
		guest := env.guest(t)
		done := make(chan struct{})
		go func() {
			if resp, err := guest.Get(env.url("a", "/")); err == nil {
				resp.Body.Close()
			}
			close(done)
		}()
		waitFor(t, "one stream", func() bool { return env.srv.Metrics().Streams == 1 })
		resp, err := guest.Get(env.url("b", "/"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("over the relay's stream limit: %d, want 503", resp.StatusCode)
		}
		close(release)
		recv(t, done, "request to a")
	})
	t.Run("request body", func(t *testing.T) {
		env := newRelay(t, relay.Config{MaxRequestBody: 1000})
		startHome(t, env, "villa", echoHandler)
		guest := env.guest(t)
		big := strings.Repeat("x", 5000)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = strings.NewReader(big)
			if chunked {
				r = io.MultiReader(r) // unknown length
			}
			resp, err := guest.Post(env.url("villa", "/"), "text/plain", r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("chunked=%v: %d, want 413", chunked, resp.StatusCode)
			}
		}
		resp, err := guest.Post(env.url("villa", "/"), "text/plain", strings.NewReader(big[:1000]))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("body at the limit: %d, want 200", resp.StatusCode)
		}
	})
	t.Run("homes per relay", func(t *testing.T) {
		env := newRelay(t, relay.Config{MaxHomes: 1})
		startHome(t, env, "first", echoHandler)
		th := newHome(t, env, "second", echoHandler)
		env.reg.Register("second", th.key.Public().(ed25519.PublicKey))
		th.run(t)
		select {
		case err := <-th.lost:
			if !errors.Is(err, relay.ErrRefused) {
				t.Errorf("second home: %v, want ErrRefused", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("second home neither connected nor refused")
		}
		if env.srv.Connected("second") {
			t.Error("relay holds more homes than MaxHomes")
		}
	})
	t.Run("bandwidth per home", func(t *testing.T) {
		const rate = 1 << 20
		payload := strings.Repeat("x", 3<<19) // 1.5 MiB
		env := newRelay(t, relay.Config{HomeBandwidth: rate})
		startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, payload)
		}))
		start := time.Now()
		resp, err := env.guest(t).Get(env.url("villa", "/"))
		if err != nil {
			t.Fatal(err)
		}
		if got := body(t, resp); len(got) != len(payload) {
			t.Fatalf("got %d bytes", len(got))
		}
		// A lower bound cannot flake on a slow machine: the limiter's
		// bucket holds at most 0.1 s of traffic.
		if d := time.Since(start); d < 1300*time.Millisecond {
			t.Errorf("1.5 MiB at 1 MiB/s took %v", d)
		}
	})
}

// TestShutdownIsGraceful shows both sides finishing a request in flight
// before they close.
func TestShutdownIsGraceful(t *testing.T) {
	t.Run("relay", func(t *testing.T) {
		env := newRelay(t, relay.Config{})
		release := make(chan struct{})
		startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, "finished")
		}))
		guest := env.guest(t)
		got := make(chan string, 1)
		go func() {
			resp, err := guest.Get(env.url("villa", "/"))
			if err != nil {
				got <- err.Error()
				return
			}
			got <- body(t, resp)
		}()
		waitFor(t, "request in flight", func() bool { return env.srv.Metrics().Streams == 1 })
		shut := make(chan error, 1)
		go func() { shut <- env.srv.Shutdown(context.Background()) }()
		waitFor(t, "relay draining", func() bool {
			resp, err := guest.Get(env.url("villa", "/"))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusServiceUnavailable
		})
		close(release)
		if g := recv(t, got, "request in flight"); g != "finished" {
			t.Errorf("request in flight got %q", g)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if env.srv.Connected("villa") {
			t.Error("gateway still connected after Shutdown")
		}
	})
	t.Run("gateway", func(t *testing.T) {
		env := newRelay(t, relay.Config{})
		release := make(chan struct{})
		th := startHome(t, env, "villa", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-release
			io.WriteString(w, "finished")
		}))
		guest := env.guest(t)
		got := make(chan string, 1)
		go func() {
			resp, err := guest.Get(env.url("villa", "/"))
			if err != nil {
				got <- err.Error()
				return
			}
			got <- body(t, resp)
		}()
		waitFor(t, "request in flight", func() bool { return th.c.Metrics().Streams == 1 })
		shut := make(chan error, 1)
		go func() { shut <- th.c.Shutdown(context.Background()) }()
		time.Sleep(20 * time.Millisecond)
		close(release)
		if g := recv(t, got, "request in flight"); g != "finished" {
			t.Errorf("request in flight got %q", g)
		}
		if err := recv(t, shut, "Shutdown"); err != nil {
			t.Errorf("Shutdown = %v", err)
		}
		if err := recv(t, th.runErr, "Run to return"); !errors.Is(err, relay.ErrClosed) {
			t.Errorf("Run = %v, want ErrClosed", err)
		}
		th.runErr <- relay.ErrClosed
		waitFor(t, "relay to see the gateway go", func() bool { return !env.srv.Connected("villa") })
	})
}

func TestCloseUnblocksEverything(t *testing.T) {
	env := newRelay(t, relay.Config{})
	startHome(t, env, "villa", sseHandler(nil))
	resp, err := env.guest(t).Get(env.url("villa", "/events"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// A would-be gateway stuck mid-login must not hold Close either.
	d := websocket.Dialer{TLSClientConfig: env.roots(), Subprotocols: []string{"hearth-relay.v1"}}
	ws, _, err := d.Dial(strings.Replace(env.ts.URL, "https", "wss", 1)+relay.ConnectPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	done := make(chan struct{})
	go func() { env.srv.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close blocked")
	}
	if _, err := io.Copy(io.Discard, resp.Body); err == nil {
		t.Error("stream survived Close")
	}
}
