package virtual_test

import (
	"context"
	"errors"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway/virtual"
)

func read(t *testing.T, a *virtual.Adapter, id, name string) any {
	t.Helper()
	v, err := a.ReadProperty(context.Background(), id, name)
	if err != nil {
		t.Fatalf("read %s/%s: %v", id, name, err)
	}
	return v
}

func near(got any, want, tol float64) bool {
	f, ok := got.(float64)
	return ok && math.Abs(f-want) <= tol
}

func TestThermostatWarmsTowardTarget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{PollInterval: time.Minute})
		defer a.Close()
		th := virtual.NewThermostat("urn:t", "T", virtual.ThermostatOptions{Initial: 17, Target: 21})
		a.Add(th)
		sink := subscribe(t, a)
		synctest.Wait()
		if got := read(t, a, "urn:t", "heatingCooling"); got != "heating" {
			t.Errorf("heatingCooling = %v, want heating", got)
		}
		time.Sleep(30*time.Minute + time.Second)
		// After one time constant (30 min) 63% of the 4 °C gap is closed.
		if got := read(t, a, "urn:t", "temperature"); !near(got, 21-4*math.Exp(-1), 0.06) {
			t.Errorf("temperature after 30 min = %v, want about %.2f", got, 21-4*math.Exp(-1))
		}
		time.Sleep(5 * time.Hour)
		if got := read(t, a, "urn:t", "temperature"); got != 21.0 {
			t.Errorf("temperature after 5.5 h = %v, want 21", got)
		}
		if got := read(t, a, "urn:t", "heatingCooling"); got != "off" {
			t.Errorf("heatingCooling when reached = %v, want off", got)
		}
		synctest.Wait()
		temps := values(sink.take(), "property", "urn:t", "temperature")
		if len(temps) < 10 || !slices.IsSorted(toFloats(temps)) || temps[len(temps)-1] != 21.0 {
			t.Errorf("pushed temperatures %v: want a rising series ending at 21", temps)
		}

		// Lower the target: the heater stops, the room drifts toward the
		// 15 °C ambient, and the heater holds the new target.
		if err := a.WriteProperty(t.Context(), "urn:t", "targetTemperature", 19.0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		if got := read(t, a, "urn:t", "temperature"); !near(got, 15+6*math.Exp(-10.0/180), 0.06) {
			t.Errorf("drifting temperature = %v", got)
		}
		time.Sleep(5 * time.Hour)
		if got := read(t, a, "urn:t", "temperature"); got != 19.0 {
			t.Errorf("temperature held at = %v, want 19", got)
		}
		// Off: the room falls to ambient.
		if err := a.WriteProperty(t.Context(), "urn:t", "mode", "off"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(48 * time.Hour)
		if got := read(t, a, "urn:t", "temperature"); got != 15.0 {
			t.Errorf("temperature with heating off = %v, want 15", got)
		}
		// Cooling from above.
		if err := a.WriteProperty(t.Context(), "urn:t", "mode", "cool"); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteProperty(t.Context(), "urn:t", "targetTemperature", 10.0); err != nil {
			t.Fatal(err)
		}
		if got := read(t, a, "urn:t", "heatingCooling"); got != "cooling" {
			t.Errorf("heatingCooling = %v, want cooling", got)
		}
		if err := a.WriteProperty(t.Context(), "urn:t", "mode", "warm"); !errors.Is(err, virtual.ErrInvalidValue) {
			t.Errorf("bad mode: %v", err)
		}
	})
}

func toFloats(vs []any) []float64 {
	fs := make([]float64, len(vs))
	for i, v := range vs {
		fs[i] = v.(float64)
	}
	return fs
}

