package fedlearn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// EnergyConfig configures GenerateEnergy. The zero value generates eight
// winter weeks of hourly data for ten holiday homes.
//
// An EnergyConfig is a plain value: GenerateEnergy takes a copy, so one may
// be shared by concurrent calls.
type EnergyConfig struct {
	// Homes is the number of homes; zero means 10.
	Homes int
	// Days is the length of the series; zero means 56.
	Days int
	// Start is the first hour; zero means Monday 2025-01-06 00:00 UTC.
	Start time.Time
	// MeanTemp is the outdoor temperature around which the weather
	// wanders, in °C; zero means 2 °C (a mild northern winter).
	MeanTemp float64
	// Seed makes the data reproducible.
	Seed uint64
}

// Heating is how a home is heated, which decides how much of its heating
// shows up on the electricity meter.
//
// A Heating is an immutable value, safe for concurrent use.
type Heating int

const (
	// HeatPump is an air-source heat pump whose efficiency falls with the
	// outdoor temperature.
	HeatPump Heating = iota
	// ResistiveHeating is direct electric heating (COP 1).
	ResistiveHeating
	// NonElectricHeating (district heat, wood, gas) keeps heating off the
	// electricity meter except for pumps.
	NonElectricHeating
)

// String returns "heat-pump", "resistive" or "non-electric".
func (h Heating) String() string {
	switch h {
	case HeatPump:
		return "heat-pump"
	case ResistiveHeating:
		return "resistive"
	case NonElectricHeating:
		return "non-electric"
	}
	return fmt.Sprintf("Heating(%d)", int(h))
}

// HomeProfile holds the traits that make each generated home use energy
// differently, so that the homes' data are not identically distributed.
//
// A HomeProfile is a plain value, safe for concurrent reads.
type HomeProfile struct {
	// HeatLoss is the building's heat-loss coefficient UA in kW/K (how
	// many kW of heat it loses per kelvin of indoor–outdoor difference).
	HeatLoss float64
	// Heating is the heating system.
	Heating Heating
	// Setpoint and Setback are the indoor temperatures kept when guests
	// are in and when the home is empty, in °C.
	Setpoint, Setback float64
	// BaseLoad is the always-on load (fridge, router, standby) in kW.
	BaseLoad float64
	// Occupancy is the probability that a given week is let.
	Occupancy float64
	// Guests is the usual party size.
	Guests int
	// Sauna and EV report whether the home has an electric sauna and an
	// electric-vehicle charger that guests use.
	Sauna, EV bool
}

// Reading is one hour of one home's data.
//
// A Reading is a plain value, safe for concurrent reads.
type Reading struct {
	// Time is the start of the hour.
	Time time.Time
	// KWh is the electricity used during the hour.
	KWh float64
	// Outdoor is the outdoor temperature in °C.
	Outdoor float64
	// Occupied reports whether guests were staying (known in advance from
	// the booking calendar).
	Occupied bool
}

// Home is one generated household: its traits and its hourly series.
//
// A Home is plain data: safe for concurrent reads, but not for a write (to
// Hours) concurrent with any other use.
type Home struct {
	ID      string
	Profile HomeProfile
	Hours   []Reading
}

