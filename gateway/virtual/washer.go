package virtual

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// Program is one washing programme of a WashingMachine.
type Program struct {
	Name        string        // the value of the start action's "program" input
	Duration    time.Duration // how long the cycle takes
	Temperature float64       // water temperature in °C: heating it takes most of the energy
}

// DefaultPrograms are the programmes of a WashingMachine whose options
// name none.
var DefaultPrograms = []Program{
	{Name: "cotton", Duration: 2 * time.Hour, Temperature: 40},
	{Name: "eco", Duration: 3 * time.Hour, Temperature: 40},
	{Name: "quick", Duration: 30 * time.Minute, Temperature: 30},
	{Name: "delicates", Duration: 50 * time.Minute, Temperature: 30},
}

// WashingMachineOptions configures a WashingMachine. The zero value is
// ready to use.
type WashingMachineOptions struct {
	// Programs lists the programmes; the first is the default. Nil means
	// DefaultPrograms. Demos that cannot wait two hours use short ones.
	Programs []Program
}

// Washing machine states, the values of the "state" property.
const (
	WasherIdle     = "idle"
	WasherWashing  = "washing"
	WasherRinsing  = "rinsing"
	WasherSpinning = "spinning"
)

// A cycle's phases, as fractions of its duration, and their power.
var washPhases = []struct {
	state string
	end   float64 // fraction of the cycle at which the phase ends
	watts float64 // power drawn (heating is added on top for the first part)
}{
	{WasherWashing, 0.60, 150},
	{WasherRinsing, 0.85, 100},
	{WasherSpinning, 1.00, 450},
}

const (
	washHeatFraction = 0.15 // the water heats during the first 15% of a cycle
	washHeaterWatts  = 2000
	washIdleWatts    = 0.5
)

// WashingMachine is a simulated washing machine. Its "start" action runs a
// programme for the programme's duration (washing, rinsing, spinning),
// reports the energy used and fires a "done" event at the end; cancelling
// the action (or its context) stops the cycle. It is safe for concurrent
// use.
//
// Properties (all read-only): "state" (idle, washing, rinsing, spinning),
// "program" (the running or last programme), "remaining" (seconds) and
// "power" (InstantaneousPowerProperty, W). Actions: "start" (input
// {"program": name}, optional; output {"program", "energy"} in Wh).
// Events: "done" (data {"program", "energy"}).
type WashingMachine struct {
	core
	programs []Program

	running bool
	program Program
	started time.Time
}

// NewWashingMachine returns an idle washing machine.
func NewWashingMachine(id, title string, opts WashingMachineOptions) *WashingMachine {
	programs := opts.Programs
	if len(programs) == 0 {
		programs = DefaultPrograms
	}
	return &WashingMachine{core: newCore(id, title), programs: programs, program: programs[0]}
}

// Description implements Device.
func (w *WashingMachine) Description() *thing.Description {
	names := make([]string, len(w.programs))
	enum := make([]any, len(w.programs))
	for i, p := range w.programs {
		names[i] = p.Name
		enum[i] = p.Name
	}
	result := func() *thing.DataBuilder {
		return thing.Object().
			Prop("program", thing.String().Enum(enum...)).
			Prop("energy", thing.Number().Unit("watt hour").Min(0))
	}
	return build(&w.core, describe(&w.core, "A simulated washing machine.", "EnergyMonitor").
		Property("state", enumProperty("", "State", WasherIdle, WasherWashing, WasherRinsing, WasherSpinning).ReadOnly()).
		Property("program", enumProperty("", "Programme", names...).ReadOnly()).
		Property("remaining", thing.Integer().Title("Remaining time").Unit("second").Min(0).ReadOnly().Observable()).
		Property("power", numberProperty("InstantaneousPowerProperty", "Power", "watt")).
		Action("start", thing.NewAction().Title("Start").Synchronous(false).
			Describe("Run a washing programme; cancel the action to stop it.").
			Input(thing.Object().Prop("program", thing.String().Enum(enum...).Default(names[0]))).
			Output(result())).
		Event("done", thing.NewEvent().Title("Done").Describe("A programme finished.").Data(result())))
}

// State returns the machine's state: WasherIdle or the running phase.
func (w *WashingMachine) State() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	state, _, _ := w.stateLocked(time.Now())
	return state
}

