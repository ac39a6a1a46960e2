package webthing_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/webthing"
	"github.com/hearth-wot/hearth/thing"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fastConfig reconnects quickly, for tests.
func fastConfig() webthing.Config {
	return webthing.Config{
		Timeout:            2 * time.Second,
		MinBackoff:         10 * time.Millisecond,
		MaxBackoff:         50 * time.Millisecond,
		ActionPollInterval: 5 * time.Millisecond,
	}
}

func newAdapter(t *testing.T, cfg webthing.Config) *webthing.Adapter {
	t.Helper()
	a := webthing.New(cfg)
	t.Cleanup(func() { a.Close() })
	return a
}

// record is one call to a recordingSink.
type record struct {
	kind, thingID, name string
	value               any
}

type recordingSink struct {
	mu      sync.Mutex
	records []record
}

func (s *recordingSink) add(r record) { s.mu.Lock(); s.records = append(s.records, r); s.mu.Unlock() }
func (s *recordingSink) PropertyChanged(id, name string, v any) {
	s.add(record{"property", id, name, v})
}
func (s *recordingSink) Event(id, name string, v any) { s.add(record{"event", id, name, v}) }
func (s *recordingSink) ThingAdded(td *thing.Description) {
	s.add(record{"added", td.ID, "", td.Title})
}
func (s *recordingSink) ThingRemoved(id string) { s.add(record{"removed", id, "", nil}) }

// waitFor waits until the sink has a record r matching want.
func (s *recordingSink) waitFor(t *testing.T, want record) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		found := slices.ContainsFunc(s.records, func(r record) bool {
			return r.kind == want.kind && r.thingID == want.thingID && r.name == want.name && fmt.Sprint(r.value) == fmt.Sprint(want.value)
		})
		s.mu.Unlock()
		if found {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("sink never got %v; got %v", want, s.records)
}

// subscribe runs a subscription until the test ends.
func subscribe(t *testing.T, a *webthing.Adapter) *recordingSink {
	t.Helper()
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Subscribe(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, webthing.ErrClosed) {
			t.Errorf("Subscribe = %v", err)
		}
	})
	return sink
}

// eventually polls cond until it holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestLegacyDescription(t *testing.T) {
	srv := newLegacyServer(t, 0)
	a := newAdapter(t, fastConfig())
	tds, err := a.Add(t.Context(), webthing.Remote{URL: srv.URL + "/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(tds) != 1 {
		t.Fatalf("%d things", len(tds))
	}
	td := tds[0]
	if td.ID != "urn:dev:ops:my-lamp-1234" || td.Title != "My Lamp" || !slices.Equal(td.Type.Values, []string{"OnOffSwitch", "Light"}) {
		t.Errorf("td = %s %q %v", td.ID, td.Title, td.Type.Values)
	}
	b := td.Properties["brightness"]
	if b == nil || b.Type != "integer" || *b.Maximum != 100 || b.Unit != "percent" || b.AtType.Values[0] != "BrightnessProperty" || len(b.Forms) != 0 {
		t.Errorf("brightness = %+v", b)
	}
	if _, ok := b.Extensions["links"]; ok {
		t.Error("links kept in the local description")
	}
	if !td.Properties["temperature"].ReadOnly {
		t.Error("temperature not read-only")
	}
	if f := td.Actions["fade"]; f == nil || f.Input == nil || f.Input.Properties["duration"] == nil {
		t.Errorf("fade = %+v", f)
	}
	if e := td.Events["overheated"]; e == nil || e.Data == nil || e.Data.Type != "number" || e.Data.Unit != "degree celsius" {
		t.Errorf("overheated = %+v", e)
	}
	all, _ := a.Things(t.Context())
	if len(all) != 1 || all[0].ID != td.ID {
		t.Errorf("Things = %v", all)
	}
	all[0].Title = "changed"
	if again, _ := a.Things(t.Context()); again[0].Title != "My Lamp" {
		t.Error("Things returned the adapter's own copy")
	}
}

