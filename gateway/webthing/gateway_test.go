package webthing_test

import (
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/gateway/webthing"
)

// Interoperability with Hearth's own gateway: a gateway serving virtual
// devices is fronted by the webthing adapter, once through its W3C TDs
// (forms, SSE, asynchronous actions) and once through its WebThings API
// (wrapped bodies, action queue, WebSocket).

func serveVirtual(t *testing.T) (*httptest.Server, *virtual.Adapter, *virtual.ContactSensor) {
	t.Helper()
	va := virtual.New(virtual.Config{PollInterval: 20 * time.Millisecond})
	t.Cleanup(func() { va.Close() })
	door := virtual.NewContactSensor("urn:test:door", "Door", virtual.ContactSensorOptions{})
	va.Add(virtual.NewDimmableLight("urn:test:lamp", "Lamp"), door,
		virtual.NewWashingMachine("urn:test:washer", "Washer", virtual.WashingMachineOptions{
			Programs: []virtual.Program{{Name: "demo", Duration: 100 * time.Millisecond, Temperature: 30}},
		}))
	srv, err := gateway.New(gateway.Config{
		Authorizer: gateway.InsecureAllowAll(),
		WebThings:  gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/webthings"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddAdapter(t.Context(), va); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return hs, va, door
}

func TestFrontingHearthGatewayTDs(t *testing.T) {
	hs, va, door := serveVirtual(t)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	for _, id := range []string{"urn:test:lamp", "urn:test:door", "urn:test:washer"} {
		tds, err := a.Add(ctx, webthing.Remote{URL: hs.URL + "/things/" + url.PathEscape(id)})
		if err != nil {
			t.Fatal(err)
		}
		if tds[0].ID != id {
			t.Fatalf("fronted %q as %q", id, tds[0].ID)
		}
	}
	sink := subscribe(t, a)
	if err := a.WriteProperty(ctx, "urn:test:lamp", "brightness", 42.0); err != nil {
		t.Fatal(err)
	}
	if v, err := a.ReadProperty(ctx, "urn:test:lamp", "brightness"); err != nil || v != 42.0 {
		t.Errorf("brightness through two hops = %v, %v", v, err)
	}
	if v, _ := va.ReadProperty(ctx, "urn:test:lamp", "brightness"); v != 42 {
		t.Errorf("device brightness = %v", v)
	}
	// Observation over the gateway's SSE, which connects asynchronously:
	// open and close the door until the change comes through.
	eventually(t, "a door change over SSE", func() bool {
		door.SetOpen(!door.Open())
		time.Sleep(5 * time.Millisecond)
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return slices.ContainsFunc(sink.records, func(r record) bool { return r.name == "open" })
	})
	// An asynchronous action, polled to completion, and its event.
	out, err := a.InvokeAction(ctx, "urn:test:washer", "start", map[string]any{"program": "demo"})
	if err != nil {
		t.Fatal(err)
	}
	if m, ok := out.(map[string]any); !ok || m["program"] != "demo" {
		t.Errorf("start output %v", out)
	}
	sink.waitFor(t, record{"event", "urn:test:washer", "done", map[string]any{"energy": out.(map[string]any)["energy"], "program": "demo"}})
	// A synchronous action.
	if _, err := a.InvokeAction(ctx, "urn:test:lamp", "toggle", nil); err != nil {
		t.Fatal(err)
	}
	if v, _ := a.ReadProperty(ctx, "urn:test:lamp", "on"); v != true {
		t.Errorf("on after toggle = %v", v)
	}
}

func TestFrontingHearthGatewayWebThings(t *testing.T) {
	hs, _, door := serveVirtual(t)
	a := newAdapter(t, fastConfig())
	ctx := t.Context()
	tds, err := a.Add(ctx, webthing.Remote{URL: hs.URL + "/webthings", Style: webthing.StyleLegacy})
	if err != nil {
		t.Fatal(err)
	}
	if len(tds) != 3 {
		t.Fatalf("fronted %d things", len(tds))
	}
	sink := subscribe(t, a)
	// The WebSockets connect asynchronously: open and close the door until
	// the change comes through.
	eventually(t, "a door change over the WebSocket", func() bool {
		door.SetOpen(!door.Open())
		time.Sleep(5 * time.Millisecond)
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return slices.ContainsFunc(sink.records, func(r record) bool { return r.name == "open" })
	})
	if err := a.WriteProperty(ctx, "urn:test:lamp", "on", true); err != nil {
		t.Fatal(err)
	}
	if v, err := a.ReadProperty(ctx, "urn:test:lamp", "on"); err != nil || v != true {
		t.Errorf("on = %v, %v", v, err)
	}
	sink.waitFor(t, record{"property", "urn:test:lamp", "on", true}) // over the WebSocket
	if _, err := a.InvokeAction(ctx, "urn:test:washer", "start", map[string]any{"program": "demo"}); err != nil {
		t.Fatal(err)
	}
	sink.waitFor(t, record{"property", "urn:test:washer", "state", "idle"})
}
