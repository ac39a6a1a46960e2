package fedlearn

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/dp"
)

// dpCrashConfig is a central-DP server over six clients, three per round
// (q = 1/2), that checkpoints every third round.
func dpCrashConfig(dir string, rounds int) ServerConfig {
	return ServerConfig{
		Params: make([]float64, 8), Rounds: rounds, PerRound: 3, Seed: 4,
		CheckpointDir: dir, CheckpointEvery: 3,
		Privacy: &DPConfig{ClipNorm: 1, NoiseMultiplier: 1.1},
	}
}

func attachShifters(t *testing.T, srv *Server, k int) {
	for i := range k {
		srv.Attach(Local(fmt.Sprint("c", i), mustClient(t, shift(0.1, 10), ClientConfig{})))
	}
}

// epsilonAfter is the ε the accountant reports after n rounds of the
// configuration above.
func epsilonAfter(t *testing.T, n int) float64 {
	t.Helper()
	var acct dp.Accountant
	if err := acct.StepN(0.5, 1.1, n); err != nil {
		t.Fatal(err)
	}
	eps, _, err := acct.Epsilon(1e-5)
	if err != nil {
		t.Fatal(err)
	}
	return eps
}

// TestPrivacyAccountingSurvivesCrash is the reviewer's scenario: with DP
// on and a checkpoint every 3 rounds, the server crashes after releasing
// round 5, resumes from the checkpoint of round 3 and runs rounds 4 and 5
// again with fresh noise. Seven noised aggregates have then been
// released, and the reported ε must account for all seven.
func TestPrivacyAccountingSurvivesCrash(t *testing.T) {
	dir := t.TempDir()
	first := mustServer(t, dpCrashConfig(dir, 0))
	attachShifters(t, first, 6)
	var released [][]float64
	for range 5 {
		if _, err := first.RunRound(t.Context()); err != nil {
			t.Fatal(err)
		}
		released = append(released, first.Params())
	}
	if got := first.History()[4].Epsilon; math.Abs(got-epsilonAfter(t, 5)) > 1e-12 {
		t.Fatalf("ε after 5 rounds = %v, want %v", got, epsilonAfter(t, 5))
	}
	// Crash: the process dies without another checkpoint.

	second := mustServer(t, dpCrashConfig(dir, 5))
	if second.Round() != 3 {
		t.Fatalf("resumed at round %d, want 3 (the last checkpoint)", second.Round())
	}
	if !slices.Equal(second.Params(), released[2]) {
		t.Fatal("resumed from a different model than round 3's")
	}
	attachShifters(t, second, 6)
	if err := second.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := second.History()
	if len(h) != 5 {
		t.Fatalf("%d records, want 5", len(h))
	}
	// Round 4 again is the sixth noised release, round 5 again the seventh.
	for i, want := range map[int]float64{3: epsilonAfter(t, 6), 4: epsilonAfter(t, 7)} {
		if got := h[i].Epsilon; math.Abs(got-want) > 1e-12 {
			t.Errorf("round %d (resumed): ε = %v, want %v for %d noised releases", h[i].Round, got, want, i+3)
		}
	}

	// A third start counts the seven releases too, and reports them in
	// the next round.
	third := mustServer(t, dpCrashConfig(dir, 6))
	attachShifters(t, third, 6)
	rec, err := third.RunRound(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := epsilonAfter(t, 8); math.Abs(rec.Epsilon-want) > 1e-12 {
		t.Errorf("round 6: ε = %v, want %v for 8 noised releases", rec.Epsilon, want)
	}
}

// TestPrivacyLogWriteFailureReleasesNothing checks that a round whose
// accounting cannot be made durable releases nothing and stops Run.
func TestPrivacyLogWriteFailureReleasesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	srv := mustServer(t, dpCrashConfig(dir, 2))
	attachShifters(t, srv, 6)
	before := srv.Params()
	// The state folder becomes a file: nothing can be written below it.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := srv.Run(t.Context()); err == nil {
		t.Fatal("Run succeeded without a privacy log")
	}
	if !slices.Equal(srv.Params(), before) || srv.Round() != 0 || len(srv.History()) != 0 {
		t.Errorf("a round without durable accounting was released: round %d, history %d", srv.Round(), len(srv.History()))
	}
}