func TestLegacyProperties(t *testing.T) {
	srv := newLegacyServer(t, 0)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL, ID: "lamp", Token: "s3cret"}); err != nil {
		t.Fatal(err)
	}
	if v, err := a.ReadProperty(ctx, "lamp", "brightness"); err != nil || v != 50.0 {
		t.Fatalf("brightness = %v, %v", v, err)
	}
	if err := a.WriteProperty(ctx, "lamp", "on", true); err != nil {
		t.Fatal(err)
	}
	if v, err := a.ReadProperty(ctx, "lamp", "on"); err != nil || v != true {
		t.Errorf("on after write = %v, %v", v, err)
	}
	srv.things[0].mu.Lock()
	got := srv.things[0].auth[0]
	srv.things[0].mu.Unlock()
	if got != "Bearer s3cret" {
		t.Errorf("Authorization = %q", got)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"unknown thing", a.WriteProperty(ctx, "lamp2", "on", true), gateway.ErrNotFound},
		{"unknown property", func() error { _, err := a.ReadProperty(ctx, "lamp", "colour"); return err }(), gateway.ErrNotFound},
		{"read-only", a.WriteProperty(ctx, "lamp", "temperature", 3.0), gateway.ErrNotSupported},
		{"unknown action", func() error { _, err := a.InvokeAction(ctx, "lamp", "explode", nil); return err }(), gateway.ErrNotFound},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	// A remote failure is a *StatusError, not a gateway sentinel.
	srv.things[0].mu.Lock()
	srv.things[0].failNext = 1
	srv.things[0].mu.Unlock()
	_, err := a.ReadProperty(ctx, "lamp", "on")
	var se *webthing.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusInternalServerError || errors.Is(err, gateway.ErrNotFound) {
		t.Errorf("remote 500: %v", err)
	}
}

func TestLegacyActions(t *testing.T) {
	srv := newLegacyServer(t, 0)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	a.Add(ctx, webthing.Remote{URL: srv.URL, ID: "lamp"})
	out, err := a.InvokeAction(ctx, "lamp", "fade", map[string]any{"brightness": 80.0, "duration": 30.0})
	if err != nil || out != nil {
		t.Fatalf("fade = %v, %v", out, err)
	}
	if v, _ := a.ReadProperty(ctx, "lamp", "brightness"); v != 80.0 {
		t.Errorf("brightness after fade = %v", v)
	}
	// Giving up on a running action cancels it on the remote.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = a.InvokeAction(cctx, "lamp", "fade", map[string]any{"brightness": 10.0, "duration": 60000.0})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled fade = %v", err)
	}
	l := srv.things[0]
	l.mu.Lock()
	deleted := l.deleted
	l.mu.Unlock()
	if !slices.Equal(deleted, []string{"/actions/fade/2"}) {
		t.Errorf("deleted = %v", deleted)
	}
}

func TestLegacyWebSocket(t *testing.T) {
	srv := newLegacyServer(t, 0)
	a := newAdapter(t, fastConfig())
	a.Add(t.Context(), webthing.Remote{URL: srv.URL, ID: "lamp"})
	sink := subscribe(t, a)
	l := srv.things[0]
	eventually(t, "the event subscription", func() bool { return slices.Equal(l.subscriptions(), []string{"overheated"}) })
	l.set("brightness", 70.0)
	sink.waitFor(t, record{"property", "lamp", "brightness", 70.0})
	l.emit("overheated", 102.0)
	sink.waitFor(t, record{"event", "lamp", "overheated", 102.0})

	// Garbage, unknown names and unknown message types are ignored.
	l.sendRaw([]byte(`{not json`))
	l.sendRaw([]byte(`{"messageType":"propertyStatus","data":{"nope":1,"on":true}}`))
	l.sendRaw([]byte(`{"messageType":"brandNew","data":{}}`))
	l.sendRaw([]byte(`{"messageType":"error","data":{"status":"400 Bad Request","message":"x"}}`))
	sink.waitFor(t, record{"property", "lamp", "on", true})
	sink.mu.Lock()
	for _, r := range sink.records {
		if r.name == "nope" {
			t.Errorf("unknown property delivered: %v", r)
		}
	}
	sink.mu.Unlock()

	// The connection comes back after the remote drops it.
	l.drop()
	eventually(t, "a reconnection", func() bool { open, dials := l.connections(); return open == 1 && dials >= 2 })
	l.set("on", false)
	sink.waitFor(t, record{"property", "lamp", "on", false})
}

