package virtual

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// Config configures an Adapter. The zero value is ready to use.
type Config struct {
	// PollInterval is how often a subscription samples the properties that
	// change on their own (temperatures, power) and reports those that
	// changed. Zero means one second.
	PollInterval time.Duration

	// PairingDelay is how long StartPairing takes to "find" a new device.
	// Zero means two seconds.
	PairingDelay time.Duration

	// QueueLimit bounds the changes waiting for one slow subscriber; when
	// it is reached the oldest waiting change is dropped (and logged).
	// Zero means 4096.
	QueueLimit int

	// Logger receives the adapter's diagnostics. Nil means discard.
	Logger *slog.Logger
}

// Adapter serves simulated devices to a gateway. It implements
// gateway.Adapter and the optional PropertyWriter, ActionInvoker,
// EventSource, Remover and Pairer capabilities.
//
// Devices may be added and removed at any time. An Adapter is safe for
// concurrent use.
type Adapter struct {
	cfg Config
	log *slog.Logger

	mu      sync.RWMutex
	devices map[string]Device
	closed  bool
	done    chan struct{} // closed by Close
	paired  int           // devices found by pairing so far
	actions map[*context.CancelFunc]struct{}

	subsMu sync.RWMutex
	subs   map[*subscriber]struct{}
}

var (
	_ gateway.Adapter        = (*Adapter)(nil)
	_ gateway.PropertyWriter = (*Adapter)(nil)
	_ gateway.ActionInvoker  = (*Adapter)(nil)
	_ gateway.EventSource    = (*Adapter)(nil)
	_ gateway.Remover        = (*Adapter)(nil)
	_ gateway.Pairer         = (*Adapter)(nil)
)

// New returns an Adapter with no devices.
func New(cfg Config) *Adapter {
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.PairingDelay <= 0 {
		cfg.PairingDelay = 2 * time.Second
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 4096
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{
		cfg:     cfg,
		log:     log,
		devices: map[string]Device{},
		done:    make(chan struct{}),
		actions: map[*context.CancelFunc]struct{}{},
		subs:    map[*subscriber]struct{}{},
	}
}

// Add adds devices and announces each to subscribers. A thing id must be
// an absolute URI, such as "urn:hearth:home:lamp" (an error wrapping
// ErrInvalidValue otherwise). Add fails with an error wrapping ErrExists,
// adding none of the devices, if an id is taken or repeated, or a device
// already belongs to another adapter.
func (a *Adapter) Add(devices ...Device) error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	seen := map[string]bool{}
	for _, d := range devices {
		id := d.ID()
		if err := checkID(id); err != nil {
			a.mu.Unlock()
			return err
		}
		if _, dup := a.devices[id]; dup || seen[id] {
			a.mu.Unlock()
			return fmt.Errorf("virtual: thing id %q: %w", id, ErrExists)
		}
		seen[id] = true
	}
	for i, d := range devices {
		if !d.base().attach(a) {
			for _, prev := range devices[:i] {
				prev.base().detach(a)
			}
			a.mu.Unlock()
			return fmt.Errorf("virtual: thing %q belongs to another adapter: %w", d.ID(), ErrExists)
		}
	}
	for _, d := range devices {
		a.devices[d.ID()] = d
	}
	a.mu.Unlock()
	for _, d := range devices {
		a.broadcast(change{kind: changeAdded, thingID: d.ID(), td: d.Description()})
	}
	return nil
}

// Device returns the device with the given thing id.
func (a *Adapter) Device(id string) (Device, bool) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	d, ok := a.devices[id]
	return d, ok
}

// Devices returns the adapter's devices ordered by id.
func (a *Adapter) Devices() []Device {
	a.mu.RLock()
	ds := make([]Device, 0, len(a.devices))
	for _, d := range a.devices {
		ds = append(ds, d)
	}
	a.mu.RUnlock()
	slices.SortFunc(ds, func(x, y Device) int { return cmp.Compare(x.ID(), y.ID()) })
	return ds
}

func (a *Adapter) device(id string) (Device, error) {
	a.mu.RLock()
	d, ok := a.devices[id]
	closed := a.closed
	a.mu.RUnlock()
	if closed {
		return nil, ErrClosed
	}
	if !ok {
		return nil, fmt.Errorf("virtual: unknown thing %q: %w", id, gateway.ErrNotFound)
	}
	return d, nil
}

