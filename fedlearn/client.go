package fedlearn

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-wot/hearth/fedlearn/dp"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// Consent decides whether a client may take part in federated learning
// right now. The embedder supplies it, typically backed by a consent
// ledger: "does the household still consent to its data being used for
// this purpose?". It is asked before every training or evaluation request
// and again before a trained update is sent, so a withdrawal during
// training means nothing leaves. It may be called concurrently.
type Consent interface {
	Allowed(ctx context.Context) bool
}

// ConsentFunc adapts a function to the Consent interface.
//
// A ConsentFunc is safe for concurrent use when the function is, which
// Consent requires.
type ConsentFunc func(ctx context.Context) bool

// Allowed returns f(ctx).
func (f ConsentFunc) Allowed(ctx context.Context) bool { return f(ctx) }

// ClientConfig configures a Client. The zero value trains with the
// server's hyperparameters, always consents, clips only to the bound the
// server asks for (a server asks under secure aggregation, its default,
// and under central DP) and shares no metrics.
//
// NewClient copies a ClientConfig, so it may be reused or changed
// afterwards; the Client keeps and calls its Consent and Logger, which must
// be safe for concurrent use.
type ClientConfig struct {
	// Train supplies defaults for the fields a server's training request
	// leaves zero.
	Train TrainConfig

	// Consent gates participation; nil means no gate (always allowed).
	Consent Consent

	// ClipNorm bounds the L2 norm of every update the client sends
	// (local − global), scaling larger updates down. Zero means no
	// client-side clipping unless the server asks for it; when both set a
	// norm, the smaller applies.
	ClipNorm float64

	// NoiseMultiplier adds local differential-privacy noise: Gaussian with
	// standard deviation NoiseMultiplier × ClipNorm per coordinate, drawn
	// from a cryptographically seeded generator, after clipping. It
	// requires ClipNorm. Zero means no local noise (central DP on the
	// server needs far less noise for the same guarantee).
	NoiseMultiplier float64

	// ShareMetrics sends the trainer's metrics (such as training loss) with
	// each update and answers federated-evaluation requests with the
	// loss, accuracy and sample count of the model on the local data. They
	// are derived from private data and are not covered by clipping,
	// noise or secure aggregation, so the default is not to: without it
	// the client declines evaluation requests (ErrDeclined).
	ShareMetrics bool

	// Logger receives the client's logs; nil discards them.
	Logger *slog.Logger
}

// ClientStats counts what a Client has done, for monitoring.
//
// A ClientStats is a snapshot, a plain value owned by the caller of
// Client.Stats and safe for concurrent reads.
type ClientStats struct {
	// Trained is the number of updates sent.
	Trained int
	// Evaluated is the number of evaluation results sent.
	Evaluated int
	// Declined counts requests refused for want of consent or because the
	// client was busy.
	Declined int
	// Failed counts requests that ended in an error.
	Failed int
	// LastRound is the round of the last update sent.
	LastRound int
	// Connected reports whether a network connection is up (see Connect).
	Connected bool
	// Reconnects counts successful network connections after the first.
	Reconnects int
}

// Client is the participant side of federated learning: it answers the
// server's training and evaluation requests with its Trainer, on data that
// never leaves it. It runs one training at a time.
//
// A Client is safe for concurrent use.
type Client struct {
	trainer Trainer
	cfg     ClientConfig
	log     *slog.Logger
	busy    atomic.Bool

	noise *dp.Gaussian // local DP, or nil

	mu     sync.Mutex
	stats  ClientStats
	secagg *secAggRun // the secure aggregation under way, if any
}

// NewClient returns a Client that trains with t.
func NewClient(t Trainer, cfg ClientConfig) (*Client, error) {
	if t == nil {
		return nil, fmt.Errorf("%w: nil Trainer", ErrConfig)
	}
	if cfg.ClipNorm < 0 || math.IsNaN(cfg.ClipNorm) || math.IsInf(cfg.ClipNorm, 0) {
		return nil, fmt.Errorf("%w: clip norm %v", ErrConfig, cfg.ClipNorm)
	}
	if cfg.NoiseMultiplier < 0 || math.IsNaN(cfg.NoiseMultiplier) || math.IsInf(cfg.NoiseMultiplier, 0) ||
		(cfg.NoiseMultiplier > 0 && cfg.ClipNorm == 0) {
		return nil, fmt.Errorf("%w: local noise multiplier %v needs a positive ClipNorm", ErrConfig, cfg.NoiseMultiplier)
	}
	c := &Client{trainer: t, cfg: cfg, log: orDiscard(cfg.Logger)}
	if cfg.NoiseMultiplier > 0 {
		g, err := dp.NewGaussian(cfg.NoiseMultiplier, cfg.ClipNorm, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		c.noise = g
	}
	return c, nil
}

// Stats returns a snapshot of the client's counters.
func (c *Client) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stats
}

func (c *Client) count(f func(*ClientStats)) {
	c.mu.Lock()
	f(&c.stats)
	c.mu.Unlock()
}

func (c *Client) allowed(ctx context.Context) bool {
	return c.cfg.Consent == nil || c.cfg.Consent.Allowed(ctx)
}

