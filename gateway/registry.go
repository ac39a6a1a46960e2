package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/hearth-wot/hearth/thing"
)

// adapterState is one adapter plugged into a Server, with the optional
// capabilities it offers.
type adapterState struct {
	a       Adapter
	writer  PropertyWriter
	invoker ActionInvoker
	source  EventSource
	remover Remover
	pairer  Pairer

	cancel  context.CancelFunc // ends Subscribe
	subCtx  context.Context    // Subscribe's context (nil without a subscription)
	done    chan struct{}      // closed when Subscribe returned (or never started)
	removed atomic.Bool        // RemoveAdapter was called: its Sink ignores it

	listMu sync.Mutex // serialises listings (Things calls) of this adapter

	// annMu orders the adapter's thing announcements (ThingAdded,
	// ThingRemoved) with its listings. While a listing is under way,
	// announcements wait in pending (the last one per thing id) and are
	// applied after the listing, so that a listing taken before a change
	// never undoes it.
	annMu   sync.Mutex
	listing bool
	pending map[string]announcement
}

// announcement is news about one thing: td added or changed, or (td nil)
// the thing id removed.
type announcement struct {
	id string
	td *thing.Description
}

func newAdapterState(a Adapter) *adapterState {
	st := &adapterState{a: a, done: make(chan struct{})}
	st.writer, _ = a.(PropertyWriter)
	st.invoker, _ = a.(ActionInvoker)
	st.source, _ = a.(EventSource)
	st.remover, _ = a.(Remover)
	st.pairer, _ = a.(Pairer)
	return st
}

type propInfo struct {
	p      *thing.Property
	schema *thing.Schema
	offer  opSet // operations the Server offers on it
}

type actionInfo struct {
	a     *thing.Action
	input *thing.Schema
	offer opSet
}

type eventInfo struct {
	e     *thing.Event
	offer opSet
}

// entry is one thing a Server serves.
type entry struct {
	id    string
	index int // position in the WebThings multi-thing layout
	td    *thing.Description
	ad    *adapterState
	raw   []byte // td as JSON, to notice changes

	props       map[string]*propInfo
	actions     map[string]*actionInfo
	events      map[string]*eventInfo
	propNames   []string // sorted
	actionNames []string
	eventNames  []string
	thingOffer  opSet // thing-level operations offered

	mu   sync.Mutex
	last map[string][]byte // last value of each property seen, as JSON
	gone bool              // removed from the registry

	acts  actionQueue
	evlog eventLog

	smu     sync.RWMutex
	streams map[*stream]struct{}

	tdc tdCache
}

// prop, action and event return the named affordance of e, or nil when e
// is nil (an unknown thing) or has no such affordance.
func (e *entry) prop(name string) *propInfo {
	if e == nil {
		return nil
	}
	return e.props[name]
}

func (e *entry) action(name string) *actionInfo {
	if e == nil {
		return nil
	}
	return e.actions[name]
}

func (e *entry) event(name string) *eventInfo {
	if e == nil {
		return nil
	}
	return e.events[name]
}

