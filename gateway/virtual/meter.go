package virtual

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/thing"
)

// EnergyMeterOptions configures an EnergyMeter. The zero value is ready to
// use.
type EnergyMeterOptions struct {
	// Seed selects the household: the booking calendar, daily routines and
	// appliance use. The same seed gives the same readings at the same
	// instants.
	Seed uint64
	// Location is the home's time zone, which daily routines follow. Nil
	// means UTC.
	Location *time.Location
	// Occupancy reports whether guests are staying at time t. Nil means a
	// booking calendar drawn from Seed: stays run Saturday 16:00 to
	// Saturday 10:00 and seven weeks in ten are booked.
	Occupancy func(t time.Time) bool
	// Installed is when the cumulative "energy" count starts. Zero means
	// the meter's creation.
	Installed time.Time
}

// Sample is the whole-home consumption over one interval of History.
type Sample struct {
	Start    time.Time // the interval is [Start, Start+step)
	Power    float64   // mean power over the interval, W
	Energy   float64   // energy used in the interval, Wh
	Occupied bool      // guests were staying at the interval's midpoint (ground truth)
}

// EnergyMeter is a simulated whole-home energy meter with realistic usage:
// always-on loads (standby, a cycling fridge), frost protection while the
// home is empty and a cleaning visit at changeover, and, while guests stay,
// daily routines (waking, going out, lights after dusk, evening television,
// sleep), seasonal electric heating, and appliance spikes (kettle, water
// heater after showers, cooking, dishwasher, laundry) at times drawn from
// the seed. Power is piecewise constant per minute and a pure function of
// the seed and the time, so History can read any period, past or future,
// and the same seed always gives the same figures. It is safe for
// concurrent use.
//
// Properties (read-only): "power" (InstantaneousPowerProperty, W) and
// "energy" (kWh since Installed, to 0.1 Wh, so that it moves every few
// seconds even at the lowest simulated draw of about 35 W).
type EnergyMeter struct {
	core
	seed      uint64
	loc       *time.Location
	occupancy func(time.Time) bool
	fridge    int64 // phase of the fridge's compressor cycle, minutes

	counted time.Time // energy is counted up to here (under mu)
	wh      float64   // Wh counted (under mu)

	plansMu sync.Mutex
	plans   map[int64]*dayPlan
}

// NewEnergyMeter returns a whole-home energy meter.
func NewEnergyMeter(id, title string, opts EnergyMeterOptions) *EnergyMeter {
	loc := opts.Location
	if loc == nil {
		loc = time.UTC
	}
	installed := opts.Installed
	if installed.IsZero() {
		installed = time.Now()
	}
	return &EnergyMeter{
		core:      newCore(id, title),
		seed:      opts.Seed,
		loc:       loc,
		occupancy: opts.Occupancy,
		fridge:    int64(hash64(opts.Seed, 'f') % fridgePeriod),
		counted:   installed,
		plans:     map[int64]*dayPlan{},
	}
}

// Description implements Device.
func (m *EnergyMeter) Description() *thing.Description {
	return build(&m.core, describe(&m.core, "A simulated whole-home energy meter.", "EnergyMonitor").
		Property("power", numberProperty("InstantaneousPowerProperty", "Power", "watt")).
		Property("energy", numberProperty("", "Energy", "kilowatt hour").Describe("Energy used since the meter was installed.")))
}

// Power returns the home's power draw at t, in watts.
func (m *EnergyMeter) Power(t time.Time) float64 {
	c := m.cursor()
	return c.power(floorDiv(t.Unix(), 60))
}

// Occupied reports whether guests are staying at t.
func (m *EnergyMeter) Occupied(t time.Time) bool {
	c := m.cursor()
	um := floorDiv(t.Unix(), 60)
	return c.occupied(um, um+c.offset(um))
}

// Energy returns the energy used in [from, to), in Wh.
func (m *EnergyMeter) Energy(from, to time.Time) float64 {
	c := m.cursor()
	return c.energy(from, to)
}

// maxSamples bounds the length of a History.
const maxSamples = 1 << 20

// History returns consecutive samples of step length from from, as many
// full intervals as fit before to. It fails with an error wrapping
// ErrInvalidValue if step is not positive, to is before from, or more than
// about a million samples are asked for.
func (m *EnergyMeter) History(from, to time.Time, step time.Duration) ([]Sample, error) {
	if step <= 0 {
		return nil, invalid("history step %v is not positive", step)
	}
	if to.Before(from) {
		return nil, invalid("history ends (%v) before it starts (%v)", to, from)
	}
	n := to.Sub(from) / step
	if n > maxSamples {
		return nil, invalid("history of %d samples is longer than %d", n, maxSamples)
	}
	c := m.cursor()
	out := make([]Sample, n)
	for i := range out {
		start := from.Add(time.Duration(i) * step)
		end := start.Add(step)
		wh := c.energy(start, end)
		mid := floorDiv(start.Add(step/2).Unix(), 60)
		out[i] = Sample{
			Start:    start,
			Power:    wh / step.Hours(),
			Energy:   wh,
			Occupied: c.occupied(mid, mid+c.offset(mid)),
		}
	}
	return out, nil
}