func TestPrivacyLogTornAndDamaged(t *testing.T) {
	var b []byte
	for i := range 3 {
		b = privacyEntry{round: i + 1, q: 0.5, z: 1.1}.append(b)
	}
	for name, tc := range map[string]struct {
		log      []byte
		entries  int
		damaged  bool
		keepSize int
	}{
		"intact":           {log: b, entries: 3, keepSize: len(b)},
		"empty":            {log: nil, entries: 0},
		"torn short":       {log: b[:len(b)-5], entries: 2, keepSize: 2 * plRecord},
		"torn zero-filled": {log: append(slices.Clone(b[:2*plRecord]), make([]byte, plRecord)...), entries: 2, keepSize: 2 * plRecord},
		"damaged middle":   {log: func() []byte { c := slices.Clone(b); c[plRecord+9] ^= 1; return c }(), damaged: true},
		"damaged magic":    {log: func() []byte { c := slices.Clone(b); c[0] = 'X'; return c }(), damaged: true},
		"q out of range": {log: func() []byte {
			c := privacyEntry{round: 1, q: 2, z: 1}.append(nil)
			return append(c, b...)
		}(), damaged: true},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, PrivacyLogFile)
			if err := os.WriteFile(path, tc.log, 0o600); err != nil {
				t.Fatal(err)
			}
			entries, err := loadPrivacyLog(dir)
			if tc.damaged {
				if !errors.Is(err, ErrCheckpoint) {
					t.Fatalf("loadPrivacyLog = %v, want ErrCheckpoint", err)
				}
				// A server will not start without knowing its privacy spent.
				if _, err := NewServer(dpCrashConfig(dir, 1)); !errors.Is(err, ErrCheckpoint) {
					t.Errorf("NewServer = %v, want ErrCheckpoint", err)
				}
				return
			}
			if err != nil || len(entries) != tc.entries {
				t.Fatalf("loadPrivacyLog = %d entries, %v; want %d", len(entries), err, tc.entries)
			}
			if fi, err := os.Stat(path); err != nil || fi.Size() != int64(tc.keepSize) {
				t.Errorf("log not truncated to its intact prefix: %v", err)
			}
			// Appending after a torn tail starts on a record boundary.
			if err := appendPrivacyLog(dir, privacyEntry{round: 9, q: 1, z: 2}); err != nil {
				t.Fatal(err)
			}
			if entries, err := loadPrivacyLog(dir); err != nil || len(entries) != tc.entries+1 || entries[tc.entries].round != 9 {
				t.Errorf("after append: %v, %v", entries, err)
			}
		})
	}
}

// TestPrivacyLogFromHistory checks that a checkpoint whose noised rounds
// are missing from the log (the log was lost, or predates it) still
// counts them, and that they are written back to the log.
func TestPrivacyLogFromHistory(t *testing.T) {
	dir := t.TempDir()
	srv := mustServer(t, dpCrashConfig(dir, 2))
	attachShifters(t, srv, 6)
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, PrivacyLogFile)); err != nil {
		t.Fatal(err)
	}
	again := mustServer(t, dpCrashConfig(dir, 3))
	attachShifters(t, again, 6)
	rec, err := again.RunRound(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := epsilonAfter(t, 3); math.Abs(rec.Epsilon-want) > 1e-12 {
		t.Errorf("ε = %v, want %v", rec.Epsilon, want)
	}
	if entries, err := loadPrivacyLog(dir); err != nil || len(entries) != 3 {
		t.Errorf("log has %d entries (%v), want 3", len(entries), err)
	}
}
