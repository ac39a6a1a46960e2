package consent

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
)

// TestPurgeLeavesNoTraceOnDisk checks storage limitation end to end: once a
// grant's retention has ended and Purge has run, the store file no longer
// holds the subject's id (neither in the grant nor in the salt of their
// pseudonym), their old audit entries can no longer be linked to them, and
// exporting their (now empty) data does not write their id again.
func TestPurgeLeavesNoTraceOnDisk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		const alice, bob = "alice@example.com", "bob@example.com"
		path := filepath.Join(t.TempDir(), "consent.log")
		open := func() *Ledger {
			s, err := OpenFileStore(path, FileStoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return newTestLedger(t, func(c *Config) { c.Store = s })
		}
		l := open()
		old := grantTo(t, l, alice, lampRead) // comfort: retention 0
		kept := grantTo(t, l, bob, lampRead)
		time.Sleep(30 * time.Minute)
		bobsNew := grantTo(t, l, bob, lampRead) // outlives the purge
		cp1, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !containsBytes(readFile(t, path), alice) {
			t.Fatal("test is vacuous: the store never held the subject id")
		}
		// Exporting for someone the ledger does not know stores nothing
		// that names them.
		const carol = "carol@example.com"
		if _, err := l.Export(ctx, carol); err != nil {
			t.Fatal(err)
		}
		if containsBytes(readFile(t, path), carol) {
			t.Error("Export of an unknown subject wrote their id to the store")
		}

		time.Sleep(45 * time.Minute) // old and kept have expired; bobsNew has not
		n, err := l.Purge(ctx)
		if err != nil || n != 2 {
			t.Fatalf("Purge = %d, %v; want 2, nil", n, err)
		}
		for _, id := range []string{old.ID, kept.ID} {
			if _, err := l.Get(id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(%s) after purge: %v", id, err)
			}
		}
		if data := readFile(t, path); containsBytes(data, alice) || containsBytes(data, old.ID) || containsBytes(data, kept.ID) {
			t.Error("store file still holds a purged subject id or grant after Purge")
		}

		// Alice is unknown now: her export is empty and writes nothing
		// that names her.
		var ex Export
		raw, err := l.Export(ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Pseudonym != "" || len(ex.Audit) != 0 || len(ex.Grants) != 0 {
			t.Errorf("export of a purged subject still links data to them: %s", raw)
		}
		if containsBytes(readFile(t, path), alice) {
			t.Error("Export of an unknown subject wrote their id to the store")
		}
		// Bob still has a grant, so his pseudonym (and his history) stays.
		raw, err = l.Export(ctx, bob)
		if err != nil {
			t.Fatal(err)
		}
		ex = Export{}
		json.Unmarshal(raw, &ex)
		if ex.Pseudonym == "" || len(ex.Grants) != 1 || ex.Grants[0].ID != bobsNew.ID || len(ex.Audit) < 3 {
			t.Errorf("export of a subject with a remaining grant: %s", raw)
		}

		// The log still extends the one before the purge, also after a
		// restart, and the purged subject stays gone.
		cp2, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vkey := l.AuditVerifierKey()
		l.Close()
		l = open()
		if _, err := l.Get(old.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("purged grant back after reopen: %v", err)
		}
		if g, err := l.Get(bobsNew.ID); err != nil || g.Status != StatusActive {
			t.Errorf("remaining grant after reopen: %v, %v", g.Status, err)
		}
		cp3, _ := l.Checkpoint(ctx)
		v, _ := NewVerifier(vkey)
		c1, err1 := v.Checkpoint(cp1)
		c2, err2 := v.Checkpoint(cp2)
		c3, err3 := v.Checkpoint(cp3)
		if err := errors.Join(err1, err2, err3); err != nil {
			t.Fatal(err)
		}
		if c3 != c2 {
			t.Errorf("checkpoint after reopen %+v, want %+v", c3, c2)
		}
		proof, err := l.ConsistencyProof(ctx, c1.Size, c2.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(c1, c2, proof); err != nil {
			t.Error(err)
		}
		if err := l.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		if containsBytes(readFile(t, path), alice) {
			t.Error("store file holds the purged subject id after reopen and Compact")
		}
	})
}

// appendOnlyStore is a Store that cannot compact: it hides MemoryStore's
// Compact method.
type appendOnlyStore struct{ Store }

// TestEraseWithoutCompactor checks that a store that cannot drop records
// makes Erase (and a Purge that deleted something) fail with
// ErrNotErasable, after doing everything else, rather than report an
// erasure that left the subject's records behind.
func TestEraseWithoutCompactor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		mem := NewMemoryStore()
		l := newTestLedger(t, func(c *Config) { c.Store = appendOnlyStore{mem} })
		g := grantTo(t, l, "alice", lampRead)
		tok := issue(t, l, g.ID)
		hist := &fakeHistory{data: map[string]string{"alice": `[1]`}}
		l.RegisterEraser("history", hist)

		err := l.Erase(ctx, "alice")
		if !errors.Is(err, ErrNotErasable) {
			t.Fatalf("Erase on a store that cannot compact = %v, want ErrNotErasable", err)
		}
		// Everything else was done.
		if _, err := l.Get(g.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("grant after Erase: %v", err)
		}
		if _, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); err == nil {
			t.Error("token still authorizes after Erase")
		}
		if _, ok := hist.data["alice"]; ok {
			t.Error("eraser not called")
		}
		raw, err := l.Export(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		var ex Export
		json.Unmarshal(raw, &ex)
		if ex.Pseudonym != "" || len(ex.Audit) != 0 {
			t.Errorf("export after Erase: %s", raw)
		}
		// The ledger's state is gone; the store's records are not, which
		// is what the error says.
		found := false
		for rec, err := range mem.Records(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			found = found || containsBytes(rec, "alice")
		}
		if !found {
			t.Error("test is vacuous: the append-only store dropped the subject's records")
		}
		if err := l.Erase(ctx, "alice"); !errors.Is(err, ErrNotErasable) {
			t.Errorf("second Erase = %v, want ErrNotErasable", err)
		}

		// Purge: nothing to delete is no error; deleting is.
		if n, err := l.Purge(ctx); n != 0 || err != nil {
			t.Errorf("Purge with nothing to do = %d, %v", n, err)
		}
		grantTo(t, l, "bob", lampRead)
		time.Sleep(2 * time.Hour)
		if n, err := l.Purge(ctx); n != 1 || !errors.Is(err, ErrNotErasable) {
			t.Errorf("Purge = %d, %v; want 1, ErrNotErasable", n, err)
		}
	})
}

// TestEraseWithoutCompactorHTTP checks that the erasure API and page say
// that erasure is not supported, instead of "try again later".
func TestEraseWithoutCompactorHTTP(t *testing.T) {
	ts := newTestServer(t, func(c *Config) { c.Store = appendOnlyStore{NewMemoryStore()} })
	grantTo(t, ts.l, "bob", lampRead)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", ts.base+"api/erase", strings.NewReader(`{"confirm":true}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Test-User", "bob")
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("API erase on a store that cannot compact: %d, want 501", resp.StatusCode)
	}

	grantTo(t, ts.l, "alice", lampRead)
	page := readAll(t, ts.do("GET", "consents", "alice", nil))
	csrf := htmlUnescape(hiddenCSRF.FindStringSubmatch(page)[1])
	resp = ts.do("POST", "consents", "alice", url.Values{"csrf": {csrf}, "action": {"erase"}, "confirm": {"yes"}})
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotImplemented {
		t.Errorf("page erase on a store that cannot compact: %d, want 501", resp.StatusCode)
	}
}
