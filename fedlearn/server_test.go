package fedlearn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/fedlearn/dp"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// shift is a Trainer whose "training" adds a fixed delta to the global
// parameters, so aggregation results can be computed by hand.
func shift(delta float64, samples int) TrainFunc {
	return func(_ context.Context, g []float64, _ TrainConfig) (TrainResult, error) {
		p := slices.Clone(g)
		for i := range p {
			p[i] += delta
		}
		return TrainResult{Params: p, Samples: samples}, nil
	}
}

// handlerFunc adapts a function to Handler, for misbehaving clients.
type handlerFunc func(ctx context.Context, req *wire.Message) (*wire.Message, error)

func (f handlerFunc) Handle(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	return f(ctx, req)
}

func mustClient(t testing.TB, tr Trainer, cfg ClientConfig) *Client {
	t.Helper()
	c, err := NewClient(tr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustServer(t testing.TB, cfg ServerConfig) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOneClientFedAvgEqualsCentralizedSGD(t *testing.T) {
	d := loadDigits(t)
	m := mustMLP(CrossEntropy, 64, 16, 10)
	fed, err := m.Trainer(d, 7)
	if err != nil {
		t.Fatal(err)
	}
	var cfgs []TrainConfig
	rec := TrainFunc(func(ctx context.Context, g []float64, c TrainConfig) (TrainResult, error) {
		cfgs = append(cfgs, c)
		return fed.Train(ctx, g, c)
	})
	init := m.Init(1)
	srv := mustServer(t, ServerConfig{
		Params: init, Rounds: 3, MinCohort: 1, FractionFit: 1, PlaintextUpdates: true,
		Train: TrainConfig{Epochs: 2, BatchSize: 10, LearningRate: 0.05},
	})
	srv.Attach(Local("only", mustClient(t, rec, ClientConfig{})))
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(cfgs) != 3 {
		t.Fatalf("client trained %d times, want 3", len(cfgs))
	}
	// The same SGD, run centrally with the same per-round settings.
	central, _ := m.Trainer(d, 7)
	p := init
	for _, c := range cfgs {
		r, err := central.Train(t.Context(), p, c)
		if err != nil {
			t.Fatal(err)
		}
		p = r.Params
	}
	got := srv.Params()
	for i := range p {
		if math.Abs(got[i]-p[i]) > 1e-12 {
			t.Fatalf("param %d: federated %v, centralized %v", i, got[i], p[i])
		}
	}
}

func TestSampleWeightingIsExact(t *testing.T) {
	// Five clients, three sampled: the average must weight exactly the
	// sampled ones by their sample counts.
	deltas := []float64{1, 2, 4, 8, 16}
	samples := []int{1, 2, 5, 3, 7}
	var mu sync.Mutex
	called := map[int]bool{}
	srv := mustServer(t, ServerConfig{Params: make([]float64, 10), Rounds: 1, PerRound: 3, Seed: 3, PlaintextUpdates: true})
	for i := range deltas {
		tr := TrainFunc(func(ctx context.Context, g []float64, c TrainConfig) (TrainResult, error) {
			mu.Lock()
			called[i] = true
			mu.Unlock()
			return shift(deltas[i], samples[i])(ctx, g, c)
		})
		srv.Attach(Local(fmt.Sprint("c", i), mustClient(t, tr, ClientConfig{})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if len(called) != 3 {
		t.Fatalf("%d clients trained, want 3", len(called))
	}
	var num, den float64
	for i := range called {
		num += float64(samples[i]) * deltas[i]
		den += float64(samples[i])
	}
	want := num / den
	for i, v := range srv.Params() {
		if math.Abs(v-want) > 1e-15*want {
			t.Fatalf("param %d = %v, want %v (clients %v)", i, v, want, called)
		}
	}
	h := srv.History()
	if len(h) != 1 || h[0].Sampled != 3 || h[0].Accepted != 3 || h[0].Available != 5 {
		t.Errorf("history = %+v", h)
	}
}

func TestCohortSize(t *testing.T) {
	for _, tc := range []struct {
		frac           float64
		minFit, per, k int
		want           int
	}{
		{0.1, 0, 0, 100, 10},
		{0.1, 0, 0, 5, 3}, // MinFit defaults to MinCohort 3
		{0.1, 5, 0, 30, 5},
		{0.5, 0, 0, 7, 4},
		{0.1, 0, 3, 100, 3},
		{0.1, 0, 3, 2, 2},
		{1, 0, 0, 3, 3},
	} {
		s := mustServer(t, ServerConfig{Params: []float64{0}, FractionFit: tc.frac, MinFit: tc.minFit, PerRound: tc.per})
		if got := s.cohortSize(tc.k); got != tc.want {
			t.Errorf("C=%v MinFit=%d PerRound=%d K=%d: m = %d, want %d", tc.frac, tc.minFit, tc.per, tc.k, got, tc.want)
		}
	}
}

func TestBadUpdatesAreRejected(t *testing.T) {
	const n = 4
	good := func(ctx context.Context, req *wire.Message) (*wire.Message, error) {
		return &wire.Message{Kind: wire.KindFitResult, Round: req.Round, Samples: 1, Tensors: [][]float64{{1, 1, 1, 1}}}, nil
	}
	bad := map[string]func(*wire.Message){
		"nan":      func(m *wire.Message) { m.Tensors[0][2] = math.NaN() },
		"inf":      func(m *wire.Message) { m.Tensors[0][0] = math.Inf(-1) },
		"short":    func(m *wire.Message) { m.Tensors[0] = m.Tensors[0][:3] },
		"long":     func(m *wire.Message) { m.Tensors[0] = append(m.Tensors[0], 1) },
		"samples0": func(m *wire.Message) { m.Samples = 0 },
		"huge":     func(m *wire.Message) { m.Samples = 1 << 20 },
		"round":    func(m *wire.Message) { m.Round++ },
		"tensors":  func(m *wire.Message) { m.Tensors = nil },
	}
	srv := mustServer(t, ServerConfig{Params: make([]float64, n), Rounds: 1, FractionFit: 1, MaxSamples: 1000, PlaintextUpdates: true})
	for i := range 3 {
		srv.Attach(Local(fmt.Sprint("good", i), handlerFunc(good)))
	}
	for name, spoil := range bad {
		srv.Attach(Local(name, handlerFunc(func(ctx context.Context, req *wire.Message) (*wire.Message, error) {
			m, _ := good(ctx, req)
			spoil(m)
			return m, nil
		})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := srv.History()[0]
	if h.Accepted != 3 || h.Rejected != len(bad) {
		t.Errorf("accepted %d rejected %d, want 3 and %d", h.Accepted, h.Rejected, len(bad))
	}
	for _, v := range srv.Params() {
		if v != 1 {
			t.Fatalf("params %v, want all 1 (only good updates)", srv.Params())
		}
	}
}

func TestRobustStrategiesResistScaledUpdate(t *testing.T) {
	const n, honest = 50, 9
	mk := func(seed uint64) []Update {
		var ups []Update
		for i := range honest {
			d := make([]float64, n)
			for j := range d {
				d[j] = 1 + 0.1*math.Sin(float64(i*n+j)+float64(seed))
			}
			ups = append(ups, Update{ClientID: fmt.Sprint("h", i), Delta: d, Samples: 100})
		}
		evil := make([]float64, n)
		for j := range evil {
			evil[j] = -100 // a scaled, sign-flipped update
		}
		return append(ups, Update{ClientID: "evil", Delta: evil, Samples: 100})
	}
	dist := func(p []float64) float64 { // distance from the honest mean, ≈1
		s := 0.0
		for _, v := range p {
			s += (v - 1) * (v - 1)
		}
		return math.Sqrt(s / n)
	}
	for _, tc := range []struct {
		name   string
		s      Strategy
		robust bool
	}{
		{"fedavg", &FedAvg{}, false},
		{"median", Median{}, true},
		{"trimmed", TrimmedMean{Trim: 0.1}, true},
		{"krum", Krum{Byzantine: 1}, true},
		{"multikrum", Krum{Byzantine: 1, Select: 5}, true},
	} {
		g := make([]float64, n)
		if err := tc.s.Aggregate(1, g, mk(1)); err != nil {
			t.Fatal(err)
		}
		d := dist(g)
		if tc.robust && d > 0.15 {
			t.Errorf("%s: %.3f from the honest mean, want < 0.15", tc.name, d)
		}
		if !tc.robust && d < 5 {
			t.Errorf("%s: %.3f from the honest mean; the attack should move plain FedAvg", tc.name, d)
		}
	}
	if got := (Krum{Byzantine: 1, Select: 9}).Choose(mk(2)); slices.Contains(got, honest) {
		t.Errorf("Multi-Krum chose the malicious update: %v", got)
	}
}

func TestServerOptimizersMove(t *testing.T) {
	ups := []Update{{ClientID: "a", Delta: []float64{1, -1}, Samples: 1}, {ClientID: "b", Delta: []float64{3, -3}, Samples: 1}}
	for _, s := range []Strategy{&FedAvgM{}, &FedAdam{}, &FedYogi{}, &FedAdagrad{}, &FedAvg{Unweighted: true}} {
		g := []float64{0, 0}
		for r := range 3 {
			if err := s.Aggregate(r+1, g, ups); err != nil {
				t.Fatal(err)
			}
		}
		if !(g[0] > 0 && g[1] < 0 && g[0] == -g[1]) {
			t.Errorf("%T: params %v, want a symmetric step along the mean update", s, g)
		}
	}
}

func TestKilledClientDoesNotStallRound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mustServer(t, ServerConfig{
			Params: make([]float64, 3), Rounds: 2, FractionFit: 1, RoundTimeout: time.Minute,
		})
		for i := range 3 {
			srv.Attach(Local(fmt.Sprint("ok", i), mustClient(t, shift(1, 1), ClientConfig{})))
		}
		var killed atomic.Int32
		srv.Attach(Local("dead", handlerFunc(func(ctx context.Context, req *wire.Message) (*wire.Message, error) {
			killed.Add(1)
			<-ctx.Done() // never answers: a process killed mid-round
			return nil, ctx.Err()
		})))
		start := time.Now()
		if err := srv.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 2*time.Minute {
			t.Errorf("two rounds took %v, want the two deadlines (2m)", took)
		}
		for _, r := range srv.History() {
			if r.Accepted != 3 || r.Late != 1 || !r.Released() {
				t.Errorf("round %d: %+v", r.Round, r)
			}
		}
		if killed.Load() != 2 {
			t.Errorf("dead client called %d times, want 2", killed.Load())
		}
		if p := srv.Params(); p[0] != 2 {
			t.Errorf("params %v after two rounds of +1", p)
		}
	})
}

func TestStragglersDropped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mustServer(t, ServerConfig{
			Params: make([]float64, 2), Rounds: 1, FractionFit: 1, Quorum: 2, MinCohort: 2,
			RoundTimeout: time.Hour, StragglerTimeout: 10 * time.Second,
		})
		slow := func(d time.Duration) TrainFunc {
			return func(ctx context.Context, g []float64, c TrainConfig) (TrainResult, error) {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return TrainResult{}, ctx.Err()
				}
				return shift(1, 1)(ctx, g, c)
			}
		}
		for i, d := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 30 * time.Minute} {
			srv.Attach(Local(fmt.Sprint("c", i), mustClient(t, slow(d), ClientConfig{})))
		}
		start := time.Now()
		if err := srv.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Quorum at 2s, straggler window until 12s: the 5s client makes it.
		if took := time.Since(start); took != 12*time.Second {
			t.Errorf("round took %v, want 12s", took)
		}
		if r := srv.History()[0]; r.Accepted != 3 || r.Late != 1 {
			t.Errorf("record %+v", r)
		}
	})
}

func TestBoundedWaitForClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, MinCohort: 2, WaitTimeout: 30 * time.Second})
		srv.Attach(Local("lonely", mustClient(t, shift(1, 1), ClientConfig{})))
		start := time.Now()
		err := srv.Run(t.Context())
		if !errors.Is(err, ErrNotEnoughClients) {
			t.Fatalf("Run = %v, want ErrNotEnoughClients", err)
		}
		if took := time.Since(start); took != 30*time.Second {
			t.Errorf("gave up after %v, want 30s", took)
		}
		// A second client arriving during the wait lets the round start.
		go func() {
			time.Sleep(10 * time.Second)
			srv.Attach(Local("late", mustClient(t, shift(1, 1), ClientConfig{})))
		}()
		if err := srv.Run(t.Context()); err != nil {
			t.Fatalf("Run after a second client joined: %v", err)
		}
	})
}

func TestMinimumCohortWithholdsAggregate(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, FractionFit: 1, MinCohort: 3})
	srv.Attach(Local("a", mustClient(t, shift(1, 1), ClientConfig{})))
	srv.Attach(Local("b", mustClient(t, shift(1, 1), ClientConfig{})))
	no := ConsentFunc(func(context.Context) bool { return false })
	srv.Attach(Local("c", mustClient(t, shift(1, 1), ClientConfig{Consent: no})))
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := srv.History()[0]
	if r.Released() || r.Accepted != 2 || r.Declined != 1 {
		t.Errorf("record %+v: want no release with 2 of minimum 3", r)
	}
	if srv.Params()[0] != 0 {
		t.Errorf("model changed to %v without a full cohort", srv.Params())
	}
}

