package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func digits(t *testing.T) string {
	p := filepath.Join("..", "..", "..", "..", "shared", "data", "digits")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("digits data not present at %s: %v", p, err)
	}
	return p
}

func TestFedsimReachesTarget(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-data", digits(t), "-model", "softmax", "-clients", "10", "-frac", "0.5",
		"-lr", "0.5", "-rounds", "30", "-target", "0.9"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^reached 0\.9 at round \d+$`).MatchString(last) {
		t.Errorf("last line %q\n%s", last, out.String())
	}
	// The simulation's opt-out of secure aggregation is said out loud.
	if !strings.HasPrefix(lines[1], "fedsim: privacy: secure aggregation OFF (PlaintextUpdates") {
		t.Errorf("privacy line %q", lines[1])
	}
	if !strings.HasPrefix(lines[2], "round    1  clients   5/10  acc ") {
		t.Errorf("progress line %q", lines[2])
	}
}

func TestFedsimMissesTarget(t *testing.T) {
	var out bytes.Buffer
	err := run([]string{"-data", digits(t), "-model", "softmax", "-clients", "10", "-per-round", "3",
		"-partition", "shards", "-rounds", "2", "-target", "0.999", "-secagg", "10"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`did not reach 0\.999 in 2 rounds \(best 0\.\d{4}\)\n$`).MatchString(out.String()) {
		t.Errorf("output:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "\nfedsim: privacy: secure aggregation on: clients clip to 10,") {
		t.Errorf("output does not say secure aggregation is on:\n%s", out.String())
	}
}

func TestFedsimFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-model", "cnn"},
		{"-partition", "weird"},
		{"-strategy", "magic"},
		{"extra"},
	} {
		var out bytes.Buffer
		if err := run(append([]string{"-data", digits(t)}, args...), &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
