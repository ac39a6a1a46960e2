package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/consent"
	"github.com/hearth-wot/hearth/gateway/virtual"
)

// TestBrowser runs the guest app, the consent page, EnergySaver and the
// owner's dashboard in real Chromium (driven by playwright-core from npm,
// e2e/browser.mjs) against the example started in-process. It needs
// HEARTH_BROWSER_TEST=1, Chromium ($CHROMIUM, default /usr/bin/chromium),
// node, and `npm ci` run in e2e/; .ci/extras provides all of them. It saves
// screenshots under testdata/screenshots.
func TestBrowser(t *testing.T) {
	if os.Getenv("HEARTH_BROWSER_TEST") == "" {
		t.Skip("browser test off: set HEARTH_BROWSER_TEST=1, with chromium, node and `npm ci` in examples/holiday-home/e2e (.ci/extras does this)")
	}
	chromium := cmp(os.Getenv("CHROMIUM"), "/usr/bin/chromium")
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("browser test: no Chromium at %s (apt-get install chromium, or set CHROMIUM)", chromium)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("browser test: node is not installed")
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "playwright-core", "package.json")); err != nil {
		t.Skip("browser test: playwright-core is not installed; run `npm ci` in examples/holiday-home/e2e")
	}
	shots, err := filepath.Abs(filepath.Join("testdata", "screenshots"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	rs := startResort(t, config{Homes: 4, RoundEvery: time.Second, DPNoise: 1, Epsilon: 50, Onboard: true})
	c, h1 := rs.cloud, rs.homes[0]
	// Give the dashboard a few rounds to show.
	eventually(t, 30*time.Second, "a federated round", func() bool { return c.fl.Round() >= 1 })

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "browser.mjs")
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(),
		"HH_CHECKIN="+h1.localURL+"checkin?code="+h1.checkin,
		"HH_RELAY="+h1.enroll.RemoteURL+"checkin?code="+h1.checkin,
		"HH_ENERGYSAVER="+c.es.base,
		"HH_DASHBOARD="+c.publicURL+"/owner/login?key="+c.ownerKey,
		"HH_SHOTS="+shots,
		"CHROMIUM="+chromium,
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("browser.mjs (%v):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("browser test failed: %v (screenshots in %s)", err, shots)
	}

	// What the browser did shows on the home's side too.
	lamp, _ := h1.devices.Device(livingLampID)
	if l, ok := lamp.(*virtual.Light); !ok || !l.On() {
		t.Error("the living-room light the browser switched on is off")
	}
	gs := h1.ledger.Grants(consent.GrantFilter{Holder: energySaverID})
	if len(gs) != 1 || gs[0].Status != consent.StatusRevoked {
		t.Errorf("EnergySaver's grants after the browser test: %+v, want one, withdrawn", gs)
	}
	if len(h1.stay.get().Devices) != 1 {
		t.Errorf("devices the guest added: %v, want one", h1.stay.get().Devices)
	}
}
