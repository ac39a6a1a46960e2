package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway/access"
)

// msgKind is what an outgoing stream message reports.
type msgKind uint8

const (
	msgProperty msgKind = iota // a property's new value
	msgEvent                   // an event
	msgAction                  // an action request's new status
	msgDirect                  // a reply to one WebSocket client
)

// outMsg is one message for the streams of a thing. It is shared by every
// stream it goes to, and encodes itself once per wire format.
type outMsg struct {
	kind   msgKind
	e      *entry
	name   string          // the affordance
	value  json.RawMessage // property value or event data (nil: none)
	at     time.Time       // when it happened
	action *actionRec      // msgAction: a snapshot
	direct []byte          // msgDirect: the WebSocket text

	wsOnce sync.Once
	ws     *websocket.PreparedMessage
	wsErr  error

	sseOnce  sync.Once
	sse      []byte // "data: …\n\n"
	namedOne sync.Once
	named    []byte // "event: name\ndata: …\n\n"
}

// permission is the operation a client needs for m to reach it.
func (m *outMsg) permission() (opIndex, bool) {
	switch m.kind {
	case msgProperty:
		return opObserveProperty, true
	case msgEvent:
		return opSubscribeEvent, true
	case msgAction:
		return opQueryAction, true
	}
	return 0, false
}

// legacyJSON encodes m as a WebThings WebSocket message, with action hrefs
// under prefix (the proxy prefix of the client).
func (m *outMsg) legacyJSON(s *Server, prefix string) []byte {
	key, _ := json.Marshal(m.name)
	var b []byte
	switch m.kind {
	case msgProperty:
		b = append(b, `{"messageType":"propertyStatus","data":{`...)
		b = append(b, key...)
		b = append(b, ':')
		b = append(b, m.value...)
		b = append(b, "}}"...)
	case msgEvent:
		b = append(b, `{"messageType":"event","data":{`...)
		b = append(b, key...)
		b = append(b, ":{"...)
		if m.value != nil {
			b = append(b, `"data":`...)
			b = append(b, m.value...)
			b = append(b, ',')
		}
		b = append(b, `"timestamp":"`...)
		b = append(b, wtTime(m.at)...)
		b = append(b, `"}}}`...)
	case msgAction:
		href := s.legacyHref(origin{prefix: prefix}, m.e) + "/actions/" + url.PathEscape(m.name) + "/" + m.action.id
		b = append(b, `{"messageType":"actionStatus","data":`...)
		b = append(b, m.action.legacyStatus(href)...)
		b = append(b, '}')
	case msgDirect:
		return m.direct
	}
	return b
}

// prepared returns m as a WebSocket frame shared by every client without
// a proxy prefix.
func (m *outMsg) prepared(s *Server) (*websocket.PreparedMessage, error) {
	m.wsOnce.Do(func() {
		m.ws, m.wsErr = websocket.NewPreparedMessage(websocket.TextMessage, m.legacyJSON(s, ""))
	})
	return m.ws, m.wsErr
}

// sseFrame returns m as an SSE event; named adds the "event:" line (for
// streams that carry several affordances).
func (m *outMsg) sseFrame(named bool) []byte {
	data := m.value
	if data == nil {
		data = json.RawMessage("null")
	}
	if named {
		m.namedOne.Do(func() {
			m.named = append(append(append([]byte("event: "), sseEscape(m.name)...), "\ndata: "...), data...)
			m.named = append(m.named, "\n\n"...)
		})
		return m.named
	}
	m.sseOnce.Do(func() {
		m.sse = append(append([]byte("data: "), data...), "\n\n"...)
	})
	return m.sse
}

// sseEscape keeps an affordance name on one SSE line.
func sseEscape(name string) []byte {
	b := []byte(name)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return b
}

// sendQueue is a stream's bounded queue of outgoing messages. Property
// updates are coalesced: while an update of a property waits, a newer one
// replaces it instead of queueing behind it.
type sendQueue struct {
	mu      sync.Mutex
	items   []*outMsg
	props   map[string]int // property name → index of its waiting update
	limit   int
	ready   chan struct{} // signalled when items become non-empty
	onReady func()        // called instead of signalling ready, if set
}

