// Command fedsim runs a federated-learning simulation in one process: K
// clients, each holding a partition of a dataset, train with FedAvg (or
// another strategy) over the in-process transport, and the global model is
// evaluated on the test set after every round.
//
// Usage:
//
//	go run ./fedlearn/cmd/fedsim [flags]
//
// With MNIST (the IDX files, gzipped or not, in -data), the paper's 2NN
// setting of McMahan et al. (2017) is
//
//	go run ./fedlearn/cmd/fedsim -data ../shared/data/mnist -model 2nn \
//	    -clients 100 -frac 0.1 -epochs 1 -batch 10 -lr 0.1 -partition iid -target 0.97
//
// Each round prints one progress line; the last line is either
// "reached ACC at round N" or "did not reach ACC in N rounds (best X)".
// When -data holds digits.csv.gz instead (the UCI 8×8 digits), the models
// take 64 inputs and the last 297 examples are the test set.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/fedlearn"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fedsim:", err)
		os.Exit(1)
	}
}

type options struct {
	data, model, partition, strategy, checkpoint string
	clients, perRound, epochs, batch, rounds     int
	frac, lr, momentum, mu, target, alpha        float64
	dpClip, dpNoise, secaggClip                  float64
	seed                                         uint64
	verbose                                      bool
}

