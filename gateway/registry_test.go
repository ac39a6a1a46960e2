package gateway_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// racyAdapter is an EventSource that announces changes only to the sinks
// registered at the time (no re-announcement on Subscribe). Its hook runs
// at the end of every Things call, after the listing was taken: a device
// that appears just then must still reach the Server.
type racyAdapter struct {
	mu     sync.Mutex
	things map[string]*thing.Description
	sinks  []gateway.Sink
	hook   func()
	live   chan struct{} // closed once Subscribe registered its sink (and said so)
}

func newRacyAdapter(tds ...*thing.Description) *racyAdapter {
	a := &racyAdapter{things: make(map[string]*thing.Description), live: make(chan struct{})}
	for _, td := range tds {
		a.things[td.ID] = td
	}
	return a
}

func (a *racyAdapter) add(td *thing.Description) {
	a.mu.Lock()
	a.things[td.ID] = td
	sinks := append([]gateway.Sink(nil), a.sinks...)
	a.mu.Unlock()
	for _, s := range sinks {
		s.ThingAdded(td)
	}
}

func (a *racyAdapter) remove(id string) {
	a.mu.Lock()
	delete(a.things, id)
	sinks := append([]gateway.Sink(nil), a.sinks...)
	a.mu.Unlock()
	for _, s := range sinks {
		s.ThingRemoved(id)
	}
}

func (a *racyAdapter) Things(context.Context) ([]*thing.Description, error) {
	a.mu.Lock()
	var out []*thing.Description
	for _, td := range a.things {
		out = append(out, td)
	}
	hook := a.hook
	a.hook = nil
	a.mu.Unlock()
	if hook != nil {
		hook()
	}
	return out, nil
}

func (a *racyAdapter) ReadProperty(_ context.Context, id, name string) (any, error) {
	return nil, gateway.ErrNotFound
}

func (a *racyAdapter) Subscribe(ctx context.Context, sink gateway.Sink) error {
	a.mu.Lock()
	a.sinks = append(a.sinks, sink)
	a.mu.Unlock()
	// The anonymous interface keeps this test compiling against a Server
	// that offers no such signal (it then fails, as it should).
	if l, ok := sink.(interface{ Live() }); ok {
		l.Live()
	}
	close(a.live)
	<-ctx.Done()
	return nil
}

func thingIDs(gw *gateway.Server) map[string]bool {
	ids := make(map[string]bool)
	for _, td := range gw.Things() {
		ids[td.ID] = true
	}
	return ids
}

// TestAddAdapterThingAddedWhileListing adds a thing right after the Server's
// listing was taken and before the adapter's subscription existed: the
// Server must serve it anyway.
func TestAddAdapterThingAddedWhileListing(t *testing.T) {
	ad := newRacyAdapter(lampTD("urn:test:lamp"))
	ad.hook = func() { ad.add(lampTD("urn:test:late")) }
	gw, err := gateway.New(gateway.Config{Authorizer: newAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.AddAdapter(t.Context(), ad); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ad.live:
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe was never called")
	}
	if ids := thingIDs(gw); !ids["urn:test:lamp"] || !ids["urn:test:late"] {
		t.Fatalf("things served: %v, want lamp and late", ids)
	}
}

// TestAddAdapterRemovedWhileListing removes a thing after the listing that
// still holds it was taken: the stale listing must not bring it back.
func TestAddAdapterRemovedWhileListing(t *testing.T) {
	ad := newRacyAdapter(lampTD("urn:test:lamp"), lampTD("urn:test:gone"))
	calls := 0
	var hook func()
	hook = func() {
		// Every listing the Server takes is followed by the removal (the
		// adapter announces it once the sink exists).
		calls++
		if calls == 1 {
			ad.mu.Lock()
			ad.hook = hook
			ad.mu.Unlock()
			return
		}
		ad.remove("urn:test:gone")
	}
	ad.hook = hook
	gw, err := gateway.New(gateway.Config{Authorizer: newAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	if err := gw.AddAdapter(t.Context(), ad); err != nil {
		t.Fatal(err)
	}
	<-ad.live
	if ids := thingIDs(gw); !ids["urn:test:lamp"] || ids["urn:test:gone"] {
		t.Fatalf("things served: %v, want lamp only", ids)
	}
}

func TestAddAdapterListingFails(t *testing.T) {
	gw, err := gateway.New(gateway.Config{Authorizer: newAuthorizer()})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	boom := errors.New("bus down")
	ad := &failingLister{racyAdapter: newRacyAdapter(lampTD("urn:test:lamp")), err: boom}
	if err := gw.AddAdapter(t.Context(), ad); !errors.Is(err, boom) {
		t.Fatalf("AddAdapter = %v, want %v", err, boom)
	}
	if n := len(gw.Things()); n != 0 {
		t.Fatalf("%d things served after a failed AddAdapter", n)
	}
	// The adapter was not kept: adding it again is allowed (no panic) and
	// RemoveAdapter does not know it.
	if gw.RemoveAdapter(ad) {
		t.Fatal("RemoveAdapter found an adapter whose AddAdapter failed")
	}
}

type failingLister struct {
	*racyAdapter
	err error
}

func (a *failingLister) Things(context.Context) ([]*thing.Description, error) { return nil, a.err }
