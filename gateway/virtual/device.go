package virtual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

// WebThingsContext is the vocabulary of the @type values ("Light",
// "OnOffProperty", ...) in the Thing Descriptions of virtual devices; it
// follows the TD 1.1 context in their "@context".
const WebThingsContext = "https://webthings.io/schemas"

// Device is one simulated device. The concrete types are *Light,
// *Thermostat, *SmartPlug, *EnergyMeter, *WashingMachine and
// *ContactSensor, made by their New functions; the interface is sealed.
//
// A Device may be used directly (for example to open a door in a test) and
// belongs to at most one Adapter at a time. All Devices are safe for
// concurrent use.
type Device interface {
	// ID returns the thing id the device is served under.
	ID() string
	// Description returns a fresh copy of the device's Thing Description:
	// id, title, @type and affordances with their data schemas. It is a
	// valid TD 1.1 (if the id is a URI) with placeholder relative forms and
	// no security, which a gateway replaces with its own.
	Description() *thing.Description

	base() *core
	read(name string) (any, error)
	write(name string, v any) error
	invoke(ctx context.Context, name string, input any) (any, error)
	// sample adds the current value of every property that changes on its
	// own, as time passes, to into.
	sample(into map[string]any)
}

// core holds what every device shares: identity, its lock and the adapter
// it belongs to.
type core struct {
	id, title string
	mu        sync.Mutex // guards the concrete device's state
	owner     atomic.Pointer[Adapter]
}

func (c *core) ID() string  { return c.id }
func (c *core) base() *core { return c }
func (c *core) attach(a *Adapter) bool {
	return c.owner.CompareAndSwap(nil, a)
}
func (c *core) detach(a *Adapter) { c.owner.CompareAndSwap(a, nil) }

// emitProperty tells the owning adapter's subscribers that a property
// changed. Callers hold c.mu, which keeps notifications in state order.
func (c *core) emitProperty(name string, v any) {
	if a := c.owner.Load(); a != nil {
		a.broadcast(change{kind: changeProperty, thingID: c.id, name: name, value: v})
	}
}

// emitEvent tells the owning adapter's subscribers that an event occurred.
func (c *core) emitEvent(name string, data any) {
	if a := c.owner.Load(); a != nil {
		a.broadcast(change{kind: changeEvent, thingID: c.id, name: name, value: data})
	}
}

func (c *core) errProperty(name string) error {
	return fmt.Errorf("virtual: thing %q has no property %q: %w", c.id, name, gateway.ErrNotFound)
}

func (c *core) errAction(name string) error {
	return fmt.Errorf("virtual: thing %q has no action %q: %w", c.id, name, gateway.ErrNotFound)
}

func (c *core) errReadOnly(name string) error {
	return fmt.Errorf("virtual: property %q of thing %q is read-only: %w", name, c.id, gateway.ErrNotSupported)
}

// ErrInvalidValue is wrapped by errors for a value or action input that
// does not fit the affordance's data schema. The gateway validates values
// before it calls an adapter, so it normally sees this only when a device
// is driven directly.
var ErrInvalidValue = errors.New("virtual: invalid value")

// ErrBusy is returned by an action that cannot start because the device is
// already running one (a washing machine mid-cycle).
var ErrBusy = errors.New("virtual: device busy")

// ErrClosed is returned by an Adapter after Close.
var ErrClosed = errors.New("virtual: adapter closed")

// ErrExists is returned by Adapter.Add for a thing id already in use or a
// device that belongs to another adapter.
var ErrExists = errors.New("virtual: thing already exists")

func invalid(format string, args ...any) error {
	return fmt.Errorf("virtual: %s: %w", fmt.Sprintf(format, args...), ErrInvalidValue)
}

// asBool converts a decoded JSON value to a bool.
func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, invalid("want a boolean, got %T", v)
	}
	return b, nil
}

// asNumber converts a decoded JSON (or Go) number to a float64.
func asNumber(v any) (float64, error) {
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case float32:
		f = float64(n)
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case int32:
		f = float64(n)
	case uint:
		f = float64(n)
	case uint64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, invalid("bad number %q", n)
		}
	default:
		return 0, invalid("want a number, got %T", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, invalid("want a finite number")
	}
	return f, nil
}

// asInteger converts a decoded JSON number to an int, rejecting fractions.
func asInteger(v any) (int, error) {
	f, err := asNumber(v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, invalid("want an integer, got %v", f)
	}
	return int(f), nil
}

// inRange checks lo <= f <= hi.
func inRange(name string, f, lo, hi float64) error {
	if f < lo || f > hi {
		return invalid("%s %v out of range [%v, %v]", name, f, lo, hi)
	}
	return nil
}

func round(f float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(f*p) / p
}

// placeholderID stands in for a device's id while its description is
// built and validated: ids are checked by Adapter.Add, so that a
// Description never fails.
const placeholderID = "urn:hearth:virtual:placeholder"

// describe starts the description of a device.
func describe(c *core, description string, atType ...string) *thing.Builder {
	return thing.New(placeholderID, c.title).Describe(description).Type(atType...)
}

// build finishes a description: validated, with the device's id and the
// WebThings vocabulary in its context.
func build(c *core, b *thing.Builder) *thing.Description {
	td, err := b.Build()
	if err != nil {
		panic(fmt.Sprintf("virtual: the description of %q is invalid: %v", c.id, err))
	}
	td.ID = c.id
	td.Context.Entries = append(td.Context.Entries, thing.ContextEntry{URI: WebThingsContext})
	td.Context.Array = true
	return td
}

func boolProperty(atType, title string) *thing.DataBuilder {
	return thing.Boolean().Type(atType).Title(title).Observable()
}

// numberProperty is a read-only, observable number.
func numberProperty(atType, title, unit string) *thing.DataBuilder {
	b := thing.Number().Title(title).Unit(unit).Min(0).ReadOnly().Observable()
	if atType != "" {
		b.Type(atType)
	}
	return b
}

func enumProperty(atType, title string, values ...string) *thing.DataBuilder {
	enum := make([]any, len(values))
	for i, v := range values {
		enum[i] = v
	}
	b := thing.String().Title(title).Enum(enum...).Observable()
	if atType != "" {
		b.Type(atType)
	}
	return b
}

// checkID reports whether id can be a thing id: an absolute URI.
func checkID(id string) error {
	u, err := url.Parse(id)
	if err != nil || u.Scheme == "" || strings.ContainsAny(id, " \t\n") {
		return fmt.Errorf("virtual: thing id %q is not an absolute URI (such as urn:hearth:virtual:lamp): %w", id, ErrInvalidValue)
	}
	return nil
}

func newCore(id, title string) core {
	if title == "" {
		title = id
	}
	return core{id: id, title: title}
}
