package main

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/hearth-wot/hearth/fedlearn"
	"github.com/hearth-wot/hearth/gateway/virtual"
)

// The forecaster every home trains: next-hour energy use from the last
// forecastLags hours, the time of day and week, the outdoor temperature
// and the booking calendar (fedlearn.EnergyDataset's features).
const (
	forecastLags   = 24
	forecastHidden = 16
	trainingWeeks  = 8
	showHomeSeed   = 0x5E0_4E0E // the resort's show home: its meter is the resort's own data
)

func newForecaster() *fedlearn.MLP {
	m, err := fedlearn.NewEnergyForecaster(forecastLags, forecastHidden)
	if err != nil {
		panic(err) // constant, valid sizes
	}
	return m
}

// outdoorTemp is the demo's weather: a seasonal and a daily cycle, in °C.
// It is public information, the same for every home of the resort.
func outdoorTemp(t time.Time) float64 {
	day := float64(t.YearDay())
	h := float64(t.Hour()) + float64(t.Minute())/60
	return 9 - 8*math.Cos(2*math.Pi*(day-15)/365) + 4*math.Sin(2*math.Pi*(h-9)/24)
}

// meterSeries reads a meter's hourly readings over [from, to) as a
// fedlearn.Home: this is the home's own history, read on the gateway,
// which never leaves it.
func meterSeries(id string, m *virtual.EnergyMeter, from, to time.Time) (fedlearn.Home, error) {
	samples, err := m.History(from, to, time.Hour)
	if err != nil {
		return fedlearn.Home{}, err
	}
	h := fedlearn.Home{ID: id, Hours: make([]fedlearn.Reading, len(samples))}
	for i, s := range samples {
		h.Hours[i] = fedlearn.Reading{Time: s.Start, KWh: s.Energy / 1000, Outdoor: outdoorTemp(s.Start), Occupied: m.Occupied(s.Start)}
	}
	return h, nil
}

// homeTrainer is the FL trainer of one home: the forecaster on the home's
// last trainingWeeks of hourly meter readings.
func homeTrainer(id string, m *virtual.EnergyMeter, seed uint64) (*fedlearn.SGD, error) {
	now := time.Now().Truncate(time.Hour)
	h, err := meterSeries(id, m, now.Add(-trainingWeeks*7*24*time.Hour), now)
	if err != nil {
		return nil, err
	}
	d, err := fedlearn.EnergyDataset(h, forecastLags)
	if err != nil {
		return nil, err
	}
	return newForecaster().Trainer(d, seed)
}

// showHome is the resort's show home: a home the resort's own staff use
// (for viewings and staff stays), whose meter readings belong to the resort. The cloud evaluates and demonstrates the global
// model on it, so the dashboard's accuracy and forecast come from no
// guest's data.
type showHome struct {
	meter *virtual.EnergyMeter
}

func newShowHome() *showHome {
	return &showHome{meter: virtual.NewEnergyMeter("urn:hearth:resort:show-home-meter", "Show home meter",
		virtual.EnergyMeterOptions{Seed: showHomeSeed})}
}

// evalSet is the show home's last two weeks as a forecasting dataset.
func (s *showHome) evalSet() (*fedlearn.Dataset, error) {
	now := time.Now().Truncate(time.Hour)
	h, err := meterSeries("show-home", s.meter, now.Add(-14*24*time.Hour), now)
	if err != nil {
		return nil, err
	}
	return fedlearn.EnergyDataset(h, forecastLags)
}

// persistenceMAE is the error of the naive forecast "the next hour uses what
// the last one did", in kWh: the baseline a learned model has to beat.
func persistenceMAE(d *fedlearn.Dataset) float64 {
	var sum float64
	for i := range d.Len() {
		sum += math.Abs(d.Row(i)[forecastLags-1] - d.Y[i])
	}
	return sum / float64(d.Len()) * fedlearn.EnergyScale
}

// forecastPoint is one hour of the dashboard's chart.
type forecastPoint struct {
	Time     time.Time `json:"time"`
	Actual   *float64  `json:"actual,omitempty"`   // kWh, for past hours
	Forecast *float64  `json:"forecast,omitempty"` // kWh, for future hours
}

// forecast returns the show home's last 24 hours and the model's forecast
// for the next 24, predicting hour by hour from its own predictions.
func (s *showHome) forecast(ctx context.Context, params []float64) ([]forecastPoint, error) {
	model := newForecaster()
	if len(params) != model.NumParams() {
		return nil, fmt.Errorf("model has %d parameters, want %d", len(params), model.NumParams())
	}
	now := time.Now().Truncate(time.Hour)
	past, err := meterSeries("show-home", s.meter, now.Add(-forecastLags*time.Hour), now)
	if err != nil {
		return nil, err
	}
	hours := past.Hours
	var pts []forecastPoint
	for _, r := range hours {
		pts = append(pts, forecastPoint{Time: r.Time, Actual: ptr(r.KWh)})
	}
	for i := range 24 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t := now.Add(time.Duration(i) * time.Hour)
		next := fedlearn.Reading{Time: t, Outdoor: outdoorTemp(t), Occupied: s.meter.Occupied(t)}
		win := fedlearn.Home{Hours: append(hours[len(hours)-forecastLags:len(hours):len(hours)], next)}
		d, err := fedlearn.EnergyDataset(win, forecastLags)
		if err != nil {
			return nil, err
		}
		y, err := model.Predict(params, d.X)
		if err != nil {
			return nil, err
		}
		kwh := math.Max(0, y[0]*fedlearn.EnergyScale)
		next.KWh = kwh
		hours = append(hours, next)
		pts = append(pts, forecastPoint{Time: t, Forecast: ptr(kwh)})
	}
	return pts, nil
}

// publicPretraining returns initial parameters for the forecaster, trained
// centrally on fedlearn's synthetic resort data: public, made-up households,
// nobody's personal data. Federated rounds then adapt it to the real homes.
func publicPretraining(ctx context.Context) ([]float64, error) {
	model := newForecaster()
	var all *fedlearn.Dataset
	for _, h := range fedlearn.GenerateEnergy(fedlearn.EnergyConfig{Homes: 10, Seed: 7}) {
		d, err := fedlearn.EnergyDataset(h, forecastLags)
		if err != nil {
			return nil, err
		}
		if all == nil {
			all = d
			continue
		}
		all.X = append(all.X, d.X...)
		all.Y = append(all.Y, d.Y...)
	}
	tr, err := model.Trainer(all, 1)
	if err != nil {
		return nil, err
	}
	res, err := tr.Train(ctx, model.Init(1), fedlearn.TrainConfig{Epochs: 5, BatchSize: 32, LearningRate: 0.05})
	if err != nil {
		return nil, err
	}
	return res.Params, nil
}

func ptr[T any](v T) *T { return &v }
