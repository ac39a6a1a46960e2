package consent

import (
	"context"
	"iter"
	"slices"
	"sync"
)

// A Store keeps the ledger's records: an append-only sequence of opaque
// byte strings, each the encoding of one ledger transaction (a grant and
// its audit entry, a revocation and its audit entry, ...).
//
// The Ledger calls Append while holding its own lock, so that records are
// stored in the order in which it applied them, and then calls Sync without
// the lock, so that concurrent writers share one flush (group commit).
//
// Implementations must be safe for concurrent use, and must keep these
// promises, which the consenttest suite checks:
//
//   - Append adds rec after every record appended before it. It must not
//     retain rec. It should be cheap: durability is Sync's job.
//   - Sync returns once every record appended before the call is durable.
//     Once Append or Sync has failed, the store's contents are uncertain and
//     every later Append and Sync must fail too.
//   - After a crash, the durable records are a prefix of the appended
//     sequence, each record whole or absent.
//   - Records yields every record appended so far, in order.
//   - After Close, every method returns an error wrapping ErrClosed.
type Store interface {
	Append(rec []byte) error
	Sync(ctx context.Context) error
	Records(ctx context.Context) iter.Seq2[[]byte, error]
	Close() error
}

// A Compactor is a Store that can replace its whole contents at once. The
// Ledger uses it to drop superseded records (spent refresh tokens, purged
// and erased grants), so that erased personal data leaves the disk; with a
// Store that is not a Compactor, Ledger.Erase and Ledger.Purge report
// ErrNotErasable.
//
// Compact atomically replaces every record appended so far, synced or not,
// with recs, durably; a crash leaves either the old or the new contents.
// The Ledger does not call Append concurrently with Compact.
type Compactor interface {
	Compact(ctx context.Context, recs [][]byte) error
}

// MemoryStore is a Store that keeps records in memory: for tests and for
// ledgers whose state need not outlive the process. It is safe for
// concurrent use. The zero value is an empty, open store.
type MemoryStore struct {
	mu     sync.Mutex
	recs   [][]byte
	closed bool
}

var (
	_ Store     = (*MemoryStore)(nil)
	_ Compactor = (*MemoryStore)(nil)
)

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return new(MemoryStore) }

// Append adds a copy of rec.
func (m *MemoryStore) Append(rec []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.recs = append(m.recs, slices.Clone(rec))
	return nil
}

// Sync does nothing: a MemoryStore's records are as durable as it gets.
func (m *MemoryStore) Sync(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	return nil
}

// Records yields copies of the records appended so far.
func (m *MemoryStore) Records(ctx context.Context) iter.Seq2[[]byte, error] {
	return func(yield func([]byte, error) bool) {
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			yield(nil, ErrClosed)
			return
		}
		recs := slices.Clone(m.recs)
		m.mu.Unlock()
		for _, r := range recs {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			if !yield(slices.Clone(r), nil) {
				return
			}
		}
	}
}

// Compact replaces the contents with copies of recs.
func (m *MemoryStore) Compact(ctx context.Context, recs [][]byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = slices.Clone(r)
	}
	m.recs = out
	return nil
}

// Close marks the store closed and drops its records.
func (m *MemoryStore) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.closed = true
	m.recs = nil
	return nil
}