// Handle implements Handler: it answers wire.KindFitRequest with a
// wire.KindFitResult carrying the clipped update (or, in a
// secure-aggregation round, an acknowledgement, the masked update following
// in the wire.KindSecAgg exchanges it then answers), and
// wire.KindEvaluateRequest with a wire.KindEvaluateResult. Other kinds
// are a protocol error. Refusals return errors wrapping ErrDeclined.
func (c *Client) Handle(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	switch req.Kind {
	case wire.KindFitRequest:
		return c.fit(ctx, req)
	case wire.KindEvaluateRequest:
		return c.evaluate(ctx, req)
	case wire.KindSecAgg:
		return c.secAggStep(ctx, req)
	}
	return nil, fmt.Errorf("%w: client cannot handle %v", ErrProtocol, req.Kind)
}

func (c *Client) decline(why string, round uint64) error {
	c.count(func(s *ClientStats) { s.Declined++ })
	c.log.Info("fedlearn: declined", "round", round, "reason", why)
	return fmt.Errorf("%w: %s", ErrDeclined, why)
}

func (c *Client) fit(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	if !c.allowed(ctx) {
		return nil, c.decline("no consent", req.Round)
	}
	if !c.busy.CompareAndSwap(false, true) {
		return nil, c.decline("busy with another round", req.Round)
	}
	defer c.busy.Store(false)
	if len(req.Tensors) != 1 {
		return nil, fmt.Errorf("%w: fit request with %d tensors", ErrProtocol, len(req.Tensors))
	}
	global := req.Tensors[0]
	cfg, clip, err := configFromWire(req.Round, req.Config)
	if err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults(c.cfg.Train)
	start := time.Now()
	res, err := c.trainer.Train(ctx, global, cfg)
	if err != nil {
		c.count(func(s *ClientStats) { s.Failed++ })
		return nil, err
	}
	if len(res.Params) != len(global) {
		c.count(func(s *ClientStats) { s.Failed++ })
		return nil, fmt.Errorf("%w: trainer returned %d parameters for %d", ErrModel, len(res.Params), len(global))
	}
	if res.Samples <= 0 || !finite(res.Params) {
		c.count(func(s *ClientStats) { s.Failed++ })
		return nil, fmt.Errorf("%w: local training diverged or saw no samples", ErrBadUpdate)
	}
	delta := res.Params // reuse: the trainer handed it over
	for i, g := range global {
		delta[i] -= g
	}
	if c.cfg.ClipNorm > 0 && (clip == 0 || c.cfg.ClipNorm < clip) {
		clip = c.cfg.ClipNorm
	}
	norm := dp.L2Norm(delta)
	if clip > 0 {
		if _, err := dp.ClipL2(delta, clip); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadUpdate, err)
		}
	}
	if c.noise != nil {
		// Local DP: noise z·S on this client's update alone (m = 1).
		if err := c.noise.AddNoise(delta, 1); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadUpdate, err)
		}
	}
	// Consent may have been withdrawn while training: check again, so that
	// nothing derived from the data leaves after a withdrawal.
	if !c.allowed(ctx) {
		return nil, c.decline("consent withdrawn during training", req.Round)
	}
	out := &wire.Message{
		Kind: wire.KindFitResult, Seq: req.Seq, Round: req.Round, Samples: uint64(res.Samples),
		DType: req.DType, Tensors: [][]float64{delta},
	}
	if sa, _ := req.Config[keySecAgg].(bool); sa {
		// Secure aggregation: keep the update for masking and answer with
		// a bare acknowledgement (no tensor, no sample count).
		if err := c.prepareSecAgg(req, delta, res.Samples); err != nil {
			return nil, err
		}
		out.Tensors, out.Samples = nil, 0
	}
	if c.cfg.ShareMetrics && len(res.Metrics) > 0 {
		out.Metrics = res.Metrics.Clone()
	}
	c.count(func(s *ClientStats) { s.Trained++; s.LastRound = int(req.Round) })
	c.log.Debug("fedlearn: trained", "round", req.Round, "samples", res.Samples, "norm", norm, "took", time.Since(start))
	return out, nil
}

func (c *Client) evaluate(ctx context.Context, req *wire.Message) (*wire.Message, error) {
	if !c.cfg.ShareMetrics {
		// An evaluation result is this client's loss, accuracy and sample
		// count, in the clear: like training metrics, it is shared only
		// by choice.
		return nil, c.decline("does not share metrics", req.Round)
	}
	ev, ok := c.trainer.(Evaluator)
	if !ok {
		return nil, c.decline("trainer cannot evaluate", req.Round)
	}
	if !c.allowed(ctx) {
		return nil, c.decline("no consent", req.Round)
	}
	if len(req.Tensors) != 1 {
		return nil, fmt.Errorf("%w: evaluate request with %d tensors", ErrProtocol, len(req.Tensors))
	}
	r, err := ev.Evaluate(ctx, req.Tensors[0])
	if err != nil {
		c.count(func(s *ClientStats) { s.Failed++ })
		return nil, err
	}
	if r.Samples <= 0 || !finite([]float64{r.Loss, r.Accuracy}) {
		return nil, fmt.Errorf("%w: evaluation produced no finite result", ErrBadUpdate)
	}
	c.count(func(s *ClientStats) { s.Evaluated++ })
	return &wire.Message{
		Kind: wire.KindEvaluateResult, Seq: req.Seq, Round: req.Round, Samples: uint64(r.Samples),
		Metrics: map[string]float64{"loss": r.Loss, "accuracy": r.Accuracy},
	}, nil
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
