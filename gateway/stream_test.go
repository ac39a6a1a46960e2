package gateway_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
)

const lamp = "/things/urn:test:lamp"

func TestObserveProperty(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	s := h.openSSE(lamp+"/properties/brightness/observable", tokFull)
	h.ad.Set("urn:test:lamp", "on", false) // another property: not on this stream
	h.ad.Set("urn:test:lamp", "brightness", 42)
	if ev := s.next(t); ev.data != "42" || ev.name != "" {
		t.Fatalf("event %+v, want data 42", ev)
	}
	// A write through the gateway notifies observers once, even though the
	// device reports it too.
	h.must(204, "PUT", lamp+"/properties/brightness", tokFull, "43")
	if ev := s.next(t); ev.data != "43" {
		t.Fatalf("event %+v, want 43", ev)
	}
	h.ad.Set("urn:test:lamp", "brightness", 44)
	if ev := s.next(t); ev.data != "44" {
		t.Fatalf("event %+v, want 44 (the write was notified twice?)", ev)
	}
}

func TestSubscribeEvents(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	one := h.openSSE(lamp+"/events/overheated", tokFull)
	all := h.openSSE(lamp+"/events", tokFull)
	h.ad.Emit("urn:test:lamp", "overheated", 102)
	if ev := one.next(t); ev.data != "102" || ev.name != "" {
		t.Fatalf("subscribeevent got %+v", ev)
	}
	if ev := all.next(t); ev.data != "102" || ev.name != "overheated" {
		t.Fatalf("subscribeallevents got %+v", ev)
	}
	// Events of another thing do not leak in.
	other := h.openSSE("/things/urn:test:lamp2/events/overheated", tokFull)
	h.ad.Emit("urn:test:lamp", "overheated", 103)
	h.ad.Emit("urn:test:lamp2", "overheated", 7)
	if ev := other.next(t); ev.data != "7" {
		t.Fatalf("lamp2 stream got %+v", ev)
	}
	// Streams need their operation allowed.
	h.must(403, "GET", lamp+"/events/overheated", tokRead, "")
	h.must(403, "GET", lamp+"/properties/on/observable", tokRead, "")
	h.must(401, "GET", lamp+"/events", "", "")
}

func TestRevocationClosesStreams(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	s := h.openSSE(lamp+"/properties/on/observable", tokRevocable)
	other := h.openSSE(lamp+"/properties/on/observable", tokLamp)

	start := time.Now()
	h.auth.Revoke("g-rev")
	if !s.ended(time.Second) {
		t.Fatal("SSE stream still open 1s after revocation")
	}
	t.Logf("SSE closed %v after revocation", time.Since(start))
	h.ad.Set("urn:test:lamp", "on", false)
	if ev := other.next(t); ev.data != "false" {
		t.Fatalf("stream of another grant got %+v", ev)
	}
	h.must(401, "GET", lamp+"/properties/on", tokRevocable, "")
}

// TestTokenRevocationClosesOnlyItsStreams: a Revocation naming a token
// closes the streams opened with that token only, not the others of the
// same grant; one naming only the grant closes them all.
func TestTokenRevocationClosesOnlyItsStreams(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	all := []gatewaytest.Rule{{ThingID: "urn:test:lamp", Op: gatewaytest.Any, Name: gatewaytest.Any}}
	h.auth.Add("tok-a", gatewaytest.Grant{ID: "g-shared", TokenID: "jti-a", Rules: all})
	h.auth.Add("tok-b", gatewaytest.Grant{ID: "g-shared", TokenID: "jti-b", Rules: all})
	a := h.openSSE(lamp+"/properties/on/observable", "tok-a")
	b := h.openSSE(lamp+"/properties/on/observable", "tok-b")
	ws := h.dialWS("/0", "tok-a")
	defer ws.Close()

	h.auth.RevokeToken("jti-a")
	if !a.ended(time.Second) {
		t.Fatal("SSE stream of the revoked token still open 1s after revocation")
	}
	ws.SetReadDeadline(time.Now().Add(time.Second))
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("WebSocket of the revoked token: %v, want close 1008", err)
	}
	h.ad.Set("urn:test:lamp", "on", false)
	if ev := b.next(t); ev.data != "false" {
		t.Fatalf("stream of the grant's other token got %+v", ev)
	}
	h.must(401, "GET", lamp+"/properties/on", "tok-a", "")
	h.must(200, "GET", lamp+"/properties/on", "tok-b", "")

	h.auth.Revoke("g-shared")
	if !b.ended(time.Second) {
		t.Fatal("SSE stream still open 1s after its grant was revoked")
	}
}

