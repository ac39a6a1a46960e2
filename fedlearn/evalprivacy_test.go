package fedlearn

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// TestFederatedEvalNeedsShareMetrics checks that a client reports its
// evaluation loss, accuracy and sample count only when it shares metrics.
func TestFederatedEvalNeedsShareMetrics(t *testing.T) {
	d := synthetic(600, 4, 3, 8)
	m := SoftmaxRegression(4, 3)
	parts, _ := PartitionIID(d.Len(), 6, 1)
	srv := mustServer(t, ServerConfig{
		Params: m.Init(1), Rounds: 1, FractionFit: 0.5, EvalEvery: 1, FractionEval: 1,
		Train: TrainConfig{BatchSize: 10, LearningRate: 0.1},
	})
	var sharing, private []*Client
	shared := 0
	for i, p := range parts {
		tr, _ := m.Trainer(d.Subset(p), uint64(i))
		c := mustClient(t, tr, ClientConfig{ShareMetrics: i%2 == 0})
		if i%2 == 0 {
			sharing = append(sharing, c)
			shared += len(p)
		} else {
			private = append(private, c)
		}
		srv.Attach(Local(fmt.Sprint(i), c))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	r := srv.History()[0]
	if r.FedEval == nil || r.FedEval.Samples != shared || r.FedEval.Metrics["clients"] != 3 {
		t.Fatalf("federated evaluation %+v, want the %d samples of the 3 sharing clients", r.FedEval, shared)
	}
	for _, c := range private {
		if s := c.Stats(); s.Evaluated != 0 || s.Declined == 0 {
			t.Errorf("a client that shares no metrics evaluated: %+v", s)
		}
	}
	for _, c := range sharing {
		if s := c.Stats(); s.Evaluated != 1 {
			t.Errorf("a sharing client did not evaluate: %+v", s)
		}
	}
}

// TestRoundRecordPublic checks what the history endpoint may show.
func TestRoundRecordPublic(t *testing.T) {
	start := time.Now()
	r := RoundRecord{
		Round: 7, Start: start, Duration: time.Second, Available: 10, Sampled: 4, Accepted: 3,
		Rejected: 1, Declined: 1, Failed: 1, Late: 1, Err: "",
		Train:             Metrics{"loss": 0.5},
		Eval:              &EvalResult{Loss: 0.4, Accuracy: 0.9, Samples: 100, Metrics: Metrics{"mae": 1}},
		FedEval:           &EvalResult{Loss: 0.3, Accuracy: 0.8, Samples: 50},
		SecureAggregation: true, NoiseMultiplier: 1.1, SampleRate: 0.4, Epsilon: 2, Delta: 1e-5,
	}
	want := RoundRecord{
		Round: 7, Start: start, Duration: time.Second, Available: 10, Sampled: 4, Accepted: 3,
		Eval:              &EvalResult{Loss: 0.4, Accuracy: 0.9, Samples: 100, Metrics: Metrics{"mae": 1}},
		SecureAggregation: true, NoiseMultiplier: 1.1, SampleRate: 0.4, Epsilon: 2, Delta: 1e-5,
	}
	got := r.Public()
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	if string(a) != string(b) {
		t.Errorf("Public() = %s\nwant       %s", a, b)
	}
	got.Eval.Metrics["mae"] = 2
	if r.Eval.Metrics["mae"] != 1 {
		t.Error("Public shares the evaluation's metrics with the record")
	}
}

// TestHistoryEndpointIsPublic checks that /v1/history, readable by every
// client, carries no per-client or undisclosed metrics, while the server's
// own History keeps them.
func TestHistoryEndpointIsPublic(t *testing.T) {
	d := synthetic(300, 4, 3, 2)
	m := SoftmaxRegression(4, 3)
	parts, _ := PartitionIID(d.Len(), 3, 1)
	srv := mustServer(t, ServerConfig{
		Params: m.Init(1), Rounds: 1, FractionFit: 1, EvalEvery: 1, PlaintextUpdates: true,
		Train: TrainConfig{BatchSize: 10, LearningRate: 0.1},
	})
	env := startNet(t, srv, testTokens(3), HTTPConfig{}, nil)
	i := 0
	for tok := range env.tokens {
		tr, _ := m.Trainer(d.Subset(parts[i]), uint64(i))
		connect(t, mustClient(t, tr, ClientConfig{ShareMetrics: true}), env.ts.URL, tok)
		i++
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if r := srv.History()[0]; r.Train == nil || r.FedEval == nil {
		t.Fatalf("the server's own record lacks the shared metrics: %+v", r)
	}
	req, _ := http.NewRequest("GET", env.ts.URL+PathHistory, nil)
	req.Header.Set("Authorization", "Bearer secret-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var hist []map[string]any
	err = json.NewDecoder(resp.Body).Decode(&hist)
	resp.Body.Close()
	if err != nil || len(hist) != 1 {
		t.Fatalf("history %v, err %v", hist, err)
	}
	for _, key := range []string{"train", "fed_eval", "rejected", "declined", "failed", "late"} {
		if _, ok := hist[0][key]; ok {
			t.Errorf("history endpoint publishes %q: %v", key, hist[0])
		}
	}
	for _, key := range []string{"round", "accepted", "sampled", "available"} {
		if _, ok := hist[0][key]; !ok {
			t.Errorf("history endpoint lacks %q: %v", key, hist[0])
		}
	}
}

// TestFederatedEvalMaxSamples checks that one client cannot dominate the
// federated evaluation by claiming an implausible number of samples.
func TestFederatedEvalMaxSamples(t *testing.T) {
	srv := mustServer(t, ServerConfig{Params: []float64{0}, Rounds: 1, FractionFit: 1, EvalEvery: 1, PlaintextUpdates: true})
	for i := range 4 {
		claim := uint64(10)
		if i == 0 {
			claim = DefaultMaxSamples + 1
		}
		srv.Attach(Local(fmt.Sprint(i), handlerFunc(func(_ context.Context, req *wire.Message) (*wire.Message, error) {
			if req.Kind == wire.KindEvaluateRequest {
				return &wire.Message{Kind: wire.KindEvaluateResult, Round: req.Round, Samples: claim, Metrics: map[string]float64{"loss": 1, "accuracy": 0.5}}, nil
			}
			return &wire.Message{Kind: wire.KindFitResult, Round: req.Round, Samples: 10, Tensors: [][]float64{{1}}}, nil
		})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if e := srv.History()[0].FedEval; e == nil || e.Samples != 30 || e.Metrics["clients"] != 3 {
		t.Errorf("federated evaluation %+v, want the 3 plausible results only", e)
	}
}
