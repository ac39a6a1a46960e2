package gateway_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway"
)

// TestDurableHistoryThroughServer: values a Server records into a durable
// History are there after a restart of both, and an erased subject's are
// not (neither returned nor in the directory's files).
func TestDurableHistoryThroughServer(t *testing.T) {
	dir := t.TempDir()
	hist, err := gateway.OpenHistory(gateway.HistoryConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, gateway.Config{History: hist})
	h.auth.SetHistoryConsents("urn:test:lamp", "brightness",
		accessConsent("guest-4d1a", "g-energy", "energy-forecast", time.Hour),
		accessConsent("owner-88b0", "g-maint", "maintenance", time.Hour))
	h.ad.Set("urn:test:lamp", "brightness", 61)
	h.ad.Set("urn:test:lamp", "brightness", 62)
	waitFor(t, func() bool { return hist.Len() == 4 })
	h.gw.Close() // the Server first, then its History
	if err := hist.Close(); err != nil {
		t.Fatal(err)
	}

	hist2, err := gateway.OpenHistory(gateway.HistoryConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer hist2.Close()
	vals, err := hist2.Values(t.Context(), gateway.HistoryQuery{Subject: "guest-4d1a"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != 2 || string(vals[0].Value) != "61" || string(vals[1].Value) != "62" || vals[0].Purpose != "energy-forecast" {
		t.Fatalf("after restart: %+v", vals)
	}
	if err := hist2.EraseSubject(t.Context(), "guest-4d1a"); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		b, err := os.ReadFile(filepath.Join(dir, en.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("guest-4d1a")) || bytes.Contains(b, []byte("energy-forecast")) {
			t.Errorf("%s still holds the erased subject's values", en.Name())
		}
		if !bytes.Contains(b, []byte("owner-88b0")) {
			t.Errorf("%s lost the other subject's values", en.Name())
		}
	}
	if n := hist2.Len(); n != 2 {
		t.Errorf("Len %d after erasing one of two subjects, want 2", n)
	}
}