func TestExpiryClosesStreams(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	h.auth.Add("short", gatewaytest.Grant{ID: "g-short", Expires: time.Now().Add(300 * time.Millisecond),
		Rules: []gatewaytest.Rule{{ThingID: "urn:test:lamp", Op: gatewaytest.Any, Name: gatewaytest.Any}}})
	s := h.openSSE(lamp+"/properties/on/observable", "short")
	if !s.ended(2 * time.Second) {
		t.Fatal("SSE stream open after its token expired")
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	s := h.openSSE(lamp+"/events", tokFull)
	ws := h.dialWS("/0", tokFull)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.ended(time.Second) {
		t.Fatal("SSE stream open after Shutdown")
	}
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, _, err := ws.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Fatalf("WebSocket read after Shutdown: %v, want close 1001", err)
	}
	h.must(503, "GET", lamp+"/properties/on", tokFull, "")
	if err := h.gw.AddAdapter(t.Context(), gatewaytest.NewAdapter()); !errors.Is(err, gateway.ErrClosed) {
		t.Fatalf("AddAdapter after Shutdown = %v", err)
	}
	if h.ad.Subscribers() != 0 {
		t.Fatal("adapter subscription still open after Shutdown")
	}
	if h.auth.Subscribers() != 0 {
		t.Fatal("revocation subscription still open after Shutdown")
	}
}

func TestShutdownWaitsForActions(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	release := make(chan struct{})
	done := make(chan struct{})
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		defer close(done)
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	h.must(201, "POST", lamp+"/actions/fade", tokFull, `{"brightness": 1, "duration": 1}`)
	// A graceful shutdown whose deadline passes cancels the action.
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := h.gw.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want DeadlineExceeded", err)
	}
	select {
	case <-done:
	default:
		t.Fatal("action still running after Shutdown returned")
	}
	close(release)
}

func TestThingsComeAndGo(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	h.auth.Add("t3", gatewaytest.Grant{ID: "g3", Rules: []gatewaytest.Rule{{ThingID: "urn:test:lamp3", Op: gatewaytest.Any, Name: gatewaytest.Any}}})
	h.must(404, "GET", "/things/urn:test:lamp3", "t3", "")
	h.ad.Add(lampTD("urn:test:lamp3"))
	waitFor(t, func() bool { c, _, _ := h.do("GET", "/things/urn:test:lamp3", "t3", ""); return c == 200 })
	s := h.openSSE("/things/urn:test:lamp3/events", "t3")
	h.ad.Remove("urn:test:lamp3")
	if !s.ended(time.Second) {
		t.Fatal("stream of a removed thing still open")
	}
	h.must(404, "GET", "/things/urn:test:lamp3", "t3", "")

	// Removing a thing through the gateway asks its adapter.
	if err := h.gw.RemoveThing(t.Context(), "urn:test:lamp2"); err != nil {
		t.Fatal(err)
	}
	h.must(404, "GET", "/things/urn:test:lamp2", tokFull, "")
	if err := h.gw.RemoveThing(t.Context(), "urn:test:lamp2"); !errors.Is(err, gateway.ErrNotFound) {
		t.Fatalf("second RemoveThing = %v", err)
	}

	// A second adapter may not claim an id the first serves.
	dup := gatewaytest.NewAdapter(lampTD("urn:test:lamp"), lampTD("urn:test:other"))
	if err := h.gw.AddAdapter(t.Context(), dup); !errors.Is(err, gateway.ErrThingExists) {
		t.Fatalf("AddAdapter with a duplicate id = %v, want ErrThingExists", err)
	}
	var ids []string
	for _, td := range h.gw.Things() {
		ids = append(ids, td.ID)
	}
	if !slices.Contains(ids, "urn:test:other") {
		t.Fatalf("the other thing of the second adapter was not added: %v", ids)
	}
}

func TestRemoveAdapter(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	if !h.gw.RemoveAdapter(h.ad) {
		t.Fatal("RemoveAdapter = false")
	}
	if h.ad.Subscribers() != 0 {
		t.Fatal("subscription still open")
	}
	h.must(404, "GET", lamp, tokFull, "")
	if h.gw.RemoveAdapter(h.ad) {
		t.Fatal("second RemoveAdapter = true")
	}
}

