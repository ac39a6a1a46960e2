// Package consenttest checks that a consent.Store implementation keeps the
// promises the consent.Store documentation makes, in the manner of
// testing/fstest.TestFS and testing/slogtest.Run.
//
// A SQL-backed store, for example, is tested with
//
//	func TestStore(t *testing.T) {
//		consenttest.Run(t, consenttest.Config{
//			Open: func(t *testing.T, name string) consent.Store {
//				return openSQLStore(t, name)
//			},
//			Persistent: true,
//		})
//	}
package consenttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/consent"
)

// Config describes the Store under test.
//
// Run only reads a Config and calls Open from one goroutine at a time, so
// Open need not be safe for concurrent use (the stores it returns must be).
type Config struct {
	// Open opens the store called name, creating it empty the first time.
	// The suite uses a fresh name in every subtest. Opening a name again
	// after Close must give a store with every record synced before Close
	// when Persistent is true. Required.
	Open func(t *testing.T, name string) consent.Store
	// Persistent reports that records survive Close and Open.
	Persistent bool
}

// Run runs the conformance suite against the store cfg opens. Stores
// implementing consent.Compactor are checked for compaction too.
func Run(t *testing.T, cfg Config) {
	if cfg.Open == nil {
		t.Fatal("consenttest: Config.Open is nil")
	}
	s := suite{cfg: cfg}
	t.Run("Empty", s.empty)
	t.Run("AppendSyncRecords", s.appendSyncRecords)
	t.Run("NoAliasing", s.noAliasing)
	t.Run("ConcurrentWriters", s.concurrentWriters)
	t.Run("EarlyBreak", s.earlyBreak)
	t.Run("CancelledContext", s.cancelled)
	t.Run("Closed", s.closed)
	if cfg.Persistent {
		t.Run("Reopen", s.reopen)
	}
	t.Run("Compact", s.compact)
}

type suite struct{ cfg Config }

func (s suite) open(t *testing.T) consent.Store {
	t.Helper()
	st := s.cfg.Open(t, t.Name())
	if st == nil {
		t.Fatal("Open returned nil")
	}
	return st
}

