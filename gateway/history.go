package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// HistoryConfig configures a History. The zero value is ready to use: a
// History held in memory.
type HistoryConfig struct {
	// MaxValues bounds the values kept for one data subject, grant and
	// property; when it is reached the oldest value is dropped. Zero means
	// 10,000.
	MaxValues int

	// Dir, when set, makes the History durable: it keeps its values in an
	// append-only file in this directory (created if needed, mode 0700)
	// and finds them there again after a restart. Open a durable History
	// with OpenHistory, and Close it. One History at a time may use a
	// directory. Empty means memory only.
	Dir string

	// Logger receives the History's diagnostics (a value that could not be
	// written, a torn record dropped on opening). Nil means discard.
	Logger *slog.Logger
}

// HistoryValue is one recorded property value.
type HistoryValue struct {
	Subject  string          `json:"subject"`  // the data subject whose consent allowed recording it
	GrantID  string          `json:"grant"`    // the grant (consent) it was recorded under
	Purpose  string          `json:"purpose"`  // the purpose of that grant
	ThingID  string          `json:"thing"`    // the thing
	Property string          `json:"property"` // the property
	Time     time.Time       `json:"time"`     // when the value was reported
	Expires  time.Time       `json:"expires"`  // when its retention ends
	Value    json.RawMessage `json:"value"`    // the value, as JSON
}

// HistoryQuery selects recorded values. Empty fields match everything;
// zero times leave the range open.
type HistoryQuery struct {
	Subject  string
	Purpose  string
	ThingID  string
	Property string
	From, To time.Time // From ≤ Time < To
}

// History keeps property values recorded under history consents: a value
// is recorded only for the consents the Server's Authorizer returns from
// access.HistoryPolicy, once per consent, tagged with its data subject, and
// dropped when that consent's retention ends (Purge, which the Server runs
// periodically; expired values are never returned in the meantime).
//
// A History made by NewHistory is held in memory: it does not survive a
// restart. One opened by OpenHistory with HistoryConfig.Dir set also
// appends every value to a file there, reads it back when opened again,
// and rewrites the file without the values that are gone: those of an
// erased data subject (EraseSubject returns only once they are off the
// file) and those whose retention ended (Purge, and opening). See
// OpenHistory for the file and what survives a crash.
//
// Its ExportSubject and EraseSubject methods let a consent ledger serve the
// data subject's rights of access and erasure without importing this
// package.
//
// A History is safe for concurrent use.
type History struct {
	max    int
	log    *slog.Logger
	mu     sync.Mutex
	series map[seriesKey]*series
	n      int // values held

	// Durable only (dir set).
	dir    string
	f      *os.File // the log, opened for appending; nil when closed
	buf    []byte   // record encoding buffer
	dead   int      // records in the file no longer held (trimmed by max)
	dirty  bool     // appended since the last sync
	closed bool
}

// ErrHistoryClosed is returned by the methods of a durable History that
// need its file once it is closed.
var ErrHistoryClosed = errors.New("gateway: history closed")

type seriesKey struct {
	subject, grant, thing, property string
}

type series struct {
	purpose string
	points  []point
}

type point struct {
	t, exp time.Time
	v      json.RawMessage
}

// NewHistory returns an empty History held in memory. It panics if
// cfg.Dir is set: a durable History is opened with OpenHistory, which can
// report errors.
func NewHistory(cfg HistoryConfig) *History {
	if cfg.Dir != "" {
		panic("gateway: NewHistory with HistoryConfig.Dir set; use OpenHistory")
	}
	return newHistory(cfg)
}

