package fedlearn

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// TestMNISTFederated is the CI-sized MNIST check: the paper's 2NN trained
// with FedAvg over 20 IID clients of 600 examples, 5 per round, must pass
// 90% test accuracy within 15 rounds. It runs when ../shared/data/mnist is
// present, without -short and without -race: under the race detector it
// takes about 40 s instead of 6 s, so CI runs it in a separate step,
//
//	go test -count=1 -run TestMNISTFederated ./fedlearn/
func TestMNISTFederated(t *testing.T) {
	if testing.Short() {
		t.Skip("MNIST check skipped in -short mode")
	}
	if raceEnabled {
		t.Skip("MNIST check skipped under -race (40 s); CI runs it without: go test -count=1 -run TestMNISTFederated ./fedlearn/")
	}
	start := time.Now()
	train, test, err := LoadMNIST(sharedData(t, "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded MNIST in %v", time.Since(start))
	train, _ = train.Split(12000)
	test, _ = test.Split(2000)
	m := TwoNN()
	parts, err := PartitionIID(train.Len(), 20, 1)
	if err != nil {
		t.Fatal(err)
	}
	best := 0.0
	srv := mustServer(t, ServerConfig{
		Params: m.Init(1), Rounds: 15, PerRound: 5, Seed: 1,
		Train: TrainConfig{Epochs: 1, BatchSize: 10, LearningRate: 0.2},
		Evaluate: func(ctx context.Context, _ int, p []float64) (EvalResult, error) {
			return m.Evaluate(ctx, p, test)
		},
		Stop: func(r RoundRecord) bool {
			best = max(best, r.Eval.Accuracy)
			return r.Eval.Accuracy >= 0.9
		},
	})
	for i, p := range parts {
		tr, err := m.Trainer(train.Subset(p), uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		srv.Attach(Local(fmt.Sprint("c", i), mustClient(t, tr, ClientConfig{})))
	}
	if err := srv.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	if best < 0.9 {
		t.Errorf("best test accuracy %.4f after %d rounds, want >= 0.9", best, srv.Round())
	}
	t.Logf("reached %.4f in %d rounds", best, srv.Round())
}
