package gatewaytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// ActionFunc carries out an action of an Adapter's thing.
type ActionFunc func(ctx context.Context, input any) (output any, err error)

// Adapter is an in-memory gateway.Adapter whose things hold their property
// values in memory. A test drives it directly: Set changes a value as the
// device would, Emit fires an event, Add and Remove make things come and
// go, FailWith makes an affordance fail. It implements every optional
// capability: PropertyWriter, ActionInvoker, EventSource, Remover (and
// Pairer, which finds nothing).
//
// An Adapter is safe for concurrent use.
type Adapter struct {
	mu      sync.Mutex
	things  map[string]*thing.Description
	values  map[[2]string]any
	actions map[[2]string]ActionFunc
	fails   map[[2]string]error
	sinks   map[int]gateway.Sink
	nextID  int
	writes  int
}

var (
	_ gateway.Adapter        = (*Adapter)(nil)
	_ gateway.PropertyWriter = (*Adapter)(nil)
	_ gateway.ActionInvoker  = (*Adapter)(nil)
	_ gateway.EventSource    = (*Adapter)(nil)
	_ gateway.Remover        = (*Adapter)(nil)
	_ gateway.Pairer         = (*Adapter)(nil)
)

// NewAdapter returns an Adapter serving tds. Each property starts at its
// schema's default, or null.
func NewAdapter(tds ...*thing.Description) *Adapter {
	a := &Adapter{
		things:  make(map[string]*thing.Description),
		values:  make(map[[2]string]any),
		actions: make(map[[2]string]ActionFunc),
		fails:   make(map[[2]string]error),
		sinks:   make(map[int]gateway.Sink),
	}
	for _, td := range tds {
		a.put(td)
	}
	return a
}

func (a *Adapter) put(td *thing.Description) {
	a.things[td.ID] = td
	for name, p := range td.Properties {
		k := [2]string{td.ID, name}
		if _, ok := a.values[k]; !ok && p.HasDefault {
			a.values[k] = p.Default
		}
	}
}

func (a *Adapter) sinkList() []gateway.Sink {
	return slices.Collect(maps.Values(a.sinks))
}

// Add adds a thing (or replaces it) and announces it to subscribers.
func (a *Adapter) Add(td *thing.Description) {
	a.mu.Lock()
	a.put(td)
	sinks := a.sinkList()
	a.mu.Unlock()
	for _, s := range sinks {
		s.ThingAdded(td)
	}
}

// Remove removes a thing and announces it.
func (a *Adapter) Remove(thingID string) {
	a.mu.Lock()
	delete(a.things, thingID)
	sinks := a.sinkList()
	a.mu.Unlock()
	for _, s := range sinks {
		s.ThingRemoved(thingID)
	}
}

// Set changes a property's value as the device would, and reports the
// change to subscribers.
func (a *Adapter) Set(thingID, name string, v any) {
	a.mu.Lock()
	a.values[[2]string{thingID, name}] = v
	sinks := a.sinkList()
	a.mu.Unlock()
	for _, s := range sinks {
		s.PropertyChanged(thingID, name, v)
	}
}

// Value returns a property's current value.
func (a *Adapter) Value(thingID, name string) any {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.values[[2]string{thingID, name}]
}

// Writes reports how many WriteProperty calls succeeded.
func (a *Adapter) Writes() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.writes
}

// Emit fires an event.
func (a *Adapter) Emit(thingID, name string, data any) {
	a.mu.Lock()
	sinks := a.sinkList()
	a.mu.Unlock()
	for _, s := range sinks {
		s.Event(thingID, name, data)
	}
}

// Handle sets what invoking an action does. An action without a handler
// returns its input as output.
func (a *Adapter) Handle(thingID, action string, f ActionFunc) {
	a.mu.Lock()
	a.actions[[2]string{thingID, action}] = f
	a.mu.Unlock()
}

// FailWith makes every operation on an affordance (name "" for the whole
// thing) fail with err; nil restores it.
func (a *Adapter) FailWith(thingID, name string, err error) {
	a.mu.Lock()
	if err == nil {
		delete(a.fails, [2]string{thingID, name})
	} else {
		a.fails[[2]string{thingID, name}] = err
	}
	a.mu.Unlock()
}

// Subscribers reports how many subscriptions are open.
func (a *Adapter) Subscribers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.sinks)
}

