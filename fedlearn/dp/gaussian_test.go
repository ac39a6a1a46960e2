package dp_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/dp"
)

func TestClipL2(t *testing.T) {
	tests := []struct {
		name     string
		v        []float64
		bound    float64
		wantNorm float64
		want     []float64
	}{
		{"inside", []float64{3, 4}, 10, 5, []float64{3, 4}},
		{"on-bound", []float64{3, 4}, 5, 5, []float64{3, 4}},
		{"scaled", []float64{3, 4}, 1, 5, []float64{0.6, 0.8}},
		{"zero", []float64{0, 0, 0}, 1, 0, []float64{0, 0, 0}},
		{"empty", nil, 1, 0, nil},
		{"huge", []float64{3e300, 4e300}, 1, 5e300, []float64{0.6, 0.8}},
		{"tiny", []float64{3e-300, 4e-300}, 1, 5e-300, []float64{3e-300, 4e-300}},
		{"odd-length", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 3, slices.Repeat([]float64{1.0 / 3}, 9)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := slices.Clone(tt.v)
			norm, err := dp.ClipL2(v, tt.bound)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(norm-tt.wantNorm) > 1e-12*tt.wantNorm {
				t.Errorf("norm = %v, want %v", norm, tt.wantNorm)
			}
			for i := range v {
				if math.Abs(v[i]-tt.want[i]) > 1e-12*math.Abs(tt.want[i]) {
					t.Errorf("v[%d] = %v, want %v", i, v[i], tt.want[i])
				}
			}
			if after := dp.L2Norm(v); after > tt.bound*(1+1e-12) {
				t.Errorf("norm after clipping %v > %v", after, tt.bound)
			}
		})
	}
}

func TestClipL2Errors(t *testing.T) {
	for _, v := range [][]float64{{1, math.NaN()}, {math.Inf(-1), 0}, {math.Inf(1), math.NaN()}} {
		orig := slices.Clone(v)
		if _, err := dp.ClipL2(v, 1); !errors.Is(err, dp.ErrNonFinite) {
			t.Errorf("ClipL2(%v): %v", orig, err)
		}
		for i := range v {
			if math.Float64bits(v[i]) != math.Float64bits(orig[i]) {
				t.Errorf("input modified on error: %v", v)
			}
		}
	}
	for _, b := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := dp.ClipL2([]float64{1}, b); !errors.Is(err, dp.ErrInvalid) {
			t.Errorf("bound %v: %v", b, err)
		}
	}
}

