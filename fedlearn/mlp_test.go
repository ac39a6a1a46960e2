package fedlearn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// repoRoot returns the repository root (the parent of this package).
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..")
}

// sharedData returns ../shared/data/<name> relative to the repository root,
// skipping the test when it is absent.
func sharedData(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(), "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("dataset %s not present (%v); skipping", p, err)
	}
	return p
}

// loadDigits loads the UCI digits set (8x8 images, 10 classes) scaled to
// [0,1], shuffled deterministically.
func loadDigits(t testing.TB) *Dataset {
	t.Helper()
	f, err := os.Open(filepath.Join(sharedData(t, "digits"), "digits.csv.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReadCSV(f, CSVOptions{Scale: 1.0 / 16})
	if err != nil {
		t.Fatal(err)
	}
	return d.Shuffled(1)
}

// synthetic returns a separable classification problem: n points in dim
// dimensions around one random centre per class.
func synthetic(n, dim, classes int, seed uint64) *Dataset {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([]float64, classes*dim)
	for i := range centres {
		centres[i] = rng.NormFloat64() * 2
	}
	d := &Dataset{Features: dim, Classes: classes, X: make([]float64, n*dim), Labels: make([]int, n)}
	for i := range n {
		c := rng.IntN(classes)
		d.Labels[i] = c
		for j := range dim {
			d.X[i*dim+j] = centres[c*dim+j] + rng.NormFloat64()
		}
	}
	return d
}

// meanLoss returns the mean loss of params on d.
func meanLoss(t *testing.T, m *MLP, params []float64, d *Dataset) float64 {
	t.Helper()
	r, err := m.Evaluate(context.Background(), params, d)
	if err != nil {
		t.Fatal(err)
	}
	return r.Loss
}

func TestGradientMatchesFiniteDifferences(t *testing.T) {
	cls := synthetic(7, 5, 3, 1)
	reg := &Dataset{Features: 5, Outputs: 2, X: cls.X, Y: make([]float64, 14)}
	for i := range reg.Y {
		reg.Y[i] = float64(i%5) - 2
	}
	for _, tc := range []struct {
		name  string
		model *MLP
		data  *Dataset
	}{
		{"softmax", SoftmaxRegression(5, 3), cls},
		{"mlp", mustMLP(CrossEntropy, 5, 4, 6, 3), cls},
		{"regressor", mustMLP(SquaredError, 5, 4, 2), reg},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, d := tc.model, tc.data
			p := m.Init(3)
			ws := m.getWorkspace(d.Len())
			rows := make([]int, d.Len())
			for i := range rows {
				rows[i] = i
			}
			gather(d, rows, ws)
			m.forward(p, ws, len(rows))
			m.lossAndDelta(d, rows, ws, true)
			m.backward(p, ws, len(rows))
			const h = 1e-6
			for i := range p {
				old := p[i]
				p[i] = old + h
				up := meanLoss(t, m, p, d)
				p[i] = old - h
				down := meanLoss(t, m, p, d)
				p[i] = old
				num := (up - down) / (2 * h)
				if math.Abs(num-ws.grad[i]) > 1e-6*max(1, math.Abs(num)) {
					t.Fatalf("param %d: analytic %.9g, numeric %.9g", i, ws.grad[i], num)
				}
			}
		})
	}
}

func TestTwoNNShape(t *testing.T) {
	if n := TwoNN().NumParams(); n != 199210 {
		t.Fatalf("2NN has %d parameters, want 199,210", n)
	}
}

func TestSGDLearnsDigits(t *testing.T) {
	d := loadDigits(t)
	train, test := d.Split(1400)
	m, err := NewMLP(CrossEntropy, 64, 32, 10)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.Trainer(train, 1)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Train(t.Context(), m.Init(1), TrainConfig{Epochs: 10, BatchSize: 10, LearningRate: 0.1, Momentum: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := m.Evaluate(t.Context(), res.Params, test)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Accuracy < 0.9 {
		t.Errorf("test accuracy %.3f after 10 epochs, want >= 0.9", ev.Accuracy)
	}
	if res.Samples != 1400 {
		t.Errorf("samples = %d, want 1400", res.Samples)
	}
}

func TestSGDDeterministic(t *testing.T) {
	d := synthetic(200, 6, 4, 2)
	m := mustMLP(CrossEntropy, 6, 8, 4)
	cfg := TrainConfig{Round: 3, Epochs: 2, BatchSize: 7, LearningRate: 0.1, Momentum: 0.9, ProxMu: 0.1, Seed: 99}
	run := func(seed uint64) []float64 {
		tr, err := m.Trainer(d, seed)
		if err != nil {
			t.Fatal(err)
		}
		r, err := tr.Train(t.Context(), m.Init(5), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return r.Params
	}
	a, b, c := run(1), run(1), run(2)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed differs at %d", i)
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("different client seeds gave identical parameters")
	}
}

func TestSGDRejects(t *testing.T) {
	d := synthetic(20, 3, 2, 1)
	m := SoftmaxRegression(3, 2)
	tr, err := m.Trainer(d, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Train(t.Context(), make([]float64, 5), TrainConfig{}); !errors.Is(err, ErrModel) {
		t.Errorf("wrong length: err = %v, want ErrModel", err)
	}
	if _, err := tr.Train(t.Context(), m.Init(1), TrainConfig{Momentum: 1}); !errors.Is(err, ErrConfig) {
		t.Errorf("momentum 1: err = %v, want ErrConfig", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := tr.Train(ctx, m.Init(1), TrainConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if _, err := mustMLP(CrossEntropy, 4, 2).Trainer(d, 1); !errors.Is(err, ErrModel) {
		t.Errorf("feature mismatch: err = %v, want ErrModel", err)
	}
}

func TestProxPullsTowardsGlobal(t *testing.T) {
	d := synthetic(100, 4, 3, 3)
	m := SoftmaxRegression(4, 3)
	tr, _ := m.Trainer(d, 1)
	g := m.Init(1)
	dist := func(mu float64) float64 {
		r, err := tr.Train(t.Context(), g, TrainConfig{Epochs: 5, BatchSize: 10, LearningRate: 0.1, ProxMu: mu})
		if err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i := range g {
			s += (r.Params[i] - g[i]) * (r.Params[i] - g[i])
		}
		return s
	}
	if free, prox := dist(0), dist(5); !(prox < free) {
		t.Errorf("FedProx μ=5 moved %.4g from global, plain SGD %.4g: want less", prox, free)
	}
}