func TestActions(t *testing.T) {
	h := newHarness(t, gateway.Config{})
	release := make(chan struct{})
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		select {
		case <-release:
			return map[string]any{"done": true}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	code, hdr, b := h.do("POST", lamp+"/actions/fade", tokFull, `{"brightness": 10, "duration": 5}`)
	if code != 201 {
		t.Fatalf("invokeaction: %d %s", code, b)
	}
	loc := hdr.Get("Location")
	if !strings.HasPrefix(loc, h.ts.URL+lamp+"/actions/fade/") {
		t.Fatalf("Location %q", loc)
	}
	st := decode[map[string]any](t, b)
	if st["status"] != "pending" {
		t.Fatalf("initial status %v", st)
	}
	path := strings.TrimPrefix(loc, h.ts.URL)
	waitFor(t, func() bool {
		return decode[map[string]any](t, h.must(200, "GET", path, tokFull, ""))["status"] == "running"
	})
	close(release)
	waitFor(t, func() bool {
		return decode[map[string]any](t, h.must(200, "GET", path, tokFull, ""))["status"] == "completed"
	})
	st = decode[map[string]any](t, h.must(200, "GET", path, tokFull, ""))
	if out, _ := st["output"].(map[string]any); out["done"] != true || st["timeEnded"] == nil {
		t.Fatalf("completed status %v", st)
	}
	all := decode[map[string][]map[string]any](t, h.must(200, "GET", lamp+"/actions", tokFull, ""))
	if len(all["fade"]) != 1 || len(all["toggle"]) != 0 {
		t.Fatalf("queryallactions %v", all)
	}
	h.must(403, "GET", path, tokLamp2, "")
	h.must(403, "DELETE", path, tokRead, "")
	h.must(204, "DELETE", path, tokFull, "")
	h.must(404, "GET", path, tokFull, "")
	h.must(404, "DELETE", path, tokFull, "")

	// Cancelling a running action cancels the adapter's context.
	cancelled := make(chan struct{})
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	})
	_, hdr, _ = h.do("POST", lamp+"/actions/fade", tokFull, `{"brightness": 10, "duration": 5}`)
	h.must(204, "DELETE", strings.TrimPrefix(hdr.Get("Location"), h.ts.URL), tokFull, "")
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("cancelaction did not cancel the adapter call")
	}

	// Synchronous actions answer with their output.
	h.ad.Handle("urn:test:lamp", "toggle", func(ctx context.Context, input any) (any, error) { return true, nil })
	if b := h.must(200, "POST", lamp+"/actions/toggle", tokFull, ""); string(b) != "true" {
		t.Fatalf("toggle output %s", b)
	}
	h.ad.Handle("urn:test:lamp", "toggle", func(ctx context.Context, input any) (any, error) {
		return nil, errors.New("stuck relay")
	})
	h.must(502, "POST", lamp+"/actions/toggle", tokFull, "")
}

func TestActionLimit(t *testing.T) {
	h := newHarness(t, gateway.Config{MaxActions: 2})
	block := make(chan struct{})
	defer close(block)
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		select {
		case <-block:
		case <-ctx.Done():
		}
		return nil, nil
	})
	body := `{"brightness": 1, "duration": 1}`
	h.must(201, "POST", lamp+"/actions/fade", tokFull, body)
	h.must(201, "POST", lamp+"/actions/fade", tokFull, body)
	h.must(503, "POST", lamp+"/actions/fade", tokFull, body)
}