func TestWashingMachineCycle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		a.Add(virtual.NewWashingMachine("urn:w", "W", virtual.WashingMachineOptions{}))
		sink := subscribe(t, a)
		synctest.Wait()
		type result struct {
			out any
			err error
		}
		done := make(chan result, 1)
		start := time.Now()
		go func() {
			out, err := a.InvokeAction(t.Context(), "urn:w", "start", map[string]any{"program": "quick"})
			done <- result{out, err}
		}()
		time.Sleep(time.Minute)
		if got := read(t, a, "urn:w", "state"); got != virtual.WasherWashing {
			t.Errorf("state at 1 min = %v", got)
		}
		if got := read(t, a, "urn:w", "power"); !near(got, 150+2000*15/45.0, 0.1) {
			t.Errorf("power while heating = %v", got)
		}
		if got := read(t, a, "urn:w", "remaining"); got != 29*60 {
			t.Errorf("remaining = %v", got)
		}
		// A second start is refused while the first runs.
		if _, err := a.InvokeAction(t.Context(), "urn:w", "start", nil); !errors.Is(err, virtual.ErrBusy) {
			t.Errorf("second start: %v", err)
		}
		time.Sleep(19 * time.Minute) // 20 min of 30: rinsing (60%-85%)
		if got := read(t, a, "urn:w", "state"); got != virtual.WasherRinsing {
			t.Errorf("state at 20 min = %v", got)
		}
		time.Sleep(7 * time.Minute)
		if got := read(t, a, "urn:w", "state"); got != virtual.WasherSpinning {
			t.Errorf("state at 27 min = %v", got)
		}
		r := <-done
		if r.err != nil {
			t.Fatal(r.err)
		}
		if d := time.Since(start); d != 30*time.Minute {
			t.Errorf("quick programme took %v", d)
		}
		// 0.5 h: heater 666.7 W for 15%, 150 W for 60%, 100 W for 25%, 450 W for 15%.
		wantWh := 0.5 * (2000*15/45.0*0.15 + 150*0.6 + 100*0.25 + 450*0.15)
		out := r.out.(map[string]any)
		if out["program"] != "quick" || !near(out["energy"], wantWh, 0.1) {
			t.Errorf("output = %v, want quick and %.1f Wh", out, wantWh)
		}
		synctest.Wait()
		got := sink.take()
		if events := values(got, "event", "urn:w", "done"); len(events) != 1 || events[0].(map[string]any)["program"] != "quick" {
			t.Errorf("done events = %v", events)
		}
		states := values(got, "property", "urn:w", "state")
		want := []any{virtual.WasherWashing, virtual.WasherRinsing, virtual.WasherSpinning, virtual.WasherIdle}
		if !slices.Equal(states, want) {
			t.Errorf("pushed states %v, want %v", states, want)
		}
	})
}

func TestWashingMachineCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		a.Add(virtual.NewWashingMachine("urn:w", "W", virtual.WashingMachineOptions{
			Programs: []virtual.Program{{Name: "demo", Duration: time.Minute, Temperature: 60}},
		}))
		sink := subscribe(t, a)
		synctest.Wait()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { _, err := a.InvokeAction(ctx, "urn:w", "start", nil); done <- err }()
		time.Sleep(20 * time.Second)
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled start = %v", err)
		}
		if got := read(t, a, "urn:w", "state"); got != virtual.WasherIdle {
			t.Errorf("state after cancel = %v", got)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if ev := values(sink.take(), "event", "urn:w", "done"); len(ev) != 0 {
			t.Errorf("a cancelled cycle fired done: %v", ev)
		}
		if _, err := a.InvokeAction(t.Context(), "urn:w", "start", map[string]any{"program": "cotton"}); !errors.Is(err, virtual.ErrInvalidValue) {
			t.Errorf("unknown programme: %v", err)
		}
	})
}

func TestLightFade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		l := virtual.NewDimmableLight("urn:l", "L")
		a.Add(l)
		sink := subscribe(t, a)
		synctest.Wait()
		start := time.Now()
		if _, err := a.InvokeAction(t.Context(), "urn:l", "fade", map[string]any{"brightness": 50.0, "duration": 1000.0}); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("fade took %v", d)
		}
		synctest.Wait()
		got := sink.take()
		bs := values(got, "property", "urn:l", "brightness")
		if len(bs) != 10 || bs[0] != 95 || bs[9] != 50 {
			t.Errorf("brightness steps %v", bs)
		}
		if on := values(got, "property", "urn:l", "on"); !slices.Equal(on, []any{true}) {
			t.Errorf("on changes %v", on)
		}
		// A cancelled fade stops where it is.
		ctx, cancel := context.WithTimeout(t.Context(), 450*time.Millisecond)
		defer cancel()
		_, err := a.InvokeAction(ctx, "urn:l", "fade", map[string]any{"brightness": 0.0, "duration": 1000.0})
		if !errors.Is(err, context.DeadlineExceeded) || l.Brightness() != 30 {
			t.Errorf("cancelled fade: err %v, brightness %d", err, l.Brightness())
		}
	})
}

func TestSmartPlugMetersItsLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		p := virtual.NewSmartPlug("urn:p", "P", virtual.SmartPlugOptions{Load: 1000, Seed: 9})
		a.Add(p)
		if got := read(t, a, "urn:p", "power"); got != 0.0 {
			t.Errorf("power when off = %v", got)
		}
		if err := a.WriteProperty(t.Context(), "urn:p", "on", true); err != nil {
			t.Fatal(err)
		}
		for range 30 {
			time.Sleep(2 * time.Minute)
			power := read(t, a, "urn:p", "power").(float64)
			volts := read(t, a, "urn:p", "voltage").(float64)
			amps := read(t, a, "urn:p", "current").(float64)
			if power < 980 || power > 1020 || volts < 227 || volts > 233 || math.Abs(amps-power/volts) > 0.01 {
				t.Fatalf("readings %v W %v V %v A", power, volts, amps)
			}
		}
		if got := read(t, a, "urn:p", "energy"); got != 1.0 {
			t.Errorf("energy after an hour at 1 kW = %v kWh", got)
		}
		p.SetOn(false)
		time.Sleep(time.Hour)
		if got := p.Energy(); got != 1.0 {
			t.Errorf("energy after an hour off = %v kWh", got)
		}
	})
}