// stateLocked returns the state, the remaining time and the power at now.
func (w *WashingMachine) stateLocked(now time.Time) (string, time.Duration, float64) {
	if !w.running {
		return WasherIdle, 0, washIdleWatts
	}
	d := w.program.Duration
	elapsed := min(max(now.Sub(w.started), 0), d)
	f := 1.0
	if d > 0 {
		f = float64(elapsed) / float64(d)
	}
	state, watts := WasherSpinning, washPhases[len(washPhases)-1].watts
	for _, ph := range washPhases {
		if f < ph.end {
			state, watts = ph.state, ph.watts
			break
		}
	}
	if f < washHeatFraction {
		watts += w.heaterWatts()
	}
	return state, d - elapsed, watts
}

// heaterWatts is the heater's power: proportional to how far the water is
// heated above the 15 °C it comes in at.
func (w *WashingMachine) heaterWatts() float64 {
	return washHeaterWatts * math.Min(math.Max(w.program.Temperature-15, 0)/45, 1)
}

// energy returns the energy (Wh) a programme uses over elapsed time.
func (w *WashingMachine) energyLocked(elapsed time.Duration) float64 {
	d := w.program.Duration
	if d <= 0 {
		return 0
	}
	f := min(float64(elapsed)/float64(d), 1)
	hours := d.Hours()
	wh := w.heaterWatts() * min(f, washHeatFraction) * hours
	start := 0.0
	for _, ph := range washPhases {
		if f > start {
			wh += ph.watts * (min(f, ph.end) - start) * hours
		}
		start = ph.end
	}
	return round(wh, 1)
}

func (w *WashingMachine) read(name string) (any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	state, remaining, power := w.stateLocked(time.Now())
	switch name {
	case "state":
		return state, nil
	case "program":
		return w.program.Name, nil
	case "remaining":
		return int(math.Ceil(remaining.Seconds())), nil
	case "power":
		return round(power, 1), nil
	}
	return nil, w.errProperty(name)
}

func (w *WashingMachine) write(name string, _ any) error {
	switch name {
	case "state", "program", "remaining", "power":
		return w.errReadOnly(name)
	}
	return w.errProperty(name)
}

func (w *WashingMachine) findProgram(input any) (Program, error) {
	if input == nil {
		return w.programs[0], nil
	}
	m, ok := input.(map[string]any)
	if !ok {
		return Program{}, invalid("start input: want an object, got %T", input)
	}
	v, ok := m["program"]
	if !ok {
		return w.programs[0], nil
	}
	name, ok := v.(string)
	if !ok {
		return Program{}, invalid("program: want a string, got %T", v)
	}
	for _, p := range w.programs {
		if p.Name == name {
			return p, nil
		}
	}
	return Program{}, invalid("unknown programme %q", name)
}

func (w *WashingMachine) invoke(ctx context.Context, name string, input any) (any, error) {
	if name != "start" {
		return nil, w.errAction(name)
	}
	p, err := w.findProgram(input)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return nil, fmt.Errorf("virtual: washing machine %q is running: %w", w.id, ErrBusy)
	}
	w.running, w.program, w.started = true, p, time.Now()
	w.emitProperty("program", p.Name)
	w.emitProperty("state", WasherWashing)
	w.mu.Unlock()

	t := time.NewTimer(p.Duration)
	defer t.Stop()
	select {
	case <-ctx.Done():
		w.mu.Lock()
		w.running = false
		w.emitProperty("state", WasherIdle)
		w.mu.Unlock()
		return nil, ctx.Err()
	case <-t.C:
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	result := map[string]any{"program": p.Name, "energy": w.energyLocked(p.Duration)}
	w.running = false
	w.emitProperty("state", WasherIdle)
	w.emitEvent("done", map[string]any{"program": p.Name, "energy": result["energy"]})
	return result, nil
}

func (w *WashingMachine) sample(into map[string]any) {
	w.mu.Lock()
	state, remaining, power := w.stateLocked(time.Now())
	w.mu.Unlock()
	into["state"] = state
	into["remaining"] = int(math.Ceil(remaining.Seconds()))
	into["power"] = round(power, 1)
}