func TestWebSocketAuthPerMessage(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	h.auth.Add("ws-read", gatewaytest.Grant{ID: "g-wsr", Rules: []gatewaytest.Rule{
		{ThingID: "urn:test:lamp", Op: "observeproperty", Name: gatewaytest.Any},
	}})
	// Without a token, or for another thing, no WebSocket.
	for _, tok := range []string{"", "forged", tokLamp2} {
		if _, resp, err := h.tryWS("/0", tok, nil); err == nil || resp == nil || (resp.StatusCode != 401 && resp.StatusCode != 403) {
			t.Fatalf("token %q: WebSocket opened or wrong status (%v)", tok, resp)
		}
	}
	c := h.dialWS("/0", "ws-read")
	sendWS(t, c, `{"messageType":"setProperty","data":{"brightness":5}}`)
	msg := readWS(t, c)
	if msg.MessageType != "error" || !strings.HasPrefix(string(msg.Data["status"]), `"403`) {
		t.Fatalf("forbidden setProperty answered %+v", msg)
	}
	if h.ad.Value("urn:test:lamp", "brightness") != 50 {
		t.Fatal("forbidden setProperty was applied")
	}
	sendWS(t, c, `{"messageType":"addEventSubscription","data":{"overheated":{}}}`)
	if msg := readWS(t, c); msg.MessageType != "error" {
		t.Fatalf("forbidden subscription answered %+v", msg)
	}
	h.ad.Set("urn:test:lamp", "brightness", 7)
	if msg := readWS(t, c); msg.MessageType != "propertyStatus" || string(msg.Data["brightness"]) != "7" {
		t.Fatalf("propertyStatus %+v", msg)
	}

	// Revocation closes the WebSocket within a second.
	r := h.dialWS("/0", tokRevocable)
	start := time.Now()
	h.auth.Revoke("g-rev")
	r.SetReadDeadline(time.Now().Add(time.Second))
	_, _, err := r.ReadMessage()
	if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("after revocation: %v, want close 1008", err)
	}
	t.Logf("WebSocket closed %v after revocation", time.Since(start))
}

func TestWebSocketBadInput(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}, MaxSubscriptions: 1, MaxBodyBytes: 512})
	c := h.dialWS("/0", tokFull)
	for _, tc := range []struct{ msg, status string }{
		{`{"messageType":"setProperty","data":{"brightness":"x"}}`, "400"},
		{`{"messageType":"setProperty","data":{"brightness":101}}`, "400"},
		{`{"messageType":"setProperty","data":{"temperature":1}}`, "405"},
		{`{"messageType":"setProperty","data":{"nope":1}}`, "404"},
		{`{"messageType":"setProperty","data":[1]}`, "400"},
		{`{"messageType":"requestAction","data":{"fade":{"input":{"brightness":1}}}}`, "400"},
		{`{"messageType":"requestAction","data":{"fade":{}}}`, "400"},
		{`{"messageType":"requestAction","data":{"nope":{}}}`, "404"},
		{`{"messageType":"fly","data":{}}`, "400"},
		{`{"data":{}}`, "400"},
		{`{"messageType":"setProperty"`, "400"},
		{`not json`, "400"},
		{`{"messageType":"addEventSubscription","data":{"nope":{}}}`, "404"},
	} {
		sendWS(t, c, tc.msg)
		msg := readWS(t, c)
		if msg.MessageType != "error" || !strings.HasPrefix(string(msg.Data["status"]), `"`+tc.status) {
			t.Fatalf("%s answered %s %s, want error %s", tc.msg, msg.MessageType, msg.Data["status"], tc.status)
		}
	}
	if h.ad.Writes() != 0 {
		t.Fatal("a rejected message was applied")
	}
	// The subscription cap.
	sendWS(t, c, `{"messageType":"addEventSubscription","data":{"overheated":{}}}`)
	sendWS(t, c, `{"messageType":"setProperty","data":{"brightness":5}}`) // processed after the subscription
	if msg := readWS(t, c); msg.MessageType != "propertyStatus" {
		t.Fatalf("setProperty: %+v", msg)
	}
	h.ad.Emit("urn:test:lamp", "overheated", 1)
	if msg := readWS(t, c); msg.MessageType != "event" {
		t.Fatalf("subscribed event: %+v", msg)
	}
	sendWS(t, c, `{"messageType":"addEventSubscription","data":{"cooled":{}}}`)
	if msg := readWS(t, c); msg.MessageType != "error" || !strings.HasPrefix(string(msg.Data["status"]), `"429`) {
		t.Fatalf("subscription over the cap answered %+v", msg)
	}
	// An oversized message closes the connection.
	sendWS(t, c, `{"messageType":"setProperty","data":{"x":"`+strings.Repeat("a", 1024)+`"}}`)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after an oversized message: %v", err)
	}
}

func TestWebSocketCrossOrigin(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti},
		CORS: gateway.CORS{AllowedOrigins: []string{"https://app.example.com"}}})
	hdr := http.Header{"Origin": {"https://evil.example.com"}}
	if _, resp, err := h.tryWS("/0", tokFull, hdr); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("cross-origin WebSocket: %v", err)
	}
	hdr = http.Header{"Origin": {"https://app.example.com"}}
	c, _, err := h.tryWS("/0", tokFull, hdr)
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	c.Close()
}