func TestConsentWithdrawnDuringTraining(t *testing.T) {
	var allowed atomic.Bool
	allowed.Store(true)
	tr := TrainFunc(func(ctx context.Context, g []float64, c TrainConfig) (TrainResult, error) {
		allowed.Store(false) // the household withdraws while we train
		return shift(1, 1)(ctx, g, c)
	})
	c := mustClient(t, tr, ClientConfig{Consent: ConsentFunc(func(context.Context) bool { return allowed.Load() })})
	req := &wire.Message{Kind: wire.KindFitRequest, Round: 1, Tensors: [][]float64{{0, 0}}}
	if _, err := c.Handle(t.Context(), req); !errors.Is(err, ErrDeclined) {
		t.Fatalf("Handle = %v, want ErrDeclined", err)
	}
	if _, err := c.Handle(t.Context(), req); !errors.Is(err, ErrDeclined) {
		t.Fatalf("Handle without consent = %v, want ErrDeclined", err)
	}
	if s := c.Stats(); s.Trained != 0 || s.Declined != 2 {
		t.Errorf("stats %+v", s)
	}
}

func TestClientClipsUpdates(t *testing.T) {
	c := mustClient(t, shift(3, 1), ClientConfig{ClipNorm: 10})
	req := &wire.Message{Kind: wire.KindFitRequest, Round: 1, Tensors: [][]float64{make([]float64, 100)},
		Config: configToWire(TrainConfig{}, 2)}
	r, err := c.Handle(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	// The update (norm 30) is clipped to the server's smaller bound 2.
	if n := dp.L2Norm(r.Tensors[0]); math.Abs(n-2) > 1e-12 {
		t.Errorf("update norm %v, want 2", n)
	}
}

func TestCentralDPNoise(t *testing.T) {
	const n, m, clip, z = 200000, 4, 0.5, 2.0
	srv := mustServer(t, ServerConfig{
		Params: make([]float64, n), Rounds: 1, FractionFit: 1,
		Privacy: &DPConfig{ClipNorm: clip, NoiseMultiplier: z},
	})
	for i := range m {
		srv.Attach(Local(fmt.Sprint(i), mustClient(t, shift(0, 1), ClientConfig{})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	p := srv.Params()
	var sum, sq float64
	for _, v := range p {
		sum += v
		sq += v * v
	}
	mean := sum / n
	std := math.Sqrt(sq/n - mean*mean)
	want := z * clip / m
	if math.Abs(std-want) > 0.01*want || math.Abs(mean) > 5*want/math.Sqrt(n) {
		t.Errorf("noise mean %.4g std %.4g, want 0 and z·S/m = %.4g", mean, std, want)
	}
	r := srv.History()[0]
	if r.NoiseMultiplier != z || r.SampleRate != 1 {
		t.Errorf("record %+v", r)
	}
	var acct dp.Accountant
	acct.Step(1, z)
	if eps, _, _ := acct.Epsilon(1e-5); r.Epsilon != eps || eps <= 0 {
		t.Errorf("ε = %v, want %v from the accountant", r.Epsilon, eps)
	}
}

func TestDPNeedsMeanStrategy(t *testing.T) {
	_, err := NewServer(ServerConfig{Params: []float64{0}, Strategy: Median{}, Privacy: &DPConfig{ClipNorm: 1, NoiseMultiplier: 1}})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("NewServer = %v, want ErrConfig", err)
	}
}

func TestCheckpointResume(t *testing.T) {
	d := synthetic(400, 5, 3, 4)
	m := mustMLP(CrossEntropy, 5, 6, 3)
	parts, _ := PartitionIID(d.Len(), 6, 1)
	attach := func(srv *Server) {
		for i, p := range parts {
			tr, _ := m.Trainer(d.Subset(p), uint64(i))
			srv.Attach(Local(fmt.Sprint("c", i), mustClient(t, tr, ClientConfig{})))
		}
	}
	cfg := func(dir string, rounds int) ServerConfig {
		return ServerConfig{
			Params: m.Init(1), Rounds: rounds, PerRound: 3, Seed: 9, CheckpointDir: dir,
			Strategy: &FedAvgM{Momentum: 0.5},
			Train:    TrainConfig{BatchSize: 10, LearningRate: 0.1},
		}
	}
	// Uninterrupted: 6 rounds.
	ref := mustServer(t, cfg("", 6))
	attach(ref)
	if err := ref.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Interrupted after 3 rounds, then a new server process resumes.
	dir := t.TempDir()
	first := mustServer(t, cfg(dir, 3))
	attach(first)
	if err := first.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	second := mustServer(t, cfg(dir, 6))
	if second.Round() != 3 || len(second.History()) != 3 {
		t.Fatalf("resumed at round %d with %d records, want 3", second.Round(), len(second.History()))
	}
	attach(second)
	if err := second.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(second.Params(), ref.Params()) {
		t.Error("resumed run differs from the uninterrupted one")
	}
	if h := second.History(); len(h) != 6 || h[5].Round != 6 {
		t.Errorf("history has %d records", len(h))
	}
	// A checkpoint for a different model is refused.
	if _, err := NewServer(ServerConfig{Params: []float64{1, 2}, CheckpointDir: dir}); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("mismatched resume: %v, want ErrCheckpoint", err)
	}
}

func TestQuorumMissedKeepsModel(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{5}, Rounds: 2, FractionFit: 1, MinCohort: 2})
	fail := TrainFunc(func(context.Context, []float64, TrainConfig) (TrainResult, error) {
		return TrainResult{}, errors.New("disk on fire")
	})
	srv.Attach(Local("a", mustClient(t, fail, ClientConfig{})))
	srv.Attach(Local("b", mustClient(t, fail, ClientConfig{})))
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.History() {
		if r.Released() || r.Failed != 2 {
			t.Errorf("record %+v", r)
		}
	}
	if srv.Params()[0] != 5 {
		t.Errorf("params %v", srv.Params())
	}
}

