package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
)

// addGuests adds two guests with every right on lamp: tokens "alice" and
// "bob", of subjects of the same names.
func addGuests(h *harness) {
	all := []gatewaytest.Rule{{ThingID: "urn:test:lamp", Op: gatewaytest.Any, Name: gatewaytest.Any}}
	h.auth.Add("alice", gatewaytest.Grant{ID: "g-alice", Subject: "alice", ClientID: "app", Rules: all})
	h.auth.Add("bob", gatewaytest.Grant{ID: "g-bob", Subject: "bob", ClientID: "app", Rules: all})
}

const fadeBody = `{"brightness": 10, "duration": 5}`

// TestActionRequestsBelongToTheirCaller: one guest's action requests
// (their input and times) are neither listed, nor queryable, nor
// cancellable by another, on the W3C surface, the WebThings REST API and
// its WebSocket.
func TestActionRequestsBelongToTheirCaller(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	addGuests(h)
	release := make(chan struct{})
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		select {
		case <-release:
			return nil, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	})
	bobWS := h.dialWS("/0", "bob")

	_, hdr, _ := h.do("POST", lamp+"/actions/fade", "alice", fadeBody)
	w3c := strings.TrimPrefix(hdr.Get("Location"), h.ts.URL)
	created := decode[map[string]map[string]any](t, h.must(201, "POST", "/0/actions", "alice", `{"fade": {"input": `+fadeBody+`}}`))
	legacy, _ := created["fade"]["href"].(string)
	if w3c == "" || legacy == "" {
		t.Fatalf("no hrefs: %q, %q", w3c, legacy)
	}

	// Bob sees nothing of Alice's requests and cannot cancel them.
	for _, p := range []string{w3c, legacy} {
		h.must(404, "GET", p, "bob", "")
		h.must(404, "DELETE", p, "bob", "")
	}
	h.must(404, "PUT", legacy, "bob", "{}")
	if all := decode[map[string][]json.RawMessage](t, h.must(200, "GET", lamp+"/actions", "bob", "")); len(all["fade"]) != 0 {
		t.Fatalf("queryallactions shows bob %d requests of alice", len(all["fade"]))
	}
	for _, p := range []string{"/0/actions", "/0/actions/fade"} {
		if b := h.must(200, "GET", p, "bob", ""); compact(b) != "[]" {
			t.Fatalf("GET %s shows bob %s", p, b)
		}
	}
	// Nor does his WebSocket carry their status: the propertyStatus his own
	// write causes comes first.
	sendWS(t, bobWS, `{"messageType":"setProperty","data":{"on":false}}`)
	for {
		m := readWS(t, bobWS)
		if m.MessageType == "actionStatus" {
			t.Fatalf("bob's WebSocket got alice's action status %v", m.Data)
		}
		if m.MessageType == "propertyStatus" {
			break
		}
	}

	// Alice sees and cancels her own.
	if all := decode[map[string][]json.RawMessage](t, h.must(200, "GET", lamp+"/actions", "alice", "")); len(all["fade"]) != 2 {
		t.Fatalf("queryallactions shows alice %d of her 2 requests", len(all["fade"]))
	}
	h.must(200, "GET", w3c, "alice", "")
	h.must(200, "GET", legacy, "alice", "")
	h.must(204, "DELETE", w3c, "alice", "")
	h.must(204, "DELETE", legacy, "alice", "")
	close(release)
}

// TestFinishedActionsAndEventsExpire: a finished action request and a past
// event are forgotten after ActionRetention and EventRetention; a running
// request is not.
func TestFinishedActionsAndEventsExpire(t *testing.T) {
	const retention = 50 * time.Millisecond
	h := newHarness(t, gateway.Config{
		WebThings:       gateway.WebThings{Layout: gateway.WebThingsMulti},
		ActionRetention: retention,
		EventRetention:  retention,
	})
	addGuests(h)
	release := make(chan struct{})
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})
	_, hdr, _ := h.do("POST", lamp+"/actions/fade", "alice", fadeBody)
	path := strings.TrimPrefix(hdr.Get("Location"), h.ts.URL)
	h.ad.Emit("urn:test:lamp", "overheated", 80)
	waitFor(t, func() bool { _, _, b := h.do("GET", "/0/events", "alice", ""); return compact(b) != "[]" })

	time.Sleep(2 * retention)
	h.must(200, "GET", path, "alice", "") // still running: kept
	if b := h.must(200, "GET", "/0/events", "alice", ""); compact(b) != "[]" {
		t.Fatalf("events kept past their retention: %s", b)
	}
	close(release)
	waitFor(t, func() bool {
		st := decode[map[string]any](t, h.must(200, "GET", path, "alice", ""))
		return st["status"] == "completed"
	})
	time.Sleep(2 * retention)
	h.must(404, "GET", path, "alice", "")
	if b := h.must(200, "GET", "/0/actions", "alice", ""); compact(b) != "[]" {
		t.Fatalf("finished requests kept past their retention: %s", b)
	}
}

// TestEraseSubject: Server.EraseSubject removes the subject's action
// requests (cancelling a running one) and the event list, and leaves the
// other guests' requests.
func TestEraseSubject(t *testing.T) {
	h := newHarness(t, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}})
	addGuests(h)
	cancelled := make(chan struct{}, 4)
	h.ad.Handle("urn:test:lamp", "fade", func(ctx context.Context, input any) (any, error) {
		<-ctx.Done()
		cancelled <- struct{}{}
		return nil, ctx.Err()
	})
	_, hdr, _ := h.do("POST", lamp+"/actions/fade", "alice", fadeBody)
	alice := strings.TrimPrefix(hdr.Get("Location"), h.ts.URL)
	_, hdr, _ = h.do("POST", lamp+"/actions/fade", "bob", fadeBody)
	bob := strings.TrimPrefix(hdr.Get("Location"), h.ts.URL)
	h.ad.Emit("urn:test:lamp", "overheated", 80)
	waitFor(t, func() bool { _, _, b := h.do("GET", "/0/events", "bob", ""); return compact(b) != "[]" })

	for range 2 { // idempotent
		if err := h.gw.EraseSubject(t.Context(), "alice"); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the erased subject's running action was not cancelled")
	}
	h.must(404, "GET", alice, "alice", "")
	if b := h.must(200, "GET", "/0/actions", "alice", ""); compact(b) != "[]" {
		t.Fatalf("erased subject's requests still listed: %s", b)
	}
	if b := h.must(200, "GET", "/0/events", "bob", ""); compact(b) != "[]" {
		t.Fatalf("events kept after erasure: %s", b)
	}
	h.must(200, "GET", bob, "bob", "")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := h.gw.EraseSubject(ctx, "bob"); !errors.Is(err, context.Canceled) {
		t.Fatal("EraseSubject with a done context succeeded")
	}
}
