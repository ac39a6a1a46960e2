package virtual

import (
	"context"
	"math"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// Light is a simulated light: on/off, or dimmable with a brightness and a
// fade action. It is safe for concurrent use.
//
// Properties: "on" (OnOffProperty, writable) and, if dimmable,
// "brightness" (BrightnessProperty, integer percent 0-100, writable).
// Actions: "toggle" (ToggleAction) and, if dimmable, "fade"
// (FadeAction; input {"brightness": 0-100, "duration": milliseconds}).
type Light struct {
	core
	dimmable   bool
	on         bool
	brightness int
}

// NewLight returns an on/off light that is off.
func NewLight(id, title string) *Light {
	return &Light{core: newCore(id, title), brightness: 100}
}

// NewDimmableLight returns a dimmable light that is off, at full
// brightness.
func NewDimmableLight(id, title string) *Light {
	return &Light{core: newCore(id, title), dimmable: true, brightness: 100}
}

// On reports whether the light is on.
func (l *Light) On() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}

// SetOn switches the light, as a wall switch would.
func (l *Light) SetOn(on bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.setOnLocked(on)
}

func (l *Light) setOnLocked(on bool) {
	if l.on != on {
		l.on = on
		l.emitProperty("on", on)
	}
}

// Brightness returns the brightness in percent (100 for on/off lights).
func (l *Light) Brightness() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.brightness
}

func (l *Light) setBrightnessLocked(b int) {
	if l.brightness != b {
		l.brightness = b
		l.emitProperty("brightness", b)
	}
}

// Description implements Device.
func (l *Light) Description() *thing.Description {
	desc := "A simulated light."
	if l.dimmable {
		desc = "A simulated dimmable light."
	}
	b := describe(&l.core, desc, "Light", "OnOffSwitch").
		Property("on", boolProperty("OnOffProperty", "On/Off")).
		Action("toggle", thing.NewAction().Type("ToggleAction").Title("Toggle").Synchronous(true).
			Describe("Switch the light on if it is off, off if it is on."))
	if l.dimmable {
		b.Property("brightness", thing.Integer().Type("BrightnessProperty").Title("Brightness").
			Unit("percent").Range(0, 100).Observable())
		b.Action("fade", thing.NewAction().Type("FadeAction").Title("Fade").Synchronous(false).
			Describe("Switch on and fade to a brightness over a duration.").
			Input(thing.Object().
				Prop("brightness", thing.Integer().Unit("percent").Range(0, 100)).
				Prop("duration", thing.Integer().Unit("millisecond").Range(0, 3600000)).
				Required("brightness", "duration")))
	}
	return build(&l.core, b)
}

func (l *Light) read(name string) (any, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case name == "on":
		return l.on, nil
	case name == "brightness" && l.dimmable:
		return l.brightness, nil
	}
	return nil, l.errProperty(name)
}

func (l *Light) write(name string, v any) error {
	switch {
	case name == "on":
		on, err := asBool(v)
		if err != nil {
			return err
		}
		l.SetOn(on)
		return nil
	case name == "brightness" && l.dimmable:
		b, err := asInteger(v)
		if err != nil {
			return err
		}
		if err := inRange("brightness", float64(b), 0, 100); err != nil {
			return err
		}
		l.mu.Lock()
		l.setBrightnessLocked(b)
		l.mu.Unlock()
		return nil
	}
	return l.errProperty(name)
}

func (l *Light) invoke(ctx context.Context, name string, input any) (any, error) {
	switch {
	case name == "toggle":
		l.mu.Lock()
		l.setOnLocked(!l.on)
		l.mu.Unlock()
		return nil, nil
	case name == "fade" && l.dimmable:
		target, duration, err := fadeInput(input)
		if err != nil {
			return nil, err
		}
		return nil, l.fade(ctx, target, duration)
	}
	return nil, l.errAction(name)
}

func fadeInput(input any) (target int, d time.Duration, err error) {
	m, ok := input.(map[string]any)
	if !ok {
		return 0, 0, invalid("fade input: want an object, got %T", input)
	}
	if target, err = asInteger(m["brightness"]); err != nil {
		return 0, 0, err
	}
	if err = inRange("brightness", float64(target), 0, 100); err != nil {
		return 0, 0, err
	}
	ms, err := asInteger(m["duration"])
	if err != nil {
		return 0, 0, err
	}
	if err = inRange("duration", float64(ms), 0, 3600000); err != nil {
		return 0, 0, err
	}
	return target, time.Duration(ms) * time.Millisecond, nil
}

// fade switches the light on and moves the brightness to target in steps
// of at most 100 ms, stopping where it is when ctx is done.
func (l *Light) fade(ctx context.Context, target int, d time.Duration) error {
	l.mu.Lock()
	l.setOnLocked(true)
	from := l.brightness
	l.mu.Unlock()
	steps := int(d / (100 * time.Millisecond))
	if steps > 0 {
		t := time.NewTicker(d / time.Duration(steps))
		defer t.Stop()
		for i := 1; i < steps; i++ {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
			b := from + int(math.Round(float64(target-from)*float64(i)/float64(steps)))
			l.mu.Lock()
			l.setBrightnessLocked(b)
			l.mu.Unlock()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	l.mu.Lock()
	l.setBrightnessLocked(target)
	l.mu.Unlock()
	return nil
}

func (l *Light) sample(map[string]any) {}
