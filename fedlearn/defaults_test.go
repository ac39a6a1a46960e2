package fedlearn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/dp"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// TestPrivateByDefault checks that a server configured with nothing but
// its parameters never sees an individual update: every round runs under
// secure aggregation, and clients clip to the default bound.
func TestPrivateByDefault(t *testing.T) {
	const n = 16
	srv := mustServer(t, ServerConfig{Params: make([]float64, n), Rounds: 2})
	var mu sync.Mutex
	var plaintext, requests int
	var clips []float64
	for i := range 4 {
		// A client with a huge update (norm 400), which must be clipped.
		c := mustClient(t, shift(100, 10), ClientConfig{})
		srv.Attach(Local(fmt.Sprint("home-", i), handlerFunc(func(ctx context.Context, req *wire.Message) (*wire.Message, error) {
			resp, err := c.Handle(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			if req.Kind == wire.KindFitRequest {
				requests++
				clip, _ := req.Config["clip"].(float64)
				clips = append(clips, clip)
			}
			if resp != nil && resp.Kind == wire.KindFitResult && len(resp.Tensors) > 0 {
				plaintext++
			}
			return resp, err
		})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if plaintext != 0 || requests == 0 {
		t.Errorf("%d of %d updates reached the server in plaintext", plaintext, requests)
	}
	for _, c := range clips {
		if c != DefaultClipNorm {
			t.Errorf("server asked clients to clip to %v, want DefaultClipNorm %v", c, DefaultClipNorm)
		}
	}
	for _, r := range srv.History() {
		if !r.SecureAggregation || !r.Released() || r.Accepted < DefaultMinCohort {
			t.Errorf("round %+v, want a securely aggregated release of at least %d clients", r, DefaultMinCohort)
		}
	}
	// Two rounds of the same clipped update: the model moved by at most
	// two clip norms.
	if norm := dp.L2Norm(srv.Params()); norm > 2*DefaultClipNorm+1e-3 {
		t.Errorf("model moved by %v, more than two clipped updates (%v)", norm, 2*DefaultClipNorm)
	}
}

// TestPlaintextOptOut checks the explicit opt-out and its consistency
// rules.
func TestPlaintextOptOut(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, FractionFit: 1, PlaintextUpdates: true})
	for i := range 3 {
		srv.Attach(Local(fmt.Sprint(i), mustClient(t, shift(50, 1), ClientConfig{})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := srv.History()[0]; r.SecureAggregation || math.Abs(srv.Params()[0]-50) > 1e-9 {
		t.Errorf("opted out, got record %+v and params %v, want a plain unclipped mean of 50", r, srv.Params())
	}
	for name, cfg := range map[string]ServerConfig{
		"robust strategy needs the opt-out": {Params: []float64{0}, Strategy: Median{}},
		"opt-out contradicts secagg":        {Params: []float64{0}, PlaintextUpdates: true, SecureAggregation: &SecAggConfig{ClipNorm: 1}},
	} {
		if _, err := NewServer(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: NewServer = %v, want ErrConfig", name, err)
		}
	}
	for _, s := range []Strategy{Median{}, TrimmedMean{}, Krum{}} {
		if _, err := NewServer(ServerConfig{Params: []float64{0}, Strategy: s, PlaintextUpdates: true}); err != nil {
			t.Errorf("%T with PlaintextUpdates: %v", s, err)
		}
	}
}

// TestDefaultMaxSamples checks that one client cannot claim the weight of
// millions of samples unless the embedder raises the bound.
func TestDefaultMaxSamples(t *testing.T) {
	for _, tc := range []struct {
		max     int
		claim   uint64
		accepts bool
	}{
		{0, DefaultMaxSamples, true},
		{0, DefaultMaxSamples + 1, false},
		{0, math.MaxInt32, false},
		{math.MaxInt32, math.MaxInt32, true},
	} {
		srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, FractionFit: 1, PlaintextUpdates: true, MaxSamples: tc.max})
		for i := range 3 {
			srv.Attach(Local(fmt.Sprint("honest", i), mustClient(t, shift(1, 100), ClientConfig{})))
		}
		srv.Attach(Local("greedy", handlerFunc(func(_ context.Context, req *wire.Message) (*wire.Message, error) {
			return &wire.Message{Kind: wire.KindFitResult, Round: req.Round, Samples: tc.claim, Tensors: [][]float64{{-1000}}}, nil
		})))
		if err := srv.Run(t.Context()); err != nil {
			t.Fatal(err)
		}
		r := srv.History()[0]
		if got := r.Rejected == 0; got != tc.accepts {
			t.Errorf("MaxSamples %d, claim %d: record %+v, accepted = %v, want %v", tc.max, tc.claim, r, got, tc.accepts)
		}
	}
}