func (q *sendQueue) init(limit int) {
	q.limit = limit
	q.ready = make(chan struct{}, 1)
}

// push queues m. It reports false when the queue is full: the consumer has
// stayed behind and must be disconnected.
func (q *sendQueue) push(m *outMsg) bool {
	q.mu.Lock()
	if m.kind == msgProperty {
		if i, ok := q.props[m.name]; ok {
			q.items[i] = m
			q.mu.Unlock()
			return true
		}
	}
	if len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	if m.kind == msgProperty {
		if q.props == nil {
			q.props = make(map[string]int)
		}
		q.props[m.name] = len(q.items)
	}
	q.items = append(q.items, m)
	q.mu.Unlock()
	if q.onReady != nil {
		q.onReady()
		return true
	}
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// pending reports whether messages wait.
func (q *sendQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) > 0
}

// take moves the waiting messages into buf and returns it.
func (q *sendQueue) take(buf []*outMsg) []*outMsg {
	q.mu.Lock()
	buf = append(buf, q.items...)
	clear(q.items)
	q.items = q.items[:0]
	clear(q.props)
	q.mu.Unlock()
	return buf
}

// streamKind tells what a stream carries.
type streamKind uint8

const (
	streamWebSocket streamKind = iota // WebThings WebSocket: properties, actions, subscribed events
	streamObserve                     // SSE: one property
	streamEvent                       // SSE: one event
	streamAllEvents                   // SSE: every event
)

// Close codes for WebSocket streams (SSE streams simply end).
const (
	closeGoingAway = websocket.CloseGoingAway
	closePolicy    = websocket.ClosePolicyViolation
	closeTryLater  = websocket.CloseTryAgainLater
)

// stream is one open WebSocket or SSE connection.
type stream struct {
	s    *Server
	e    *entry
	kind streamKind
	name string // the SSE stream's affordance
	c    caller // the token and the Decision it was opened with
	o    origin

	subMu sync.Mutex
	subs  map[string]bool // WebSocket event subscriptions

	q       sendQueue
	done    chan struct{}
	cancel  context.CancelFunc // if set, called when the stream closes
	onClose func()             // if set, called when the stream closes

	closeOnce sync.Once
	code      int
	reason    string
	finished  atomic.Bool
	hardMu    sync.Mutex
	hardStop  func() // unblocks a write in progress
	expiry    *time.Timer
}

func (s *Server) newStream(e *entry, kind streamKind, name string, c *caller, o origin) *stream {
	st := &stream{s: s, e: e, kind: kind, name: name, c: *c, o: o, done: make(chan struct{})}
	st.q.init(s.cfg.SendQueue)
	return st
}

// offer queues m if this stream carries it.
func (st *stream) offer(m *outMsg) {
	switch st.kind {
	case streamWebSocket:
		if m.kind == msgAction && m.action.owner != st.c.owner() {
			return // another caller's request
		}
		if m.kind == msgEvent {
			st.subMu.Lock()
			ok := st.subs[m.name]
			st.subMu.Unlock()
			if !ok {
				return
			}
		}
	case streamObserve:
		if m.kind != msgProperty || m.name != st.name {
			return
		}
	case streamEvent:
		if m.kind != msgEvent || m.name != st.name {
			return
		}
	case streamAllEvents:
		if m.kind != msgEvent {
			return
		}
	}
	if !st.q.push(m) {
		st.s.log.Warn("gateway: disconnecting a slow consumer", "thing", st.e.id)
		st.close(closeTryLater, "slow consumer")
	}
}

// permits asks whether the stream's token still allows m to reach it. An
// error means the token is no longer acceptable: the stream must close.
func (st *stream) permits(ctx context.Context, m *outMsg) (bool, error) {
	op, ok := m.permission()
	if !ok {
		return true, nil
	}
	return st.s.authorize(ctx, &st.c, access.Request{ThingID: st.e.id, Op: opNames[op], Name: m.name})
}