func TestClipL2DoesNotAllocate(t *testing.T) {
	v := make([]float64, 199210)
	for i := range v {
		v[i] = float64(i%7) - 3
	}
	if n := testing.AllocsPerRun(10, func() { dp.ClipL2(v, 0.5) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

// TestGaussianNoiseStd checks the noise added to a mean has standard
// deviation z·S/m and is normal, with a fixed seed. The tolerances are
// about four standard errors, so a mechanism whose σ is off by 1% (or
// that used z·S, or the variance) fails.
func TestGaussianNoiseStd(t *testing.T) {
	const (
		z, clip, m = 1.1, 2.0, 10
		n          = 199210
	)
	g, err := dp.NewGaussian(z, clip, rand.NewPCG(1, 2))
	if err != nil {
		t.Fatal(err)
	}
	want := z * clip / m
	if math.Abs(g.Std(m)-want) > 1e-15 {
		t.Fatalf("Std = %v, want %v", g.Std(m), want)
	}
	base := 0.25
	v := slices.Repeat([]float64{base}, n)
	if err := g.AddNoise(v, m); err != nil {
		t.Fatal(err)
	}
	var sum, sq float64
	for i := range v {
		v[i] -= base
		sum += v[i]
	}
	mean := sum / n
	for _, x := range v {
		sq += (x - mean) * (x - mean)
	}
	std := math.Sqrt(sq / (n - 1))
	se := want / math.Sqrt(2*n) // standard error of the sample std
	if math.Abs(std-want) > 4*se {
		t.Errorf("sample std %.6f, want %.6f ± %.6f", std, want, 4*se)
	}
	if math.Abs(mean) > 4*want/math.Sqrt(n) {
		t.Errorf("sample mean %.6f, want 0 ± %.6f", mean, 4*want/math.Sqrt(n))
	}
	// Kolmogorov–Smirnov against N(0, want²); 1.63/√n is the 1% critical
	// value.
	sort.Float64s(v)
	d := 0.0
	for i, x := range v {
		f := 0.5 * math.Erfc(-x/(want*math.Sqrt2))
		d = max(d, math.Abs(f-float64(i)/n), math.Abs(float64(i+1)/n-f))
	}
	if crit := 1.63 / math.Sqrt(n); d > crit {
		t.Errorf("KS statistic %.5f > %.5f: noise is not N(0, σ²)", d, crit)
	}
}

func TestGaussianSources(t *testing.T) {
	noise := func(g *dp.Gaussian) []float64 {
		v := make([]float64, 8)
		if err := g.AddNoise(v, 1); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a, _ := dp.NewGaussian(1, 1, rand.NewPCG(7, 7))
	b, _ := dp.NewGaussian(1, 1, rand.NewPCG(7, 7))
	if !slices.Equal(noise(a), noise(b)) {
		t.Error("same seed, different noise")
	}
	c, _ := dp.NewGaussian(1, 1, nil)
	d, _ := dp.NewGaussian(1, 1, nil)
	if slices.Equal(noise(c), noise(d)) {
		t.Error("two crypto-seeded mechanisms drew the same noise")
	}
}

func TestGaussianErrors(t *testing.T) {
	for _, p := range [][2]float64{{0, 1}, {1, 0}, {-1, 1}, {math.NaN(), 1}, {1, math.Inf(1)}} {
		if _, err := dp.NewGaussian(p[0], p[1], nil); !errors.Is(err, dp.ErrInvalid) {
			t.Errorf("NewGaussian(%v): %v", p, err)
		}
	}
	g, _ := dp.NewGaussian(1, 1, rand.NewPCG(1, 1))
	if err := g.AddNoise([]float64{1}, 0); !errors.Is(err, dp.ErrInvalid) {
		t.Errorf("m=0: %v", err)
	}
	v := []float64{1, math.NaN()}
	if err := g.AddNoise(v, 3); !errors.Is(err, dp.ErrNonFinite) || v[0] != 1 {
		t.Errorf("NaN mean: %v, %v", err, v)
	}
}

func TestGaussianConcurrent(t *testing.T) {
	g, _ := dp.NewGaussian(1, 1, nil)
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			v := make([]float64, 1000)
			g.AddNoise(v, 5)
		}()
	}
	for range 4 {
		<-done
	}
}

func BenchmarkClipL2(b *testing.B) {
	v := make([]float64, 199210)
	for i := range v {
		v[i] = float64(i%7) - 3
	}
	b.SetBytes(8 * int64(len(v)))
	b.ReportAllocs()
	for b.Loop() {
		dp.ClipL2(v, 1e9) // norm only: nothing to scale
	}
}

func BenchmarkAddNoise(b *testing.B) {
	for _, src := range []struct {
		name string
		src  rand.Source
	}{{"chacha8", nil}, {"pcg", rand.NewPCG(1, 2)}} {
		b.Run(src.name, func(b *testing.B) {
			g, _ := dp.NewGaussian(1, 1, src.src)
			v := make([]float64, 199210)
			b.SetBytes(8 * int64(len(v)))
			b.ReportAllocs()
			for b.Loop() {
				g.AddNoise(v, 10)
			}
		})
	}
}

func BenchmarkAccountantStep(b *testing.B) {
	b.ReportAllocs()
	q := 0.1
	for b.Loop() {
		var a dp.Accountant
		q = math.Nextafter(q, 1) // defeat the cache: a fresh (q, z) each time
		a.Step(q, 1.1)
		a.Epsilon(1e-5)
	}
}
