package fedlearn

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-wot/hearth/fedlearn/dp"
	"github.com/hearth-wot/hearth/fedlearn/secagg"
	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// ServerConfig configures a Server. Only Params is required (unless a
// checkpoint supplies them); the zero value of every other field is a
// sensible default, documented on the field.
//
// NewServer copies a ServerConfig and the DPConfig and SecAggConfig it
// points to, so it may be reused afterwards; the Server keeps and calls its
// Strategy, hooks (Evaluate, OnRound, Stop), DPConfig.Source and Logger,
// which must not be used elsewhere concurrently unless they are safe for
// concurrent use. Params is copied too.
type ServerConfig struct {
	// Params are the initial global parameters. The server keeps its own
	// copy. When CheckpointDir holds a checkpoint, its parameters win (and
	// must have the same length when Params is set).
	Params []float64

	// Rounds is the number of rounds Run performs before returning nil;
	// zero means run until the context is cancelled or Stop says so.
	Rounds int

	// FractionFit is C, the fraction of connected clients sampled each
	// round: m = max(⌈C·K⌉, MinFit). Zero means 0.1, the paper's setting.
	// Ignored when PerRound is set.
	FractionFit float64
	// PerRound, when positive, samples exactly this many clients per round
	// (at most the number connected).
	PerRound int
	// MinFit is the least number of clients sampled per round; zero means
	// MinCohort.
	MinFit int
	// MinAvailable is the number of connected clients to wait for before
	// sampling; zero means the cohort size the round needs at minimum
	// (max(MinFit, MinCohort, PerRound)).
	MinAvailable int
	// WaitTimeout bounds the wait for MinAvailable clients; when it passes
	// Run returns an error wrapping ErrNotEnoughClients instead of hanging.
	// Zero means one minute.
	WaitTimeout time.Duration

	// RoundTimeout is the deadline of each round's training phase: replies
	// arriving later are dropped. Zero means ten minutes.
	RoundTimeout time.Duration
	// Quorum is the least number of accepted updates needed to aggregate;
	// with fewer by the deadline the round releases nothing. Zero means
	// MinCohort.
	Quorum int
	// StragglerTimeout, when positive, ends the training phase this long
	// after Quorum updates have arrived even if others are still training:
	// stragglers are dropped instead of holding everyone up. Zero means
	// wait for every sampled client until RoundTimeout.
	StragglerTimeout time.Duration
	// MinCohort is the least number of client updates any released
	// aggregate combines, a privacy floor: with one client the model is its
	// update, and with two either could subtract its own update from the
	// published model and learn the other's. Zero means DefaultMinCohort;
	// set 1 explicitly to allow single-client rounds (simulations).
	MinCohort int
	// MaxSamples rejects updates claiming more samples, so that one client
	// cannot claim the whole weight of a sample-weighted average. Zero
	// means DefaultMaxSamples; set math.MaxInt32 to accept any count.
	MaxSamples int

	// Train holds the local-training hyperparameters sent to the clients
	// each round (Round and Seed are filled in by the server).
	Train TrainConfig

	// Strategy aggregates updates; nil means &FedAvg{}.
	Strategy Strategy

	// Privacy enables central differential privacy; nil means none.
	Privacy *DPConfig

	// SecureAggregation configures secure aggregation, under which the
	// server sees only the sum of the updates. It is on by default: nil
	// means the zero SecAggConfig (clients clip to DefaultClipNorm, or to
	// the central-DP ClipNorm), unless PlaintextUpdates is set. The
	// strategy must be a MeanStrategy. The mean is weighted by samples
	// only when the strategy asks for it, MaxSamples is set explicitly
	// (it is the sample count of full weight) and Privacy is nil;
	// otherwise every client counts once.
	SecureAggregation *SecAggConfig

	// PlaintextUpdates turns secure aggregation off: the server then sees
	// every client's update, in the clear. It is the deliberate opt-out
	// for simulations, for trusted deployments and for the robust
	// strategies (Median, TrimmedMean, Krum), which must see every update
	// and are refused without it. Clients are asked to clip only under
	// central DP. Setting it together with SecureAggregation is an error.
	PlaintextUpdates bool

	// Evaluate, when set, evaluates each new global model centrally (for
	// example on a held-out test set); the result is recorded in the
	// round's RoundRecord.Eval.
	Evaluate func(ctx context.Context, round int, params []float64) (EvalResult, error)
	// EvalEvery, when positive, runs federated evaluation every EvalEvery
	// rounds on a sample of FractionEval (zero means FractionFit) of the
	// connected clients, at least MinCohort of them. Only clients that
	// share metrics (ClientConfig.ShareMetrics) answer, each with its own
	// loss, accuracy and sample count in the clear, outside secure
	// aggregation and DP; the result is recorded in RoundRecord.FedEval,
	// which the history endpoint does not publish.
	EvalEvery    int
	FractionEval float64

	// CheckpointDir, when set, is where the server saves its state after
	// every CheckpointEvery rounds (zero means every round) and from where
	// NewServer resumes. With central DP it also holds the privacy log
	// (PrivacyLogFile), appended and synced before every noised aggregate
	// is released whatever CheckpointEvery says, so that a server resuming
	// from an older checkpoint still counts every release in ε.
	CheckpointDir   string
	CheckpointEvery int

	// Seed makes client sampling and local-training seeds reproducible;
	// zero is a valid seed.
	Seed uint64

	// OnRound, when set, is called by Run after every round with its
	// record, for progress display.
	OnRound func(RoundRecord)
	// Stop, when set, is asked after every round whether to stop early
	// (for example when a target accuracy is reached); Run then returns
	// nil.
	Stop func(RoundRecord) bool

	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
}