func newHistory(cfg HistoryConfig) *History {
	if cfg.MaxValues <= 0 {
		cfg.MaxValues = 10000
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &History{max: cfg.MaxValues, log: log, series: make(map[seriesKey]*series)}
}

// OpenHistory returns a History for cfg. With cfg.Dir empty it is
// NewHistory. Otherwise it opens (or creates) the file history.log in
// cfg.Dir, loads the values it holds whose retention has not ended, and
// rewrites the file with just those.
//
// The file is a sequence of records, each a JSON value framed by its
// length and CRC-32C checksum. A record the History cannot read (a write
// torn by a crash or power loss) ends the file: it and anything after it
// are dropped, and logged. A file that is not a history file is refused
// with an error wrapping ErrHistoryFormat, and left alone.
//
// A value is written to the file when it is recorded, so it survives a
// crash of the process; it reaches stable storage (fsync) at the next
// Purge (every Config.HistoryPurgeInterval in a Server), rewrite or Close,
// so a power loss may lose the values recorded since. Rewrites go through
// a temporary file and a rename, so the file is never half-written.
// Erasure removes values from the file, not from the storage medium's
// free blocks: use an encrypted file system where that matters.
func OpenHistory(cfg HistoryConfig) (*History, error) {
	h := newHistory(cfg)
	if cfg.Dir == "" {
		return h, nil
	}
	h.dir = cfg.Dir
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return nil, fmt.Errorf("gateway: history: %w", err)
	}
	path := h.path()
	os.Remove(path + ".tmp") // a rewrite that did not finish
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("gateway: history: %w", err)
	}
	now := time.Now()
	expired := 0
	good, err := decodeHistoryLog(data, func(r historyRecord) {
		p := point{t: time.Unix(0, r.Time), exp: time.Unix(0, r.Expires), v: r.Value}
		if !now.Before(p.exp) {
			expired++
			return
		}
		h.add(seriesKey{r.Subject, r.Grant, r.Thing, r.Property}, r.Purpose, p)
	})
	if err != nil {
		return nil, fmt.Errorf("gateway: history %s: %w", path, err)
	}
	if good < len(data) {
		h.log.Warn("gateway: history: unreadable records dropped (a torn write?)", "file", path, "offset", good, "bytes", len(data)-good)
	}
	if expired > 0 {
		h.log.Debug("gateway: history: expired values dropped", "values", expired)
	}
	// Start from a file holding exactly what is held: no torn tail, no
	// expired or trimmed values.
	if err := h.rewriteLocked(now, nil); err != nil {
		return nil, err
	}
	return h, nil
}

func (h *History) path() string { return filepath.Join(h.dir, historyFileName) }

// add appends p to series k, dropping the oldest values beyond max. It
// reports how many it dropped. h.mu is held (or h is not shared yet).
func (h *History) add(k seriesKey, purpose string, p point) int {
	s := h.series[k]
	if s == nil {
		s = &series{}
		h.series[k] = s
	}
	s.purpose = purpose
	s.points = append(s.points, p)
	h.n++
	if over := len(s.points) - h.max; over > 0 {
		clear(s.points[:over])
		s.points = s.points[over:]
		h.n -= over
		return over
	}
	return 0
}

// record stores v for consent c.
func (h *History) record(c access.HistoryConsent, thingID, property string, t time.Time, v json.RawMessage) {
	if c.Retention <= 0 || c.Subject == "" {
		return
	}
	k := seriesKey{c.Subject, c.GrantID, thingID, property}
	p := point{t: t, exp: t.Add(c.Retention), v: v}
	h.mu.Lock()
	defer h.mu.Unlock()
	dropped := h.add(k, c.Purpose, p)
	if h.f == nil {
		return
	}
	h.dead += dropped
	if err := h.appendLocked(k, c.Purpose, p); err != nil {
		h.log.Warn("gateway: history: value not written to the file", "thing", thingID, "property", property, "err", err)
	}
	// Values trimmed by MaxValues stay in the file until a rewrite: keep
	// the file within about twice what is held.
	if h.dead >= compactMinDead && h.dead > h.n {
		if err := h.rewriteLocked(time.Now(), nil); err != nil {
			h.log.Warn("gateway: history: rewrite failed", "err", err)
		}
	}
}

// compactMinDead is how many trimmed values a durable History's file may
// hold before a rewrite is considered.
const compactMinDead = 1024

