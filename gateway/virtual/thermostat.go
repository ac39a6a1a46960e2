package virtual

import (
	"context"
	"math"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// Thermostat modes, the values of the "mode" property.
const (
	ModeOff  = "off"
	ModeHeat = "heat"
	ModeCool = "cool"
	ModeAuto = "auto"
)

// ThermostatOptions configures a Thermostat. The zero value is ready to
// use.
type ThermostatOptions struct {
	// Ambient is the temperature (°C) the room drifts toward when neither
	// heated nor cooled. Zero means 15 °C; to simulate a 0 °C ambient, use
	// a tiny non-zero value.
	Ambient float64
	// Initial is the room temperature at creation. Zero means Ambient.
	Initial float64
	// Target is the initial target temperature. Zero means 21 °C.
	Target float64
	// Mode is the initial mode. Empty means ModeHeat.
	Mode string
	// Active is the time constant of heating or cooling toward the
	// target: after it, 63% of the gap is closed. Zero means 30 minutes.
	Active time.Duration
	// Passive is the time constant of drift toward Ambient. Zero means
	// three hours.
	Passive time.Duration
}

// Thermostat is a simulated room thermostat. The room temperature moves
// continuously (exponentially) toward the target while the thermostat heats
// or cools, and toward the ambient temperature otherwise; the heater holds
// the target once a drifting room reaches it. It is safe for concurrent use.
//
// Properties: "temperature" (TemperatureProperty, °C, read-only),
// "targetTemperature" (TargetTemperatureProperty, 5-30 °C, writable),
// "mode" (ThermostatModeProperty: off, heat, cool, auto; writable) and
// "heatingCooling" (HeatingCoolingProperty: off, heating, cooling;
// read-only).
type Thermostat struct {
	core
	opts ThermostatOptions
	// The room followed a trajectory from temperature t0 at time since,
	// under the target and mode below.
	since  time.Time
	t0     float64
	target float64
	mode   string
}

// Bounds of the target temperature.
const (
	MinTargetTemperature = 5.0
	MaxTargetTemperature = 30.0
)

// NewThermostat returns a thermostat.
func NewThermostat(id, title string, opts ThermostatOptions) *Thermostat {
	if opts.Ambient == 0 {
		opts.Ambient = 15
	}
	if opts.Initial == 0 {
		opts.Initial = opts.Ambient
	}
	if opts.Target == 0 {
		opts.Target = 21
	}
	opts.Target = math.Min(math.Max(opts.Target, MinTargetTemperature), MaxTargetTemperature)
	switch opts.Mode {
	case ModeOff, ModeHeat, ModeCool, ModeAuto:
	default:
		opts.Mode = ModeHeat
	}
	if opts.Active <= 0 {
		opts.Active = 30 * time.Minute
	}
	if opts.Passive <= 0 {
		opts.Passive = 3 * time.Hour
	}
	return &Thermostat{
		core:   newCore(id, title),
		opts:   opts,
		since:  time.Now(),
		t0:     opts.Initial,
		target: opts.Target,
		mode:   opts.Mode,
	}
}

// Description implements Device.
func (t *Thermostat) Description() *thing.Description {
	return build(&t.core, describe(&t.core, "A simulated room thermostat.", "Thermostat", "TemperatureSensor").
		Property("temperature", thing.Number().Type("TemperatureProperty").Title("Temperature").
			Unit("degree celsius").ReadOnly().Observable()).
		Property("targetTemperature", thing.Number().Type("TargetTemperatureProperty").Title("Target temperature").
			Unit("degree celsius").Range(MinTargetTemperature, MaxTargetTemperature).MultipleOf(0.5).Observable()).
		Property("mode", enumProperty("ThermostatModeProperty", "Mode", ModeOff, ModeHeat, ModeCool, ModeAuto)).
		Property("heatingCooling", enumProperty("HeatingCoolingProperty", "Heating/cooling", "off", "heating", "cooling").ReadOnly()))
}

// Temperature returns the room temperature now, in °C.
func (t *Thermostat) Temperature() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	temp, _ := t.stateLocked(time.Now())
	return temp
}

