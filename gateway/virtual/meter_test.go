package virtual_test

import (
	"errors"
	"math"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/gateway/virtual"
)

func history(t *testing.T, m *virtual.EnergyMeter, from time.Time, days int, step time.Duration) []virtual.Sample {
	t.Helper()
	h, err := m.History(from, from.Add(time.Duration(days)*24*time.Hour), step)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEnergyMeterIsDeterministic(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 5})
	b := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 5})
	c := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 6})
	// Read b backwards first: the result must not depend on the order.
	for i := 30; i >= 0; i-- {
		b.Power(from.Add(time.Duration(i) * 24 * time.Hour))
	}
	ha, hb, hc := history(t, a, from, 30, 15*time.Minute), history(t, b, from, 30, 15*time.Minute), history(t, c, from, 30, 15*time.Minute)
	if !slices.Equal(ha, hb) {
		t.Error("same seed, different history")
	}
	if slices.Equal(ha, hc) {
		t.Error("different seeds, same history")
	}
}

func TestEnergyMeterHistoryAddsUp(t *testing.T) {
	m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 1})
	from := time.Date(2026, 11, 7, 3, 17, 29, 0, time.UTC) // not minute-aligned
	hourly := history(t, m, from, 7, time.Hour)
	daily := history(t, m, from, 7, 24*time.Hour)
	if len(hourly) != 168 || len(daily) != 7 {
		t.Fatalf("%d hourly, %d daily samples", len(hourly), len(daily))
	}
	for d := range daily {
		var sum float64
		for _, s := range hourly[d*24 : (d+1)*24] {
			sum += s.Energy
			if got := s.Power * 1; math.Abs(got-s.Energy) > 1e-6 { // 1 h: W and Wh agree
				t.Fatalf("hour %v: power %v, energy %v", s.Start, s.Power, s.Energy)
			}
		}
		if math.Abs(sum-daily[d].Energy) > 1e-6 {
			t.Errorf("day %d: hours sum to %v Wh, day says %v", d, sum, daily[d].Energy)
		}
		if got := m.Energy(daily[d].Start, daily[d].Start.Add(24*time.Hour)); math.Abs(got-daily[d].Energy) > 1e-6 {
			t.Errorf("Energy = %v, History = %v", got, daily[d].Energy)
		}
	}
	// A partial interval at the end is left out.
	h, _ := m.History(from, from.Add(150*time.Minute), time.Hour)
	if len(h) != 2 {
		t.Errorf("2.5 h at 1 h steps gave %d samples", len(h))
	}
}

func TestEnergyMeterLooksLikeAHome(t *testing.T) {
	m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 2})
	year := history(t, m, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 365, time.Hour)
	var occupied, empty []float64 // daily kWh
	var winter, summer float64
	var peak float64
	for d := 0; d+24 <= len(year); d += 24 {
		day := year[d : d+24]
		var kwh float64
		occ := true
		for _, s := range day {
			kwh += s.Energy / 1000
			occ = occ && s.Occupied
			peak = max(peak, s.Power)
		}
		if occ {
			occupied = append(occupied, kwh)
			switch day[0].Start.Month() {
			case time.January:
				winter += kwh
			case time.July:
				summer += kwh
			}
		} else if !slices.ContainsFunc(day, func(s virtual.Sample) bool { return s.Occupied }) {
			empty = append(empty, kwh)
		}
	}
	mean := func(xs []float64) float64 {
		var s float64
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	t.Logf("occupied days %d (mean %.1f kWh), empty days %d (mean %.1f kWh), peak hour %.0f W",
		len(occupied), mean(occupied), len(empty), mean(empty), peak)
	if frac := float64(len(occupied)) / 365; frac < 0.45 || frac > 0.9 {
		t.Errorf("occupied %.0f%% of days", 100*frac)
	}
	if mean(occupied) < 2*mean(empty) {
		t.Errorf("occupied days (%.1f kWh) do not use much more than empty ones (%.1f kWh)", mean(occupied), mean(empty))
	}
	if mean(occupied) < 5 || mean(occupied) > 40 {
		t.Errorf("occupied days use %.1f kWh", mean(occupied))
	}
	if winter == 0 || summer == 0 || winter < 1.5*summer {
		t.Errorf("January used %.0f kWh, July %.0f kWh: want a heating season", winter, summer)
	}
	if peak < 2000 {
		t.Errorf("no appliance spikes: peak hour %.0f W", peak)
	}
	// Daily cycle on occupied days: nights are quieter than evenings.
	var night, evening float64
	for _, s := range year {
		if !s.Occupied {
			continue
		}
		switch s.Start.Hour() {
		case 3:
			night += s.Energy
		case 19:
			evening += s.Energy
		}
	}
	if evening < 1.5*night {
		t.Errorf("evenings (%.0f Wh) not busier than nights (%.0f Wh)", evening, night)
	}
}

