package consent

import (
	"bytes"
	"errors"
	"testing"
)

func TestAuditProofs(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	v, err := NewVerifier(l.AuditVerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	var cps []Checkpoint
	for i := range 20 {
		g := grantTo(t, l, "alice", lampRead)
		if i%3 == 0 {
			issue(t, l, g.ID)
		}
		raw, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := v.Checkpoint(raw)
		if err != nil {
			t.Fatal(err)
		}
		cps = append(cps, c)
	}
	last := cps[len(cps)-1]
	if last.Size != l.AuditSize() {
		t.Fatalf("checkpoint size %d, log %d", last.Size, l.AuditSize())
	}
	for i := range last.Size {
		e, _ := l.AuditEntry(i)
		p, err := l.InclusionProof(ctx, i, last.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyInclusion(last, i, e, p); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		// Any other entry, index or tree fails.
		if err := VerifyInclusion(last, i, append(bytes.Clone(e), ' '), p); !errors.Is(err, ErrVerify) {
			t.Errorf("altered entry %d verified", i)
		}
		if err := VerifyInclusion(last, (i+1)%last.Size, e, p); !errors.Is(err, ErrVerify) && last.Size > 1 {
			t.Errorf("entry %d verified at another index", i)
		}
	}
	for i, older := range cps {
		p, err := l.ConsistencyProof(ctx, older.Size, last.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(older, last, p); err != nil {
			t.Errorf("checkpoint %d: %v", i, err)
		}
		forked := older
		forked.Hash[0] ^= 1
		if err := VerifyConsistency(forked, last, p); !errors.Is(err, ErrVerify) {
			t.Errorf("forked checkpoint %d verified", i)
		}
	}
	if err := VerifyConsistency(last, cps[0], nil); !errors.Is(err, ErrVerify) {
		t.Error("shrinking log verified")
	}
	if err := VerifyConsistency(Checkpoint{Origin: last.Origin}, last, nil); err != nil {
		t.Errorf("empty log is a prefix of every log: %v", err)
	}
	if _, err := l.InclusionProof(ctx, last.Size, last.Size); !errors.Is(err, ErrNotFound) {
		t.Errorf("proof past the end: %v", err)
	}
}

func TestCheckpointAndReceiptForgery(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	other := newTestLedger(t, func(c *Config) { c.AuditOrigin = l.origin })
	g := grantTo(t, l, "alice", lampRead)
	receipt, err := l.Receipt(ctx, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	cp, _ := l.Checkpoint(ctx)
	mine, _ := NewVerifier(l.AuditVerifierKey())
	theirs, _ := NewVerifier(other.AuditVerifierKey())
	if _, err := mine.Receipt(receipt); err != nil {
		t.Fatalf("genuine receipt: %v", err)
	}
	if _, err := theirs.Receipt(receipt); !errors.Is(err, ErrVerify) {
		t.Errorf("receipt verified under another log's key: %v", err)
	}
	if _, err := theirs.Checkpoint(cp); !errors.Is(err, ErrVerify) {
		t.Errorf("checkpoint verified under another log's key: %v", err)
	}
	// A checkpoint is not a receipt, and a receipt is not a checkpoint,
	// although one key signs both.
	if _, err := mine.Receipt(cp); !errors.Is(err, ErrVerify) {
		t.Errorf("checkpoint accepted as a receipt: %v", err)
	}
	if _, err := mine.Checkpoint(receipt); !errors.Is(err, ErrVerify) {
		t.Errorf("receipt accepted as a checkpoint: %v", err)
	}
	// The other ledger, holding its own key, cannot issue a receipt for
	// this ledger's grant that verifies here.
	g2 := grantTo(t, other, "alice", []Scope{{Thing: AllThings, Ops: ReadWriteOps()}})
	forged, _ := other.Receipt(ctx, g2.ID)
	if _, err := mine.Receipt(forged); !errors.Is(err, ErrVerify) {
		t.Errorf("foreign receipt verified: %v", err)
	}
	if _, err := NewVerifier("not a key"); !errors.Is(err, ErrVerify) {
		t.Errorf("bad verifier key: %v", err)
	}
}

func TestAuditHasNoPersonalData(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice@example.com", []Scope{{Thing: "urn:home:bathroom:shower", Ops: []string{"readproperty"}}})
	tok := issue(t, l, g.ID)
	l.Refresh(ctx, tok.RefreshToken, "guest-app", nil)
	l.Export(ctx, "alice@example.com")
	l.Revoke(ctx, g.ID)
	for i := range l.AuditSize() {
		e, _ := l.AuditEntry(i)
		for _, s := range []string{"alice", "example.com", "shower", "bathroom"} {
			if bytes.Contains(e, []byte(s)) {
				t.Errorf("audit entry %d contains %q: %s", i, s, e)
			}
		}
	}
}
