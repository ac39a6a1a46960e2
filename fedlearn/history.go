package fedlearn

import (
	"time"
)

// RoundRecord describes one finished round: who took part, what was
// accepted, how the model scored and what privacy it spent. The server
// keeps one per round (see Server.History) and checkpoints them, so a
// dashboard can chart a whole training run.
//
// A RoundRecord is plain data: safe for concurrent reads, not for a write
// concurrent with any other use. Server.History returns deep copies the
// caller owns; the records handed to the OnRound and Stop hooks are the
// server's own and must not be modified.
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
	// clients chose to share (see ClientConfig.ShareMetrics). It is not
	// covered by differential privacy and not published (see Public).
	Train Metrics `json:"train,omitempty"`
	// Eval is the centralized evaluation of the new model (ServerConfig.Evaluate).
	Eval *EvalResult `json:"eval,omitempty"`
	// FedEval is the sample-weighted federated evaluation on the data of
	// the clients that share metrics. It is not covered by differential
	// privacy and not published (see Public).
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

// Public returns the part of r that is safe to show every client, as the
// network transport does at PathHistory: the round's timing, the cohort
// sizes K, m and n that the privacy accounting rests on, whether a model
// was released, the centralized evaluation (the embedder's own data, run
// on the released model), and the privacy parameters and ε. It leaves out
// what individual clients disclosed to the server alone and what no
// differential privacy covers: the clients' training metrics (Train), the
// federated evaluation on their data (FedEval), and the counts of
// rejected, declining, failing and late clients, which in a small cohort
// single out a household's behaviour.
func (r RoundRecord) Public() RoundRecord {
	p := RoundRecord{
		Round: r.Round, Start: r.Start, Duration: r.Duration,
		Available: r.Available, Sampled: r.Sampled, Accepted: r.Accepted,
		Err:               r.Err,
		SecureAggregation: r.SecureAggregation,
		NoiseMultiplier:   r.NoiseMultiplier, SampleRate: r.SampleRate, Epsilon: r.Epsilon, Delta: r.Delta,
	}
	if r.Eval != nil {
		e := *r.Eval
		e.Metrics = e.Metrics.Clone()
		p.Eval = &e
	}
	return p
}

// clone returns a deep copy of r.
func (r RoundRecord) clone() RoundRecord {
	r.Train = r.Train.Clone()
	for _, e := range []**EvalResult{&r.Eval, &r.FedEval} {
		if *e != nil {
			c := **e
			c.Metrics = c.Metrics.Clone()
			*e = &c
		}
	}
	return r
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
