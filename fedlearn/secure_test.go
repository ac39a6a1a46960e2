package fedlearn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// vecTrainer adds a fixed vector to the global parameters.
func vecTrainer(d []float64, samples int) TrainFunc {
	return func(_ context.Context, g []float64, _ TrainConfig) (TrainResult, error) {
		p := make([]float64, len(g))
		for i := range p {
			p[i] = g[i] + d[i]
		}
		return TrainResult{Params: p, Samples: samples}, nil
	}
}

// dropAt makes a client vanish when the secure aggregation reaches the
// given server message.
func dropAt(c *Client, stage func(secagg.Message) bool) Handler {
	return handlerFunc(func(ctx context.Context, req *wire.Message) (*wire.Message, error) {
		if req.Kind == wire.KindSecAgg && stage(req.SecAgg) {
			return nil, errors.New("connection lost")
		}
		return c.Handle(ctx, req)
	})
}

func atInbox(m secagg.Message) bool  { _, ok := m.(*secagg.Inbox); return ok }
func atRoster(m secagg.Message) bool { _, ok := m.(*secagg.Roster); return ok }
func atUnmask(m secagg.Message) bool { _, ok := m.(*secagg.UnmaskRequest); return ok }

func TestSecureAggregationEqualsPlainSum(t *testing.T) {
	const k, n = 10, 257
	deltas := make([][]float64, k)
	for i := range deltas {
		deltas[i] = make([]float64, n)
		for j := range deltas[i] {
			deltas[i][j] = 0.05 * math.Sin(float64(i*n+j))
		}
	}
	for _, tc := range []struct {
		name    string
		drop    map[int]func(secagg.Message) bool // client → stage it vanishes at
		weights bool
	}{
		{"no dropouts", nil, false},
		{"one dropout", map[int]func(secagg.Message) bool{3: atInbox}, false},
		{"30% dropouts", map[int]func(secagg.Message) bool{1: atRoster, 4: atInbox, 8: atInbox}, false},
		{"dropout while unmasking", map[int]func(secagg.Message) bool{6: atUnmask}, false},
		{"sample weighted", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ServerConfig{
				Params: make([]float64, n), Rounds: 1, FractionFit: 1, MinCohort: 3,
				SecureAggregation: &SecAggConfig{ClipNorm: 10},
			}
			if tc.weights {
				cfg.MaxSamples = 100
			}
			srv := mustServer(t, cfg)
			for i := range k {
				c := mustClient(t, vecTrainer(deltas[i], 10*(i+1)), ClientConfig{})
				h := Handler(c)
				if st := tc.drop[i]; st != nil {
					h = dropAt(c, st)
				}
				srv.Attach(Local(fmt.Sprintf("c%02d", i), h))
			}
			if err := srv.Run(t.Context()); err != nil {
				t.Fatal(err)
			}
			r := srv.History()[0]
			if !r.Released() || !r.SecureAggregation {
				t.Fatalf("record %+v", r)
			}
			// Clients that vanish before sending their masked input are
			// left out; one that vanishes while unmasking is still in.
			var want = make([]float64, n)
			var wsum float64
			in := 0
			for i := range k {
				if st := tc.drop[i]; st != nil && !st(&secagg.UnmaskRequest{}) {
					continue
				}
				w := 1.0
				if tc.weights {
					w = float64(10*(i+1)) / 100
				}
				for j := range want {
					want[j] += w * deltas[i][j]
				}
				wsum += w
				in++
			}
			if r.Accepted != in {
				t.Errorf("accepted %d, want %d", r.Accepted, in)
			}
			got := srv.Params()
			tol := float64(k) / (1 << 24) // the quantizer's resolution, generously
			for j := range want {
				if w := want[j] / wsum; math.Abs(got[j]-w) > tol {
					t.Fatalf("coordinate %d: %v, want %v (±%g)", j, got[j], w, tol)
				}
			}
		})
	}
}