func run(args []string, out io.Writer) error {
	var o options
	fs := flag.NewFlagSet("fedsim", flag.ContinueOnError)
	fs.StringVar(&o.data, "data", filepath.Join("..", "shared", "data", "mnist"), "dataset folder: MNIST IDX files, or digits.csv.gz")
	fs.StringVar(&o.model, "model", "2nn", "model: 2nn (784-200-200-10 MLP) or softmax")
	fs.IntVar(&o.clients, "clients", 100, "K, the number of clients")
	fs.Float64Var(&o.frac, "frac", 0.1, "C, the fraction of clients sampled per round")
	fs.IntVar(&o.perRound, "per-round", 0, "m, clients per round (overrides -frac)")
	fs.IntVar(&o.epochs, "epochs", 1, "E, local epochs")
	fs.IntVar(&o.batch, "batch", 10, "B, local batch size (0 = full batch)")
	fs.Float64Var(&o.lr, "lr", 0.1, "client learning rate")
	fs.Float64Var(&o.momentum, "momentum", 0, "client SGD momentum")
	fs.Float64Var(&o.mu, "mu", 0, "FedProx proximal coefficient μ")
	fs.StringVar(&o.partition, "partition", "iid", "data split: iid, shards (2 label-sorted shards per client) or dirichlet")
	fs.Float64Var(&o.alpha, "alpha", 0.5, "Dirichlet concentration for -partition dirichlet")
	fs.StringVar(&o.strategy, "strategy", "fedavg", "fedavg, fedavgm, fedadam, fedyogi, fedadagrad, median, trimmed or krum")
	fs.IntVar(&o.rounds, "rounds", 1000, "N, the most rounds to run")
	fs.Float64Var(&o.target, "target", 0.97, "stop when test accuracy reaches this")
	fs.Uint64Var(&o.seed, "seed", 1, "random seed (partition, initialisation, sampling, batches)")
	fs.StringVar(&o.checkpoint, "checkpoint", "", "checkpoint folder (resume if it holds a checkpoint)")
	fs.Float64Var(&o.dpClip, "dp-clip", 0, "central DP: clip each update to this L2 norm")
	fs.Float64Var(&o.dpNoise, "dp-noise", 0, "central DP: noise multiplier z")
	fs.Float64Var(&o.secaggClip, "secagg", 0, "secure aggregation: clients clip updates to this L2 norm and the server sees only their sum (0 = off)")
	fs.BoolVar(&o.verbose, "v", false, "log server events to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	train, test, err := loadData(o.data)
	if err != nil {
		return err
	}
	var model *fedlearn.MLP
	switch o.model {
	case "2nn":
		model, err = fedlearn.NewMLP(fedlearn.CrossEntropy, train.Features, 200, 200, train.Classes)
	case "softmax":
		model = fedlearn.SoftmaxRegression(train.Features, train.Classes)
	default:
		err = fmt.Errorf("unknown model %q", o.model)
	}
	if err != nil {
		return err
	}
	parts, err := partition(train, o)
	if err != nil {
		return err
	}
	strategy, err := newStrategy(o.strategy)
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if o.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	best, reachedAt := 0.0, 0
	cfg := fedlearn.ServerConfig{
		Params:        model.Init(o.seed),
		Rounds:        o.rounds,
		FractionFit:   o.frac,
		PerRound:      o.perRound,
		MinCohort:     1,
		Train:         fedlearn.TrainConfig{Epochs: o.epochs, BatchSize: o.batch, LearningRate: o.lr, Momentum: o.momentum, ProxMu: o.mu},
		Strategy:      strategy,
		Seed:          o.seed,
		CheckpointDir: o.checkpoint,
		Logger:        logger,
		Evaluate: func(ctx context.Context, _ int, p []float64) (fedlearn.EvalResult, error) {
			return model.Evaluate(ctx, p, test)
		},
		OnRound: func(r fedlearn.RoundRecord) {
			line := fmt.Sprintf("round %4d  clients %3d/%d", r.Round, r.Accepted, r.Available)
			if r.Eval != nil {
				line += fmt.Sprintf("  acc %.4f  loss %.4f", r.Eval.Accuracy, r.Eval.Loss)
				best = max(best, r.Eval.Accuracy)
			}
			if r.Epsilon > 0 {
				line += fmt.Sprintf("  ε %.3g", r.Epsilon)
			}
			line += fmt.Sprintf("  %s", r.Duration.Round(time.Millisecond))
			if r.Err != "" {
				line += "  (" + r.Err + ")"
			}
			fmt.Fprintln(out, line)
		},
		Stop: func(r fedlearn.RoundRecord) bool {
			if r.Eval != nil && r.Eval.Accuracy >= o.target && reachedAt == 0 {
				reachedAt = r.Round
			}
			return reachedAt != 0
		},
	}
	if o.dpClip > 0 || o.dpNoise > 0 {
		cfg.Privacy = &fedlearn.DPConfig{ClipNorm: o.dpClip, NoiseMultiplier: o.dpNoise}
	}
	if o.secaggClip > 0 {
		cfg.SecureAggregation = &fedlearn.SecAggConfig{ClipNorm: o.secaggClip}
		cfg.MinCohort = 3
		cfg.MaxSamples = train.Len() / o.clients * 2 // sample weights up to twice the average share
	} else {
		// A simulation on public data, for speed and for the paper's exact
		// FedAvg: opt out of the secure aggregation a server runs by
		// default, and say so.
		cfg.PlaintextUpdates = true
	}
	srv, err := fedlearn.NewServer(cfg)
	if err != nil {
		return err
	}
	for i, idx := range parts {
		tr, err := model.Trainer(train.Subset(idx), o.seed+uint64(i)+1)
		if err != nil {
			return err
		}
		c, err := fedlearn.NewClient(tr, fedlearn.ClientConfig{})
		if err != nil {
			return err
		}
		srv.Attach(fedlearn.Local(fmt.Sprintf("client-%03d", i), c))
	}
	train = nil // the clients hold their shares; let the full set go

	fmt.Fprintf(out, "fedsim: %s, %d train / %d test examples, K=%d, %s, E=%d, B=%d, lr=%g, %s, %s\n",
		model, sumLen(parts), test.Len(), o.clients, perRound(o), o.epochs, o.batch, o.lr, o.partition, o.strategy)
	fmt.Fprintln(out, "fedsim: "+privacy(cfg))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	start := time.Now()
	err = srv.Run(ctx)
	rounds := srv.Round()
	for _, r := range srv.History() { // include rounds before a resume
		if r.Eval != nil {
			best = max(best, r.Eval.Accuracy)
			if reachedAt == 0 && r.Eval.Accuracy >= o.target {
				reachedAt = r.Round
			}
		}
	}
	fmt.Fprintf(out, "fedsim: %d rounds in %s\n", rounds, time.Since(start).Round(time.Second))
	if reachedAt > 0 {
		fmt.Fprintf(out, "reached %g at round %d\n", o.target, reachedAt)
	} else {
		fmt.Fprintf(out, "did not reach %g in %d rounds (best %.4f)\n", o.target, rounds, best)
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// privacy describes the protections cfg turns on.
func privacy(cfg fedlearn.ServerConfig) string {
	var s string
	if cfg.PlaintextUpdates {
		s = "privacy: secure aggregation OFF (PlaintextUpdates, the simulation's opt-out for speed): the server sees every update; -secagg S turns it on"
	} else {
		s = fmt.Sprintf("privacy: secure aggregation on: clients clip to %g, the server sees only the sum", cfg.SecureAggregation.ClipNorm)
	}
	if p := cfg.Privacy; p != nil {
		s += fmt.Sprintf("; central DP: clip %g, noise multiplier %g", p.ClipNorm, p.NoiseMultiplier)
	} else {
		s += "; no differential privacy"
	}
	return s + fmt.Sprintf("; minimum cohort %d", cfg.MinCohort)
}

func perRound(o options) string {
	if o.perRound > 0 {
		return fmt.Sprintf("m=%d", o.perRound)
	}
	return fmt.Sprintf("C=%g", o.frac)
}

func sumLen(parts [][]int) int {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	return n
}

// loadData loads MNIST from dir, or the UCI digits when dir holds
// digits.csv.gz (its last 297 examples become the test set).
func loadData(dir string) (train, test *fedlearn.Dataset, err error) {
	csvPath := filepath.Join(dir, "digits.csv.gz")
	if strings.HasSuffix(dir, ".csv.gz") || strings.HasSuffix(dir, ".csv") {
		csvPath = dir
	}
	if f, err := os.Open(csvPath); err == nil {
		defer f.Close()
		d, err := fedlearn.ReadCSV(f, fedlearn.CSVOptions{Scale: 1.0 / 16})
		if err != nil {
			return nil, nil, err
		}
		d = d.Shuffled(1)
		d.Classes = 10
		train, test = d.Split(1500)
		return train, test, nil
	}
	return fedlearn.LoadMNIST(dir)
}

func partition(d *fedlearn.Dataset, o options) ([][]int, error) {
	switch o.partition {
	case "iid":
		return fedlearn.PartitionIID(d.Len(), o.clients, o.seed)
	case "shards":
		return fedlearn.PartitionShards(d.Labels, o.clients, 2, o.seed)
	case "dirichlet":
		return fedlearn.PartitionDirichlet(d.Labels, o.clients, o.alpha, o.seed)
	}
	return nil, fmt.Errorf("unknown partition %q", o.partition)
}

func newStrategy(name string) (fedlearn.Strategy, error) {
	switch name {
	case "fedavg":
		return &fedlearn.FedAvg{}, nil
	case "fedavgm":
		return &fedlearn.FedAvgM{}, nil
	case "fedadam":
		return &fedlearn.FedAdam{}, nil
	case "fedyogi":
		return &fedlearn.FedYogi{}, nil
	case "fedadagrad":
		return &fedlearn.FedAdagrad{}, nil
	case "median":
		return fedlearn.Median{}, nil
	case "trimmed":
		return fedlearn.TrimmedMean{}, nil
	case "krum":
		return fedlearn.Krum{}, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", name)
}
