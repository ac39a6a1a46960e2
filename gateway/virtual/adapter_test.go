package virtual_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/thing"
)

// record is one call to a recordingSink.
type record struct {
	kind, thingID, name string
	value               any
}

func (r record) String() string {
	return fmt.Sprintf("%s %s %s %v", r.kind, r.thingID, r.name, r.value)
}

// recordingSink records what an adapter pushes.
type recordingSink struct {
	mu      sync.Mutex
	records []record
}

func (s *recordingSink) add(r record) {
	s.mu.Lock()
	s.records = append(s.records, r)
	s.mu.Unlock()
}

func (s *recordingSink) PropertyChanged(id, name string, v any) {
	s.add(record{"property", id, name, v})
}
func (s *recordingSink) Event(id, name string, data any) { s.add(record{"event", id, name, data}) }
func (s *recordingSink) ThingAdded(td *thing.Description) {
	s.add(record{"added", td.ID, "", td.Title})
}
func (s *recordingSink) ThingRemoved(id string) { s.add(record{"removed", id, "", nil}) }

// take returns and forgets the records so far.
func (s *recordingSink) take() []record {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.records
	s.records = nil
	return r
}

// values returns the values recorded for one thing's property or event.
func values(rs []record, kind, thingID, name string) []any {
	var out []any
	for _, r := range rs {
		if r.kind == kind && r.thingID == thingID && r.name == name {
			out = append(out, r.value)
		}
	}
	return out
}

// subscribe starts a subscription that ends with the test (or bubble).
func subscribe(t *testing.T, a *virtual.Adapter) *recordingSink {
	t.Helper()
	sink := &recordingSink{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Subscribe(ctx, sink) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, virtual.ErrClosed) {
			t.Errorf("Subscribe: %v", err)
		}
	})
	return sink
}