func TestLegacyMultipleThings(t *testing.T) {
	srv := newLegacyServer(t, 2)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	tds, err := a.Add(ctx, webthing.Remote{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if len(tds) != 2 || tds[0].ID != "urn:dev:ops:lamp-0" || tds[1].ID != "urn:dev:ops:lamp-1" {
		t.Fatalf("things %v", tds)
	}
	if err := a.WriteProperty(ctx, "urn:dev:ops:lamp-1", "on", true); err != nil {
		t.Fatal(err)
	}
	prop := func(l *legacyLamp, name string) any { l.mu.Lock(); defer l.mu.Unlock(); return l.props[name] }
	if prop(srv.things[1], "on") != true || prop(srv.things[0], "on") != false {
		t.Error("write went to the wrong thing")
	}
	sink := subscribe(t, a)
	eventually(t, "both WebSockets", func() bool {
		o0, _ := srv.things[0].connections()
		o1, _ := srv.things[1].connections()
		return o0 == 1 && o1 == 1
	})
	srv.things[0].emit("overheated", 99.0)
	sink.waitFor(t, record{"event", "urn:dev:ops:lamp-0", "overheated", 99.0})
	// An id can only be chosen for a single thing.
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL, ID: "x"}); err == nil {
		t.Error("Remote.ID accepted for two things")
	}
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL}); !errors.Is(err, webthing.ErrExists) {
		t.Errorf("adding twice: %v", err)
	}
}

func TestTDOperations(t *testing.T) {
	srv := newTDServer(t, false)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	tds, err := a.Add(ctx, webthing.Remote{URL: srv.URL + "/td"})
	if err != nil {
		t.Fatal(err)
	}
	if tds[0].ID != "urn:example:td-lamp" || tds[0].Base != "" || len(tds[0].Properties["on"].Forms) != 0 {
		t.Errorf("local description: id %q base %q forms %v", tds[0].ID, tds[0].Base, tds[0].Properties["on"].Forms)
	}
	id := tds[0].ID
	if v, err := a.ReadProperty(ctx, id, "brightness"); err != nil || v != 50.0 {
		t.Errorf("brightness = %v, %v", v, err)
	}
	if err := a.WriteProperty(ctx, id, "brightness", 75.0); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.ReadProperty(ctx, id, "brightness"); v != 75.0 {
		t.Errorf("brightness after write = %v", v)
	}
	if err := a.WriteProperty(ctx, id, "temperature", 1.0); !errors.Is(err, gateway.ErrNotSupported) {
		t.Errorf("writing a read-only property: %v", err)
	}
	// A synchronous action (with htv:methodName PUT).
	if out, err := a.InvokeAction(ctx, id, "add", []any{1.0, 2.5}); err != nil || out != 3.5 {
		t.Errorf("add = %v, %v", out, err)
	}
	// An asynchronous one, polled to completion.
	out, err := a.InvokeAction(ctx, id, "fade", map[string]any{"brightness": 10.0, "duration": 20.0})
	if err != nil || fmt.Sprint(out) != "map[brightness:10]" {
		t.Errorf("fade = %v, %v", out, err)
	}
	// A failing one.
	_, err = a.InvokeAction(ctx, id, "fade", map[string]any{"fail": true, "duration": 5.0})
	if !errors.Is(err, webthing.ErrActionFailed) {
		t.Errorf("failing fade = %v", err)
	}
	// Cancelled by the caller: cancelled on the remote too.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel()
	if _, err := a.InvokeAction(cctx, id, "fade", map[string]any{"duration": 60000.0}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled fade = %v", err)
	}
	srv.mu.Lock()
	deleted := srv.deleted
	srv.mu.Unlock()
	if len(deleted) != 1 {
		t.Errorf("deleted %v", deleted)
	}
	if _, err := a.ReadProperty(ctx, id, "missing"); !errors.Is(err, gateway.ErrNotFound) {
		t.Errorf("missing property: %v", err)
	}
}