// GenerateEnergy simulates the hourly electricity use of a resort's holiday
// homes: one shared weather series (a daily cycle plus slowly wandering
// weather fronts), and per home a weekly booking calendar with Saturday
// changeovers, heating driven by the indoor–outdoor difference (set back
// while empty), guests' daily rhythm (morning and evening peaks, lighting
// after dark, days out), appliance events (oven, dishwasher, washing
// machine, sauna, EV charging) and per-home traits drawn at random. The
// result is deterministic for a given configuration.
func GenerateEnergy(cfg EnergyConfig) []Home {
	homes := cfg.Homes
	if homes <= 0 {
		homes = 10
	}
	days := cfg.Days
	if days <= 0 {
		days = 56
	}
	start := cfg.Start
	if start.IsZero() {
		start = time.Date(2025, 1, 6, 0, 0, 0, 0, time.UTC)
	}
	mean := cfg.MeanTemp
	if mean == 0 {
		mean = 2
	}
	hours := days * 24
	// Shared weather: daily cycle (coldest near 05:00) plus an AR(1) front.
	wr := rand.New(rand.NewPCG(cfg.Seed, 0xea7e))
	temp := make([]float64, hours)
	front := 0.0
	for h := range temp {
		if h%6 == 0 {
			front = 0.97*front + 0.9*wr.NormFloat64()
		}
		t := start.Add(time.Duration(h) * time.Hour)
		hod := float64(t.Hour())
		temp[h] = mean + 4*front - 3*math.Cos(2*math.Pi*(hod-5)/24) + 0.3*wr.NormFloat64()
	}
	out := make([]Home, homes)
	for i := range out {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(i)+1))
		p := HomeProfile{
			HeatLoss:  0.05 + 0.12*rng.Float64(),
			Heating:   Heating(rng.IntN(3)),
			Setpoint:  20 + 2.5*rng.Float64(),
			Setback:   10 + 5*rng.Float64(),
			BaseLoad:  0.08 + 0.2*rng.Float64(),
			Occupancy: 0.4 + 0.55*rng.Float64(),
			Guests:    1 + rng.IntN(6),
			Sauna:     rng.Float64() < 0.4,
			EV:        rng.Float64() < 0.25,
		}
		out[i] = Home{ID: fmt.Sprintf("home-%03d", i+1), Profile: p, Hours: simulateHome(rng, p, start, temp)}
	}
	return out
}

// simulateHome produces one home's hourly readings.
func simulateHome(rng *rand.Rand, p HomeProfile, start time.Time, temp []float64) []Reading {
	hours := len(temp)
	// Booking calendar: weeks run Saturday 16:00 to Saturday 10:00.
	occupied := make([]bool, hours)
	let := map[int]bool{}
	// Weeks are counted from the last Saturday 16:00 at or before start.
	back := (int(start.Weekday()) - int(time.Saturday) + 7) % 7
	y, m, d := start.Date()
	first := time.Date(y, m, d-back, 16, 0, 0, 0, start.Location())
	if first.After(start) {
		first = first.AddDate(0, 0, -7)
	}
	for h := range occupied {
		t := start.Add(time.Duration(h) * time.Hour)
		week := int(t.Sub(first).Hours()) / (7 * 24)
		v, ok := let[week]
		if !ok {
			v = rng.Float64() < p.Occupancy
			let[week] = v
		}
		occupied[h] = v
		if t.Weekday() == time.Saturday && t.Hour() >= 10 && t.Hour() < 16 {
			occupied[h] = false // cleaning between guests
		}
	}
	// Each booking brings a party with its own habits, which repeat from
	// day to day within the stay.
	type party struct {
		guests        float64
		sauna, dayOut float64 // probabilities per evening and per day
		saunaHour     int
		ev            bool
		chargeHours   int
		early         int // hours earlier than 7 that the day starts
	}
	parties := map[int]party{}
	partyOf := func(week int) party {
		pt, ok := parties[week]
		if !ok {
			pt = party{
				guests:      float64(1 + rng.IntN(p.Guests)),
				dayOut:      0.2 + 0.6*rng.Float64(),
				saunaHour:   18 + rng.IntN(3),
				chargeHours: 2 + rng.IntN(3),
				early:       rng.IntN(2),
			}
			if p.Sauna && rng.Float64() < 0.6 {
				pt.sauna = 0.9 // sauna lovers go every evening, others hardly
			} else if p.Sauna {
				pt.sauna = 0.05
			}
			pt.ev = p.EV && rng.Float64() < 0.7
			parties[week] = pt
		}
		return pt
	}
	out := make([]Reading, hours)
	indoor := p.Setback
	dayOut := false
	for h := range out {
		t := start.Add(time.Duration(h) * time.Hour)
		hod := t.Hour()
		pt := partyOf(int(t.Sub(first).Hours()) / (7 * 24))
		if hod == 9 {
			dayOut = rng.Float64() < pt.dayOut // a day on the slopes or the beach
		}
		occ := occupied[h]
		// Heating: the thermostat tracks the setpoint or the setback, with
		// the building's thermal inertia smoothing the change.
		target := p.Setback
		if occ {
			target = p.Setpoint
			if hod < 6 {
				target -= 2 // cooler at night
			}
		}
		indoor += 0.35 * (target - indoor)
		heat := max(0, p.HeatLoss*(indoor-temp[h])) // kW of heat needed
		var kw float64
		switch p.Heating {
		case HeatPump:
			cop := min(max(2.8+0.07*temp[h], 1.6), 4.5)
			kw = heat / cop
		case ResistiveHeating:
			kw = heat
		case NonElectricHeating:
			kw = 0.05 * heat // circulation pumps
		}
		kw += p.BaseLoad
		if occ {
			g := pt.guests
			wake := 7 - pt.early
			awake := hod >= wake && hod < 23
			away := dayOut && hod >= 10 && hod < 17
			if awake && !away {
				kw += 0.05 * g
				if hod < 8 || hod >= 16 { // lights after dark
					kw += 0.15 + 0.03*g
				}
			}
			// Hot water: showers in the morning and after a day out.
			if hod == wake || hod == wake+1 {
				kw += 0.2 * g * (0.5 + rng.Float64())
			}
			if hod >= 18 && hod < 21 && !away {
				kw += 0.15 * g * (0.5 + rng.Float64())
			}
			// Appliance events.
			if hod == 18 && rng.Float64() < 0.6 {
				kw += 1.5 + rng.Float64() // oven
			}
			if hod == 21 && rng.Float64() < 0.5 {
				kw += 1.1 // dishwasher
			}
			if hod == 10 && rng.Float64() < 0.05*g {
				kw += 1.0 // washing machine
			}
			if (hod == pt.saunaHour || hod == pt.saunaHour+1) && rng.Float64() < pt.sauna {
				kw += 6
			}
			if pt.ev && hod < pt.chargeHours {
				kw += 7 // the car charges every night of the stay
			}
		}
		kw *= math.Exp(0.08 * rng.NormFloat64())
		out[h] = Reading{Time: t, KWh: kw, Outdoor: temp[h], Occupied: occ}
	}
	return out
}