// Target returns the target temperature in °C.
func (t *Thermostat) Target() float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.target
}

// stateLocked computes the room temperature at now and whether the
// thermostat is "heating", "cooling" or "off".
func (t *Thermostat) stateLocked(now time.Time) (float64, string) {
	dt := now.Sub(t.since)
	if dt < 0 {
		dt = 0
	}
	heat := t.mode == ModeHeat || t.mode == ModeAuto
	cool := t.mode == ModeCool || t.mode == ModeAuto
	t0, target, amb := t.t0, t.target, t.opts.Ambient
	const settled = 0.05 // °C: closer than this counts as "reached"
	switch {
	case t0 < target && heat, t0 > target && cool:
		temp := target + (t0-target)*math.Exp(-float64(dt)/float64(t.opts.Active))
		action := "off"
		if math.Abs(temp-target) > settled {
			action = "heating"
			if t0 > target {
				action = "cooling"
			}
		}
		return temp, action
	default:
		temp := amb + (t0-amb)*math.Exp(-float64(dt)/float64(t.opts.Passive))
		// A room drifting past the target is held there if the thermostat
		// may act in the other direction.
		if (heat && t0 >= target && temp < target) || (cool && t0 <= target && temp > target) {
			return target, "off"
		}
		return temp, "off"
	}
}

// rebaseLocked starts a new trajectory from the current temperature.
func (t *Thermostat) rebaseLocked(now time.Time) {
	t.t0, _ = t.stateLocked(now)
	t.since = now
}

// SetTarget sets the target temperature, clamped to 5-30 °C.
func (t *Thermostat) SetTarget(c float64) {
	c = math.Min(math.Max(c, MinTargetTemperature), MaxTargetTemperature)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.setTargetLocked(c)
}

func (t *Thermostat) setTargetLocked(c float64) {
	if c == t.target {
		return
	}
	t.rebaseLocked(time.Now())
	t.target = c
	t.emitProperty("targetTemperature", c)
	// heatingCooling and temperature are reported by subscriptions' polls.
}

func (t *Thermostat) setModeLocked(mode string) {
	if mode == t.mode {
		return
	}
	t.rebaseLocked(time.Now())
	t.mode = mode
	t.emitProperty("mode", mode)
}

func (t *Thermostat) read(name string) (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch name {
	case "temperature":
		temp, _ := t.stateLocked(time.Now())
		return round(temp, 1), nil
	case "heatingCooling":
		_, action := t.stateLocked(time.Now())
		return action, nil
	case "targetTemperature":
		return t.target, nil
	case "mode":
		return t.mode, nil
	}
	return nil, t.errProperty(name)
}

func (t *Thermostat) write(name string, v any) error {
	switch name {
	case "targetTemperature":
		c, err := asNumber(v)
		if err != nil {
			return err
		}
		if err := inRange("targetTemperature", c, MinTargetTemperature, MaxTargetTemperature); err != nil {
			return err
		}
		t.mu.Lock()
		t.setTargetLocked(c)
		t.mu.Unlock()
		return nil
	case "mode":
		mode, ok := v.(string)
		switch {
		case !ok:
			return invalid("mode: want a string, got %T", v)
		case mode != ModeOff && mode != ModeHeat && mode != ModeCool && mode != ModeAuto:
			return invalid("mode %q is not one of off, heat, cool, auto", mode)
		}
		t.mu.Lock()
		t.setModeLocked(mode)
		t.mu.Unlock()
		return nil
	case "temperature", "heatingCooling":
		return t.errReadOnly(name)
	}
	return t.errProperty(name)
}

func (t *Thermostat) invoke(_ context.Context, name string, _ any) (any, error) {
	return nil, t.errAction(name)
}

func (t *Thermostat) sample(into map[string]any) {
	t.mu.Lock()
	temp, action := t.stateLocked(time.Now())
	t.mu.Unlock()
	into["temperature"] = round(temp, 1)
	into["heatingCooling"] = action
}