func TestThingsDescribeEveryDevice(t *testing.T) {
	a := virtual.New(virtual.Config{})
	defer a.Close()
	if err := a.Add(virtual.NewHome(1, nil)...); err != nil {
		t.Fatal(err)
	}
	tds, err := a.Things(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, td := range tds {
		ids = append(ids, td.ID)
	}
	want := []string{"urn:hearth:home:bathroom-window", "urn:hearth:home:bedroom-light", "urn:hearth:home:energy-meter", "urn:hearth:home:front-door",
		"urn:hearth:home:kitchen-plug", "urn:hearth:home:living-room-light", "urn:hearth:home:thermostat", "urn:hearth:home:washing-machine"}
	if !slices.Equal(ids, want) {
		t.Fatalf("ids = %v, want %v", ids, want)
	}
	capability := map[string]string{
		"urn:hearth:home:bathroom-window": "DoorSensor", "urn:hearth:home:bedroom-light": "Light", "urn:hearth:home:energy-meter": "EnergyMonitor",
		"urn:hearth:home:front-door": "DoorSensor", "urn:hearth:home:kitchen-plug": "SmartPlug", "urn:hearth:home:living-room-light": "Light",
		"urn:hearth:home:thermostat": "Thermostat", "urn:hearth:home:washing-machine": "EnergyMonitor",
	}
	for _, td := range tds {
		if err := td.Validate(); err != nil {
			t.Errorf("%s: invalid TD 1.1: %v", td.ID, err)
		}
		if td.Title == "" || !slices.Contains(td.Type.Values, capability[td.ID]) {
			t.Errorf("%s: title %q, @type %v, want %s", td.ID, td.Title, td.Type.Values, capability[td.ID])
		}
		if len(td.Properties) == 0 {
			t.Errorf("%s: no properties", td.ID)
		}
		for name, p := range td.Properties {
			if p.Type == "" || p.Title == "" {
				t.Errorf("%s/%s: type %q title %q", td.ID, name, p.Type, p.Title)
			}
			// Every property can be read, and gives a value of its type.
			v, err := a.ReadProperty(t.Context(), td.ID, name)
			if err != nil {
				t.Errorf("read %s/%s: %v", td.ID, name, err)
				continue
			}
			if !fitsType(v, p.Type) {
				t.Errorf("read %s/%s = %#v, not a %s", td.ID, name, v, p.Type)
			}
			if p.Enum != nil && !slices.Contains(p.Enum, v) {
				t.Errorf("read %s/%s = %v, not in %v", td.ID, name, v, p.Enum)
			}
			if f, ok := v.(float64); ok && p.Minimum != nil && f < *p.Minimum {
				t.Errorf("read %s/%s = %v below minimum %v", td.ID, name, f, *p.Minimum)
			}
		}
	}
	// Spot checks of the vocabulary.
	light := tds[slices.Index(ids, "urn:hearth:home:living-room-light")]
	if got := light.Properties["brightness"]; got == nil || got.AtType.Values[0] != "BrightnessProperty" ||
		got.Unit != "percent" || *got.Maximum != 100 || got.ReadOnly {
		t.Errorf("brightness = %+v", got)
	}
	meter := tds[slices.Index(ids, "urn:hearth:home:energy-meter")]
	if got := meter.Properties["power"]; got.AtType.Values[0] != "InstantaneousPowerProperty" || got.Unit != "watt" || !got.ReadOnly {
		t.Errorf("meter power = %+v", got)
	}
	door := tds[slices.Index(ids, "urn:hearth:home:front-door")]
	if got := door.Properties["open"]; got.AtType.Values[0] != "OpenProperty" || !got.ReadOnly {
		t.Errorf("door open = %+v", got)
	}
}

func fitsType(v any, typ string) bool {
	switch typ {
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		_, ok := v.(int)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	}
	return false
}

func TestErrors(t *testing.T) {
	ctx := t.Context()
	a := virtual.New(virtual.Config{})
	light := virtual.NewDimmableLight("urn:lamp", "Lamp")
	if err := a.Add(light, virtual.NewContactSensor("urn:door", "Door", virtual.ContactSensorOptions{})); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"read unknown thing", func() error { _, err := a.ReadProperty(ctx, "urn:lamp2", "on"); return err }(), gateway.ErrNotFound},
		{"read unknown property", func() error { _, err := a.ReadProperty(ctx, "urn:lamp", "colour"); return err }(), gateway.ErrNotFound},
		{"write unknown thing", a.WriteProperty(ctx, "urn:nope", "on", true), gateway.ErrNotFound},
		{"write read-only", a.WriteProperty(ctx, "urn:door", "open", true), gateway.ErrNotSupported},
		{"write wrong type", a.WriteProperty(ctx, "urn:lamp", "on", "yes"), virtual.ErrInvalidValue},
		{"write out of range", a.WriteProperty(ctx, "urn:lamp", "brightness", 101.0), virtual.ErrInvalidValue},
		{"write fraction to integer", a.WriteProperty(ctx, "urn:lamp", "brightness", 50.5), virtual.ErrInvalidValue},
		{"invoke unknown action", func() error { _, err := a.InvokeAction(ctx, "urn:lamp", "explode", nil); return err }(), gateway.ErrNotFound},
		{"invoke bad input", func() error { _, err := a.InvokeAction(ctx, "urn:lamp", "fade", "fast"); return err }(), virtual.ErrInvalidValue},
		{"remove unknown", a.RemoveThing(ctx, "urn:nope"), gateway.ErrNotFound},
		{"add duplicate", a.Add(virtual.NewLight("urn:lamp", "Other")), virtual.ErrExists},
		{"add twice in one call", a.Add(virtual.NewLight("urn:x", "X"), virtual.NewLight("urn:x", "X")), virtual.ErrExists},
		{"add to a second adapter", virtual.New(virtual.Config{}).Add(light), virtual.ErrExists},
		{"add with a relative id", a.Add(virtual.NewLight("lamp-3", "L")), virtual.ErrInvalidValue},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, tt.err, tt.want)
		}
	}
	// Nothing was applied.
	if light.On() || light.Brightness() != 100 {
		t.Errorf("light changed by failed writes: on %v brightness %d", light.On(), light.Brightness())
	}
	if _, ok := a.Device("urn:x"); ok {
		t.Error("a failed Add added a device")
	}
	a.Close()
	if _, err := a.ReadProperty(ctx, "urn:lamp", "on"); !errors.Is(err, virtual.ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if err := a.Add(virtual.NewLight("urn:y", "Y")); !errors.Is(err, virtual.ErrClosed) {
		t.Errorf("add after Close: %v", err)
	}
}