// Values returns the unexpired values q selects, ordered by time.
func (h *History) Values(ctx context.Context, q HistoryQuery) ([]HistoryValue, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	h.mu.Lock()
	var out []HistoryValue
	for k, s := range h.series {
		if (q.Subject != "" && k.subject != q.Subject) || (q.Purpose != "" && s.purpose != q.Purpose) ||
			(q.ThingID != "" && k.thing != q.ThingID) || (q.Property != "" && k.property != q.Property) {
			continue
		}
		for _, p := range s.points {
			if !now.Before(p.exp) || (!q.From.IsZero() && p.t.Before(q.From)) || (!q.To.IsZero() && !p.t.Before(q.To)) {
				continue
			}
			out = append(out, HistoryValue{
				Subject: k.subject, GrantID: k.grant, Purpose: s.purpose, ThingID: k.thing, Property: k.property,
				Time: p.t, Expires: p.exp, Value: p.v,
			})
		}
	}
	h.mu.Unlock()
	slices.SortStableFunc(out, func(a, b HistoryValue) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Purge drops the values whose retention ended before now and reports how
// many it dropped. A durable History then rewrites its file without them
// (when it dropped any) and syncs it; an error doing so is logged, and the
// next Purge or opening tries again.
func (h *History) Purge(now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for k, s := range h.series {
		kept := s.points[:0]
		for _, p := range s.points {
			if now.Before(p.exp) {
				kept = append(kept, p)
			}
		}
		n += len(s.points) - len(kept)
		clear(s.points[len(kept):])
		s.points = kept
		if len(kept) == 0 {
			delete(h.series, k)
		}
	}
	h.n -= n
	if h.dir == "" || h.closed {
		return n
	}
	var err error
	switch {
	case n > 0 || h.f == nil: // h.f is nil after a failed reopen
		err = h.rewriteLocked(now, nil)
	case h.dirty:
		if err = h.f.Sync(); err == nil {
			h.dirty = false
		}
	}
	if err != nil {
		h.log.Warn("gateway: history: purge not written", "err", err)
	}
	return n
}

// historyExport is the document ExportSubject returns.
type historyExport struct {
	Subject string         `json:"subject"`
	History []HistoryValue `json:"history"`
}

// ExportSubject returns, as JSON, every unexpired value recorded under the
// consents of subject: {"subject": …, "history": [{"subject", "grant",
// "purpose", "thing", "property", "time", "expires", "value"}, …]}.
func (h *History) ExportSubject(ctx context.Context, subject string) (json.RawMessage, error) {
	vals, err := h.Values(ctx, HistoryQuery{Subject: subject})
	if err != nil {
		return nil, err
	}
	if vals == nil {
		vals = []HistoryValue{}
	}
	return json.Marshal(historyExport{Subject: subject, History: vals})
}

// EraseSubject deletes every value recorded under the consents of subject.
// A durable History first rewrites its file without them: when
// EraseSubject returns nil they are gone from the file too, and when it
// fails nothing was erased (it returns ErrHistoryClosed once the History
// is closed).
func (h *History) EraseSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dir != "" {
		if h.closed {
			return ErrHistoryClosed
		}
		held := false
		for k := range h.series {
			held = held || k.subject == subject
		}
		if held {
			err := h.rewriteLocked(time.Now(), func(k seriesKey) bool { return k.subject == subject })
			if err != nil {
				return fmt.Errorf("gateway: erasing history: %w", err)
			}
		}
	}
	for k, s := range h.series {
		if k.subject == subject {
			h.n -= len(s.points)
			delete(h.series, k)
		}
	}
	return nil
}

// Close syncs and closes a durable History's file. The History still
// answers queries afterwards, but records nothing more to the file and
// cannot erase. Close the History after the Server that records into it.
// Closing a History held in memory does nothing. Close is idempotent.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	if h.f == nil {
		return nil
	}
	err := h.f.Sync()
	err = errors.Join(err, h.f.Close())
	h.f = nil
	if err != nil {
		return fmt.Errorf("gateway: closing history: %w", err)
	}
	return nil
}

// Len reports how many values the History holds, expired ones not yet
// purged included.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// historyItem is a property value waiting to be recorded.
type historyItem struct {
	thing, property string
	t               time.Time
	v               json.RawMessage
}

// recordHistory queues a new property value for recording.
func (s *Server) recordHistory(e *entry, name string, v json.RawMessage, t time.Time) {
	if s.histQ == nil {
		return
	}
	select {
	case s.histQ <- historyItem{thing: e.id, property: name, t: t, v: v}:
	default:
		s.log.Warn("gateway: history queue full; value not recorded", "thing", e.id, "property", name)
	}
}

// historyLoop records queued values for the consents the Authorizer
// returns, and purges expired values periodically.
func (s *Server) historyLoop() {
	hp, _ := s.auth.(access.HistoryPolicy)
	tick := time.NewTicker(s.cfg.HistoryPurgeInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
			if n := s.history.Purge(time.Now()); n > 0 {
				s.log.Debug("gateway: expired history purged", "values", n)
			}
		case it := <-s.histQ:
			if hp == nil {
				continue
			}
			consents, err := hp.HistoryConsents(s.ctx, it.thing, it.property)
			if err != nil {
				if s.ctx.Err() == nil {
					s.log.Warn("gateway: history consents unavailable; value not recorded", "thing", it.thing, "property", it.property, "err", err)
				}
				continue
			}
			for _, c := range consents {
				s.history.record(c, it.thing, it.property, it.t, it.v)
			}
		}
	}
}