func TestEnergyMeterBookingCalendar(t *testing.T) {
	m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 3})
	for day := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC); day.Year() == 2026; day = day.AddDate(0, 0, 7) {
		// Saturdays between check-out and check-in nobody stays.
		for _, h := range []int{10, 12, 15} {
			if m.Occupied(day.Add(time.Duration(h) * time.Hour)) {
				t.Fatalf("occupied at %v", day.Add(time.Duration(h)*time.Hour))
			}
		}
		// A stay covers its whole week.
		in := m.Occupied(day.Add(17 * time.Hour))
		for h := 17; h < 7*24+10; h += 5 {
			if m.Occupied(day.Add(time.Duration(h)*time.Hour)) != in {
				t.Fatalf("stay from %v changes at hour %d", day, h)
			}
		}
	}
	// A caller's occupancy replaces the calendar.
	always := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 3, Occupancy: func(time.Time) bool { return true }})
	sat := time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC)
	if !always.Occupied(sat) {
		t.Error("Occupancy option ignored")
	}
}

func TestEnergyMeterFollowsLocalTime(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	always := func(time.Time) bool { return true }
	utc := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 4, Occupancy: always})
	ams := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 4, Occupancy: always, Location: loc})
	// The same household in Amsterdam does everything one hour earlier in
	// UTC in winter and two hours earlier in summer.
	for _, tc := range []struct {
		day   time.Time
		shift time.Duration
	}{
		{time.Date(2026, 1, 14, 0, 0, 0, 0, time.UTC), time.Hour},
		{time.Date(2026, 7, 14, 0, 0, 0, 0, time.UTC), 2 * time.Hour},
	} {
		// The fridge, heating cycles and noise run on UTC minutes, so
		// compare the day's energy.
		e1 := utc.Energy(tc.day, tc.day.Add(24*time.Hour))
		e2 := ams.Energy(tc.day.Add(-tc.shift), tc.day.Add(24*time.Hour-tc.shift))
		if math.Abs(e1-e2)/e1 > 0.05 {
			t.Errorf("%v: %0.f Wh in UTC, %.0f Wh shifted to Amsterdam", tc.day, e1, e2)
		}
	}
	// Across the spring DST change the history stays continuous.
	h, err := ams.History(time.Date(2026, 3, 28, 0, 0, 0, 0, loc), time.Date(2026, 3, 30, 0, 0, 0, 0, loc), time.Hour)
	if err != nil || len(h) != 47 {
		t.Errorf("history over DST: %d samples, %v", len(h), err)
	}
}

func TestEnergyMeterHistoryErrors(t *testing.T) {
	m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		from, to time.Time
		step     time.Duration
	}{
		{now, now.Add(time.Hour), 0},
		{now, now.Add(time.Hour), -time.Minute},
		{now, now.Add(-time.Hour), time.Minute},
		{now, now.AddDate(10, 0, 0), time.Minute},
	} {
		if _, err := m.History(tc.from, tc.to, tc.step); !errors.Is(err, virtual.ErrInvalidValue) {
			t.Errorf("History(%v, %v, %v) = %v", tc.from, tc.to, tc.step, err)
		}
	}
	if h, err := m.History(now, now, time.Hour); err != nil || len(h) != 0 {
		t.Errorf("empty history: %v, %v", h, err)
	}
}

func TestEnergyMeterProperties(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a := virtual.New(virtual.Config{PollInterval: time.Minute})
		defer a.Close()
		m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 8})
		a.Add(m)
		sink := subscribe(t, a)
		synctest.Wait()
		start := time.Now()
		time.Sleep(6 * time.Hour)
		want := m.Energy(start, time.Now()) / 1000
		if got := read(t, a, "urn:m", "energy"); !near(got, want, 0.0005) {
			t.Errorf("energy = %v kWh, want %.3f", got, want)
		}
		if got := read(t, a, "urn:m", "power"); !near(got, m.Power(time.Now()), 0.05) {
			t.Errorf("power = %v, want %v", got, m.Power(time.Now()))
		}
		synctest.Wait()
		powers := values(sink.take(), "property", "urn:m", "power")
		if len(powers) < 300 {
			t.Errorf("%d power updates in 6 h of minute polls", len(powers))
		}
	})
}

func BenchmarkEnergyMeterHistoryYearHourly(b *testing.B) {
	m := virtual.NewEnergyMeter("urn:m", "M", virtual.EnergyMeterOptions{Seed: 1})
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.History(from, from.AddDate(1, 0, 0), time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadProperty(b *testing.B) {
	a := virtual.New(virtual.Config{})
	defer a.Close()
	a.Add(virtual.NewHome(1, nil)...)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.ReadProperty(ctx, "urn:hearth:home:living-room-light", "brightness"); err != nil {
			b.Fatal(err)
		}
	}
}
