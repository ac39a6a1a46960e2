package fedlearn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

const twoNNParams = 199210

// benchUpdates returns k random updates of n parameters.
func benchUpdates(k, n int) []Update {
	rng := rand.New(rand.NewPCG(1, 2))
	ups := make([]Update, k)
	for i := range ups {
		d := make([]float64, n)
		for j := range d {
			d[j] = rng.NormFloat64() * 0.01
		}
		ups[i] = Update{ClientID: fmt.Sprintf("c%03d", i), Delta: d, Samples: 500 + rng.IntN(200)}
	}
	return ups
}

// BenchmarkAggregate measures FedAvg's sample-weighted mean of 100 updates
// of the 2NN's 199,210 parameters against a plain copy of the same bytes
// (the updates into one contiguous buffer) in the same run, and reports
// both bandwidths over the update bytes and their ratio (goal: at least
// 0.5). The robust strategies are measured on the same input for scale.
func BenchmarkAggregate(b *testing.B) {
	const k, n = 100, twoNNParams
	ups := benchUpdates(k, n)
	bytes := float64(k * n * 8)
	b.Run("fedavg-vs-copy", func(b *testing.B) {
		global := make([]float64, n)
		dst := make([]float64, k*n)
		s := &FedAvg{}
		for i := range dst {
			dst[i] = 1 // fault the destination in before timing copies into it
		}
		s.Aggregate(1, global, ups)
		var agg, cp time.Duration
		b.ReportAllocs()
		for b.Loop() {
			t0 := time.Now()
			if err := s.Aggregate(1, global, ups); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			for i, u := range ups {
				copy(dst[i*n:(i+1)*n], u.Delta)
			}
			cp += time.Since(t1)
			agg += t1.Sub(t0)
		}
		aggGBs := bytes * float64(b.N) / agg.Seconds() / 1e9
		cpGBs := bytes * float64(b.N) / cp.Seconds() / 1e9
		b.ReportMetric(aggGBs, "agg-GB/s")
		b.ReportMetric(cpGBs, "copy-GB/s")
		b.ReportMetric(aggGBs/cpGBs, "agg/copy")
		b.ReportMetric(0, "ns/op")
	})
	for _, tc := range []struct {
		name string
		s    Strategy
	}{
		{"median", Median{}},
		{"trimmed-mean", TrimmedMean{}},
		{"multi-krum", Krum{Select: 10}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			global := make([]float64, n)
			b.SetBytes(int64(bytes))
			for b.Loop() {
				if err := tc.s.Aggregate(1, global, ups); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLocalEpoch2NN measures one local epoch of the paper's 2NN on 600
// examples with B=10 (one MNIST client's share at K=100).
func BenchmarkLocalEpoch2NN(b *testing.B) {
	d := synthetic(600, 784, 10, 1)
	for i := range d.X {
		d.X[i] = max(0, min(1, d.X[i]/4+0.2))
	}
	m := TwoNN()
	tr, err := m.Trainer(d, 1)
	if err != nil {
		b.Fatal(err)
	}
	g := m.Init(1)
	cfg := TrainConfig{Epochs: 1, BatchSize: 10, LearningRate: 0.05}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tr.Train(b.Context(), g, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundHTTP measures full rounds over loopback HTTP/WebSocket with
// 100 connected clients, all sampled, exchanging the 2NN's 199,210
// parameters as float32: "noop" clients return at once (transport,
// validation and aggregation only); "2nn-600" clients each train one epoch
// of the 2NN on 600 examples, as in the paper's MNIST setting.
func BenchmarkRoundHTTP(b *testing.B) {
	const k = 100
	m := TwoNN()
	for _, tc := range []struct {
		name    string
		trainer func(i int) Trainer
	}{
		{"noop", func(int) Trainer { return shift(0.001, 600) }},
		{"2nn-600", func(i int) Trainer {
			d := synthetic(600, 784, 10, uint64(i))
			tr, _ := m.Trainer(d, uint64(i))
			return tr
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			// Plain FedAvg, as in BENCHMARKS.md; secagg's BenchmarkProtocol
			// measures what the default secure aggregation adds.
			srv := mustServer(b, ServerConfig{Params: m.Init(1), FractionFit: 1, MinAvailable: k, PlaintextUpdates: true, Train: TrainConfig{BatchSize: 10, LearningRate: 0.01}})
			env := startNet(b, srv, testTokens(k), HTTPConfig{}, nil)
			i := 0
			for tok := range env.tokens {
				connect(b, mustClient(b, tc.trainer(i), ClientConfig{}), env.ts.URL, tok)
				i++
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r, err := srv.RunRound(ctx)
				if err != nil || r.Accepted != k {
					b.Fatalf("round: %+v, %v", r, err)
				}
			}
			b.ReportMetric(float64(2*k*(twoNNParams*4+40))*float64(b.N)/b.Elapsed().Seconds()/1e6, "wire-MB/s")
		})
	}
}