// Things returns the Thing Descriptions of all devices, ordered by id.
func (a *Adapter) Things(ctx context.Context) ([]*thing.Description, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ds := a.Devices()
	tds := make([]*thing.Description, len(ds))
	for i, d := range ds {
		tds[i] = d.Description()
	}
	return tds, nil
}

// ReadProperty returns a property's current value.
func (a *Adapter) ReadProperty(ctx context.Context, thingID, name string) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d, err := a.device(thingID)
	if err != nil {
		return nil, err
	}
	return d.read(name)
}

// WriteProperty sets a writable property. Read-only properties are
// refused with an error wrapping gateway.ErrNotSupported; values outside
// the property's schema with one wrapping ErrInvalidValue.
func (a *Adapter) WriteProperty(ctx context.Context, thingID, name string, value any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := a.device(thingID)
	if err != nil {
		return err
	}
	return d.write(name, value)
}

// InvokeAction runs an action and returns its output. Actions that take
// time (a washing cycle, a fade) block until they finish and stop early,
// returning ctx.Err(), when ctx is cancelled or the adapter is closed.
func (a *Adapter) InvokeAction(ctx context.Context, thingID, name string, input any) (any, error) {
	d, err := a.device(thingID)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	a.actions[&cancel] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.actions, &cancel)
		a.mu.Unlock()
	}()
	return d.invoke(ctx, name, input)
}

// RemoveThing removes a device and announces its removal to subscribers.
// The device may then be added to an adapter again.
func (a *Adapter) RemoveThing(ctx context.Context, thingID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a.mu.Lock()
	d, ok := a.devices[thingID]
	if ok {
		delete(a.devices, thingID)
	}
	a.mu.Unlock()
	if !ok {
		return fmt.Errorf("virtual: unknown thing %q: %w", thingID, gateway.ErrNotFound)
	}
	d.base().detach(a)
	a.broadcast(change{kind: changeRemoved, thingID: thingID})
	return nil
}

// StartPairing simulates looking for new devices: after Config.PairingDelay
// it "finds" one new device (in turn a dimmable light, a smart plug and a
// door sensor, with ids "urn:hearth:virtual:1", "urn:hearth:virtual:2",
// ...), adds it and
// announces it to subscribers. It then returns nil when ctx is done, as a
// gateway's pairing window closes; or ErrClosed if the adapter is closed.
func (a *Adapter) StartPairing(ctx context.Context) error {
	t := time.NewTimer(a.cfg.PairingDelay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil
	case <-a.done:
		return ErrClosed
	case <-t.C:
	}
	for {
		a.mu.Lock()
		a.paired++
		n := a.paired
		a.mu.Unlock()
		id := fmt.Sprintf("urn:hearth:virtual:%d", n)
		var d Device
		switch n % 3 {
		case 1:
			d = NewDimmableLight(id, fmt.Sprintf("Virtual Light %d", n))
		case 2:
			d = NewSmartPlug(id, fmt.Sprintf("Virtual Plug %d", n), SmartPlugOptions{Seed: uint64(n)})
		default:
			d = NewContactSensor(id, fmt.Sprintf("Virtual Door %d", n), ContactSensorOptions{})
		}
		err := a.Add(d)
		if err == nil {
			a.log.Info("virtual: paired a new device", "thing", id)
			break
		}
		if errors.Is(err, ErrClosed) {
			return err
		}
		// The id was taken by a device added by hand: try the next one.
	}
	select {
	case <-ctx.Done():
		return nil
	case <-a.done:
		return ErrClosed
	}
}

// Close ends all subscriptions and pairing, cancels running actions and
// makes further calls fail with ErrClosed. Devices stay attached to the
// closed adapter. Close is idempotent.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil
	}
	a.closed = true
	close(a.done)
	for cancel := range a.actions {
		(*cancel)()
	}
	a.mu.Unlock()
	return nil
}

