package fedlearn

import (
	"testing"
)

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