func TestServerConfigErrors(t *testing.T) {
	for name, cfg := range map[string]ServerConfig{
		"no params":   {},
		"nan params":  {Params: []float64{math.NaN()}},
		"frac":        {Params: []float64{0}, FractionFit: 1.5},
		"quorum":      {Params: []float64{0}, Quorum: 1, MinCohort: 2},
		"per round":   {Params: []float64{0}, PerRound: 1},
		"dp":          {Params: []float64{0}, Privacy: &DPConfig{ClipNorm: 1}},
		"neg timeout": {Params: []float64{0}, RoundTimeout: -1},
	} {
		if _, err := NewServer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", name, err)
		}
	}
}

func TestSelectNth(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for trial := range 2000 {
		n := 1 + rng.IntN(40)
		a := make([]float64, n)
		for i := range a {
			a[i] = float64(rng.IntN(10)) // many ties
		}
		sorted := slices.Sorted(slices.Values(a))
		k := rng.IntN(n)
		selectNth(a, k)
		if a[k] != sorted[k] {
			t.Fatalf("trial %d: a[%d] = %v, want %v", trial, k, a[k], sorted[k])
		}
		for i := range k {
			if a[i] > a[k] {
				t.Fatalf("trial %d: a[%d]=%v > a[k]=%v", trial, i, a[i], a[k])
			}
		}
		for i := k + 1; i < n; i++ {
			if a[i] < a[k] {
				t.Fatalf("trial %d: a[%d]=%v < a[k]=%v", trial, i, a[i], a[k])
			}
		}
	}
	// The trimmed mean and median agree with sorting on random columns.
	ups := benchUpdates(11, 300)
	for _, s := range []Strategy{Median{}, TrimmedMean{Trim: 0.2}} {
		g := make([]float64, 300)
		s.Aggregate(1, g, ups)
		for j := range g {
			col := make([]float64, len(ups))
			for i, u := range ups {
				col[i] = u.Delta[j]
			}
			slices.Sort(col)
			want := col[5]
			if _, ok := s.(TrimmedMean); ok {
				want = 0
				for _, v := range col[2:9] {
					want += v
				}
				want /= 7
			}
			if math.Abs(g[j]-want) > 1e-15 {
				t.Fatalf("%T coordinate %d: %v, want %v", s, j, g[j], want)
			}
		}
	}
}