// Subscribe delivers changes to sink until ctx is done or the adapter is
// closed: first a ThingAdded for every current device, then property
// changes made through the adapter or directly on a device, events,
// devices added and removed, and (every
// Config.PollInterval) the properties that change on their own. Several
// subscriptions may run at once; each gets every change, in order.
// Subscribe returns nil when ctx is done and ErrClosed after Close.
func (a *Adapter) Subscribe(ctx context.Context, sink gateway.Sink) error {
	s := &subscriber{
		wake:  make(chan struct{}, 1),
		last:  map[string]map[string]any{},
		limit: a.cfg.QueueLimit,
	}
	a.subsMu.Lock()
	a.subs[s] = struct{}{}
	a.subsMu.Unlock()
	// Announce the current devices first: a gateway lists the things
	// before it subscribes, and a device added in between would otherwise
	// be missed. Announcing a thing the gateway serves already is harmless.
	// Holding a.mu keeps these ahead of any removal that follows.
	a.mu.RLock()
	for _, id := range sortedIDs(a.devices) {
		s.put(change{kind: changeAdded, thingID: id, td: a.devices[id].Description()})
	}
	a.mu.RUnlock()
	defer func() {
		a.subsMu.Lock()
		delete(a.subs, s)
		a.subsMu.Unlock()
	}()

	ticker := time.NewTicker(a.cfg.PollInterval)
	defer ticker.Stop()
	a.poll(s, nil) // remember the current values without reporting them
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.done:
			return ErrClosed
		case <-s.wake:
			a.drain(s, sink)
		case <-ticker.C:
			// Deliver what is queued first, so that a poll does not report
			// a change that is already on its way.
			a.drain(s, sink)
			a.poll(s, sink)
		}
	}
}

// drain delivers s's queued changes to sink.
func (a *Adapter) drain(s *subscriber, sink gateway.Sink) {
	for _, c := range s.take() {
		switch c.kind {
		case changeDropped:
			a.log.Warn("virtual: slow subscriber, dropped changes", "count", c.value)
			continue
		case changeProperty:
			// A poll may have reported this value already: it can sample a
			// device after the change and before the change is drained.
			if last := s.last[c.thingID]; last != nil {
				if old, ok := last[c.name]; ok && same(old, c.value) {
					continue
				}
				last[c.name] = c.value
			}
		case changeRemoved:
			delete(s.last, c.thingID)
		}
		deliver(sink, c)
	}
}

// poll samples every device's self-changing properties and reports to sink
// (if not nil) those that differ from what s saw last.
func (a *Adapter) poll(s *subscriber, sink gateway.Sink) {
	values := map[string]any{}
	for _, d := range a.Devices() {
		clear(values)
		d.sample(values)
		if len(values) == 0 {
			continue
		}
		id := d.ID()
		last := s.last[id]
		if last == nil {
			last = map[string]any{}
			s.last[id] = last
		}
		names := make([]string, 0, len(values))
		for name := range values {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			v := values[name]
			old, seen := last[name]
			last[name] = v
			// A thing seen for the first time is only remembered.
			if sink != nil && seen && !same(old, v) {
				sink.PropertyChanged(id, name, v)
			}
		}
	}
}

// same reports whether two property values are equal scalars.
func same(x, y any) bool {
	if x == nil || y == nil {
		return x == y
	}
	t := reflect.TypeOf(x)
	return t == reflect.TypeOf(y) && t.Comparable() && x == y
}

func sortedIDs(m map[string]Device) []string {
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func deliver(sink gateway.Sink, c change) {
	switch c.kind {
	case changeProperty:
		sink.PropertyChanged(c.thingID, c.name, c.value)
	case changeEvent:
		sink.Event(c.thingID, c.name, c.value)
	case changeAdded:
		sink.ThingAdded(c.td)
	case changeRemoved:
		sink.ThingRemoved(c.thingID)
	}
}

// broadcast queues c for every subscriber. It never blocks for long.
func (a *Adapter) broadcast(c change) {
	a.subsMu.RLock()
	defer a.subsMu.RUnlock()
	for s := range a.subs {
		s.put(c)
	}
}

type changeKind int

const (
	changeProperty changeKind = iota
	changeEvent
	changeAdded
	changeRemoved
	changeDropped // value: how many changes were dropped before this point
)

type change struct {
	kind    changeKind
	thingID string
	name    string
	value   any
	td      *thing.Description
}

// subscriber is one Subscribe call's queue of changes. Producers append
// under mu; the Subscribe goroutine drains it, so sink calls never run
// under a device lock and always arrive in the order the changes happened.
type subscriber struct {
	mu      sync.Mutex
	queue   []change
	dropped int
	limit   int
	wake    chan struct{}

	last map[string]map[string]any // owned by the Subscribe goroutine
}

func (s *subscriber) put(c change) {
	s.mu.Lock()
	if len(s.queue) >= s.limit {
		s.queue = s.queue[1:]
		s.dropped++
	}
	s.queue = append(s.queue, c)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) take() []change {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queue
	if s.dropped > 0 {
		q = append([]change{{kind: changeDropped, value: s.dropped}}, q...)
		s.dropped = 0
	}
	s.queue = nil
	return q
}
