package gateway

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// HistoryConfig configures a History. The zero value is ready to use.
type HistoryConfig struct {
	// MaxValues bounds the values kept for one data subject, grant and
	// property; when it is reached the oldest value is dropped. Zero means
	// 10,000.
	MaxValues int
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
// History is held in memory: it does not survive a restart.
//
// Its ExportSubject and EraseSubject methods let a consent ledger serve the
// data subject's rights of access and erasure without importing this
// package.
//
// A History is safe for concurrent use.
type History struct {
	max    int
	mu     sync.Mutex
	series map[seriesKey]*series
}

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

// NewHistory returns an empty History.
func NewHistory(cfg HistoryConfig) *History {
	if cfg.MaxValues <= 0 {
		cfg.MaxValues = 10000
	}
	return &History{max: cfg.MaxValues, series: make(map[seriesKey]*series)}
}

// record stores v for consent c.
func (h *History) record(c access.HistoryConsent, thingID, property string, t time.Time, v json.RawMessage) {
	if c.Retention <= 0 || c.Subject == "" {
		return
	}
	k := seriesKey{c.Subject, c.GrantID, thingID, property}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.series[k]
	if s == nil {
		s = &series{}
		h.series[k] = s
	}
	s.purpose = c.Purpose
	s.points = append(s.points, point{t: t, exp: t.Add(c.Retention), v: v})
	if len(s.points) > h.max {
		s.points = s.points[len(s.points)-h.max:]
	}
}

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
// many it dropped.
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
func (h *History) EraseSubject(ctx context.Context, subject string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.series {
		if k.subject == subject {
			delete(h.series, k)
		}
	}
	return nil
}

// Len reports how many values the History holds, expired ones not yet
// purged included.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.series {
		n += len(s.points)
	}
	return n
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