func TestFederatedEvaluation(t *testing.T) {
	d := synthetic(600, 4, 3, 8)
	m := SoftmaxRegression(4, 3)
	parts, _ := PartitionIID(d.Len(), 6, 1)
	srv := mustServer(t, ServerConfig{
		Params: m.Init(1), Rounds: 4, FractionFit: 0.5, EvalEvery: 2, FractionEval: 1,
		Train: TrainConfig{BatchSize: 10, LearningRate: 0.1},
	})
	for i, p := range parts {
		tr, _ := m.Trainer(d.Subset(p), uint64(i))
		srv.Attach(Local(fmt.Sprint(i), mustClient(t, tr, ClientConfig{ShareMetrics: true})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.History() {
		if (r.FedEval != nil) != (r.Round%2 == 0) {
			t.Fatalf("round %d: federated evaluation %v", r.Round, r.FedEval)
		}
		if r.FedEval == nil {
			continue
		}
		// Every client evaluated: the weighted mean is the whole set's score.
		want, _ := m.Evaluate(t.Context(), srv.Params(), d)
		if r.Round == 4 && (r.FedEval.Samples != 600 || math.Abs(r.FedEval.Accuracy-want.Accuracy) > 1e-12) {
			t.Errorf("federated %+v, centralized %+v", r.FedEval, want)
		}
	}
}

// TestServerOwnsItsCopies checks that the server copies what a caller
// might change or read concurrently: the DP configuration it is given and
// the records History returns.
func TestServerOwnsItsCopies(t *testing.T) {
	dpc := &DPConfig{ClipNorm: 1, NoiseMultiplier: 1}
	srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, FractionFit: 1, PlaintextUpdates: true, Privacy: dpc})
	dpc.Delta = 0.5 // after NewServer: must not change the server's δ
	for i := range 3 {
		srv.Attach(Local(fmt.Sprint(i), mustClient(t, TrainFunc(func(_ context.Context, g []float64, _ TrainConfig) (TrainResult, error) {
			return TrainResult{Params: []float64{g[0] + 1}, Samples: 1, Metrics: Metrics{"loss": 1}}, nil
		}), ClientConfig{ShareMetrics: true})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	h := srv.History()
	if h[0].Delta != 1e-5 {
		t.Errorf("δ = %v: the server used the caller's DPConfig after NewServer", h[0].Delta)
	}
	h[0].Train["loss"] = 99
	if srv.History()[0].Train["loss"] != 1 {
		t.Error("History shares its metrics with the server's records")
	}
}
