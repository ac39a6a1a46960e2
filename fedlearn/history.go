package fedlearn

import (
	"time"
)

// RoundRecord describes one finished round: who took part, what was
// accepted, how the model scored and what privacy it spent. The server
// keeps one per round (see Server.History) and checkpoints them, so a
// dashboard can chart a whole training run.
type RoundRecord struct {
	// Round is the round number, starting at 1.
	Round int `json:"round"`
	// Start is when the round began and Duration how long it took.
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"duration_ns"`
	// Available is K, the number of connected clients when the cohort was
	// sampled, and Sampled is m, the cohort size.
	Available int `json:"available"`
	Sampled   int `json:"sampled"`
	// Accepted updates went into the aggregate. Rejected ones were
	// malformed (wrong length, NaN or Inf, no samples); Declined clients
	// refused (no consent, busy); Failed ones reported an error or
	// disconnected; Late replies missed the deadline and were dropped.
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected,omitempty"`
	Declined int `json:"declined,omitempty"`
	Failed   int `json:"failed,omitempty"`
	Late     int `json:"late,omitempty"`
	// Err is empty when the round released a new model; otherwise it says
	// why not (for example a missed quorum) and the model is unchanged.
	Err string `json:"error,omitempty"`
	// Train holds the sample-weighted mean of the training metrics the
	// clients chose to share (see ClientConfig.ShareMetrics).
	Train Metrics `json:"train,omitempty"`
	// Eval is the centralized evaluation of the new model (ServerConfig.Evaluate).
	Eval *EvalResult `json:"eval,omitempty"`
	// FedEval is the sample-weighted federated evaluation on clients' data.
	FedEval *EvalResult `json:"fed_eval,omitempty"`
	// SecureAggregation reports that the server saw only the sum of the
	// updates.
	SecureAggregation bool `json:"secure_aggregation,omitempty"`
	// NoiseMultiplier and SampleRate are the central-DP parameters of this
	// round (z and q = m/K); Epsilon is the cumulative ε spent so far at
	// Delta, as computed by the RDP accountant. All zero without central DP.
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty"`
	SampleRate      float64 `json:"sample_rate,omitempty"`
	Epsilon         float64 `json:"epsilon,omitempty"`
	Delta           float64 `json:"delta,omitempty"`
}

// Released reports whether the round produced a new global model.
func (r RoundRecord) Released() bool { return r.Err == "" }

// Accuracy returns the centralized evaluation accuracy, or the federated
// one when there is no centralized evaluation, or -1 when neither ran.
func (r RoundRecord) Accuracy() float64 {
	switch {
	case r.Eval != nil:
		return r.Eval.Accuracy
	case r.FedEval != nil:
		return r.FedEval.Accuracy
	}
	return -1
}