// countLocked brings the cumulative count up to now.
func (m *EnergyMeter) countLocked(now time.Time) {
	if now.After(m.counted) {
		m.wh += m.cursor().energy(m.counted, now)
		m.counted = now
	}
}

func (m *EnergyMeter) read(name string) (any, error) {
	now := time.Now()
	switch name {
	case "power":
		return round(m.Power(now), 1), nil
	case "energy":
		m.mu.Lock()
		defer m.mu.Unlock()
		m.countLocked(now)
		return round(m.wh/1000, 4), nil
	}
	return nil, m.errProperty(name)
}

func (m *EnergyMeter) write(name string, _ any) error {
	switch name {
	case "power", "energy":
		return m.errReadOnly(name)
	}
	return m.errProperty(name)
}

func (m *EnergyMeter) invoke(_ context.Context, name string, _ any) (any, error) {
	return nil, m.errAction(name)
}

func (m *EnergyMeter) sample(into map[string]any) {
	now := time.Now()
	into["power"] = round(m.Power(now), 1)
	m.mu.Lock()
	m.countLocked(now)
	into["energy"] = round(m.wh/1000, 4)
	m.mu.Unlock()
}

// The model. Times are handled as minute numbers: um counts minutes since
// the Unix epoch in UTC, lm the same instant in the home's local time
// (um plus the zone offset), so that a local day is lm / 1440.

const (
	minutesPerDay = 24 * 60
	fridgePeriod  = 55 // minutes; the compressor runs for the first 20
)

// appliance is one use of an appliance in a day's plan.
type appliance struct {
	start, minutes int // minute of the local day, duration
	watts          float64
}

