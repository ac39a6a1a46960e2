package gateway

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// actionState is the life of an action request. The WebThings API names
// the states created, pending and completed; the WoT Profile pending,
// running, completed and failed.
type actionState uint8

const (
	actionCreated actionState = iota
	actionPending
	actionCompleted
	actionFailed
	actionCancelled
)

func (st actionState) legacy() string {
	return [...]string{"created", "pending", "completed", "failed", "cancelled"}[st]
}

func (st actionState) w3c() string {
	return [...]string{"pending", "running", "completed", "failed", "failed"}[st]
}

// owner is whose action request it is: the data subject and the client
// of the Decision that allowed it. Callers whose Decisions name neither
// (InsecureAllowAll) share the zero owner.
type owner struct {
	subject, client string
}

// owner returns whose requests c may see and cancel.
func (c *caller) owner() owner { return owner{c.dec.Subject, c.dec.ClientID} }

// actionRec is one action request. Its mutable fields are guarded by the
// queue's mutex; snapshots are taken for rendering.
type actionRec struct {
	id        string
	owner     owner
	name      string
	input     json.RawMessage // nil when the request had no input
	state     actionState
	requested time.Time
	ended     time.Time
	output    json.RawMessage
	errMsg    string
	cancel    context.CancelFunc
}

// timeWebThings is the WebThings timestamp format (no fractional seconds,
// numeric offset).
const timeWebThings = "2006-01-02T15:04:05-07:00"

func wtTime(t time.Time) string { return t.UTC().Format(timeWebThings) }

// w3cStatus renders the WoT Profile ActionStatus of a snapshot.
func (a *actionRec) w3cStatus(href string) []byte {
	st := struct {
		Status        string          `json:"status"`
		Output        json.RawMessage `json:"output,omitempty"`
		Error         *problem        `json:"error,omitempty"`
		Href          string          `json:"href"`
		TimeRequested string          `json:"timeRequested"`
		TimeEnded     string          `json:"timeEnded,omitempty"`
	}{
		Status:        a.state.w3c(),
		Output:        a.output,
		Href:          href,
		TimeRequested: a.requested.UTC().Format(time.RFC3339Nano),
	}
	if !a.ended.IsZero() {
		st.TimeEnded = a.ended.UTC().Format(time.RFC3339Nano)
	}
	if a.state == actionFailed || a.state == actionCancelled {
		detail := a.errMsg
		if a.state == actionCancelled {
			detail = "cancelled"
		}
		st.Error = &problem{Type: "about:blank", Title: "Action failed", Status: 500, Detail: detail}
	}
	b, _ := json.Marshal(st)
	return b
}

// legacyStatus renders the WebThings action description
// {"name": {"input": …, "href": …, "timeRequested": …, "status": …}}.
func (a *actionRec) legacyStatus(href string) []byte {
	d := struct {
		Input         json.RawMessage `json:"input,omitempty"`
		Href          string          `json:"href"`
		TimeRequested string          `json:"timeRequested"`
		TimeCompleted string          `json:"timeCompleted,omitempty"`
		Status        string          `json:"status"`
		Output        json.RawMessage `json:"output,omitempty"`
		Error         string          `json:"error,omitempty"`
	}{
		Input:         a.input,
		Href:          href,
		TimeRequested: wtTime(a.requested),
		Status:        a.state.legacy(),
		Output:        a.output,
		Error:         a.errMsg,
	}
	if !a.ended.IsZero() {
		d.TimeCompleted = wtTime(a.ended)
	}
	b, _ := json.Marshal(map[string]any{a.name: d})
	return b
}

// actionQueue holds a thing's action requests in the order they came.
// Each caller sees and cancels its own requests only (those of its owner),
// and a finished request is forgotten retention after it ended.
type actionQueue struct {
	mu        sync.Mutex
	recs      []*actionRec
	retention time.Duration
	done      bool // the thing is gone: no new requests
}

// pruneLocked forgets the requests that ended before now-retention.
func (q *actionQueue) pruneLocked(now time.Time) {
	cutoff := now.Add(-q.retention)
	q.recs = slices.DeleteFunc(q.recs, func(r *actionRec) bool {
		return r.state >= actionCompleted && r.ended.Before(cutoff)
	})
}

// add appends rec, dropping the oldest finished request when limit is
// reached.
func (q *actionQueue) add(rec *actionRec, limit int) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return errGone
	}
	q.pruneLocked(rec.requested)
	if len(q.recs) >= limit {
		i := slices.IndexFunc(q.recs, func(r *actionRec) bool { return r.state >= actionCompleted })
		if i < 0 {
			return errTooManyActions
		}
		q.recs = slices.Delete(q.recs, i, i+1)
	}
	q.recs = append(q.recs, rec)
	return nil
}

// snapshot copies rec under the lock.
func (q *actionQueue) snapshot(rec *actionRec) *actionRec {
	q.mu.Lock()
	c := *rec
	q.mu.Unlock()
	return &c
}

