package fedlearn

import (
	"context"
	"maps"
	"slices"
)

// Trainer is a client's model: it trains locally, starting from the global
// parameters, on data that never leaves the client.
//
// Train must not retain or modify global. It returns the locally trained
// parameters (a vector of the same length), the number of examples they
// were trained on (the weight of this client in sample-weighted
// aggregation) and optional metrics. It should return promptly with
// ctx.Err() when ctx is cancelled. The package never calls Train
// concurrently on the same Client, so implementations need not be safe for
// concurrent use unless they are shared between clients.
type Trainer interface {
	Train(ctx context.Context, global []float64, cfg TrainConfig) (TrainResult, error)
}

// Evaluator is an optional Trainer capability: evaluating parameters on the
// client's local data, for federated evaluation. A Trainer without it
// declines evaluation requests. Evaluate may be called concurrently with
// Train and must not retain or modify params.
type Evaluator interface {
	Evaluate(ctx context.Context, params []float64) (EvalResult, error)
}

// TrainFunc adapts an ordinary function to the Trainer interface.
//
// A TrainFunc is safe for concurrent use when the function is; see Trainer
// for when that matters.
type TrainFunc func(ctx context.Context, global []float64, cfg TrainConfig) (TrainResult, error)

// Train calls f(ctx, global, cfg).
func (f TrainFunc) Train(ctx context.Context, global []float64, cfg TrainConfig) (TrainResult, error) {
	return f(ctx, global, cfg)
}

// TrainConfig holds the local-training hyperparameters of one round. The
// server sends it with every training request; a Client fills its zero
// fields from its own defaults. The zero value means one epoch of
// full-batch gradient descent at DefaultLearningRate.
//
// A TrainConfig is a plain value, safe for concurrent use.
type TrainConfig struct {
	// Round is the server's round number, starting at 1.
	Round int
	// Epochs is E, the number of passes over the local data; zero means 1.
	Epochs int
	// BatchSize is B; zero or negative means the whole local dataset
	// (the paper's B = ∞).
	BatchSize int
	// LearningRate is the SGD step size; zero means DefaultLearningRate.
	LearningRate float64
	// Momentum is the heavy-ball momentum coefficient in [0,1); zero means
	// plain SGD.
	Momentum float64
	// ProxMu is FedProx's proximal coefficient μ: the local objective gains
	// (μ/2)·‖w − w_global‖². Zero means plain FedAvg.
	ProxMu float64
	// Seed makes local training deterministic; the server derives a fresh
	// one for every round.
	Seed uint64
}

// DefaultLearningRate is the learning rate used when a TrainConfig leaves
// it zero.
const DefaultLearningRate = 0.01

// withDefaults returns c with zero fields taken from d.
func (c TrainConfig) withDefaults(d TrainConfig) TrainConfig {
	if c.Epochs == 0 {
		c.Epochs = d.Epochs
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.LearningRate == 0 {
		c.LearningRate = d.LearningRate
	}
	if c.Momentum == 0 {
		c.Momentum = d.Momentum
	}
	if c.ProxMu == 0 {
		c.ProxMu = d.ProxMu
	}
	return c
}

// TrainResult is what local training produces.
//
// A TrainResult is plain data handed from a Trainer to its Client, which
// takes ownership of Params; it is not safe for a write concurrent with any
// other use.
type TrainResult struct {
	// Params are the locally trained parameters.
	Params []float64
	// Samples is the number of local examples trained on (positive).
	Samples int
	// Metrics are optional training metrics such as "loss".
	Metrics Metrics
}

// EvalResult is the outcome of evaluating parameters on a dataset.
//
// An EvalResult is plain data: safe for concurrent reads, not for a write
// concurrent with any other use.
type EvalResult struct {
	// Samples is the number of examples evaluated.
	Samples int `json:"samples"`
	// Loss is the mean loss (cross-entropy or mean squared error).
	Loss float64 `json:"loss"`
	// Accuracy is the fraction classified correctly; zero for regression.
	Accuracy float64 `json:"accuracy"`
	// Metrics holds further named metrics (for regression "mae", "rmse").
	Metrics Metrics `json:"metrics,omitempty"`
}

// Metrics are named scalar measurements. Names are short lower-case words
// ("loss", "accuracy", "mae"). Like any map, Metrics must not be written
// concurrently.
type Metrics map[string]float64

// Clone returns a copy of m.
func (m Metrics) Clone() Metrics { return maps.Clone(m) }

// Keys returns the metric names in sorted order.
func (m Metrics) Keys() []string { return slices.Sorted(maps.Keys(m)) }

// finite reports whether every element of v is a finite number.
func finite(v []float64) bool {
	for _, x := range v {
		if x-x != 0 { // NaN - NaN and ±Inf - ±Inf are NaN
			return false
		}
	}
	return true
}
