package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/thing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// lampTD is the test lamp: two observable writable properties, a read-only
// one, an asynchronous action with a required input, a synchronous action
// and an event.
func lampTD(id string) *thing.Description {
	return thing.New(id, "Lamp "+id).
		Type("Light").
		Property("on", thing.Boolean().Observable()).
		Property("brightness", thing.Integer().Range(0, 100).Observable()).
		Property("temperature", thing.Number().ReadOnly()).
		Action("fade", thing.NewAction().Input(thing.Object().
			Prop("brightness", thing.Integer().Range(0, 100)).
			Prop("duration", thing.Integer().Min(1)).
			Required("brightness", "duration"))).
		Action("toggle", thing.NewAction().Synchronous(true).Output(thing.Boolean())).
		Event("overheated", thing.NewEvent().Data(thing.Number())).
		Event("cooled", thing.NewEvent()).
		MustBuild()
}

// Tokens the test Authorizer knows.
const (
	tokFull      = "full-token"      // everything on lamp and lamp2
	tokLamp      = "lamp-token"      // everything on lamp only
	tokLamp2     = "lamp2-token"     // everything on lamp2 only
	tokRead      = "read-token"      // readproperty brightness on lamp only
	tokExpired   = "expired-token"   // expired
	tokNoScope   = "noscope-token"   // everything on lamp, no Scope in decisions
	tokRevocable = "revocable-token" // everything on lamp, grant "g-rev"
)

type harness struct {
	t    testing.TB
	ad   *gatewaytest.Adapter
	auth *gatewaytest.Authorizer
	gw   *gateway.Server
	ts   *httptest.Server
}

func newAuthorizer() *gatewaytest.Authorizer {
	a := gatewaytest.NewAuthorizer()
	all := func(id string) gatewaytest.Rule {
		return gatewaytest.Rule{ThingID: id, Op: gatewaytest.Any, Name: gatewaytest.Any}
	}
	a.Add(tokFull, gatewaytest.Grant{ID: "g-full", Subject: "guest", Rules: []gatewaytest.Rule{all("urn:test:lamp"), all("urn:test:lamp2")}})
	a.Add(tokLamp, gatewaytest.Grant{ID: "g-lamp", Subject: "guest", Rules: []gatewaytest.Rule{all("urn:test:lamp")}})
	a.Add(tokLamp2, gatewaytest.Grant{ID: "g-lamp2", Subject: "guest", Rules: []gatewaytest.Rule{all("urn:test:lamp2")}})
	a.Add(tokRead, gatewaytest.Grant{ID: "g-read", Subject: "guest", Rules: []gatewaytest.Rule{{ThingID: "urn:test:lamp", Op: thing.OpReadProperty, Name: "brightness"}}})
	a.Add(tokExpired, gatewaytest.Grant{ID: "g-exp", Expires: time.Now().Add(-time.Minute), Rules: []gatewaytest.Rule{all("urn:test:lamp")}})
	a.Add(tokNoScope, gatewaytest.Grant{ID: "g-noscope", NoScope: true, Rules: []gatewaytest.Rule{all("urn:test:lamp")}})
	a.Add(tokRevocable, gatewaytest.Grant{ID: "g-rev", Rules: []gatewaytest.Rule{all("urn:test:lamp")}})
	return a
}

// newHarness serves lamp and lamp2 from a gatewaytest.Adapter.
func newHarness(t testing.TB, cfg gateway.Config) *harness {
	t.Helper()
	h := &harness{t: t, ad: gatewaytest.NewAdapter(lampTD("urn:test:lamp"), lampTD("urn:test:lamp2"))}
	h.ad.Set("urn:test:lamp", "on", true)
	h.ad.Set("urn:test:lamp", "brightness", 50)
	h.ad.Set("urn:test:lamp", "temperature", 21.5)
	if cfg.Authorizer == nil {
		h.auth = newAuthorizer()
		cfg.Authorizer = h.auth
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gw = gw
	if err := gw.AddAdapter(t.Context(), h.ad); err != nil {
		t.Fatal(err)
	}
	h.ts = httptest.NewServer(gw)
	t.Cleanup(func() {
		gw.Close()
		h.ts.Close()
	})
	waitFor(t, func() bool { return h.ad.Subscribers() == 1 })
	return h
}

// do sends a request with token (none when "") and returns the status,
// headers and body.
func (h *harness) do(method, path, token, body string) (int, http.Header, []byte) {
	h.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.ts.URL+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// must is do that expects status want.
func (h *harness) must(want int, method, path, token, body string) []byte {
	h.t.Helper()
	code, _, b := h.do(method, path, token, body)
	if code != want {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, code, want, b)
	}
	return b
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// sse is an open SSE stream.
type sse struct {
	resp   *http.Response
	events chan sseEvent
	done   chan struct{}
}

type sseEvent struct{ name, data string }

// openSSE opens an SSE stream and checks it was accepted.
func (h *harness) openSSE(path, token string) *sse {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.ts.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := h.ts.Client().Do(req)
	if err != nil {
		cancel()
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		h.t.Fatalf("SSE %s: %d %s", path, resp.StatusCode, b)
	}
	s := &sse{resp: resp, events: make(chan sseEvent, 64), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer close(s.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.data != "" {
					s.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	h.t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-s.done
	})
	return s
}

// next waits for the next event.
func (s *sse) next(t *testing.T) sseEvent {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("SSE stream ended")
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no SSE event in 5s")
	}
	return sseEvent{}
}

// ended reports whether the stream ends within d.
func (s *sse) ended(d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case _, ok := <-s.events:
			if !ok {
				return true
			}
		case <-timeout:
			return false
		}
	}
}

// dialWS opens a WebThings WebSocket at path (an http path of the test
// server) with the token in the jwt query parameter.
func (h *harness) dialWS(path, token string) *websocket.Conn {
	h.t.Helper()
	c, resp, err := h.tryWS(path, token, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		h.t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) tryWS(path, token string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + path
	if token != "" {
		u += "?jwt=" + token
	}
	c, resp, err := websocket.DefaultDialer.DialContext(h.t.Context(), u, hdr)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	return c, resp, err
}

// wsMsg is a WebThings WebSocket message.
type wsMsg struct {
	MessageType string                     `json:"messageType"`
	Data        map[string]json.RawMessage `json:"data"`
}

func readWS(t *testing.T, c *websocket.Conn) wsMsg {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("reading WebSocket: %v", err)
	}
	return decode[wsMsg](t, b)
}

func sendWS(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

type jsonRaw = json.RawMessage

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