// newEntry prepares td, announced by ad, for serving.
func (s *Server) newEntry(ad *adapterState, td *thing.Description) (*entry, error) {
	if td == nil {
		return nil, errors.New("gateway: adapter returned a nil Thing Description")
	}
	if td.ID == "" {
		return nil, fmt.Errorf("gateway: thing %q has no id", td.Title)
	}
	raw, err := json.Marshal(td)
	if err != nil {
		return nil, fmt.Errorf("gateway: thing %q: %w", td.ID, err)
	}
	e := &entry{
		id:      td.ID,
		td:      td,
		ad:      ad,
		raw:     raw,
		props:   make(map[string]*propInfo, len(td.Properties)),
		actions: make(map[string]*actionInfo, len(td.Actions)),
		events:  make(map[string]*eventInfo, len(td.Events)),
		last:    make(map[string][]byte),
		streams: make(map[*stream]struct{}),
	}
	e.evlog.limit, e.evlog.retention = s.cfg.EventLog, s.cfg.EventRetention
	e.acts.retention = s.cfg.ActionRetention
	var errs []error
	for name, p := range td.Properties {
		if p == nil {
			errs = append(errs, fmt.Errorf("gateway: thing %q: property %q is nil", td.ID, name))
			continue
		}
		sc, err := thing.Compile(&p.DataSchema)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway: thing %q: property %q: %w", td.ID, name, err))
			continue
		}
		pi := &propInfo{p: p, schema: sc}
		if !p.WriteOnly {
			pi.offer |= opBit(opReadProperty)
		}
		if !p.ReadOnly && ad.writer != nil {
			pi.offer |= opBit(opWriteProperty)
		}
		if p.Observable && ad.source != nil && !p.WriteOnly {
			pi.offer |= opBit(opObserveProperty) | opBit(opUnobserveProperty)
		}
		e.props[name] = pi
		e.propNames = append(e.propNames, name)
	}
	for name, a := range td.Actions {
		if a == nil {
			errs = append(errs, fmt.Errorf("gateway: thing %q: action %q is nil", td.ID, name))
			continue
		}
		sc, err := thing.Compile(a.Input)
		if err != nil {
			errs = append(errs, fmt.Errorf("gateway: thing %q: action %q: %w", td.ID, name, err))
			continue
		}
		ai := &actionInfo{a: a, input: sc}
		if ad.invoker != nil {
			ai.offer = opBit(opInvokeAction) | opBit(opQueryAction) | opBit(opCancelAction)
		}
		e.actions[name] = ai
		e.actionNames = append(e.actionNames, name)
	}
	for name, ev := range td.Events {
		if ev == nil {
			errs = append(errs, fmt.Errorf("gateway: thing %q: event %q is nil", td.ID, name))
			continue
		}
		ei := &eventInfo{e: ev}
		if ad.source != nil {
			ei.offer = opBit(opSubscribeEvent) | opBit(opUnsubscribeEvent)
		}
		e.events[name] = ei
		e.eventNames = append(e.eventNames, name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.Sort(e.propNames)
	slices.Sort(e.actionNames)
	slices.Sort(e.eventNames)
	for _, pi := range e.props {
		if pi.offer.has(opReadProperty) {
			e.thingOffer |= opBit(opReadAllProperties) | opBit(opReadMultipleProperties)
		}
		if pi.offer.has(opWriteProperty) {
			e.thingOffer |= opBit(opWriteMultipleProperties)
		}
	}
	if len(e.actions) > 0 && ad.invoker != nil {
		e.thingOffer |= opBit(opQueryAllActions)
	}
	if len(e.events) > 0 && ad.source != nil {
		e.thingOffer |= opBit(opSubscribeAllEvents) | opBit(opUnsubscribeAllEvents)
	}
	return e, nil
}

// registry holds the things of a Server.
type registry struct {
	mu      sync.RWMutex
	byID    map[string]*entry
	byIndex map[int]*entry
	indexOf map[string]int // every id ever seen → its WebThings index
	next    int
	sorted  []*entry // by id; rebuilt on change
}

func (r *registry) init() {
	r.byID = make(map[string]*entry)
	r.byIndex = make(map[int]*entry)
	r.indexOf = make(map[string]int)
}

// add registers e. If a thing with e's id exists, it is replaced when it
// belongs to the same adapter (the old entry is returned) and refused
// otherwise.
func (r *registry) add(e *entry) (old *entry, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.byID[e.id]; ok {
		if cur.ad != e.ad {
			return nil, fmt.Errorf("%w: %q", ErrThingExists, e.id)
		}
		old = cur
	}
	idx, ok := r.indexOf[e.id]
	if !ok {
		idx = r.next
		r.next++
		r.indexOf[e.id] = idx
	}
	e.index = idx
	r.byID[e.id] = e
	r.byIndex[idx] = e
	r.rebuild()
	return old, nil
}

// remove unregisters the thing id if it belongs to ad (any adapter when ad
// is nil) and returns it.
func (r *registry) remove(id string, ad *adapterState) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.byID[id]
	if !ok || (ad != nil && e.ad != ad) {
		return nil
	}
	delete(r.byID, id)
	delete(r.byIndex, e.index)
	r.rebuild()
	return e
}