// get returns a snapshot of who's request id of action name, or nil.
func (q *actionQueue) get(who owner, name, id string) *actionRec {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneLocked(time.Now())
	for _, r := range q.recs {
		if r.id == id && r.name == name && r.owner == who {
			c := *r
			return &c
		}
	}
	return nil
}

// list returns snapshots of who's requests of action name, or of every
// action when name is "".
func (q *actionQueue) list(who owner, name string) []*actionRec {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneLocked(time.Now())
	var out []*actionRec
	for _, r := range q.recs {
		if (name == "" || r.name == name) && r.owner == who {
			c := *r
			out = append(out, &c)
		}
	}
	return out
}

// cancel removes who's request id of action name, cancelling it if it
// runs. It returns the removed request or nil.
func (q *actionQueue) cancel(who owner, name, id string) *actionRec {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pruneLocked(time.Now())
	i := slices.IndexFunc(q.recs, func(r *actionRec) bool { return r.id == id && r.name == name && r.owner == who })
	if i < 0 {
		return nil
	}
	r := q.recs[i]
	q.recs = slices.Delete(q.recs, i, i+1)
	cancelLocked(r)
	return r
}

// cancelLocked cancels r if it has not finished. q.mu is held.
func cancelLocked(r *actionRec) {
	if r.state < actionCompleted {
		r.state = actionCancelled
		r.ended = time.Now()
		r.cancel()
	}
}

// erase removes (and cancels, if they run) the requests of subject. It
// reports how many there were.
func (q *actionQueue) erase(subject string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.recs)
	q.recs = slices.DeleteFunc(q.recs, func(r *actionRec) bool {
		if r.owner.subject != subject {
			return false
		}
		cancelLocked(r)
		return true
	})
	return n - len(q.recs)
}

// cancelAll cancels every running request and refuses new ones.
func (q *actionQueue) cancelAll() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.done = true
	for _, r := range q.recs {
		if r.state < actionCompleted {
			r.cancel()
		}
	}
}

func newActionID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// startAction queues an action request and runs it in a goroutine of its
// own. It returns a snapshot taken at creation (state "created"). input is
// already validated; rawInput is what the client sent (nil for none).
func (s *Server) startAction(c *caller, e *entry, ai *actionInfo, name string, input any, rawInput json.RawMessage) (*actionRec, error) {
	if e.ad.invoker == nil {
		return nil, fmt.Errorf("%w: the adapter cannot invoke actions", ErrNotSupported)
	}
	if s.closing.Load() {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithCancel(s.ctx)
	rec := &actionRec{
		id:        newActionID(),
		owner:     c.owner(),
		name:      name,
		state:     actionCreated,
		requested: time.Now(),
		cancel:    cancel,
	}
	if rawInput != nil {
		rec.input = compactJSON(rawInput)
	}
	if err := e.acts.add(rec, s.cfg.MaxActions); err != nil {
		cancel()
		return nil, err
	}
	created := e.acts.snapshot(rec)
	s.actionChanged(e, created)

	if !s.spawnAction(func() { s.runAction(ctx, e, rec, input) }) {
		e.acts.cancel(rec.owner, name, rec.id)
		return nil, ErrClosed
	}
	return created, nil
}

func (s *Server) runAction(ctx context.Context, e *entry, rec *actionRec, input any) {
	defer rec.cancel()
	e.acts.mu.Lock()
	if rec.state != actionCreated {
		e.acts.mu.Unlock()
		return // cancelled before it started
	}
	rec.state = actionPending
	e.acts.mu.Unlock()
	s.actionChanged(e, e.acts.snapshot(rec))

	out, err := e.ad.invoker.InvokeAction(ctx, e.id, rec.name, input)

	var outJSON json.RawMessage
	if err == nil && out != nil {
		if outJSON, err = json.Marshal(out); err != nil {
			err = fmt.Errorf("gateway: encoding the output of %s/%s: %w", e.id, rec.name, err)
		}
	}
	e.acts.mu.Lock()
	if rec.state == actionCancelled {
		e.acts.mu.Unlock()
		return
	}
	rec.ended = time.Now()
	if err != nil {
		rec.state = actionFailed
		switch {
		case errors.Is(err, context.Canceled):
			rec.errMsg = "cancelled"
		case errors.Is(err, context.DeadlineExceeded):
			rec.errMsg = "the device did not answer in time"
		default:
			rec.errMsg = "the device failed"
		}
		s.log.Warn("gateway: action failed", "thing", e.id, "action", rec.name, "err", err)
	} else {
		rec.state = actionCompleted
		rec.output = outJSON
	}
	e.acts.mu.Unlock()
	s.actionChanged(e, e.acts.snapshot(rec))
}

func compactJSON(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw
	}
	return buf.Bytes()
}