// DefaultMinCohort is the minimum cohort size when ServerConfig.MinCohort
// is zero.
const DefaultMinCohort = 3

// DefaultClipNorm is the L2 norm clients clip their updates to under the
// default secure aggregation (SecAggConfig.ClipNorm zero, no central DP).
// It is generous: one epoch of the 2NN on 600 MNIST digits at learning
// rate 0.2 moves about 4, an energy forecaster's update about 0.3. It
// bounds each coordinate for fixed-point quantization and how far one
// client can pull the model; set SecAggConfig.ClipNorm for a model whose
// updates are larger.
const DefaultClipNorm = 10

// DefaultMaxSamples is the largest sample count a client may claim when
// ServerConfig.MaxSamples is zero: ten years of hourly meter readings, or
// all of MNIST's training set on one client.
const DefaultMaxSamples = 100_000

// DPConfig configures central differential privacy (DP-FedAvg, McMahan et
// al. 2018) with package dp: the server clips every update to L2 norm
// ClipNorm (S), averages the m accepted updates with equal weights and adds
// Gaussian noise of standard deviation z·S/m (z = NoiseMultiplier) to every
// coordinate. Clients are also asked to clip to S, which keeps the bound
// under secure aggregation, where the server cannot clip. An RDP accountant
// for the subsampled Gaussian (q = m/K) reports the cumulative ε at Delta
// after every round in RoundRecord.Epsilon.
//
// With ServerConfig.CheckpointDir set, each noised round's (q, z) is
// appended to the privacy log and synced to disk before the aggregate can
// be released, and a restarted server replays the whole log: rounds
// released after the last checkpoint and run again after a crash count
// twice, as they should. Without CheckpointDir the accounting lives in
// memory and a new Server starts afresh; an embedder that restarts
// training on the same clients must then add the budgets itself.
//
// NewServer copies a DPConfig, so it may be reused afterwards. Its Source,
// though, is then drawn from by the server (through a dp.Gaussian, which
// serialises access) and must not be used elsewhere: a rand.Source is not
// safe for concurrent use.
type DPConfig struct {
	// ClipNorm is S; it must be positive.
	ClipNorm float64
	// NoiseMultiplier is z; it must be positive.
	NoiseMultiplier float64
	// Delta is the δ at which ε is reported; zero means 1e-5.
	Delta float64
	// Source, when set, supplies the noise instead of a generator seeded
	// from crypto/rand. Use it only for reproducible simulations: noise an
	// observer can predict protects nothing.
	Source rand.Source
}

// Server coordinates federated learning: every round it samples clients
// among those connected, sends them the global model, collects and checks
// their updates, aggregates them with its Strategy, evaluates, records and
// checkpoints. Clients reach it through transports: Attach (used by Local
// and custom transports) and HTTPHandler.
//
// A Server is safe for concurrent use; Run must not be called concurrently
// with itself.
type Server struct {
	cfg       ServerConfig
	weightCap int // ServerConfig.MaxSamples as given, before the default
	strategy  Strategy
	log       *slog.Logger
	n         int
	running   atomic.Bool

	// Owned by the goroutine in Run.
	global []float64
	gauss  *dp.Gaussian
	acct   dp.Accountant

	mu        sync.Mutex
	conns     map[string]*attached
	changed   chan struct{} // closed and replaced when conns changes
	gen       uint64
	published []float64 // snapshot of global after the last round
	round     int       // last completed round
	history   []RoundRecord
}

type attached struct {
	conn Conn
	gen  uint64
}

