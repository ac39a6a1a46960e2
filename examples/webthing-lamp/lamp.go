package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/thing"
)

const lampID = "urn:dev:ops:my-lamp-1234"

// Lamp is the device: the canonical WebThings lamp, simulated. It is a
// gateway adapter with one thing, and implements the optional
// PropertyWriter, ActionInvoker and EventSource capabilities.
type Lamp struct {
	td *thing.Description

	mu         sync.Mutex
	on         bool
	brightness int
	sinks      map[*gateway.Sink]struct{}
}

// NewLamp returns a lamp that is on at 50 %.
func NewLamp() *Lamp {
	td := thing.New(lampID, "My Lamp").
		Type("OnOffSwitch", "Light").
		Describe("A web connected lamp").
		Property("on", thing.Boolean().Type("OnOffProperty").Title("On/Off").
			Describe("Whether the lamp is turned on").Observable()).
		Property("brightness", thing.Integer().Type("BrightnessProperty").Title("Brightness").
			Describe("The level of light from 0-100").Range(0, 100).Unit("percent").Observable()).
		Action("fade", thing.NewAction().Type("FadeAction").Title("Fade").
			Describe("Fade the lamp to a given level").
			Input(thing.Object().
				Prop("brightness", thing.Integer().Range(0, 100).Unit("percent")).
				Prop("duration", thing.Integer().Min(1).Unit("milliseconds")).
				Required("brightness", "duration"))).
		Event("overheated", thing.NewEvent().Type("OverheatedEvent").
			Describe("The lamp has exceeded its safe operating temperature").
			Data(thing.Number().Unit("degree celsius"))).
		MustBuild()
	td.Context.Entries = append(td.Context.Entries, thing.ContextEntry{URI: "https://webthings.io/schemas"})
	td.Context.Array = true
	return &Lamp{td: td, on: true, brightness: 50, sinks: make(map[*gateway.Sink]struct{})}
}

// Things implements gateway.Adapter.
func (l *Lamp) Things(context.Context) ([]*thing.Description, error) {
	return []*thing.Description{l.td}, nil
}

// ReadProperty implements gateway.Adapter.
func (l *Lamp) ReadProperty(_ context.Context, id, name string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case id != lampID:
	case name == "on":
		return l.on, nil
	case name == "brightness":
		return l.brightness, nil
	}
	return nil, fmt.Errorf("%w: %s/%s", gateway.ErrNotFound, id, name)
}

// WriteProperty implements gateway.PropertyWriter. The gateway has
// validated the value against the property's schema.
func (l *Lamp) WriteProperty(_ context.Context, id, name string, v any) error {
	l.mu.Lock()
	switch {
	case id != lampID:
		l.mu.Unlock()
		return fmt.Errorf("%w: %s", gateway.ErrNotFound, id)
	case name == "on":
		l.on = v.(bool)
	case name == "brightness":
		l.brightness = int(v.(float64))
	default:
		l.mu.Unlock()
		return fmt.Errorf("%w: %s/%s", gateway.ErrNotFound, id, name)
	}
	l.mu.Unlock()
	l.changed(name, v)
	return nil
}

// InvokeAction implements gateway.ActionInvoker: fade takes its duration,
// sets the brightness, and the lamp overheats.
func (l *Lamp) InvokeAction(ctx context.Context, id, name string, input any) (any, error) {
	if id != lampID || name != "fade" {
		return nil, fmt.Errorf("%w: %s/%s", gateway.ErrNotFound, id, name)
	}
	in := input.(map[string]any)
	level := int(in["brightness"].(float64))
	t := time.NewTimer(time.Duration(in["duration"].(float64)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-t.C:
	}
	l.mu.Lock()
	l.brightness = level
	l.mu.Unlock()
	l.changed("brightness", level)
	l.emit("overheated", 102)
	return nil, nil
}

// Subscribe implements gateway.EventSource.
func (l *Lamp) Subscribe(ctx context.Context, sink gateway.Sink) error {
	l.mu.Lock()
	l.sinks[&sink] = struct{}{}
	l.mu.Unlock()
	<-ctx.Done()
	l.mu.Lock()
	delete(l.sinks, &sink)
	l.mu.Unlock()
	return nil
}

func (l *Lamp) each(f func(gateway.Sink)) {
	l.mu.Lock()
	sinks := make([]gateway.Sink, 0, len(l.sinks))
	for s := range l.sinks {
		sinks = append(sinks, *s)
	}
	l.mu.Unlock()
	for _, s := range sinks {
		f(s)
	}
}

func (l *Lamp) changed(name string, v any) {
	l.each(func(s gateway.Sink) { s.PropertyChanged(lampID, name, v) })
}

func (l *Lamp) emit(name string, data any) {
	l.each(func(s gateway.Sink) { s.Event(lampID, name, data) })
}