// Forecast feature layout of EnergyDataset.
const (
	// EnergyScale divides kWh values in features and targets, so that
	// they are of order one.
	EnergyScale = 5.0
	// energyExtra counts the features besides the lagged consumption:
	// hour of day (sin, cos), day of week (sin, cos), outdoor temperature
	// and occupancy of the forecast hour, and occupancy of the first
	// lagged hour.
	energyExtra = 7
)

// EnergyFeatures returns the number of features EnergyDataset produces
// for a window of lags hours.
func EnergyFeatures(lags int) int { return lags + energyExtra }

// EnergyDataset turns a home's series into a next-hour forecasting dataset:
// each example's features are the previous lags hours of consumption
// (divided by EnergyScale), the hour of day and day of week of the hour to
// forecast (as sine and cosine), its outdoor temperature (divided by 10),
// whether guests are booked for it and whether they were for the first
// lagged hour (both known from the booking calendar); the target is its
// consumption divided by EnergyScale.
func EnergyDataset(h Home, lags int) (*Dataset, error) {
	n := len(h.Hours) - lags
	if lags < 1 || n < 1 {
		return nil, fmt.Errorf("%w: %d hours cannot make windows of %d", ErrData, len(h.Hours), lags)
	}
	f := EnergyFeatures(lags)
	d := &Dataset{X: make([]float64, 0, n*f), Features: f, Y: make([]float64, 0, n), Outputs: 1}
	for i := lags; i < len(h.Hours); i++ {
		for _, r := range h.Hours[i-lags : i] {
			d.X = append(d.X, r.KWh/EnergyScale)
		}
		r := h.Hours[i]
		hod := 2 * math.Pi * float64(r.Time.Hour()) / 24
		dow := 2 * math.Pi * float64(r.Time.Weekday()) / 7
		d.X = append(d.X, math.Sin(hod), math.Cos(hod), math.Sin(dow), math.Cos(dow), r.Outdoor/10,
			b2f(r.Occupied), b2f(h.Hours[i-lags].Occupied))
		d.Y = append(d.Y, r.KWh/EnergyScale)
	}
	return d, d.Check()
}

// NewEnergyForecaster returns the regression MLP used for next-hour energy
// forecasting with EnergyDataset's features: one hidden layer of the given
// width (zero means 32).
func NewEnergyForecaster(lags, hidden int) (*MLP, error) {
	if hidden == 0 {
		hidden = 32
	}
	return NewRegressor(EnergyFeatures(lags), []int{hidden}, 1)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