// dayPlan is what the household does on one local day, drawn from the
// seed and the day number.
type dayPlan struct {
	weekday           int // 0 Sunday ... 6 Saturday
	cold              float64
	dawn, dusk        int // minutes of the day
	wake, sleep       int
	outFrom, outUntil int // the guests are out in [outFrom, outUntil)
	cleanFrom         int // changeover cleaning (Saturdays), -1 if none
	uses              []appliance
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func (m *EnergyMeter) plan(day int64) *dayPlan {
	m.plansMu.Lock()
	p, ok := m.plans[day]
	m.plansMu.Unlock()
	if ok {
		return p
	}
	p = newDayPlan(m.seed, day)
	m.plansMu.Lock()
	if len(m.plans) >= 512 {
		clear(m.plans)
	}
	m.plans[day] = p
	m.plansMu.Unlock()
	return p
}

func newDayPlan(seed uint64, day int64) *dayPlan {
	r := rand.New(rand.NewPCG(seed, uint64(day)))
	p := &dayPlan{weekday: int((day%7 + 7 + 4) % 7), cleanFrom: -1, outFrom: -1, outUntil: -1} // 1970-01-01 was a Thursday
	doy := float64(time.Unix(day*86400, 0).UTC().YearDay())
	// Heating need: 1 in mid-January, 0 from mid-April to mid-October.
	p.cold = math.Max(0, math.Cos(2*math.Pi*(doy-15)/365.25))
	// Day length at about 50° north: 8 h in December, 16.4 h in June.
	daylen := (12.2 + 4.2*math.Cos(2*math.Pi*(doy-172)/365.25)) * 60
	p.dawn, p.dusk = int(13*60-daylen/2), int(13*60+daylen/2)

	weekend := p.weekday == 0 || p.weekday == 6
	p.wake = 7*60 + r.IntN(60)
	if weekend {
		p.wake += 60 + r.IntN(30)
	}
	p.sleep = 22*60 + 30 + r.IntN(90)
	if r.Float64() < 0.5 {
		p.outFrom, p.outUntil = 10*60+r.IntN(90), 15*60+30+r.IntN(150)
	}
	use := func(start, minutes int, watts float64) {
		p.uses = append(p.uses, appliance{start, minutes, watts})
	}
	use(p.wake+5+r.IntN(15), 3, 2000) // kettle
	showers := 1 + r.IntN(3)
	for i := range showers {
		at := p.wake + 10 + r.IntN(45)
		if i > 0 && r.Float64() < 0.6 {
			at = 20*60 + r.IntN(120)
		}
		use(at, 25+r.IntN(20), 2000) // water heater recovering
		if i == 0 && r.Float64() < 0.5 {
			use(at+15, 8, 1600) // hair dryer
		}
	}
	if r.Float64() < 0.4 {
		use(12*60+15+r.IntN(60), 25, 1200) // lunch
	}
	if r.Float64() < 0.5 {
		use(16*60+r.IntN(60), 3, 2000) // afternoon tea
	}
	if r.Float64() < 0.85 {
		use(18*60+r.IntN(90), 35+r.IntN(30), 1400+1000*r.Float64()) // dinner
	}
	if r.Float64() < 0.45 {
		at := p.sleep - 30 - r.IntN(60)
		use(at, 20, 1900) // dishwasher heating
		use(at+20, 70, 120)
	}
	if r.Float64() < 0.3 {
		at := 9*60 + 30 + r.IntN(90)
		use(at, 15, 2000) // washing machine heating
		use(at+15, 75, 250)
		if r.Float64() < 0.5 {
			use(at+100, 60, 2300) // tumble dryer
		}
	}
	if p.weekday == 6 {
		p.cleanFrom = 11*60 + r.IntN(60)
	}
	return p
}

// cursor evaluates the model over a run of minutes, caching the zone
// offset and the current day's plan. A cursor is used by one goroutine.
type cursor struct {
	m          *EnergyMeter
	zoneFrom   int64 // the cached offset holds for um in [zoneFrom, zoneUntil)
	zoneUntil  int64
	zoneOffset int64 // minutes
	day        int64
	plan       *dayPlan
}

func (m *EnergyMeter) cursor() *cursor {
	return &cursor{m: m, zoneFrom: 1, zoneUntil: 0, day: math.MinInt64}
}

// offset returns the local zone offset, in minutes, at UTC minute um.
func (c *cursor) offset(um int64) int64 {
	if um >= c.zoneFrom && um < c.zoneUntil {
		return c.zoneOffset
	}
	t := time.Unix(um*60, 0).In(c.m.loc)
	_, off := t.Zone()
	c.zoneOffset = int64(off) / 60
	start, end := t.ZoneBounds()
	c.zoneFrom, c.zoneUntil = math.MinInt64, math.MaxInt64
	if !start.IsZero() {
		c.zoneFrom = floorDiv(start.Unix()+59, 60)
	}
	if !end.IsZero() {
		c.zoneUntil = floorDiv(end.Unix()+59, 60)
	}
	if c.zoneFrom > um || c.zoneUntil <= um { // a zone change inside this minute
		c.zoneFrom, c.zoneUntil = um, um+1
	}
	return c.zoneOffset
}

func (c *cursor) planFor(day int64) *dayPlan {
	if day != c.day {
		c.day, c.plan = day, c.m.plan(day)
	}
	return c.plan
}

// occupied reports whether guests stay at UTC minute um (local minute lm).
func (c *cursor) occupied(um, lm int64) bool {
	if f := c.m.occupancy; f != nil {
		return f(time.Unix(um*60, 0).In(c.m.loc))
	}
	day := floorDiv(lm, minutesPerDay)
	mod := lm - day*minutesPerDay
	week := floorDiv(day-2, 7) // weeks start on Saturdays; 1970-01-03 was one
	if (day%7+7+4)%7 == 6 {    // Saturday: changeover day
		switch {
		case mod < 10*60:
			week--
		case mod < 16*60:
			return false
		}
	}
	return unit(c.m.seed, 'w', uint64(week)) < 0.7
}

// power returns the home's power in watts during UTC minute um.
func (c *cursor) power(um int64) float64 {
	lm := um + c.offset(um)
	day := floorDiv(lm, minutesPerDay)
	mod := int(lm - day*minutesPerDay)
	p := c.planFor(day)
	seed := c.m.seed

	watts := 35.0 // router, gateway, alarm, standby
	if ((um+c.m.fridge)%fridgePeriod+fridgePeriod)%fridgePeriod < 20 {
		watts += 90 // fridge compressor
	}
	if !c.occupied(um, lm) {
		watts += 250 * p.cold // frost protection
		if p.cleanFrom >= 0 && mod >= p.cleanFrom && mod < p.cleanFrom+150 {
			watts += 600 + 900*unit(seed, 'c', uint64(um/5)) // vacuum, hot water, laundry
		}
	} else {
		present := !(mod >= p.outFrom && mod < p.outUntil)
		awake := mod >= p.wake && mod < p.sleep
		// Heating cycles on and off around its thermostat every ten minutes.
		heat := 1400 * p.cold
		if !(present && awake) {
			heat *= 0.45 // set back at night and while out
		}
		watts += heat * (0.7 + 0.6*unit(seed, 'h', uint64(um/10)))
		switch {
		case present && awake:
			watts += 90 // phones, laptop, coffee machine standby
			if mod < p.dawn || mod >= p.dusk-30 {
				watts += 160 // lights
			}
			if mod >= 19*60+30 {
				watts += 110 // television
			}
			for _, a := range p.uses {
				if mod >= a.start && mod < a.start+a.minutes {
					watts += a.watts
				}
			}
		case present:
			watts += 10 // chargers overnight
		}
	}
	return watts * (1 + 0.08*(unit(seed, 'n', uint64(um))-0.5))
}

// energy returns the energy in Wh used in [from, to).
func (c *cursor) energy(from, to time.Time) float64 {
	if !to.After(from) {
		return 0
	}
	a, b := from.UnixNano(), to.UnixNano()
	const minute = int64(time.Minute)
	var wh float64
	for um := floorDiv(a, minute); um*minute < b; um++ {
		lo, hi := max(um*minute, a), min((um+1)*minute, b)
		wh += c.power(um) * float64(hi-lo) / float64(time.Hour)
	}
	return wh
}
