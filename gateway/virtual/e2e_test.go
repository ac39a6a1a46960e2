package virtual_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// End-to-end: a virtual home served by a gateway.Server over real HTTP and
// SSE (httptest), with real time (the gateway's network I/O cannot run in
// a synctest bubble), so the devices used are fast ones.

type home struct {
	t       *testing.T
	url     string
	adapter *virtual.Adapter
	door    *virtual.ContactSensor
}

func serveHome(t *testing.T) *home {
	t.Helper()
	a := virtual.New(virtual.Config{PollInterval: 20 * time.Millisecond, PairingDelay: 50 * time.Millisecond})
	t.Cleanup(func() { a.Close() })
	if err := a.Add(virtual.NewHome(7, nil)...); err != nil {
		t.Fatal(err)
	}
	door := virtual.NewContactSensor("urn:test:door", "Test door", virtual.ContactSensorOptions{})
	washer := virtual.NewWashingMachine("urn:test:washer", "Test washer", virtual.WashingMachineOptions{
		Programs: []virtual.Program{{Name: "demo", Duration: 150 * time.Millisecond, Temperature: 40}},
	})
	if err := a.Add(door, washer); err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(gateway.Config{Authorizer: gateway.InsecureAllowAll()})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAdapter(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return &home{t: t, url: hs.URL, adapter: a, door: door}
}

// do sends a request and returns the status and body.
func (h *home) do(method, path, body string) (int, string) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(h.t.Context(), method, h.url+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func thingURL(id string) string { return "/things/" + url.PathEscape(id) }

// sse opens an event stream and returns a channel of its data lines
// ("event: x" lines are prefixed to the data as "x=").
func (h *home) sse(path string) <-chan string {
	h.t.Helper()
	ctx, cancel := context.WithCancel(h.t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.url+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	out := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ") + "="
			case strings.HasPrefix(line, "data: "):
				out <- event + strings.TrimPrefix(line, "data: ")
				event = ""
			}
		}
	}()
	h.t.Cleanup(func() {
		cancel()
		resp.Body.Close()
		<-done
	})
	return out
}

func next(t *testing.T, ch <-chan string, want func(string) bool) string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatal("stream ended")
			}
			if want(s) {
				return s
			}
		case <-timeout:
			t.Fatal("timed out waiting for a stream message")
		}
	}
}

func TestGatewayServesAVirtualHome(t *testing.T) {
	h := serveHome(t)
	// The directory lists every device with a TD carrying the gateway's
	// forms.
	code, body := h.do("GET", "/things", "")
	if code != http.StatusOK {
		t.Fatalf("GET /things: %d %s", code, body)
	}
	var tds []json.RawMessage
	if err := json.Unmarshal([]byte(body), &tds); err != nil || len(tds) != 10 {
		t.Fatalf("listing of %d things: %v", len(tds), err)
	}
	light := virtual.HomeIDPrefix + "living-room-light"
	code, body = h.do("GET", thingURL(light), "")
	td, err := thing.Parse([]byte(body))
	if code != http.StatusOK || err != nil {
		t.Fatalf("light TD: %d %v", code, err)
	}
	if !slices.Contains(td.Type.Values, "Light") || td.Properties["brightness"].FormFor(thing.OpWriteProperty) == nil {
		t.Errorf("served TD: %s", body)
	}

	// Properties: read, write, and writes the schema refuses.
	for _, step := range []struct {
		method, path, body string
		code               int
		want               string
	}{
		{"GET", thingURL(light) + "/properties/on", "", 200, "false"},
		{"PUT", thingURL(light) + "/properties/on", "true", 204, ""},
		{"GET", thingURL(light) + "/properties/on", "", 200, "true"},
		{"PUT", thingURL(light) + "/properties/brightness", "150", 400, ""},
		{"PUT", thingURL(light) + "/properties/brightness", `"dim"`, 400, ""},
		{"PUT", thingURL(light) + "/properties/brightness", "35", 204, ""},
		{"GET", thingURL(light) + "/properties/brightness", "", 200, "35"},
		{"PUT", thingURL("urn:test:door") + "/properties/open", "true", 0, ""}, // read-only: refused
		{"GET", thingURL(virtual.HomeIDPrefix+"thermostat") + "/properties/targetTemperature", "", 200, "21"},
		{"GET", thingURL("urn:test:nothing") + "/properties/on", "", 404, ""},
		{"POST", thingURL(light) + "/actions/toggle", "", 204, ""},
		{"GET", thingURL(light) + "/properties/on", "", 200, "false"},
	} {
		code, body := h.do(step.method, step.path, step.body)
		if step.code == 0 {
			if code < 400 || code >= 500 {
				t.Errorf("%s %s %s: %d, want a 4xx refusal", step.method, step.path, step.body, code)
			}
			continue
		}
		if code != step.code || (step.want != "" && body != step.want) {
			t.Errorf("%s %s %s: %d %s, want %d %s", step.method, step.path, step.body, code, body, step.code, step.want)
		}
	}
	if v, _ := h.adapter.ReadProperty(t.Context(), light, "brightness"); v != 35 {
		t.Errorf("the device's brightness is %v", v)
	}
}