func TestHistory(t *testing.T) {
	hist := gateway.NewHistory(gateway.HistoryConfig{})
	h := newHarness(t, gateway.Config{History: hist})
	h.auth.SetHistoryConsents("urn:test:lamp", "brightness",
		accessConsent("guest", "g-energy", "energy-forecast", time.Hour),
		accessConsent("owner", "g-maint", "maintenance", time.Millisecond))
	h.ad.Set("urn:test:lamp", "brightness", 11)
	h.ad.Set("urn:test:lamp", "on", false) // no consent: not recorded
	waitFor(t, func() bool { return hist.Len() == 2 })
	time.Sleep(5 * time.Millisecond) // the maintenance consent's retention ends

	vals, err := hist.Values(t.Context(), gateway.HistoryQuery{ThingID: "urn:test:lamp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 1 || vals[0].Subject != "guest" || string(vals[0].Value) != "11" || vals[0].Purpose != "energy-forecast" {
		t.Fatalf("values %+v (the expired one must not show)", vals)
	}
	if n := hist.Purge(time.Now()); n != 1 {
		t.Fatalf("Purge dropped %d, want 1", n)
	}
	raw, err := hist.ExportSubject(t.Context(), "guest")
	if err != nil {
		t.Fatal(err)
	}
	exp := decode[struct {
		Subject string
		History []gateway.HistoryValue
	}](t, raw)
	if exp.Subject != "guest" || len(exp.History) != 1 || exp.History[0].Property != "brightness" {
		t.Fatalf("export %s", raw)
	}
	if err := hist.EraseSubject(t.Context(), "guest"); err != nil {
		t.Fatal(err)
	}
	raw, _ = hist.ExportSubject(t.Context(), "guest")
	if !strings.Contains(string(raw), `"history":[]`) || hist.Len() != 0 {
		t.Fatalf("after erasure: %s", raw)
	}
	// A revoked grant's consent records nothing more.
	h.auth.Revoke("g-energy")
	h.ad.Set("urn:test:lamp", "brightness", 12)
	h.must(200, "GET", lamp+"/properties/brightness", tokFull, "") // let the value pass
	time.Sleep(50 * time.Millisecond)
	if hist.Len() != 0 {
		vals, _ := hist.Values(t.Context(), gateway.HistoryQuery{})
		for _, v := range vals {
			if v.GrantID == "g-energy" {
				t.Fatalf("value recorded under a revoked grant: %+v", v)
			}
		}
	}
}

func accessConsent(subject, grant, purpose string, retention time.Duration) access.HistoryConsent {
	return access.HistoryConsent{Subject: subject, GrantID: grant, Purpose: purpose, Retention: retention}
}

func TestRefresh(t *testing.T) {
	ad := gatewaytest.NewAdapter(lampTD("urn:test:lamp"))
	gw, err := gateway.New(gateway.Config{Authorizer: newAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.AddAdapter(t.Context(), gatewaytest.Minimal(ad)); err != nil {
		t.Fatal(err)
	}
	ad.Add(lampTD("urn:test:lamp2"))
	ad.Remove("urn:test:lamp")
	if n := len(gw.Things()); n != 1 {
		t.Fatalf("%d things before Refresh", n)
	}
	if err := gw.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if th := gw.Things(); len(th) != 1 || th[0].ID != "urn:test:lamp2" {
		t.Fatalf("after Refresh: %v", th)
	}
}

func TestHistoryPurgedAutomatically(t *testing.T) {
	hist := gateway.NewHistory(gateway.HistoryConfig{MaxValues: 2})
	h := newHarness(t, gateway.Config{History: hist, HistoryPurgeInterval: 10 * time.Millisecond})
	h.auth.SetHistoryConsents("urn:test:lamp", "brightness", accessConsent("guest", "g1", "p", 30*time.Millisecond))
	for v := range 4 {
		h.ad.Set("urn:test:lamp", "brightness", v+1)
	}
	waitFor(t, func() bool { return hist.Len() == 2 }) // MaxValues keeps the newest two
	vals, _ := hist.Values(t.Context(), gateway.HistoryQuery{Subject: "guest"})
	if len(vals) != 2 || string(vals[0].Value) != "3" || string(vals[1].Value) != "4" {
		t.Fatalf("kept %+v, want the newest two", vals)
	}
	waitFor(t, func() bool { return hist.Len() == 0 })
}
