package virtual

import (
	"context"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// SmartPlugOptions configures a SmartPlug. The zero value is ready to use.
type SmartPlugOptions struct {
	// Seed makes the small fluctuations of the readings reproducible.
	Seed uint64
	// Load is the mean power (W) the appliance behind the plug draws while
	// the plug is on. Zero means 60 W.
	Load float64
	// On is the plug's initial state.
	On bool
}

// SmartPlug is a simulated smart plug with a power meter. While it is on,
// the appliance behind it draws Load watts with a ±2% fluctuation that
// changes every ten seconds; the mains voltage fluctuates around 230 V.
// It is safe for concurrent use.
//
// Properties: "on" (OnOffProperty, writable), "power"
// (InstantaneousPowerProperty, W), "voltage" (VoltageProperty, V),
// "current" (CurrentProperty, A) and "energy" (kWh since creation), all
// but "on" read-only.
type SmartPlug struct {
	core
	opts SmartPlugOptions

	on      bool
	counted time.Time // energy is counted up to this instant
	energy  float64   // Wh
}

// NewSmartPlug returns a smart plug.
func NewSmartPlug(id, title string, opts SmartPlugOptions) *SmartPlug {
	if opts.Load <= 0 {
		opts.Load = 60
	}
	return &SmartPlug{core: newCore(id, title), opts: opts, on: opts.On, counted: time.Now()}
}

// Description implements Device.
func (p *SmartPlug) Description() *thing.Description {
	return build(&p.core, describe(&p.core, "A simulated smart plug with a power meter.", "SmartPlug", "OnOffSwitch", "EnergyMonitor").
		Property("on", boolProperty("OnOffProperty", "On/Off")).
		Property("power", numberProperty("InstantaneousPowerProperty", "Power", "watt")).
		Property("voltage", numberProperty("VoltageProperty", "Voltage", "volt")).
		Property("current", numberProperty("CurrentProperty", "Current", "ampere")).
		Property("energy", numberProperty("", "Energy", "kilowatt hour").Describe("Energy delivered since the plug was installed.")).
		Action("toggle", thing.NewAction().Type("ToggleAction").Title("Toggle").Synchronous(true).
			Describe("Switch the plug on if it is off, off if it is on.")))
}

// On reports whether the plug is on.
func (p *SmartPlug) On() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.on
}

// SetOn switches the plug, as its button would.
func (p *SmartPlug) SetOn(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setOnLocked(on)
}

func (p *SmartPlug) setOnLocked(on bool) {
	if p.on == on {
		return
	}
	p.countLocked(time.Now())
	p.on = on
	p.emitProperty("on", on)
}

// countLocked adds the energy used up to now. Over long spans the ±2%
// fluctuation averages out, so the mean load is used.
func (p *SmartPlug) countLocked(now time.Time) {
	if dt := now.Sub(p.counted); dt > 0 {
		if p.on {
			p.energy += p.opts.Load * dt.Hours()
		}
		p.counted = now
	}
}

func (p *SmartPlug) slot(now time.Time) uint64 { return uint64(now.Unix() / 10) }

func (p *SmartPlug) readingsLocked(now time.Time) (power, voltage, current float64) {
	s := p.slot(now)
	voltage = 230 + 6*(unit(p.opts.Seed, 'v', s)-0.5)
	if p.on {
		power = p.opts.Load * (1 + 0.04*(unit(p.opts.Seed, 'p', s)-0.5))
	}
	return round(power, 1), round(voltage, 1), round(power/voltage, 3)
}

// Power returns the power drawn now, in watts.
func (p *SmartPlug) Power() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	power, _, _ := p.readingsLocked(time.Now())
	return power
}

// Energy returns the energy delivered since creation, in kWh.
func (p *SmartPlug) Energy() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.countLocked(time.Now())
	return p.energy / 1000
}

func (p *SmartPlug) read(name string) (any, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	power, voltage, current := p.readingsLocked(now)
	switch name {
	case "on":
		return p.on, nil
	case "power":
		return power, nil
	case "voltage":
		return voltage, nil
	case "current":
		return current, nil
	case "energy":
		p.countLocked(now)
		return round(p.energy/1000, 3), nil
	}
	return nil, p.errProperty(name)
}

func (p *SmartPlug) write(name string, v any) error {
	switch name {
	case "on":
		on, err := asBool(v)
		if err != nil {
			return err
		}
		p.SetOn(on)
		return nil
	case "power", "voltage", "current", "energy":
		return p.errReadOnly(name)
	}
	return p.errProperty(name)
}

func (p *SmartPlug) invoke(_ context.Context, name string, _ any) (any, error) {
	if name != "toggle" {
		return nil, p.errAction(name)
	}
	p.mu.Lock()
	p.setOnLocked(!p.on)
	p.mu.Unlock()
	return nil, nil
}

func (p *SmartPlug) sample(into map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	power, voltage, current := p.readingsLocked(now)
	p.countLocked(now)
	into["power"] = power
	into["voltage"] = voltage
	into["current"] = current
	into["energy"] = round(p.energy/1000, 3)
}
