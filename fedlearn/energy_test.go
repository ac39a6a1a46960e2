package fedlearn

import (
	"math"
	"testing"
	"time"
)

func TestGenerateEnergyShape(t *testing.T) {
	homes := GenerateEnergy(EnergyConfig{Homes: 6, Days: 28, Seed: 3})
	again := GenerateEnergy(EnergyConfig{Homes: 6, Days: 28, Seed: 3})
	if len(homes) != 6 {
		t.Fatalf("%d homes", len(homes))
	}
	var daily []float64
	for i, h := range homes {
		if len(h.Hours) != 28*24 {
			t.Fatalf("%s: %d hours", h.ID, len(h.Hours))
		}
		var sum, occSum, vacSum float64
		var occN, vacN int
		for j, r := range h.Hours {
			if r != again[i].Hours[j] {
				t.Fatal("not deterministic")
			}
			if !(r.KWh > 0) || math.IsInf(r.KWh, 0) {
				t.Fatalf("%s hour %d: %v kWh", h.ID, j, r.KWh)
			}
			if j > 0 && r.Time.Sub(h.Hours[j-1].Time) != time.Hour {
				t.Fatal("hours not consecutive")
			}
			sum += r.KWh
			if r.Occupied {
				occSum += r.KWh
				occN++
			} else {
				vacSum += r.KWh
				vacN++
			}
			if r.Occupied && r.Time.Weekday() == time.Saturday && r.Time.Hour() >= 10 && r.Time.Hour() < 16 {
				t.Fatalf("%s: occupied during the Saturday changeover", h.ID)
			}
		}
		daily = append(daily, sum/28)
		if occN > 0 && vacN > 0 && occSum/float64(occN) <= vacSum/float64(vacN) {
			t.Errorf("%s (%+v): occupied hours use %.2f kWh, vacant %.2f: guests should use more",
				h.ID, h.Profile, occSum/float64(occN), vacSum/float64(vacN))
		}
		t.Logf("%s %-12v %.1f kWh/day, occupied %d/%d h", h.ID, h.Profile.Heating, sum/28, occN, len(h.Hours))
	}
	lo, hi := math.Inf(1), 0.0
	for _, d := range daily {
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi < 1.5*lo {
		t.Errorf("daily use %.1f..%.1f kWh: homes should differ (non-IID)", lo, hi)
	}
}

func TestEnergyForecasterLearns(t *testing.T) {
	h := GenerateEnergy(EnergyConfig{Homes: 1, Days: 42, Seed: 5})[0]
	d, err := EnergyDataset(h, 24)
	if err != nil {
		t.Fatal(err)
	}
	train, test := d.Split(d.Len() * 3 / 4)
	m, err := NewEnergyForecaster(24, 0)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := m.Trainer(train, 1)
	res, err := tr.Train(t.Context(), m.Init(1), TrainConfig{Epochs: 30, BatchSize: 32, LearningRate: 0.05, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := m.Evaluate(t.Context(), res.Params, test)
	if err != nil {
		t.Fatal(err)
	}
	// Baseline: predict the same hour yesterday.
	var se float64
	for i := range test.Len() {
		e := test.Row(i)[0] - test.Y[i]
		se += e * e
	}
	naive := se / float64(test.Len())
	t.Logf("forecaster MSE %.5f (rmse %.3f kWh), same-hour-yesterday MSE %.5f", ev.Loss, math.Sqrt(ev.Loss)*EnergyScale, naive)
	if ev.Loss >= naive {
		t.Errorf("forecaster MSE %.5f is no better than yesterday's value (%.5f)", ev.Loss, naive)
	}
	if _, err := EnergyDataset(h, len(h.Hours)); err == nil {
		t.Error("a window as long as the series should fail")
	}
}
