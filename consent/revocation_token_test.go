package consent

import (
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// TestTokenFamilyRevocationNamesTheFamily: revoking one token family (RFC
// 7009 revocation, refresh-token reuse) publishes a Revocation whose TokenID
// is the Decision.TokenID of that family's access tokens, and of no other
// family's, so a gateway closes only what was opened with that family.
// Revoking the grant publishes no TokenID.
func TestTokenFamilyRevocationNamesTheFamily(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", lampRead)
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	tokenID := func(tok Secret) string {
		t.Helper()
		d, err := l.Authorize(ctx, string(tok), req)
		if err != nil || d.TokenID == "" {
			t.Fatalf("Authorize: %+v, %v", d, err)
		}
		return d.TokenID
	}
	var mu sync.Mutex
	var got []access.Revocation
	cancel := l.SubscribeRevocations(func(r access.Revocation) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
	})
	defer cancel()
	last := func() access.Revocation {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("%d revocations published, want 1: %+v", len(got), got)
		}
		r := got[0]
		got = nil
		return r
	}

	// Refresh reuse revokes the family of t1 and t2 (one TokenID).
	t1 := issue(t, l, g.ID)
	t2, err := l.Refresh(ctx, t1.RefreshToken, "guest-app", nil)
	if err != nil {
		t.Fatal(err)
	}
	fam := tokenID(t1.AccessToken)
	if id2 := tokenID(t2.AccessToken); id2 != fam {
		t.Fatalf("access tokens of one family have TokenIDs %q and %q", fam, id2)
	}
	other := issue(t, l, g.ID)
	if tokenID(other.AccessToken) == fam {
		t.Fatal("two families share a TokenID")
	}
	if _, err := l.Refresh(ctx, t1.RefreshToken, "guest-app", nil); err == nil {
		t.Fatal("refresh token reuse accepted")
	}
	if r := last(); r.GrantID != g.ID || r.TokenID != fam {
		t.Errorf("refresh reuse published %+v, want grant %q token %q", r, g.ID, fam)
	}

	// RFC 7009 revocation of one access token revokes its family only.
	otherID := tokenID(other.AccessToken)
	if err := l.RevokeToken(ctx, other.AccessToken, ""); err != nil {
		t.Fatal(err)
	}
	if r := last(); r.GrantID != g.ID || r.TokenID != otherID {
		t.Errorf("RevokeToken published %+v, want grant %q token %q", r, g.ID, otherID)
	}

	// Revoking the grant names no token.
	third := issue(t, l, g.ID)
	tokenID(third.AccessToken)
	if err := l.Revoke(ctx, g.ID); err != nil {
		t.Fatal(err)
	}
	if r := last(); r.GrantID != g.ID || r.TokenID != "" {
		t.Errorf("Revoke published %+v, want the grant alone", r)
	}
}