// NewServer validates cfg and returns a Server, resuming from the
// checkpoint in cfg.CheckpointDir when there is one.
func NewServer(cfg ServerConfig) (*Server, error) {
	weightCap := cfg.MaxSamples // the secure-aggregation weight cap, when set explicitly
	cfg.MaxSamples = cmp.Or(cfg.MaxSamples, DefaultMaxSamples)
	cfg.MinCohort = cmp.Or(cfg.MinCohort, DefaultMinCohort)
	cfg.MinFit = cmp.Or(cfg.MinFit, cfg.MinCohort)
	cfg.Quorum = cmp.Or(cfg.Quorum, cfg.MinCohort)
	cfg.FractionFit = cmp.Or(cfg.FractionFit, 0.1)
	cfg.FractionEval = cmp.Or(cfg.FractionEval, cfg.FractionFit)
	cfg.WaitTimeout = cmp.Or(cfg.WaitTimeout, time.Minute)
	cfg.RoundTimeout = cmp.Or(cfg.RoundTimeout, 10*time.Minute)
	cfg.CheckpointEvery = cmp.Or(cfg.CheckpointEvery, 1)
	if cfg.Privacy != nil {
		p := *cfg.Privacy // the caller's copy may change
		cfg.Privacy = &p
	}
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...))
	}
	if cfg.MinCohort < 1 || cfg.MinFit < 1 || cfg.Quorum < 1 || cfg.PerRound < 0 || cfg.MinAvailable < 0 {
		bad("cohort sizes must be positive")
	}
	if cfg.Quorum < cfg.MinCohort {
		bad("quorum %d below the minimum cohort %d", cfg.Quorum, cfg.MinCohort)
	}
	if cfg.PerRound > 0 && cfg.PerRound < cfg.MinCohort {
		bad("%d clients per round is below the minimum cohort %d", cfg.PerRound, cfg.MinCohort)
	}
	if !(cfg.FractionFit > 0 && cfg.FractionFit <= 1) || !(cfg.FractionEval > 0 && cfg.FractionEval <= 1) {
		bad("fractions must be in (0, 1]")
	}
	if cfg.Rounds < 0 || cfg.EvalEvery < 0 || cfg.CheckpointEvery < 0 || cfg.MaxSamples < 0 {
		bad("negative count")
	}
	if cfg.WaitTimeout < 0 || cfg.RoundTimeout < 0 || cfg.StragglerTimeout < 0 {
		bad("negative timeout")
	}
	strategy := cfg.Strategy
	if strategy == nil {
		strategy = &FedAvg{}
	}
	if p := cfg.Privacy; p != nil {
		if !(p.ClipNorm > 0) || !(p.NoiseMultiplier > 0) || math.IsInf(p.ClipNorm, 0) || math.IsInf(p.NoiseMultiplier, 0) {
			bad("differential privacy needs positive finite ClipNorm and NoiseMultiplier")
		}
		if p.Delta < 0 || p.Delta >= 1 {
			bad("delta %v outside [0, 1)", p.Delta)
		}
		if _, ok := strategy.(MeanStrategy); !ok {
			bad("central differential privacy needs a MeanStrategy, not %T", strategy)
		}
	}
	_, mean := strategy.(MeanStrategy)
	switch {
	case cfg.PlaintextUpdates && cfg.SecureAggregation != nil:
		bad("PlaintextUpdates turns off the SecureAggregation that is also set")
	case cfg.PlaintextUpdates:
	case cfg.SecureAggregation == nil && !mean:
		bad("%T must see every update, which secure aggregation (on by default) prevents; set PlaintextUpdates to opt out", strategy)
	case !mean:
		bad("secure aggregation needs a MeanStrategy, not %T", strategy)
	default:
		sc := SecAggConfig{}
		if cfg.SecureAggregation != nil {
			sc = *cfg.SecureAggregation // the caller's copy may change
		}
		if sc.ClipNorm < 0 || math.IsInf(sc.ClipNorm, 0) || math.IsNaN(sc.ClipNorm) {
			bad("secure aggregation needs a positive ClipNorm")
		}
		if sc.ClipNorm == 0 {
			sc.ClipNorm = DefaultClipNorm
			if cfg.Privacy != nil {
				sc.ClipNorm = cfg.Privacy.ClipNorm
			}
		}
		if sc.Neighbors < 0 || sc.Threshold < 0 || sc.StageTimeout < 0 {
			bad("negative secure-aggregation setting")
		}
		cfg.SecureAggregation = &sc
	}
	var gauss *dp.Gaussian
	if p := cfg.Privacy; p != nil && len(errs) == 0 {
		var err error
		if gauss, err = dp.NewGaussian(p.NoiseMultiplier, p.ClipNorm, p.Source); err != nil {
			bad("%v", err)
		}
	}
	s := &Server{
		cfg:       cfg,
		weightCap: weightCap,
		strategy:  strategy,
		log:       orDiscard(cfg.Logger),
		gauss:     gauss,
		conns:     map[string]*attached{},
		changed:   make(chan struct{}),
	}
	if cfg.CheckpointDir != "" {
		ck, err := loadCheckpoint(cfg.CheckpointDir)
		switch {
		case errors.Is(err, errNoCheckpoint):
		case err != nil:
			errs = append(errs, err)
		default:
			if cfg.Params != nil && len(cfg.Params) != len(ck.params) {
				errs = append(errs, fmt.Errorf("%w: checkpoint has %d parameters, config %d", ErrCheckpoint, len(ck.params), len(cfg.Params)))
				break
			}
			if err := ck.restoreStrategy(strategy); err != nil {
				errs = append(errs, err)
				break
			}
			s.global, s.round, s.history = ck.params, ck.round, ck.history
			s.log.Info("fedlearn: resumed from checkpoint", "round", ck.round, "dir", cfg.CheckpointDir)
		}
	}
	if s.global == nil {
		if len(cfg.Params) == 0 {
			bad("no initial parameters")
		} else if !finite(cfg.Params) {
			bad("initial parameters are not finite")
		}
		s.global = slices.Clone(cfg.Params)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s.n = len(s.global)
	s.published = slices.Clone(s.global)
	// Privacy spent before a restart still counts, including releases
	// after the last checkpoint.
	lost, err := s.restorePrivacy()
	if err != nil {
		return nil, err
	}
	if lost > 0 {
		s.log.Warn("fedlearn: noised aggregates were released after the last checkpoint; their privacy cost still counts",
			"releases", lost, "resuming_after_round", s.round)
	}
	return s, nil
}