// close ends the stream: its writer sends a close frame (WebSocket) or
// stops (SSE) and its handler returns. A write that the consumer blocks is
// cut off within a second.
func (st *stream) close(code int, reason string) {
	st.closeOnce.Do(func() {
		st.code, st.reason = code, reason
		close(st.done)
		if st.cancel != nil {
			st.cancel()
		}
		if st.onClose != nil {
			st.onClose()
		}
		time.AfterFunc(900*time.Millisecond, func() {
			st.hardMu.Lock()
			defer st.hardMu.Unlock()
			if st.hardStop != nil {
				st.hardStop()
			}
		})
	})
}

// isClosed reports whether the stream is closing.
func (st *stream) isClosed() bool {
	select {
	case <-st.done:
		return true
	default:
		return false
	}
}

// streamSet tracks the open streams of a Server.
//
// A revocation can arrive while a stream is opening: after the Authorizer
// answered for its token but before the stream is indexed, so that revoke
// does not find it. To close that gap every revocation gets a generation
// number and is remembered in a small ring; a caller notes the generation
// before its first Authorize call (caller.gen) and openStream, under the
// same lock revoke collects streams with, refuses the stream when a later
// revocation concerns it.
type streamSet struct {
	mu      sync.Mutex
	all     map[*stream]struct{}
	byGrant map[string]map[*stream]struct{} // by Decision.GrantID
	byToken map[string]map[*stream]struct{} // by Decision.TokenID
	closed  bool
	wg      sync.WaitGroup

	gen    atomic.Uint64                 // revocations so far; written under mu
	recent [revocationMemory]revokedItem // revocation gen is at recent[gen%revocationMemory]
}

// revocationMemory is how many recent revocations a streamSet remembers
// for the streams still opening. A stream whose token was checked more
// revocations ago than that is refused (its client may simply retry).
const revocationMemory = 256

// revokedItem is one remembered revocation.
type revokedItem struct {
	grantID, tokenID string
}

// concerns reports whether revocation r applies to a stream opened with d,
// by the rule revoke follows.
func (r *revokedItem) concerns(d *access.Decision) bool {
	if r.tokenID != "" {
		return r.tokenID == d.TokenID
	}
	return r.grantID != "" && r.grantID == d.GrantID
}

// errRevokedWhileOpening refuses a stream whose grant or token was revoked
// after the Authorizer allowed it and before it was registered.
var errRevokedWhileOpening = fmt.Errorf("%w: revoked while the stream was opening", access.ErrInvalidToken)

// revokedSince reports whether a revocation after generation gen concerns
// a stream opened with d. ss.mu is held.
func (ss *streamSet) revokedSince(gen uint64, d *access.Decision) bool {
	cur := ss.gen.Load()
	if cur-gen > revocationMemory {
		return true // forgotten: refuse rather than guess
	}
	for g := gen + 1; g <= cur; g++ {
		if ss.recent[g%revocationMemory].concerns(d) {
			return true
		}
	}
	return false
}

func (ss *streamSet) init() {
	ss.all = make(map[*stream]struct{})
	ss.byGrant = make(map[string]map[*stream]struct{})
	ss.byToken = make(map[string]map[*stream]struct{})
}

// index adds st to m under key (nothing for an empty key).
func index(m map[string]map[*stream]struct{}, key string, st *stream) {
	if key == "" {
		return
	}
	set := m[key]
	if set == nil {
		set = make(map[*stream]struct{})
		m[key] = set
	}
	set[st] = struct{}{}
}