func TestWriteAndSubscribe(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		light := virtual.NewDimmableLight("urn:lamp", "Lamp")
		door := virtual.NewContactSensor("urn:door", "Door", virtual.ContactSensorOptions{})
		if err := a.Add(light, door); err != nil {
			t.Fatal(err)
		}
		sink := subscribe(t, a)
		synctest.Wait()
		// A subscription starts by announcing the devices.
		if got, want := sink.take(), []record{{"added", "urn:door", "", "Door"}, {"added", "urn:lamp", "", "Lamp"}}; !slices.Equal(got, want) {
			t.Errorf("first records %v, want %v", got, want)
		}
		ctx := t.Context()
		if err := a.WriteProperty(ctx, "urn:lamp", "on", true); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteProperty(ctx, "urn:lamp", "brightness", 40.0); err != nil {
			t.Fatal(err)
		}
		if err := a.WriteProperty(ctx, "urn:lamp", "on", true); err != nil { // no change, no report
			t.Fatal(err)
		}
		door.SetOpen(true)
		if _, err := a.InvokeAction(ctx, "urn:lamp", "toggle", nil); err != nil {
			t.Fatal(err)
		}
		plug := virtual.NewSmartPlug("urn:plug", "Plug", virtual.SmartPlugOptions{})
		if err := a.Add(plug); err != nil {
			t.Fatal(err)
		}
		if err := a.RemoveThing(ctx, "urn:door"); err != nil {
			t.Fatal(err)
		}
		door.SetOpen(false) // a removed device reports to no one
		synctest.Wait()
		got := sink.take()
		want := []record{
			{"property", "urn:lamp", "on", true},
			{"property", "urn:lamp", "brightness", 40},
			{"property", "urn:door", "open", true},
			{"property", "urn:lamp", "on", false},
			{"added", "urn:plug", "", "Plug"},
			{"removed", "urn:door", "", nil},
		}
		if !slices.Equal(got, want) {
			t.Fatalf("sink got\n%v\nwant\n%v", got, want)
		}
		if v, _ := a.ReadProperty(ctx, "urn:lamp", "brightness"); v != 40 {
			t.Errorf("brightness = %v", v)
		}
		// The removed door can join again.
		if err := a.Add(door); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTwoSubscribersEachGetEverything(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		defer a.Close()
		l := virtual.NewLight("urn:l", "L")
		a.Add(l)
		s1, s2 := subscribe(t, a), subscribe(t, a)
		synctest.Wait()
		s1.take()
		s2.take()
		for i := range 10 {
			l.SetOn(i%2 == 0)
		}
		synctest.Wait()
		r1, r2 := s1.take(), s2.take()
		if len(r1) != 10 || !slices.Equal(r1, r2) {
			t.Errorf("subscriber 1 got %v, 2 got %v", r1, r2)
		}
	})
}

func TestSubscribeEndsOnClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		done := make(chan error)
		go func() { done <- a.Subscribe(context.Background(), &recordingSink{}) }()
		synctest.Wait()
		a.Close()
		if err := <-done; !errors.Is(err, virtual.ErrClosed) {
			t.Errorf("Subscribe after Close = %v", err)
		}
		if err := a.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

func TestSlowSubscriberLosesOldestChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{QueueLimit: 5})
		defer a.Close()
		l := virtual.NewDimmableLight("urn:l", "L")
		a.Add(l)
		block := make(chan struct{})
		sink := &blockingSink{recordingSink: &recordingSink{}, block: block}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go a.Subscribe(ctx, sink)
		synctest.Wait()
		l.SetOn(true) // the sink blocks on this one
		synctest.Wait()
		for b := range 20 {
			a.WriteProperty(ctx, "urn:l", "brightness", float64(b))
		}
		close(block)
		synctest.Wait()
		got := sink.take()
		var bs []any
		for _, r := range got {
			if r.name == "brightness" {
				bs = append(bs, r.value)
			}
		}
		if want := []any{15, 16, 17, 18, 19}; !slices.Equal(bs, want) {
			t.Errorf("slow subscriber got brightness %v, want the newest %v", bs, want)
		}
	})
}

type blockingSink struct {
	*recordingSink
	block chan struct{}
	once  sync.Once
}

func (s *blockingSink) PropertyChanged(id, name string, v any) {
	s.once.Do(func() { <-s.block })
	s.recordingSink.PropertyChanged(id, name, v)
}

func TestPairingFindsADevice(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{PairingDelay: 3 * time.Second})
		defer a.Close()
		a.Add(virtual.NewLight("urn:hearth:virtual:2", "Taken")) // pairing must skip this id
		sink := subscribe(t, a)
		synctest.Wait()
		sink.take()
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		start := time.Now()
		done := make(chan error)
		go func() { done <- a.StartPairing(ctx) }()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := len(a.Devices()); n != 1 {
			t.Fatalf("%d devices before the pairing delay", n)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if _, ok := a.Device("urn:hearth:virtual:1"); !ok {
			t.Fatal("pairing found nothing")
		}
		if got := sink.take(); len(got) != 1 || got[0].kind != "added" || got[0].thingID != "urn:hearth:virtual:1" {
			t.Errorf("sink got %v", got)
		}
		if err := <-done; err != nil {
			t.Errorf("StartPairing = %v", err)
		}
		if d := time.Since(start); d != 10*time.Second {
			t.Errorf("pairing window lasted %v, want the context's 10s", d)
		}
		// A second pairing skips the id taken by hand.
		ctx2, cancel2 := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel2()
		a.StartPairing(ctx2)
		if _, ok := a.Device("urn:hearth:virtual:3"); !ok {
			t.Errorf("second pairing: devices %v", a.Devices())
		}
	})
}

func TestCloseCancelsRunningActions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{})
		a.Add(virtual.NewWashingMachine("urn:w", "W", virtual.WashingMachineOptions{}))
		done := make(chan error)
		go func() {
			_, err := a.InvokeAction(context.Background(), "urn:w", "start", nil)
			done <- err
		}()
		time.Sleep(time.Minute)
		a.Close()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("action after Close = %v", err)
		}
	})
}

// TestConcurrentUse exercises the adapter from many goroutines for the race
// detector.
func TestConcurrentUse(t *testing.T) {
	a := virtual.New(virtual.Config{PollInterval: time.Millisecond})
	defer a.Close()
	a.Add(virtual.NewHome(3, nil)...)
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { a.Subscribe(ctx, &recordingSink{}) })
	wg.Go(func() { a.Subscribe(ctx, &recordingSink{}) })
	for g := range 4 {
		wg.Go(func() {
			for i := range 200 {
				a.WriteProperty(ctx, "urn:hearth:home:living-room-light", "brightness", float64(i%101))
				a.WriteProperty(ctx, "urn:hearth:home:thermostat", "targetTemperature", float64(15+i%10))
				a.ReadProperty(ctx, "urn:hearth:home:energy-meter", "energy")
				a.ReadProperty(ctx, "urn:hearth:home:thermostat", "temperature")
				a.InvokeAction(ctx, "urn:hearth:home:kitchen-plug", "toggle", nil)
				a.Things(ctx)
				id := fmt.Sprintf("urn:extra:%d-%d", g, i)
				a.Add(virtual.NewLight(id, id))
				a.RemoveThing(ctx, id)
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	cancel()
	wg.Wait()
}