// Params returns a copy of the current global parameters.
func (s *Server) Params() []float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.published)
}

// Round returns the number of the last completed round (0 before the
// first).
func (s *Server) Round() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.round
}

// History returns a copy of the records of all rounds so far, oldest
// first, including rounds before a resume. The caller owns the copy,
// metrics included.
func (s *Server) History() []RoundRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := make([]RoundRecord, len(s.history))
	for i, r := range s.history {
		h[i] = r.clone()
	}
	return h
}

// Clients returns the IDs of the connected clients, sorted.
func (s *Server) Clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.conns))
	for id := range s.conns {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// NumParams returns the length of the model's parameter vector.
func (s *Server) NumParams() int { return s.n }

// Attach makes c available for sampling until the returned detach function
// is called. A connection with the same ID replaces the previous one, which
// is closed if it implements io.Closer (a client that reconnected). Attach
// is how transports hand connections to the server.
func (s *Server) Attach(c Conn) (detach func()) {
	s.mu.Lock()
	s.gen++
	a := &attached{conn: c, gen: s.gen}
	old := s.conns[c.ID()]
	s.conns[c.ID()] = a
	s.notifyLocked()
	s.mu.Unlock()
	if old != nil {
		if cl, ok := old.conn.(io.Closer); ok {
			cl.Close()
		}
	}
	s.log.Debug("fedlearn: client attached", "client", c.ID())
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if cur := s.conns[c.ID()]; cur == a {
			delete(s.conns, c.ID())
			s.notifyLocked()
			s.log.Debug("fedlearn: client detached", "client", c.ID())
		}
	}
}

func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot returns the connected clients sorted by ID.
func (s *Server) snapshot() []Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Conn, 0, len(s.conns))
	for _, a := range s.conns {
		out = append(out, a.conn)
	}
	slices.SortFunc(out, func(a, b Conn) int { return cmp.Compare(a.ID(), b.ID()) })
	return out
}