// unindex removes st from m under key.
func unindex(m map[string]map[*stream]struct{}, key string, st *stream) {
	if set := m[key]; set != nil {
		delete(set, st)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// open registers st with the Server and its thing, and arms the expiry of
// its token. The caller must call closeStream when st's handler returns.
func (s *Server) openStream(st *stream) error {
	ss := &s.streams
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return ErrClosed
	}
	if len(ss.all) >= s.cfg.MaxStreams {
		ss.mu.Unlock()
		return errTooManyStreams
	}
	if ss.revokedSince(st.c.gen, &st.c.dec) {
		ss.mu.Unlock()
		return errRevokedWhileOpening
	}
	ss.all[st] = struct{}{}
	index(ss.byGrant, st.c.dec.GrantID, st)
	index(ss.byToken, st.c.dec.TokenID, st)
	ss.wg.Add(1)
	ss.mu.Unlock()

	// Join the thing's streams before looking whether it is gone: retire
	// marks it gone before it collects the streams to close, so either it
	// finds this one or this sees gone.
	e := st.e
	e.smu.Lock()
	e.streams[st] = struct{}{}
	e.smu.Unlock()
	e.mu.Lock()
	gone := e.gone
	e.mu.Unlock()
	if gone {
		st.close(closeGoingAway, "thing removed")
	}
	if exp := st.c.dec.Expires; !exp.IsZero() {
		st.expiry = time.AfterFunc(time.Until(exp), func() { st.close(closePolicy, "token expired") })
	}
	return nil
}

// streamRefused answers a request whose stream openStream refused.
func (s *Server) streamRefused(w http.ResponseWriter, r *http.Request, st *stream, err error) {
	if errors.Is(err, access.ErrInvalidToken) {
		s.authError(w, &st.c, err)
		return
	}
	s.fail(w, r, err)
}

// closeStream unregisters st once its handler is done.
func (s *Server) closeStream(st *stream) {
	st.finished.Store(true)
	st.setHardStop(nil)
	st.close(closeGoingAway, "")
	if st.expiry != nil {
		st.expiry.Stop()
	}
	st.e.smu.Lock()
	delete(st.e.streams, st)
	st.e.smu.Unlock()
	ss := &s.streams
	ss.mu.Lock()
	delete(ss.all, st)
	unindex(ss.byGrant, st.c.dec.GrantID, st)
	unindex(ss.byToken, st.c.dec.TokenID, st)
	ss.mu.Unlock()
	ss.wg.Done()
}

// revoke closes the streams r concerns: those opened with the token r
// names when it names one (Decision.TokenID), otherwise all those opened
// under its grant.
func (ss *streamSet) revoke(r access.Revocation) {
	set, reason := ss.byGrant, "grant revoked"
	key := r.GrantID
	if r.TokenID != "" {
		set, reason, key = ss.byToken, "token revoked", r.TokenID
	}
	if key == "" {
		return
	}
	ss.mu.Lock()
	g := ss.gen.Load() + 1
	ss.recent[g%revocationMemory] = revokedItem{grantID: r.GrantID, tokenID: r.TokenID}
	ss.gen.Store(g)
	var sts []*stream
	for st := range set[key] {
		sts = append(sts, st)
	}
	ss.mu.Unlock()
	for _, st := range sts {
		st.close(closePolicy, reason)
	}
}

// closeAll closes every stream and refuses new ones.
func (ss *streamSet) closeAll(code int, reason string) {
	ss.mu.Lock()
	ss.closed = true
	sts := make([]*stream, 0, len(ss.all))
	for st := range ss.all {
		sts = append(sts, st)
	}
	ss.mu.Unlock()
	for _, st := range sts {
		st.close(code, reason)
	}
}

func (ss *streamSet) wait() { ss.wg.Wait() }

// count is the number of open streams.
func (ss *streamSet) count() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.all)
}

// broadcast offers m to the streams of its thing.
func (s *Server) broadcast(m *outMsg) {
	e := m.e
	e.smu.RLock()
	for st := range e.streams {
		st.offer(m)
	}
	e.smu.RUnlock()
}

// streamAuthError closes st when its token failed, and reports whether it
// did.
func (st *stream) authFailed(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, access.ErrInvalidToken) {
		st.close(closePolicy, "token no longer valid")
	} else {
		st.s.log.Error("gateway: authorizer failed", "err", err)
		st.close(closeTryLater, "authorization unavailable")
	}
	return true
}

// setHardStop installs the function that cuts a stream's connection (nil
// once the stream's writer is done with it).
func (st *stream) setHardStop(f func()) {
	st.hardMu.Lock()
	st.hardStop = f
	st.hardMu.Unlock()
}