func (r *registry) rebuild() {
	list := make([]*entry, 0, len(r.byID))
	for _, e := range r.byID {
		list = append(list, e)
	}
	slices.SortFunc(list, func(a, b *entry) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	r.sorted = list
}

func (r *registry) get(id string) *entry {
	r.mu.RLock()
	e := r.byID[id]
	r.mu.RUnlock()
	return e
}

func (r *registry) at(index int) *entry {
	r.mu.RLock()
	e := r.byIndex[index]
	r.mu.RUnlock()
	return e
}

// list returns the things sorted by id. The slice must not be modified.
func (r *registry) list() []*entry {
	r.mu.RLock()
	l := r.sorted
	r.mu.RUnlock()
	return l
}

// byIndexOrder returns the things sorted by WebThings index.
func (r *registry) byIndexOrder() []*entry {
	l := slices.Clone(r.list())
	slices.SortFunc(l, func(a, b *entry) int { return a.index - b.index })
	return l
}

// owned returns the things that belong to ad.
func (r *registry) owned(ad *adapterState) []*entry {
	var out []*entry
	for _, e := range r.list() {
		if e.ad == ad {
			out = append(out, e)
		}
	}
	return out
}

// AddAdapter plugs a in: when a is an EventSource it subscribes to a's
// changes (until the adapter is removed or the Server closes), then it
// lists a's things and serves them. Subscribing first means a thing the
// adapter adds while it is being listed is not lost: an announcement that
// arrives during the listing is applied after it (see LiveSink for the
// exact guarantee). Things whose description is unusable, or whose id
// another adapter already serves, are left out and reported in the
// returned error (wrapping ErrThingExists for duplicates); the others are
// served. When listing fails, the adapter is not kept. Adding the same
// adapter twice is a programmer error and panics.
//
// An adapter value must be comparable (normally a pointer).
func (s *Server) AddAdapter(ctx context.Context, a Adapter) error {
	if a == nil {
		panic("gateway: AddAdapter with a nil Adapter")
	}
	st := newAdapterState(a)
	s.mu.Lock()
	for _, x := range s.adapters {
		if x.a == a {
			s.mu.Unlock()
			panic("gateway: adapter added twice")
		}
	}
	if s.closing.Load() {
		s.mu.Unlock()
		return ErrClosed
	}
	s.adapters = append(s.adapters, st)
	s.mu.Unlock()

	if st.source == nil {
		close(st.done)
	} else {
		sctx, cancel := context.WithCancel(s.ctx)
		st.cancel, st.subCtx = cancel, sctx
		// Hold announcements from the start: they may overtake the listing.
		st.listing = true
		if !s.spawn(func() {
			defer close(st.done)
			err := st.source.Subscribe(sctx, &adapterSink{s: s, ad: st})
			if err != nil && sctx.Err() == nil {
				s.log.Error("gateway: adapter subscription ended", "err", err)
			}
		}) {
			cancel()
			close(st.done)
			s.RemoveAdapter(a)
			return ErrClosed
		}
	}
	if err := s.list(ctx, st); err != nil {
		var le *listError
		if errors.As(err, &le) {
			s.RemoveAdapter(a)
			return le.err
		}
		return err
	}
	return nil
}

// listError is a failed Things call, as opposed to things that could not
// be served.
type listError struct{ err error }

func (e *listError) Error() string { return e.err.Error() }
func (e *listError) Unwrap() error { return e.err }

// list calls st's Things and brings the Server in line with it: new things
// appear, changed ones are replaced (closing their streams), vanished ones
// disappear. Announcements made meanwhile are applied afterwards, so the
// result is the same however the listing and announcements interleave.
// Listing is idempotent: an unchanged thing is left alone.
func (s *Server) list(ctx context.Context, st *adapterState) error {
	st.listMu.Lock()
	defer st.listMu.Unlock()
	st.annMu.Lock()
	st.listing = true
	st.annMu.Unlock()

	tds, err := st.a.Things(ctx)

	st.annMu.Lock()
	defer st.annMu.Unlock()
	defer func() {
		// Then the announcements that arrived meanwhile, in id order.
		ids := slices.Sorted(maps.Keys(st.pending))
		for _, id := range ids {
			s.apply(st, st.pending[id])
		}
		st.pending = nil
		st.listing = false
	}()
	if err != nil {
		return &listError{fmt.Errorf("gateway: listing things: %w", err)}
	}
	if st.removed.Load() {
		return nil
	}
	var errs []error
	seen := make(map[string]bool, len(tds))
	for _, td := range tds {
		if td != nil {
			seen[td.ID] = true
		}
		if err := s.addThing(st, td); err != nil {
			errs = append(errs, err)
		}
	}
	for _, e := range s.reg.owned(st) {
		if !seen[e.id] {
			s.dropThing(e.id, st)
		}
	}
	return errors.Join(errs...)
}

// announce applies news about one of st's things now, or after the
// listing under way.
func (s *Server) announce(st *adapterState, a announcement) {
	st.annMu.Lock()
	defer st.annMu.Unlock()
	if st.listing {
		if st.pending == nil {
			st.pending = make(map[string]announcement)
		}
		st.pending[a.id] = a // a later announcement supersedes an earlier one
		return
	}
	s.apply(st, a)
}

// apply applies an announcement. st.annMu is held.
func (s *Server) apply(st *adapterState, a announcement) {
	if a.td == nil {
		s.dropThing(a.id, st)
		return
	}
	if s.closing.Load() || st.removed.Load() {
		return
	}
	if err := s.addThing(st, a.td); err != nil {
		s.log.Warn("gateway: thing not added", "err", err)
	}
}

// RemoveAdapter unplugs a: its subscription is cancelled (RemoveAdapter
// waits for Subscribe to return), its things disappear and their streams
// close. It reports whether a was plugged in.
func (s *Server) RemoveAdapter(a Adapter) bool {
	s.mu.Lock()
	var st *adapterState
	for i, x := range s.adapters {
		if x.a == a {
			st = x
			s.adapters = slices.Delete(s.adapters, i, i+1)
			break
		}
	}
	s.mu.Unlock()
	if st == nil {
		return false
	}
	// Under annMu, so that no announcement or listing applied later can
	// bring one of its things back.
	st.annMu.Lock()
	st.removed.Store(true)
	st.annMu.Unlock()
	if st.cancel != nil {
		st.cancel()
	}
	<-st.done
	for _, e := range s.reg.owned(st) {
		s.dropThing(e.id, st)
	}
	return true
}

// Refresh lists the things of every adapter again and brings the Server in
// line: new things appear, vanished ones disappear, changed ones are
// replaced (closing their streams). Adapters that are EventSources may
// announce changes through their Sink instead.
func (s *Server) Refresh(ctx context.Context) error {
	s.mu.Lock()
	ads := slices.Clone(s.adapters)
	s.mu.Unlock()
	var errs []error
	for _, st := range ads {
		if err := s.list(ctx, st); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// addThing registers td for st, replacing st's earlier version of it if it
// changed.
func (s *Server) addThing(st *adapterState, td *thing.Description) error {
	e, err := s.newEntry(st, td)
	if err != nil {
		return err
	}
	if cur := s.reg.get(e.id); cur != nil && cur.ad == st && string(cur.raw) == string(e.raw) {
		return nil // unchanged
	}
	old, err := s.reg.add(e)
	if err != nil {
		return err
	}
	if old != nil {
		s.retire(old)
	}
	s.log.Debug("gateway: thing added", "thing", e.id)
	return nil
}

// dropThing unregisters thing id of st (any adapter when st is nil).
func (s *Server) dropThing(id string, st *adapterState) {
	if e := s.reg.remove(id, st); e != nil {
		s.retire(e)
		s.log.Debug("gateway: thing removed", "thing", id)
	}
}

// retire ends what belongs to an entry that is no longer served: its
// streams and running actions.
func (s *Server) retire(e *entry) {
	e.mu.Lock()
	e.gone = true
	e.mu.Unlock()
	e.smu.RLock()
	sts := make([]*stream, 0, len(e.streams))
	for st := range e.streams {
		sts = append(sts, st)
	}
	e.smu.RUnlock()
	for _, st := range sts {
		st.close(closeGoingAway, "thing removed")
	}
	e.acts.cancelAll()
}

// RemoveThing removes a thing from its adapter (the optional Remover
// capability) and from the Server. It returns an error wrapping ErrNotFound
// for an unknown thing and ErrNotSupported when its adapter cannot remove
// things.
func (s *Server) RemoveThing(ctx context.Context, id string) error {
	e := s.reg.get(id)
	if e == nil {
		return fmt.Errorf("%w: thing %q", ErrNotFound, id)
	}
	if e.ad.remover == nil {
		return fmt.Errorf("%w: adapter cannot remove things", ErrNotSupported)
	}
	if err := e.ad.remover.RemoveThing(ctx, id); err != nil {
		return err
	}
	s.announce(e.ad, announcement{id: id})
	return nil
}

// StartPairing asks every adapter that can pair (the optional Pairer
// capability) to look for new devices until ctx is done; the things they
// find appear through their Sink. It returns ErrNotSupported when no
// adapter can pair, and otherwise the adapters' errors once all returned.
func (s *Server) StartPairing(ctx context.Context) error {
	s.mu.Lock()
	var ps []Pairer
	for _, st := range s.adapters {
		if st.pairer != nil {
			ps = append(ps, st.pairer)
		}
	}
	s.mu.Unlock()
	if len(ps) == 0 {
		return fmt.Errorf("%w: no adapter can pair", ErrNotSupported)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ps))
	for i, p := range ps {
		wg.Go(func() { errs[i] = p.StartPairing(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
