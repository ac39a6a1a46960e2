package gateway

import (
	"context"
	"errors"

	"github.com/hearth-wot/hearth/thing"
)

// Adapter connects a family of devices to a Server: it is how devices plug
// in. The required interface is deliberately tiny; further capabilities
// (PropertyWriter, ActionInvoker, EventSource, Pairer, Remover) are optional
// interfaces the Server discovers by type assertion, like
// database/sql/driver. A missing capability is answered with 501 Not
// Implemented, never a panic.
//
// Implementations must be safe for concurrent use: the Server calls them
// from many request goroutines at once.
//
// Errors: return an error wrapping ErrNotFound for an unknown thing or
// affordance (404). A context deadline is reported as a gateway timeout
// (504); any other error as a device failure (502).
type Adapter interface {
	// Things lists the things the adapter offers now. Each Description
	// carries the thing's id, title, @type and affordances with their data
	// schemas; forms, base and security are ignored: the Server writes its
	// own. The Server may call Things again at any time; EventSource
	// adapters announce additions and removals through their Sink instead.
	Things(ctx context.Context) ([]*thing.Description, error)

	// ReadProperty returns the current value of a property as a JSON-ready
	// Go value (bool, float64, string, map[string]any, []any, nil, or any
	// value encoding/json can marshal).
	ReadProperty(ctx context.Context, thingID, name string) (any, error)
}

// PropertyWriter is an optional Adapter capability: writable properties.
// The Server validates value against the property's DataSchema before it
// calls WriteProperty.
type PropertyWriter interface {
	WriteProperty(ctx context.Context, thingID, name string, value any) error
}

// ActionInvoker is an optional Adapter capability: actions.
// The Server validates input against the action's input schema first. It
// runs asynchronous actions in its own goroutine and cancels ctx when a
// client cancels the action (cancelaction) or the Server shuts down.
type ActionInvoker interface {
	InvokeAction(ctx context.Context, thingID, name string, input any) (output any, err error)
}

// EventSource is an optional Adapter capability for adapters that push
// changes: property values, events, and things appearing or disappearing.
//
// The Server calls Subscribe before it first lists the adapter's things,
// and applies a thing announcement that arrives while it lists after the
// listing, so announcing a thing the Server serves already is harmless. To
// close the last gap (a thing added after the listing was taken but before
// Subscribe registered the sink), Subscribe should call Live on the sink
// once it has registered it; see LiveSink.
type EventSource interface {
	// Subscribe delivers changes to sink until ctx is done, then returns.
	// The Server calls it once per adapter, in a goroutine of its own.
	Subscribe(ctx context.Context, sink Sink) error
}

// LiveSink is implemented by the Sink a Server passes to
// EventSource.Subscribe. Use it by type assertion:
//
//	func (a *Adapter) Subscribe(ctx context.Context, sink gateway.Sink) error {
//		a.register(sink) // from here on every change reaches sink
//		if l, ok := sink.(gateway.LiveSink); ok {
//			l.Live()
//		}
//		<-ctx.Done()
//		...
//	}
//
// Adapters that never call Live keep working: they are listed once, just
// after Subscribe is called, which misses a thing added between that
// listing and the moment Subscribe registers its sink (an adapter may close
// that gap itself by announcing its current things when Subscribe starts).
type LiveSink interface {
	Sink
	// Live tells the Server that every change from now on reaches the
	// Sink. The Server lists the adapter's things again (calling Things
	// before Live returns, so do not hold a lock Things needs) and applies
	// announcements made meanwhile after that listing: from then on the
	// Server's view of the adapter's things is exact.
	Live()
}

// Sink receives what an EventSource pushes. The Server's Sink is safe for
// concurrent use and never blocks for long.
type Sink interface {
	PropertyChanged(thingID, name string, value any)
	Event(thingID, name string, data any)
	ThingAdded(td *thing.Description)
	ThingRemoved(thingID string)
}

// Remover is an optional Adapter capability: removing a thing.
type Remover interface {
	RemoveThing(ctx context.Context, thingID string) error
}

// Pairer is an optional Adapter capability: looking for new devices on
// request (the WebThings "pairing" mode). New things are announced through
// the adapter's Sink (so a Pairer is normally also an EventSource).
type Pairer interface {
	// StartPairing looks for new devices until ctx is done.
	StartPairing(ctx context.Context) error
}

// ErrNotFound is wrapped by adapter errors for an unknown thing or
// affordance.
var ErrNotFound = errors.New("gateway: not found")

// ErrNotSupported is wrapped by errors for operations an adapter or thing
// does not offer.
var ErrNotSupported = errors.New("gateway: operation not supported")