// waitClients waits until at least n clients are connected, for at most
// WaitTimeout.
func (s *Server) waitClients(ctx context.Context, n int) error {
	timer := time.NewTimer(s.cfg.WaitTimeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		k, ch := len(s.conns), s.changed
		s.mu.Unlock()
		if k >= n {
			return nil
		}
		select {
		case <-ch:
		case <-timer.C:
			return fmt.Errorf("%w: %d connected, %d needed after waiting %v", ErrNotEnoughClients, k, n, s.cfg.WaitTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// cohortSize returns m for k available clients.
func (s *Server) cohortSize(k int) int {
	if s.cfg.PerRound > 0 {
		return min(s.cfg.PerRound, k)
	}
	m := int(math.Ceil(s.cfg.FractionFit*float64(k) - 1e-9))
	return min(max(m, s.cfg.MinFit), k)
}

// minNeeded is the number of connected clients a round waits for.
func (s *Server) minNeeded() int {
	return max(s.cfg.MinAvailable, s.cfg.MinFit, s.cfg.MinCohort, s.cfg.PerRound)
}

// Run performs rounds until cfg.Rounds have completed (counting rounds
// before a resume), Stop says so (both return nil), ctx is cancelled
// (ctx.Err()), or not enough clients connect within WaitTimeout (an error
// wrapping ErrNotEnoughClients). A round that misses its quorum is
// recorded and Run goes on. Run may be called again after it returns; it
// continues from the last completed round.
func (s *Server) Run(ctx context.Context) error {
	if !s.running.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run is already running", ErrConfig)
	}
	defer s.running.Store(false)
	for {
		if s.cfg.Rounds > 0 && s.Round() >= s.cfg.Rounds {
			return nil
		}
		rec, err := s.step(ctx)
		if err != nil {
			return err
		}
		if s.cfg.Stop != nil && s.cfg.Stop(rec) {
			return nil
		}
	}
}

// RunRound performs one round, for embedders that schedule rounds
// themselves (say, one each night). It waits up to WaitTimeout for
// clients, then trains, aggregates, evaluates, records and checkpoints,
// and returns the round's record. A round that released no model is not an
// error: its record's Err says why. RunRound ignores Rounds and Stop, and
// must not be called while Run is running.
func (s *Server) RunRound(ctx context.Context) (RoundRecord, error) {
	if !s.running.CompareAndSwap(false, true) {
		return RoundRecord{}, fmt.Errorf("%w: Run is already running", ErrConfig)
	}
	defer s.running.Store(false)
	return s.step(ctx)
}

func (s *Server) step(ctx context.Context) (RoundRecord, error) {
	round := s.Round() + 1
	if err := s.waitClients(ctx, s.minNeeded()); err != nil {
		return RoundRecord{}, err
	}
	rec, err := s.runRound(ctx, round)
	rec.Duration = time.Since(rec.Start)
	if ctx.Err() != nil {
		return rec, ctx.Err()
	}
	if errors.Is(err, errPrivacyLog) {
		// Nothing was released: the model is unchanged and the round
		// will be run again.
		return rec, err
	}
	if err != nil {
		rec.Err = err.Error()
		s.log.Warn("fedlearn: round released no model", "round", round, "err", err)
	}
	if err := s.finishRound(rec); err != nil {
		return rec, err
	}
	if s.cfg.OnRound != nil {
		s.cfg.OnRound(rec)
	}
	return rec, nil
}

// finishRound publishes the model and the record and writes a checkpoint.
func (s *Server) finishRound(rec RoundRecord) error {
	s.mu.Lock()
	copy(s.published, s.global)
	s.round = rec.Round
	s.history = append(s.history, rec)
	var ck *checkpoint
	if s.cfg.CheckpointDir != "" && (rec.Round%s.cfg.CheckpointEvery == 0 || rec.Round == s.cfg.Rounds) {
		ck = &checkpoint{round: s.round, params: s.published, history: s.history}
	}
	s.mu.Unlock()
	if ck == nil {
		return nil
	}
	// published and history are only written by this goroutine, so reading
	// them unlocked here is safe.
	if err := ck.save(s.cfg.CheckpointDir, s.strategy); err != nil {
		return fmt.Errorf("fedlearn: checkpoint after round %d: %w", rec.Round, err)
	}
	return nil
}

// sample picks m of conns uniformly at random with the round's generator.
func sample(rng *rand.Rand, conns []Conn, m int) []Conn {
	conns = slices.Clone(conns)
	for i := range m {
		j := i + rng.IntN(len(conns)-i)
		conns[i], conns[j] = conns[j], conns[i]
	}
	return conns[:m]
}

// roundRand returns the generator of a round, so that a resumed server
// samples as the original would have.
func (s *Server) roundRand(round int, stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(s.cfg.Seed^0x5eed_f1ed, uint64(round)<<8|stream))
}

func (s *Server) runRound(ctx context.Context, round int) (RoundRecord, error) {
	start := time.Now()
	rec := RoundRecord{Round: round, Start: start}
	conns := s.snapshot()
	rec.Available = len(conns)
	m := s.cohortSize(len(conns))
	if m < s.cfg.MinCohort {
		return rec, fmt.Errorf("%w: %d available, minimum cohort %d", ErrNotEnoughClients, len(conns), s.cfg.MinCohort)
	}
	rng := s.roundRand(round, 0)
	cohort := sample(rng, conns, m)
	rec.Sampled = m
	cfg := s.cfg.Train
	cfg.Round, cfg.Seed = round, rng.Uint64()
	clip := 0.0
	if s.cfg.Privacy != nil {
		clip = s.cfg.Privacy.ClipNorm
	}
	secure := s.cfg.SecureAggregation != nil
	if secure {
		clip = s.secAggClip()
		rec.SecureAggregation = true
	}
	sent := slices.Clone(s.global) // read by clients while global may change
	base := &wire.Message{
		Kind: wire.KindFitRequest, Round: uint64(round),
		Config: configToWire(cfg, clip), Tensors: [][]float64{sent},
	}
	reqs := make([]*wire.Message, m)
	for i := range reqs {
		reqs[i] = base
		if secure {
			r := *base
			r.Config = maps.Clone(base.Config)
			r.Config[keySecAgg] = true
			r.Config[keySecAggID] = int64(i + 1)
			r.Config[keySecAggCap] = int64(s.secAggCap())
			reqs[i] = &r
		}
	}
	check := s.check
	if secure {
		check = func(round int, id string, msg *wire.Message, err error) (Update, error) {
			if err := s.checkReady(round, msg, err); err != nil {
				return Update{}, err
			}
			return Update{ClientID: id, Metrics: msg.Metrics}, nil
		}
	}
	updates := s.collect(ctx, round, cohort, reqs, check, &rec)
	if err := ctx.Err(); err != nil {
		return rec, err
	}
	if len(updates) < s.cfg.Quorum {
		return rec, fmt.Errorf("%w: %d of %d updates accepted, quorum %d", ErrQuorum, len(updates), m, s.cfg.Quorum)
	}
	if secure {
		ids := make(map[string]secagg.ID, m)
		for i, c := range cohort {
			ids[c.ID()] = secagg.ID(i + 1)
		}
		ready := make(map[secagg.ID]Conn, len(updates))
		for _, u := range updates {
			ready[ids[u.ClientID]] = cohort[ids[u.ClientID]-1]
		}
		mean, n, err := s.secureAggregate(ctx, round, ready)
		if err != nil {
			rec.Accepted = 0
			return rec, fmt.Errorf("fedlearn: secure aggregation: %w", err)
		}
		rec.Accepted = n
		if err := s.applyMean(round, m, len(conns), n, mean, &rec); err != nil {
			return rec, err
		}
	} else {
		rec.Train = meanMetrics(updates)
		if err := s.aggregate(round, m, len(conns), updates, &rec); err != nil {
			return rec, err
		}
	}
	s.evaluate(ctx, round, &rec)
	return rec, nil
}

// secAggCap is the sample count that earns full weight in a
// secure-aggregation round: MaxSamples, when set explicitly and the
// strategy weights by samples (and no DP forbids it), otherwise 0 for
// unweighted. DefaultMaxSamples is no such reference: dividing typical
// sample counts by it would waste the fixed-point range.
func (s *Server) secAggCap() int {
	ms, _ := s.strategy.(MeanStrategy)
	if ms != nil && ms.SampleWeighted() && s.cfg.Privacy == nil {
		return s.weightCap
	}
	return 0
}

// applyMean applies a securely aggregated mean of n updates, adding central
// DP noise first when configured.
func (s *Server) applyMean(round, m, k, n int, mean []float64, rec *RoundRecord) error {
	if n < max(s.cfg.MinCohort, s.cfg.Quorum) {
		return fmt.Errorf("%w: %d updates in the secure sum, need %d", ErrQuorum, n, max(s.cfg.MinCohort, s.cfg.Quorum))
	}
	prev := slices.Clone(s.global)
	var err error
	if s.gauss != nil {
		err = s.noiseAndAccount(round, m, k, n, mean, rec)
	}
	if err == nil {
		err = s.strategy.(MeanStrategy).Apply(round, s.global, mean)
	}
	if err == nil && !finite(s.global) {
		err = fmt.Errorf("%w: aggregate is not finite", ErrBadUpdate)
	}
	if err != nil {
		copy(s.global, prev)
		return fmt.Errorf("fedlearn: aggregation: %w", err)
	}
	return nil
}

// collect runs the training phase: it sends req to the cohort and gathers
// valid updates until all have answered, the straggler timeout after the
// quorum passes, or the round deadline. Updates come back sorted by client.
func (s *Server) collect(ctx context.Context, round int, cohort []Conn, reqs []*wire.Message,
	check func(int, string, *wire.Message, error) (Update, error), rec *RoundRecord) []Update {
	type reply struct {
		id  string
		msg *wire.Message
		err error
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RoundTimeout)
	defer cancel()
	ch := make(chan reply, len(cohort))
	for i, c := range cohort {
		go func() {
			msg, err := c.Call(rctx, reqs[i])
			ch <- reply{c.ID(), msg, err}
		}()
	}
	var updates []Update
	var straggle <-chan time.Time
	pending := len(cohort)
wait:
	for pending > 0 {
		select {
		case r := <-ch:
			pending--
			u, err := check(round, r.id, r.msg, r.err)
			switch {
			case err == nil:
				updates = append(updates, u)
			case errors.Is(err, ErrDeclined):
				rec.Declined++
			case errors.Is(err, ErrBadUpdate):
				rec.Rejected++
				s.log.Warn("fedlearn: update rejected", "round", round, "client", r.id, "err", err)
			default:
				rec.Failed++
				s.log.Info("fedlearn: client failed", "round", round, "client", r.id, "err", err)
			}
			if straggle == nil && s.cfg.StragglerTimeout > 0 && len(updates) >= s.cfg.Quorum && pending > 0 {
				t := time.NewTimer(s.cfg.StragglerTimeout)
				defer t.Stop()
				straggle = t.C
			}
		case <-straggle:
			break wait
		case <-rctx.Done():
			break wait
		}
	}
	rec.Late = pending
	rec.Accepted = len(updates)
	slices.SortFunc(updates, func(a, b Update) int { return cmp.Compare(a.ClientID, b.ClientID) })
	return updates
}

// check validates one reply to a training request.
func (s *Server) check(round int, id string, msg *wire.Message, err error) (Update, error) {
	if err != nil {
		return Update{}, err
	}
	switch {
	case msg == nil || msg.Kind != wire.KindFitResult:
		return Update{}, fmt.Errorf("%w: reply is not a fit result", ErrProtocol)
	case msg.Round != uint64(round):
		return Update{}, fmt.Errorf("%w: reply for round %d in round %d", ErrBadUpdate, msg.Round, round)
	case len(msg.Tensors) != 1 || len(msg.Tensors[0]) != s.n:
		return Update{}, fmt.Errorf("%w: update does not have %d parameters", ErrBadUpdate, s.n)
	case msg.Samples == 0 || msg.Samples > math.MaxInt32:
		return Update{}, fmt.Errorf("%w: sample count %d", ErrBadUpdate, msg.Samples)
	case s.cfg.MaxSamples > 0 && msg.Samples > uint64(s.cfg.MaxSamples):
		return Update{}, fmt.Errorf("%w: %d samples exceeds the limit %d", ErrBadUpdate, msg.Samples, s.cfg.MaxSamples)
	case !finite(msg.Tensors[0]):
		return Update{}, fmt.Errorf("%w: NaN or Inf in update", ErrBadUpdate)
	}
	for _, v := range msg.Metrics {
		if v-v != 0 {
			return Update{}, fmt.Errorf("%w: non-finite metric", ErrBadUpdate)
		}
	}
	return Update{ClientID: id, Delta: msg.Tensors[0], Samples: int(msg.Samples), Metrics: msg.Metrics}, nil
}

// aggregate folds the updates into the global model, with central DP when
// configured; on failure the model is left unchanged.
func (s *Server) aggregate(round, m, k int, updates []Update, rec *RoundRecord) error {
	if len(updates) < s.cfg.MinCohort {
		return fmt.Errorf("%w: %d updates below the minimum cohort %d", ErrQuorum, len(updates), s.cfg.MinCohort)
	}
	prev := slices.Clone(s.global)
	var err error
	if s.cfg.Privacy != nil {
		err = s.privateMean(round, m, k, updates, rec)
	} else {
		err = s.strategy.Aggregate(round, s.global, updates)
	}
	if err == nil && !finite(s.global) {
		err = fmt.Errorf("%w: aggregate is not finite", ErrBadUpdate)
	}
	if err != nil {
		copy(s.global, prev)
		return fmt.Errorf("fedlearn: aggregation: %w", err)
	}
	return nil
}

// privateMean is DP-FedAvg's aggregation: clip every update to S, average
// the n accepted updates with equal weights, add Gaussian noise z·S/n, apply
// with the strategy and account for the round with sampling rate q = m/K
// (m sampled of k available).
func (s *Server) privateMean(round, m, k int, updates []Update, rec *RoundRecord) error {
	n := len(updates)
	mean := make([]float64, s.n)
	for _, u := range updates {
		if _, err := dp.ClipL2(u.Delta, s.gauss.Clip()); err != nil {
			return err
		}
		for i, v := range u.Delta {
			mean[i] += v
		}
	}
	for i := range mean {
		mean[i] /= float64(n)
	}
	if err := s.noiseAndAccount(round, m, k, n, mean, rec); err != nil {
		return err
	}
	return s.strategy.(MeanStrategy).Apply(round, s.global, mean)
}

// noiseAndAccount records the round with the accountant and adds the
// Gaussian mechanism's noise to the mean of n clipped updates. With a
// CheckpointDir the round's accounting is first appended to the privacy
// log and synced, so that it survives a crash at any later point; if that
// fails, nothing is noised or released.
func (s *Server) noiseAndAccount(round, m, k, n int, mean []float64, rec *RoundRecord) error {
	q, z := float64(m)/float64(k), s.gauss.NoiseMultiplier()
	if s.cfg.CheckpointDir != "" {
		if err := appendPrivacyLog(s.cfg.CheckpointDir, privacyEntry{round: round, q: q, z: z}); err != nil {
			return fmt.Errorf("%w: %w", errPrivacyLog, err)
		}
	}
	// Account before applying: a round that fails afterwards still counts,
	// which errs on the side of privacy.
	if err := s.acct.Step(q, z); err != nil {
		return err
	}
	if err := s.gauss.AddNoise(mean, n); err != nil {
		return err
	}
	rec.NoiseMultiplier, rec.SampleRate = z, q
	rec.Delta = cmp.Or(s.cfg.Privacy.Delta, 1e-5)
	var err error
	rec.Epsilon, _, err = s.acct.Epsilon(rec.Delta)
	return err
}

// meanMetrics returns the sample-weighted mean of the metrics the updates
// share, or nil.
func meanMetrics(updates []Update) Metrics {
	sum, weight := Metrics{}, map[string]float64{}
	for _, u := range updates {
		for k, v := range u.Metrics {
			sum[k] += float64(u.Samples) * v
			weight[k] += float64(u.Samples)
		}
	}
	if len(sum) == 0 {
		return nil
	}
	for k := range sum {
		sum[k] /= weight[k]
	}
	return sum
}

// evaluate runs the centralized and federated evaluations of the new model.
func (s *Server) evaluate(ctx context.Context, round int, rec *RoundRecord) {
	if s.cfg.Evaluate != nil {
		r, err := s.cfg.Evaluate(ctx, round, slices.Clone(s.global))
		if err != nil {
			s.log.Warn("fedlearn: central evaluation failed", "round", round, "err", err)
		} else {
			rec.Eval = &r
		}
	}
	if s.cfg.EvalEvery > 0 && round%s.cfg.EvalEvery == 0 {
		if r, err := s.federatedEval(ctx, round); err != nil {
			s.log.Warn("fedlearn: federated evaluation failed", "round", round, "err", err)
		} else {
			rec.FedEval = r
		}
	}
}

func (s *Server) federatedEval(ctx context.Context, round int) (*EvalResult, error) {
	conns := s.snapshot()
	m := int(math.Ceil(s.cfg.FractionEval*float64(len(conns)) - 1e-9))
	m = min(max(m, s.cfg.MinCohort), len(conns))
	if m < s.cfg.MinCohort {
		return nil, fmt.Errorf("%w: %d clients for evaluation", ErrNotEnoughClients, len(conns))
	}
	cohort := sample(s.roundRand(round, 1), conns, m)
	req := &wire.Message{Kind: wire.KindEvaluateRequest, Round: uint64(round), Tensors: [][]float64{slices.Clone(s.global)}}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.RoundTimeout)
	defer cancel()
	type reply struct {
		msg *wire.Message
		err error
	}
	ch := make(chan reply, m)
	for _, c := range cohort {
		go func() {
			msg, err := c.Call(rctx, req)
			ch <- reply{msg, err}
		}()
	}
	var res EvalResult
	got := 0
	for range m {
		r := <-ch
		if r.err != nil || r.msg == nil || r.msg.Kind != wire.KindEvaluateResult || r.msg.Samples == 0 || r.msg.Samples > math.MaxInt32 || r.msg.Samples > uint64(s.cfg.MaxSamples) {
			continue
		}
		loss, acc := r.msg.Metrics["loss"], r.msg.Metrics["accuracy"]
		if loss-loss != 0 || acc-acc != 0 {
			continue
		}
		w := float64(r.msg.Samples)
		res.Samples += int(r.msg.Samples)
		res.Loss += w * loss
		res.Accuracy += w * acc
		got++
	}
	if got < s.cfg.MinCohort {
		return nil, fmt.Errorf("%w: %d evaluation results, minimum cohort %d", ErrQuorum, got, s.cfg.MinCohort)
	}
	res.Loss /= float64(res.Samples)
	res.Accuracy /= float64(res.Samples)
	res.Metrics = Metrics{"clients": float64(got)}
	return &res, nil
}