func TestSecureAggregationTooManyDropouts(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 4), Rounds: 1, FractionFit: 1, MinCohort: 3,
		SecureAggregation: &SecAggConfig{ClipNorm: 1}})
	for i := range 4 {
		c := mustClient(t, shift(0.1, 1), ClientConfig{})
		h := Handler(c)
		if i < 2 {
			h = dropAt(c, atInbox)
		}
		srv.Attach(Local(fmt.Sprint(i), h))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := srv.History()[0]; r.Released() || srv.Params()[0] != 0 {
		t.Errorf("released with 2 of minimum 3: %+v", r)
	}
}

func TestSecureAggregationConsentWithdrawnBeforeMasking(t *testing.T) {
	var calls atomic.Int32
	consent := ConsentFunc(func(context.Context) bool {
		return calls.Add(1) <= 2 // allowed for training, withdrawn before the masked update
	})
	srv := mustServer(t, ServerConfig{Params: make([]float64, 3), Rounds: 1, FractionFit: 1, MinCohort: 3,
		SecureAggregation: &SecAggConfig{ClipNorm: 1}})
	for i := range 3 {
		srv.Attach(Local(fmt.Sprint("ok", i), mustClient(t, shift(0.25, 1), ClientConfig{})))
	}
	revoker := mustClient(t, shift(0.9, 1), ClientConfig{Consent: consent})
	srv.Attach(Local("revoker", revoker))
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := srv.History()[0]; r.Accepted != 3 {
		t.Errorf("accepted %d, want 3", r.Accepted)
	}
	if p := srv.Params()[0]; math.Abs(p-0.25) > 1e-6 {
		t.Errorf("param %v: the withdrawn update must not be in the sum", p)
	}
	if s := revoker.Stats(); s.Declined != 1 {
		t.Errorf("revoker stats %+v", s)
	}
}

func TestSecureAggregationWithDP(t *testing.T) {
	const n = 50000
	srv := mustServer(t, ServerConfig{Params: make([]float64, n), Rounds: 1, FractionFit: 1, MinCohort: 3,
		Privacy:           &DPConfig{ClipNorm: 1, NoiseMultiplier: 1},
		SecureAggregation: &SecAggConfig{}})
	for i := range 4 {
		srv.Attach(Local(fmt.Sprint(i), mustClient(t, shift(0, 1), ClientConfig{})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := srv.History()[0]
	if !r.Released() || r.Epsilon <= 0 || !r.SecureAggregation {
		t.Fatalf("record %+v", r)
	}
	var sq float64
	for _, v := range srv.Params() {
		sq += v * v
	}
	if std := math.Sqrt(sq / n); math.Abs(std-0.25) > 0.01 {
		t.Errorf("noise std %v, want z·S/m = 0.25", std)
	}
}

func TestNetworkSecureAggregation(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: make([]float64, 1000), Rounds: 2, FractionFit: 1, MinAvailable: 4, MinCohort: 3,
		SecureAggregation: &SecAggConfig{ClipNorm: 100}})
	env := startNet(t, srv, testTokens(4), HTTPConfig{}, nil)
	for tok := range env.tokens {
		connect(t, mustClient(t, shift(0.5, 1), ClientConfig{}), env.ts.URL, tok)
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, r := range srv.History() {
		if !r.Released() || r.Accepted != 4 {
			t.Errorf("record %+v", r)
		}
	}
	if p := srv.Params()[0]; math.Abs(p-1) > 1e-5 {
		t.Errorf("param %v, want 1", p)
	}
}

func TestSecureAggregationConfig(t *testing.T) {
	for name, cfg := range map[string]ServerConfig{
		"negative clip": {Params: []float64{0}, SecureAggregation: &SecAggConfig{ClipNorm: -1}},
		"infinite clip": {Params: []float64{0}, SecureAggregation: &SecAggConfig{ClipNorm: math.Inf(1)}},
		"robust":        {Params: []float64{0}, Strategy: Median{}, SecureAggregation: &SecAggConfig{ClipNorm: 1}},
	} {
		if _, err := NewServer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}