func TestTDObservation(t *testing.T) {
	for _, allForms := range []bool{false, true} {
		t.Run(fmt.Sprintf("thing-level=%v", allForms), func(t *testing.T) {
			srv := newTDServer(t, allForms)
			a := newAdapter(t, fastConfig())
			a.Add(t.Context(), webthing.Remote{URL: srv.URL + "/td", ID: "lamp"})
			sink := subscribe(t, a)
			want := 4 // on, brightness, temperature, overheated
			if allForms {
				want = 2
			}
			eventually(t, "the event streams", func() bool { open, _ := srv.openStreams(); return open == want })
			srv.set("on", true)
			sink.waitFor(t, record{"property", "lamp", "on", true})
			srv.emit("overheated", 101.0)
			sink.waitFor(t, record{"event", "lamp", "overheated", 101.0})
			// Streams the remote ends are reopened.
			srv.closeStreams()
			eventually(t, "reopened streams", func() bool { open, opened := srv.openStreams(); return open == want && opened >= 2*want })
			srv.set("brightness", 5.0)
			sink.waitFor(t, record{"property", "lamp", "brightness", 5.0})
		})
	}
}

func TestSubscriptionFollowsAddAndRemove(t *testing.T) {
	legacy := newLegacyServer(t, 0)
	a := newAdapter(t, fastConfig())
	sink := subscribe(t, a)
	if _, err := a.Add(t.Context(), webthing.Remote{URL: legacy.URL, ID: "lamp"}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, record{"added", "lamp", "", "My Lamp"})
	l := legacy.things[0]
	eventually(t, "a WebSocket", func() bool { open, _ := l.connections(); return open == 1 })
	if err := a.RemoveThing(t.Context(), "lamp"); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, record{"removed", "lamp", "", nil})
	eventually(t, "the WebSocket to close", func() bool { open, _ := l.connections(); return open == 0 })
	if err := a.RemoveThing(t.Context(), "lamp"); !errors.Is(err, gateway.ErrNotFound) {
		t.Errorf("second removal: %v", err)
	}
}