// Things implements gateway.Adapter.
func (a *Adapter) Things(context.Context) ([]*thing.Description, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ids := slices.Sorted(maps.Keys(a.things))
	out := make([]*thing.Description, len(ids))
	for i, id := range ids {
		out[i] = a.things[id]
	}
	return out, nil
}

// check returns the failure set for an affordance, or ErrNotFound.
func (a *Adapter) check(thingID, name string, exists func(*thing.Description) bool) error {
	if err := a.fails[[2]string{thingID, ""}]; err != nil {
		return err
	}
	if err := a.fails[[2]string{thingID, name}]; err != nil {
		return err
	}
	td := a.things[thingID]
	if td == nil || !exists(td) {
		return fmt.Errorf("%w: %s/%s", gateway.ErrNotFound, thingID, name)
	}
	return nil
}

// ReadProperty implements gateway.Adapter.
func (a *Adapter) ReadProperty(ctx context.Context, thingID, name string) (any, error) {
	a.mu.Lock()
	err := a.check(thingID, name, func(td *thing.Description) bool { return td.Properties[name] != nil })
	v := a.values[[2]string{thingID, name}]
	a.mu.Unlock()
	if err != nil {
		return nil, wait(ctx, err)
	}
	return v, nil
}

// WriteProperty implements gateway.PropertyWriter. It reports the change
// to subscribers, as a device would.
func (a *Adapter) WriteProperty(ctx context.Context, thingID, name string, v any) error {
	a.mu.Lock()
	err := a.check(thingID, name, func(td *thing.Description) bool { return td.Properties[name] != nil })
	if err == nil {
		a.values[[2]string{thingID, name}] = v
		a.writes++
	}
	sinks := a.sinkList()
	a.mu.Unlock()
	if err != nil {
		return wait(ctx, err)
	}
	for _, s := range sinks {
		s.PropertyChanged(thingID, name, v)
	}
	return nil
}

// InvokeAction implements gateway.ActionInvoker.
func (a *Adapter) InvokeAction(ctx context.Context, thingID, name string, input any) (any, error) {
	a.mu.Lock()
	err := a.check(thingID, name, func(td *thing.Description) bool { return td.Actions[name] != nil })
	f := a.actions[[2]string{thingID, name}]
	a.mu.Unlock()
	if err != nil {
		return nil, wait(ctx, err)
	}
	if f == nil {
		return input, nil
	}
	return f(ctx, input)
}

// Subscribe implements gateway.EventSource. It calls Live when the sink is
// a gateway.LiveSink, once the sink receives every change.
func (a *Adapter) Subscribe(ctx context.Context, sink gateway.Sink) error {
	a.mu.Lock()
	id := a.nextID
	a.nextID++
	a.sinks[id] = sink
	a.mu.Unlock()
	if l, ok := sink.(gateway.LiveSink); ok {
		l.Live()
	}
	<-ctx.Done()
	a.mu.Lock()
	delete(a.sinks, id)
	a.mu.Unlock()
	return nil
}

// RemoveThing implements gateway.Remover.
func (a *Adapter) RemoveThing(_ context.Context, thingID string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.things[thingID] == nil {
		return fmt.Errorf("%w: %s", gateway.ErrNotFound, thingID)
	}
	delete(a.things, thingID)
	return nil
}

// StartPairing implements gateway.Pairer; it finds nothing.
func (a *Adapter) StartPairing(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// ErrHang is an error for FailWith: the operation blocks until its context
// ends and then fails with the context's error (a device that never
// answers).
var ErrHang = errors.New("gatewaytest: device does not answer")

func wait(ctx context.Context, err error) error {
	if err == ErrHang {
		<-ctx.Done()
		return ctx.Err()
	}
	return err
}

// Minimal wraps an adapter so that only the required gateway.Adapter
// methods show: none of its optional capabilities.
func Minimal(a gateway.Adapter) gateway.Adapter { return minimal{a} }

type minimal struct{ a gateway.Adapter }

func (m minimal) Things(ctx context.Context) ([]*thing.Description, error) { return m.a.Things(ctx) }
func (m minimal) ReadProperty(ctx context.Context, thingID, name string) (any, error) {
	return m.a.ReadProperty(ctx, thingID, name)
}
