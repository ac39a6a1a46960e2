package virtual

import (
	"context"

	"github.com/hearth-wot/hearth/thing"
)

// ContactSensorOptions configures a ContactSensor. The zero value is a
// closed door.
type ContactSensorOptions struct {
	// Window makes the sensor describe itself as a window sensor.
	Window bool
	// Open is the initial state.
	Open bool
}

// ContactSensor is a simulated door or window contact sensor. Its state
// changes only through SetOpen (someone opens the door). It is safe for
// concurrent use.
//
// Properties: "open" (OpenProperty, read-only boolean).
type ContactSensor struct {
	core
	window bool
	open   bool
}

// NewContactSensor returns a door (or window) sensor.
func NewContactSensor(id, title string, opts ContactSensorOptions) *ContactSensor {
	return &ContactSensor{core: newCore(id, title), window: opts.Window, open: opts.Open}
}

// Description implements Device.
func (s *ContactSensor) Description() *thing.Description {
	desc := "A simulated door contact sensor."
	if s.window {
		desc = "A simulated window contact sensor."
	}
	return build(&s.core, describe(&s.core, desc, "DoorSensor").
		Property("open", boolProperty("OpenProperty", "Open").ReadOnly()))
}

// Open reports whether the door or window is open.
func (s *ContactSensor) Open() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.open
}

// SetOpen opens or closes the door or window.
func (s *ContactSensor) SetOpen(open bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open != open {
		s.open = open
		s.emitProperty("open", open)
	}
}

func (s *ContactSensor) read(name string) (any, error) {
	if name != "open" {
		return nil, s.errProperty(name)
	}
	return s.Open(), nil
}

func (s *ContactSensor) write(name string, _ any) error {
	if name != "open" {
		return s.errProperty(name)
	}
	return s.errReadOnly(name)
}

func (s *ContactSensor) invoke(_ context.Context, name string, _ any) (any, error) {
	return nil, s.errAction(name)
}

func (s *ContactSensor) sample(map[string]any) {}