func TestLimitsAndTimeouts(t *testing.T) {
	var mu sync.Mutex
	mode := ""
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		m := mode
		mu.Unlock()
		switch m {
		case "huge":
			w.Write([]byte(`{"title":"` + strings.Repeat("x", 4096) + `"}`))
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		case "garbage":
			w.Write([]byte(`{"title": [`))
		case "notitle":
			w.Write([]byte(`{"properties": {}}`))
		}
	}))
	defer srv.Close()
	cfg := fastConfig()
	cfg.MaxBodyBytes = 1024
	cfg.Timeout = 100 * time.Millisecond
	a := newAdapter(t, cfg)
	for _, tc := range []struct {
		mode string
		want error
	}{
		{"huge", webthing.ErrTooLarge},
		{"slow", context.DeadlineExceeded},
		{"garbage", webthing.ErrProtocol},
		{"notitle", webthing.ErrProtocol},
	} {
		mu.Lock()
		mode = tc.mode
		mu.Unlock()
		if _, err := a.Add(t.Context(), webthing.Remote{URL: srv.URL}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.mode, err, tc.want)
		}
	}
	if _, err := a.Add(t.Context(), webthing.Remote{URL: "ftp://example.com/"}); err == nil {
		t.Error("ftp URL accepted")
	}
	if tds, _ := a.Things(t.Context()); len(tds) != 0 {
		t.Errorf("failed adds left things: %v", tds)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	srv := newLegacyServer(t, 0)
	a := webthing.New(fastConfig())
	a.Add(t.Context(), webthing.Remote{URL: srv.URL, ID: "lamp"})
	done := make(chan error, 1)
	go func() { done <- a.Subscribe(context.Background(), &recordingSink{}) }()
	action := make(chan error, 1)
	go func() {
		_, err := a.InvokeAction(context.Background(), "lamp", "fade", map[string]any{"brightness": 1.0, "duration": 60000.0})
		action <- err
	}()
	l := srv.things[0]
	eventually(t, "a WebSocket", func() bool { open, _ := l.connections(); return open == 1 })
	eventually(t, "an action", func() bool { l.mu.Lock(); defer l.mu.Unlock(); return len(l.inputs) == 1 })
	a.Close()
	if err := <-done; !errors.Is(err, webthing.ErrClosed) {
		t.Errorf("Subscribe after Close = %v", err)
	}
	if err := <-action; !errors.Is(err, context.Canceled) {
		t.Errorf("action after Close = %v", err)
	}
	if _, err := a.ReadProperty(t.Context(), "lamp", "on"); !errors.Is(err, webthing.ErrClosed) {
		t.Errorf("read after Close = %v", err)
	}
}

func TestTokenRedacts(t *testing.T) {
	tok := webthing.Token("s3cret")
	var b strings.Builder
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "token", tok)
	if s := fmt.Sprint(tok) + b.String(); strings.Contains(s, "s3cret") {
		t.Errorf("token leaked: %s", s)
	}
}

func TestForeignHostsRefused(t *testing.T) {
	var doc string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(doc))
	}))
	defer srv.Close()
	a := newAdapter(t, fastConfig())
	ctx := t.Context()

	// A WebThings description whose property lives on another host.
	doc = `{"id":"urn:x","title":"X","properties":{"on":{"type":"boolean",
		"links":[{"rel":"property","href":"http://192.0.2.1/properties/on"}]}}}`
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL}); !errors.Is(err, webthing.ErrForeignHost) {
		t.Errorf("foreign property link: %v", err)
	}
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL, AnyHost: true}); err != nil {
		t.Errorf("foreign property link with AnyHost: %v", err)
	}
	// A W3C TD whose base is another host: its forms are refused at use.
	doc = `{"@context":"https://www.w3.org/2022/wot/td/v1.1","id":"urn:y","title":"Y","base":"http://192.0.2.1/",
		"securityDefinitions":{"n":{"scheme":"nosec"}},"security":"n",
		"properties":{"on":{"type":"boolean","forms":[{"href":"on"}]}}}`
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadProperty(ctx, "urn:y", "on"); !errors.Is(err, webthing.ErrForeignHost) {
		t.Errorf("reading through a foreign base: %v", err)
	}
}