func TestGatewayStreamsVirtualChanges(t *testing.T) {
	h := serveHome(t)
	// A change made on the device itself reaches an observer over SSE (the
	// stream is registered before its response headers are sent).
	open := h.sse(thingURL("urn:test:door") + "/properties/open/observable")
	h.door.SetOpen(true)
	next(t, open, func(s string) bool { return s == "true" })

	// The washing machine: start (asynchronous, 201 + Location), its done
	// event over SSE, and the completed status with the output.
	done := h.sse(thingURL("urn:test:washer") + "/events/done")
	code, body := h.do("POST", thingURL("urn:test:washer")+"/actions/start", `{"program":"demo"}`)
	if code != http.StatusCreated {
		t.Fatalf("start: %d %s", code, body)
	}
	var st struct{ Href, Status string }
	json.Unmarshal([]byte(body), &st)
	ev := next(t, done, func(string) bool { return true })
	if !strings.Contains(ev, `"program":"demo"`) || !strings.Contains(ev, `"energy"`) {
		t.Errorf("done event %s", ev)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body = h.do("GET", "/"+strings.TrimPrefix(st.Href, "/"), "")
		if strings.Contains(body, `"completed"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code != http.StatusOK || !strings.Contains(body, `"completed"`) || !strings.Contains(body, `"program":"demo"`) {
		t.Errorf("action status %d %s", code, body)
	}

	// Cancelling a running wash stops the device.
	code, body = h.do("POST", thingURL("urn:test:washer")+"/actions/start", `{"program":"demo"}`)
	json.Unmarshal([]byte(body), &st)
	if code, _ := h.do("DELETE", "/"+strings.TrimPrefix(st.Href, "/"), ""); code >= 300 {
		t.Errorf("cancel: %d", code)
	}
	d, _ := h.adapter.Device("urn:test:washer")
	deadline = time.Now().Add(5 * time.Second)
	for d.(*virtual.WashingMachine).State() != virtual.WasherIdle && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s := d.(*virtual.WashingMachine).State(); s != virtual.WasherIdle {
		t.Errorf("washer after cancel: %s", s)
	}
}

func TestGatewayFollowsDevicesAddedAtRunTime(t *testing.T) {
	h := serveHome(t)
	lamp := virtual.NewLight("urn:test:new-lamp", "New lamp")
	if err := h.adapter.Add(lamp); err != nil {
		t.Fatal(err)
	}
	eventually := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out: %s", what)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	eventually("the new lamp to be served", func() bool {
		code, _ := h.do("GET", thingURL("urn:test:new-lamp")+"/properties/on", "")
		return code == http.StatusOK
	})
	if err := h.adapter.RemoveThing(t.Context(), "urn:test:new-lamp"); err != nil {
		t.Fatal(err)
	}
	eventually("the lamp to go", func() bool {
		code, _ := h.do("GET", thingURL("urn:test:new-lamp"), "")
		return code == http.StatusNotFound
	})
	// Pairing through the gateway finds a new virtual device.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if _, ok := h.adapter.Device("urn:hearth:virtual:1"); ok {
		t.Fatal("paired device before pairing")
	}
	h.adapter.StartPairing(ctx)
	eventually("the paired device to be served", func() bool {
		code, _ := h.do("GET", thingURL("urn:hearth:virtual:1"), "")
		return code == http.StatusOK
	})
}