// records collects every record, failing on errors.
func records(t *testing.T, st consent.Store) [][]byte {
	t.Helper()
	var out [][]byte
	for r, err := range st.Records(context.Background()) {
		if err != nil {
			t.Fatalf("Records: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func mustAppend(t *testing.T, st consent.Store, recs ...[]byte) {
	t.Helper()
	for _, r := range recs {
		if err := st.Append(r); err != nil {
			t.Fatalf("Append: %v", err)
		}
	}
}

func mustSync(t *testing.T, st consent.Store) {
	t.Helper()
	if err := st.Sync(context.Background()); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

func equalRecords(t *testing.T, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("record %d: got %d bytes %.40q, want %d bytes %.40q", i, len(got[i]), got[i], len(want[i]), want[i])
		}
	}
}

// sample returns records of many shapes: empty, every byte value, text,
// and one of a megabyte.
func sample() [][]byte {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	recs := [][]byte{{}, all, []byte(`{"ops":[{"k":"grant"}]}`), big, {0}, []byte("HREC")}
	for i := range 100 {
		recs = append(recs, []byte(fmt.Sprintf("record %d %s", i, bytes.Repeat([]byte{'x'}, i*7))))
	}
	return recs
}

func (s suite) empty(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	if got := records(t, st); len(got) != 0 {
		t.Fatalf("new store has %d records", len(got))
	}
	mustSync(t, st)
}

func (s suite) appendSyncRecords(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	want := sample()
	mustAppend(t, st, want[:50]...)
	mustSync(t, st)
	mustAppend(t, st, want[50:]...)
	// Records must include records appended but not yet synced.
	equalRecords(t, records(t, st), want)
	mustSync(t, st)
	equalRecords(t, records(t, st), want)
}

func (s suite) noAliasing(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	rec := []byte("original")
	mustAppend(t, st, rec)
	copy(rec, "MUTATED!")
	mustSync(t, st)
	got := records(t, st)
	equalRecords(t, got, [][]byte{[]byte("original")})
	copy(got[0], "MUTATED!")
	equalRecords(t, records(t, st), [][]byte{[]byte("original")})
}

func (s suite) concurrentWriters(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	const writers, each = 8, 100
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := st.Append([]byte(fmt.Sprintf("w%d-%04d", w, i))); err != nil {
					errs <- err
					return
				}
				if err := st.Sync(context.Background()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got := records(t, st)
	if len(got) != writers*each {
		t.Fatalf("got %d records, want %d", len(got), writers*each)
	}
	last := make(map[int]int)
	seen := make(map[string]bool)
	for _, r := range got {
		var w, i int
		if _, err := fmt.Sscanf(string(r), "w%d-%04d", &w, &i); err != nil {
			t.Fatalf("unexpected record %q", r)
		}
		if seen[string(r)] {
			t.Fatalf("record %q stored twice", r)
		}
		seen[string(r)] = true
		if prev, ok := last[w]; ok && i <= prev {
			t.Fatalf("writer %d's records out of order: %d after %d", w, i, prev)
		}
		last[w] = i
	}
}

func (s suite) earlyBreak(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	want := sample()[:20]
	mustAppend(t, st, want...)
	mustSync(t, st)
	n := 0
	for _, err := range st.Records(context.Background()) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	equalRecords(t, records(t, st), want)
	mustAppend(t, st, []byte("after"))
	mustSync(t, st)
	equalRecords(t, records(t, st), append(slices.Clone(want), []byte("after")))
}

func (s suite) cancelled(t *testing.T) {
	st := s.open(t)
	defer st.Close()
	mustAppend(t, st, sample()[:10]...)
	mustSync(t, st)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var gotErr error
	n := 0
	for _, err := range st.Records(ctx) {
		if err != nil {
			gotErr = err
			break
		}
		n++
	}
	if !errors.Is(gotErr, context.Canceled) {
		t.Fatalf("Records with a cancelled context: yielded %d records and error %v, want context.Canceled", n, gotErr)
	}
}

func (s suite) closed(t *testing.T) {
	st := s.open(t)
	mustAppend(t, st, []byte("x"))
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := st.Append([]byte("y")); !errors.Is(err, consent.ErrClosed) {
		t.Errorf("Append after Close: %v", err)
	}
	if err := st.Sync(context.Background()); !errors.Is(err, consent.ErrClosed) {
		t.Errorf("Sync after Close: %v", err)
	}
	for _, err := range st.Records(context.Background()) {
		if !errors.Is(err, consent.ErrClosed) {
			t.Errorf("Records after Close: %v", err)
		}
		break
	}
	if err := st.Close(); !errors.Is(err, consent.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}
}

func (s suite) reopen(t *testing.T) {
	name := t.Name()
	st := s.cfg.Open(t, name)
	want := sample()
	mustAppend(t, st, want[:30]...)
	mustSync(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.cfg.Open(t, name)
	equalRecords(t, records(t, st), want[:30])
	mustAppend(t, st, want[30:]...)
	mustSync(t, st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = s.cfg.Open(t, name)
	defer st.Close()
	equalRecords(t, records(t, st), want)
}

func (s suite) compact(t *testing.T) {
	name := t.Name()
	st := s.cfg.Open(t, name)
	c, ok := st.(consent.Compactor)
	if !ok {
		st.Close()
		t.Skip("store is not a consent.Compactor")
	}
	mustAppend(t, st, sample()...)
	mustSync(t, st)
	mustAppend(t, st, []byte("appended, not synced"))
	snapshot := [][]byte{[]byte("snap-1"), {}, []byte("snap-3")}
	if err := c.Compact(context.Background(), snapshot); err != nil {
		t.Fatalf("Compact: %v", err)
	}
	mustSync(t, st)
	equalRecords(t, records(t, st), snapshot)
	mustAppend(t, st, []byte("after"))
	mustSync(t, st)
	want := append(slices.Clone(snapshot), []byte("after"))
	equalRecords(t, records(t, st), want)
	if err := c.Compact(context.Background(), nil); err != nil {
		t.Fatalf("Compact to nothing: %v", err)
	}
	equalRecords(t, records(t, st), nil)
	if err := c.Compact(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.cfg.Persistent {
		return
	}
	st = s.cfg.Open(t, name)
	defer st.Close()
	equalRecords(t, records(t, st), want)
}