// TestRedirectsFollowTheHostRule: a redirect to another host is refused
// unless Remote.AnyHost allows it, and even then the bearer token does not
// follow it; a redirect on the same host keeps working, token included.
func TestRedirectsFollowTheHostRule(t *testing.T) {
	var mu sync.Mutex
	var otherHits, otherAuth []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		otherHits = append(otherHits, r.URL.Path)
		otherAuth = append(otherAuth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/td":
			w.Write([]byte(`{"id":"urn:elsewhere","title":"Elsewhere","properties":{}}`))
		default:
			w.Write([]byte(`{"on":true}`))
		}
	}))
	defer other.Close()
	var sameAuth string
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/td-elsewhere":
			http.Redirect(w, r, other.URL+"/td", http.StatusFound)
		case "/properties/on":
			http.Redirect(w, r, other.URL+"/properties/on", http.StatusTemporaryRedirect)
		case "/properties/moved":
			http.Redirect(w, r, "/properties/here", http.StatusFound)
		case "/properties/here":
			mu.Lock()
			sameAuth = r.Header.Get("Authorization")
			mu.Unlock()
			w.Write([]byte(`{"moved":false}`))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"urn:r","title":"R","properties":{
				"on":{"type":"boolean","links":[{"rel":"property","href":"/properties/on"}]},
				"moved":{"type":"boolean","links":[{"rel":"property","href":"/properties/moved"}]}}}`))
		}
	}))
	defer srv.Close()
	a := newAdapter(t, fastConfig())
	ctx := t.Context()

	// The description itself redirected elsewhere.
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL + "/td-elsewhere", Token: "secret"}); !errors.Is(err, webthing.ErrForeignHost) {
		t.Errorf("description redirected to another host: %v, want ErrForeignHost", err)
	}
	// A property redirected elsewhere.
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL, ID: "strict", Token: "secret"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadProperty(ctx, "strict", "on"); !errors.Is(err, webthing.ErrForeignHost) {
		t.Errorf("property redirected to another host: %v, want ErrForeignHost", err)
	}
	mu.Lock()
	if len(otherHits) != 0 {
		t.Errorf("the other host was reached: %v", otherHits)
	}
	mu.Unlock()
	// On the same host, redirects work and keep the token.
	if v, err := a.ReadProperty(ctx, "strict", "moved"); err != nil || v != false {
		t.Errorf("same-host redirect: %v, %v", v, err)
	}
	mu.Lock()
	if sameAuth != "Bearer secret" {
		t.Errorf("same-host redirect carried Authorization %q", sameAuth)
	}
	mu.Unlock()

	// AnyHost follows the redirect, without the token.
	if _, err := a.Add(ctx, webthing.Remote{URL: srv.URL, ID: "lax", Token: "secret", AnyHost: true}); err != nil {
		t.Fatal(err)
	}
	if v, err := a.ReadProperty(ctx, "lax", "on"); err != nil || v != true {
		t.Errorf("AnyHost redirect: %v, %v", v, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(otherHits) != 1 || otherAuth[0] != "" {
		t.Errorf("other host got %v with Authorization %q, want one request without", otherHits, otherAuth)
	}
}

// TestRedirectPolicyOfCallersClient: with a Client of the caller's, the
// host rule applies first, then the Client's own CheckRedirect; the
// caller's Client itself is left as it was.
func TestRedirectPolicyOfCallersClient(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"on":true}`))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/elsewhere":
			http.Redirect(w, r, other.URL+"/on", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/on", http.StatusFound)
		case "/on":
			w.Write([]byte(`{"on":true}`))
		default:
			w.Write([]byte(`{"id":"urn:r","title":"R","properties":{
				"on":{"type":"boolean","links":[{"rel":"property","href":"/here"}]},
				"off":{"type":"boolean","links":[{"rel":"property","href":"/elsewhere"}]}}}`))
		}
	}))
	defer srv.Close()
	errMine := errors.New("my policy")
	var asked int
	mine := func(*http.Request, []*http.Request) error { asked++; return errMine }
	client := &http.Client{CheckRedirect: mine}
	cfg := fastConfig()
	cfg.Client = client
	a := newAdapter(t, cfg)
	if _, err := a.Add(t.Context(), webthing.Remote{URL: srv.URL}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.ReadProperty(t.Context(), "urn:r", "on"); !errors.Is(err, errMine) || asked != 1 {
		t.Errorf("same-host redirect: %v (policy asked %d times), want the client's own policy", err, asked)
	}
	if _, err := a.ReadProperty(t.Context(), "urn:r", "off"); !errors.Is(err, webthing.ErrForeignHost) || asked != 1 {
		t.Errorf("foreign redirect: %v (policy asked %d times), want ErrForeignHost first", err, asked)
	}
	if reflect.ValueOf(client.CheckRedirect).Pointer() != reflect.ValueOf(mine).Pointer() {
		t.Error("the caller's Client was modified")
	}
}
