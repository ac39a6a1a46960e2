package consent

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// crashEnv names the store file a crash-test child appends to.
const crashEnv = "HEARTH_CONSENT_CRASH_CHILD"

func crashConfig(s Store) Config {
	return Config{Issuer: "https://home.example/auth", Store: s, Purposes: testPurposes(), Clients: testClients()}
}

// TestCrashChild is the child process of TestCrashRecovery: it appends
// grants and revocations from 8 goroutines as fast as it can and reports
// each one on stdout only after the ledger acknowledged it, until it is
// killed.
func TestCrashChild(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process for TestCrashRecovery")
	}
	ctx := context.Background()
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		fmt.Printf("E %v\n", err)
		os.Exit(3)
	}
	l, err := New(ctx, crashConfig(s))
	if err != nil {
		fmt.Printf("E %v\n", err)
		os.Exit(3)
	}
	var out sync.Mutex
	say := func(format string, args ...any) {
		line := fmt.Sprintf(format+"\n", args...)
		out.Lock()
		os.Stdout.WriteString(line) // one write per line: a kill never splits a line into two reports
		out.Unlock()
	}
	say("ready")
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			var mine []string
			for i := 0; ; i++ {
				g, err := l.Grant(ctx, GrantRequest{
					Subject: fmt.Sprintf("subject-%d", w), Holder: "guest-app", Purpose: "comfort",
					Scopes: []Scope{{Thing: fmt.Sprintf("lamp-%d", i%5), Ops: []string{thing.OpReadProperty}}},
				})
				if err != nil {
					say("E %v", err)
					return
				}
				say("G %s", g.ID)
				mine = append(mine, g.ID)
				if i%3 == 2 {
					id := mine[rand.IntN(len(mine))]
					if err := l.Revoke(ctx, id); err != nil {
						say("E %v", err)
						return
					}
					say("R %s", id)
				}
				if i%10 == 9 {
					cp, err := l.Checkpoint(ctx)
					if err != nil {
						say("E %v", err)
						return
					}
					say("C %s", base64.StdEncoding.EncodeToString(cp))
				}
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}

// TestCrashRecovery kills a child process that appends grants with
// SIGKILL at random points, many times, and checks after every restart
// that each acknowledged grant and revocation is there, nothing is
// duplicated and the audit log is consistent with every checkpoint the
// child published. Finally it flips a byte in the middle of the file and
// expects the damage to be reported.
func TestCrashRecovery(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in the child")
	}
	budget := 12 * time.Second
	if testing.Short() {
		budget = 2 * time.Second
	}
	path := filepath.Join(t.TempDir(), "consent.log")
	granted := map[string]bool{}
	revoked := map[string]bool{}
	var checkpoints []string
	start := time.Now()
	runs, kills := 0, 0
	for time.Since(start) < budget || runs < 5 {
		runs++
		acked, killed := runCrashChild(t, path, time.Duration(rand.IntN(150))*time.Millisecond)
		if killed {
			kills++
		}
		for _, line := range acked {
			kind, arg, _ := strings.Cut(line, " ")
			switch kind {
			case "G":
				granted[arg] = true
			case "R":
				revoked[arg] = true
			case "C":
				checkpoints = append(checkpoints, arg)
			case "E":
				t.Fatalf("child failed: %s", arg)
			}
		}
		verifyRecovered(t, path, granted, revoked, checkpoints)
	}
	t.Logf("%d runs (%d killed mid-write) in %v: %d grants, %d revocations, %d checkpoints acknowledged", runs, kills, time.Since(start).Round(time.Millisecond), len(granted), len(revoked), len(checkpoints))
	if len(granted) == 0 {
		t.Fatal("the child acknowledged nothing: the test exercised nothing")
	}

	// A flipped byte in the middle is detected and reported, not truncated.
	b := readFile(t, path)
	mid := len(b) / 2
	b[mid] ^= 0x10
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFileStore(path, FileStoreOptions{})
	var ce *CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("flipped byte at %d: %v", mid, err)
	}
	if ce.Offset > int64(mid) {
		t.Errorf("corruption at %d reported at %d", mid, ce.Offset)
	}
}

// runCrashChild starts the child, lets it run for d after it is ready and
// kills it. It returns the complete lines the child printed.
func runCrashChild(t *testing.T, path string, d time.Duration) (lines []string, killed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		first := true
		for sc.Scan() {
			line := sc.Text()
			if first && line == "ready" {
				first = false
				close(ready)
				continue
			}
			lines = append(lines, line)
		}
		if first {
			close(ready)
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not start")
	}
	time.Sleep(d)
	if err := cmd.Process.Kill(); err == nil { // SIGKILL on unix
		killed = true
	}
	<-done
	cmd.Wait()
	return lines, killed
}

// verifyRecovered opens the store as after a restart and checks it against
// what the child acknowledged.
func verifyRecovered(t *testing.T, path string, granted, revoked map[string]bool, checkpoints []string) {
	t.Helper()
	ctx := context.Background()
	s, err := OpenFileStore(path, FileStoreOptions{})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	// New fails on a grant recorded twice, so reaching here proves there
	// are no duplicates in the grant records themselves.
	l, err := New(ctx, crashConfig(s))
	if err != nil {
		t.Fatalf("ledger after kill: %v", err)
	}
	defer l.Close()
	for id := range granted {
		g, err := l.Get(id)
		if err != nil {
			t.Fatalf("acknowledged grant %s lost: %v", id, err)
		}
		if revoked[id] && g.Status != StatusRevoked {
			t.Fatalf("acknowledged revocation of %s lost", id)
		}
	}
	// Each grant has exactly one grant entry in the audit log, at its
	// recorded index.
	seen := map[string]int64{}
	n := l.AuditSize()
	for i := range n {
		b, err := l.AuditEntry(i)
		if err != nil {
			t.Fatal(err)
		}
		e, err := ParseAuditEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		if e.Event == EventGrant {
			if _, dup := seen[e.Grant]; dup {
				t.Fatalf("grant %s audited twice", e.Grant)
			}
			seen[e.Grant] = i
		}
	}
	for _, g := range l.Grants(GrantFilter{}) {
		if seen[g.ID] != g.AuditIndex {
			t.Fatalf("grant %s: audit index %d, entry at %d", g.ID, g.AuditIndex, seen[g.ID])
		}
	}
	// The log extends every checkpoint the child published.
	v, err := NewVerifier(l.AuditVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	nowCP, _ := l.Checkpoint(ctx)
	now, err := v.Checkpoint(nowCP)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range checkpoints {
		raw, _ := base64.StdEncoding.DecodeString(enc)
		old, err := v.Checkpoint(raw)
		if err != nil {
			t.Fatalf("published checkpoint does not verify: %v", err)
		}
		proof, err := l.ConsistencyProof(ctx, old.Size, now.Size)
		if err != nil {
			t.Fatalf("checkpoint of size %d beyond the recovered log of %d: %v", old.Size, now.Size, err)
		}
		if err := VerifyConsistency(old, now, proof); err != nil {
			t.Fatalf("recovered log is not consistent with a published checkpoint: %v", err)
		}
	}
	// A sample of acknowledged grants has a receipt that verifies.
	k := 0
	for id := range granted {
		if k++; k > 5 {
			break
		}
		r, err := l.Receipt(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Receipt(r); err != nil {
			t.Fatalf("receipt for %s: %v", id, err)
		}
	}
}
