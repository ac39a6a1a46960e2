package discovery_test

import (
	"context"
	"errors"
	"net"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/hearth-wot/hearth/gateway/discovery"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestAdvertiseOnTheNetwork advertises over real multicast and finds the
// services with Browse. It needs a multicast-capable interface; it is
// skipped without one and in -short mode (it multicasts on the LAN).
func TestAdvertiseOnTheNetwork(t *testing.T) {
	if testing.Short() {
		t.Skip("multicasts on the local network; skipped in -short mode")
	}
	adv, err := discovery.New(discovery.Config{HostName: "hearth-test.local.", IPs: []net.IP{net.ParseIP("192.0.2.99")}})
	if err != nil {
		t.Fatal(err)
	}
	adv.Add(discovery.WoTDirectory("Hearth test home", 8443, "/.well-known/wot", true))
	adv.Add(discovery.WebThing("Hearth test home", 8443, "/things", true))
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- adv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	}()
	select {
	case err := <-done:
		t.Skipf("no multicast here: %v", err)
	case <-time.After(50 * time.Millisecond):
	}

	browse := func(typ string) []discovery.Entry {
		t.Helper()
		var found []discovery.Entry
		for attempt := 0; attempt < 3 && len(found) == 0; attempt++ {
			all, err := discovery.Browse(t.Context(), typ, discovery.BrowseConfig{Timeout: 500 * time.Millisecond, IPv4Only: true})
			if err != nil {
				t.Skipf("cannot browse here: %v", err)
			}
			found = slices.DeleteFunc(all, func(e discovery.Entry) bool { return e.Host != "hearth-test.local." })
		}
		return found
	}
	wot := browse(discovery.TypeWoT)
	if len(wot) != 1 {
		t.Fatalf("browsing _wot._tcp found %+v", wot)
	}
	e := wot[0]
	if e.Instance != "Hearth test home" || e.Port != 8443 || e.TXT["td"] != "/.well-known/wot" ||
		e.TXT["type"] != "Directory" || e.TXT["scheme"] != "https" || len(e.IPs) != 1 || !e.IPs[0].Equal(net.ParseIP("192.0.2.99")) {
		t.Errorf("_wot._tcp entry %+v", e)
	}
	wt := browse(discovery.TypeWebThing)
	if len(wt) != 1 || wt[0].TXT["path"] != "/things" || wt[0].TXT["tls"] != "1" {
		t.Errorf("_webthing._tcp entries %+v", wt)
	}

	// Services added while running are found; removed ones are not.
	adv.Remove("Hearth test home", discovery.TypeWebThing)
	adv.Add(discovery.WebThing("Hearth test lamp", 8888, "/", false))
	wt = browse(discovery.TypeWebThing)
	if len(wt) != 1 || wt[0].Instance != "Hearth test lamp" {
		t.Errorf("after the change: %+v", wt)
	}
}

func TestBrowseRejectsBadTypes(t *testing.T) {
	if _, err := discovery.Browse(t.Context(), "wot", discovery.BrowseConfig{}); !errors.Is(err, discovery.ErrInvalidService) {
		t.Errorf("Browse(wot) = %v", err)
	}
}
