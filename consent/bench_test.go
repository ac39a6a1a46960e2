package consent

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
	"golang.org/x/mod/sumdb/tlog"
)

func benchToken(b *testing.B, mods ...func(*Config)) (*Ledger, string) {
	l := newTestLedger(b, mods...)
	g := grantTo(b, l, "alice", []Scope{
		{Thing: "lamp", Ops: []string{thing.OpReadProperty, thing.OpWriteProperty, thing.OpObserveProperty}},
		{Thing: "heater", Ops: []string{thing.OpReadProperty}, Names: []string{"temperature", "target"}},
	})
	return l, string(issue(b, l, g.ID).AccessToken)
}

// BenchmarkAuthorizeCached is the gateway's per-request cost: a token
// verified before, answered from the cache (goal: under 2 µs, 0 allocs).
func BenchmarkAuthorizeCached(b *testing.B) {
	l, tok := benchToken(b)
	ctx := context.Background()
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	if d, err := l.Authorize(ctx, tok, req); err != nil || !d.Allow {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := l.Authorize(ctx, tok, req); err != nil || !d.Allow {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuthorizeCachedParallel is the cached path under concurrent
// requests.
func BenchmarkAuthorizeCachedParallel(b *testing.B) {
	l, tok := benchToken(b)
	ctx := context.Background()
	req := access.Request{ThingID: "heater", Op: thing.OpReadProperty, Name: "target"}
	l.Authorize(ctx, tok, req)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if d, err := l.Authorize(ctx, tok, req); err != nil || !d.Allow {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthorizeUncached verifies the token every time: signature,
// header and claims, grant lookup. Its ratio to the cached path is what the
// cache buys.
func BenchmarkAuthorizeUncached(b *testing.B) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		b.Run(alg, func(b *testing.B) {
			l, tok := benchToken(b, func(c *Config) { c.CacheSize = -1; c.Algorithm = alg })
			ctx := context.Background()
			req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
			b.ReportAllocs()
			for b.Loop() {
				if d, err := l.Authorize(ctx, tok, req); err != nil || !d.Allow {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGrantDurable records grants in a file store, fsynced, with 8
// concurrent writers sharing flushes (group commit), and with one writer
// for comparison. Goal: at least 5,000 grants/s with 8 writers.
func BenchmarkGrantDurable(b *testing.B) {
	for _, writers := range []int{1, 8} {
		b.Run(map[int]string{1: "writers=1", 8: "writers=8"}[writers], func(b *testing.B) {
			s, err := OpenFileStore(filepath.Join(b.TempDir(), "consent.log"), FileStoreOptions{})
			if err != nil {
				b.Fatal(err)
			}
			l := newTestLedger(b, func(c *Config) { c.Store = s })
			ctx := context.Background()
			req := GrantRequest{Subject: "alice", Holder: "guest-app", Purpose: "comfort", Scopes: lampRead, Duration: time.Hour}
			b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := l.Grant(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
		})
	}
}

// BenchmarkAuditAppendCheckpoint appends one audit entry (in memory) and
// signs a checkpoint of the log.
func BenchmarkAuditAppendCheckpoint(b *testing.B) {
	l := newTestLedger(b)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.mu.Lock()
		size, err := l.commitLocked([]txOp{auditOp(AuditEntry{Time: now, Event: EventExport, Subject: "pseudonym"})})
		l.mu.Unlock()
		if err == nil {
			err = l.sync(ctx, size)
		}
		if err != nil {
			b.Fatal(err)
		}
		if _, err := l.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

func auditFixture(b *testing.B, n int) *Ledger {
	l := newTestLedger(b)
	now := time.Now()
	l.mu.Lock()
	for range n {
		if _, err := l.commitLocked([]txOp{auditOp(AuditEntry{Time: now, Event: EventExport, Subject: "pseudonym"})}); err != nil {
			b.Fatal(err)
		}
	}
	l.mu.Unlock()
	if err := l.sync(context.Background(), l.audit.size()); err != nil {
		b.Fatal(err)
	}
	return l
}

// BenchmarkVerifyInclusion checks an inclusion proof in a log of 100,000
// entries, as a data subject's verifier does.
func BenchmarkVerifyInclusion(b *testing.B) {
	l := auditFixture(b, 100_000)
	ctx := context.Background()
	v, _ := NewVerifier(l.AuditVerifierKey())
	cp, _ := l.Checkpoint(ctx)
	c, err := v.Checkpoint(cp)
	if err != nil {
		b.Fatal(err)
	}
	entry, _ := l.AuditEntry(31337)
	proof, err := l.InclusionProof(ctx, 31337, c.Size)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyInclusion(c, 31337, entry, proof); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyConsistency checks a consistency proof between two
// checkpoints of a log of 100,000 entries.
func BenchmarkVerifyConsistency(b *testing.B) {
	l := auditFixture(b, 100_000)
	ctx := context.Background()
	oldHash, _ := tlog.TreeHash(40_000, l.audit)
	newHash, _ := tlog.TreeHash(100_000, l.audit)
	older := Checkpoint{Origin: l.origin, Size: 40_000, Hash: oldHash}
	newer := Checkpoint{Origin: l.origin, Size: 100_000, Hash: newHash}
	proof, err := l.ConsistencyProof(ctx, older.Size, newer.Size)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyConsistency(older, newer, proof); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyReceipt verifies a signed consent receipt end to end:
// two signatures, the inclusion proof, the commitment.
func BenchmarkVerifyReceipt(b *testing.B) {
	l := newTestLedger(b)
	g := grantTo(b, l, "alice", lampRead)
	r, err := l.Receipt(context.Background(), g.ID)
	if err != nil {
		b.Fatal(err)
	}
	v, _ := NewVerifier(l.AuditVerifierKey())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Receipt(r); err != nil {
			b.Fatal(err)
		}
	}
}
