package fedlearn

import (
	"encoding/binary"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/blas64"
)

// Update is one client's contribution to a round, as the server's strategy
// sees it after validation.
//
// An Update is plain data, safe for concurrent reads; a Strategy must
// neither modify nor retain it.
type Update struct {
	// ClientID identifies the client.
	ClientID string
	// Delta is the client's locally trained parameters minus the global
	// parameters it started from (after any client-side clipping).
	Delta []float64
	// Samples is the number of local examples behind the update.
	Samples int
	// Metrics are the client's training metrics.
	Metrics Metrics
}

// Strategy turns a round's accepted updates into new global parameters.
//
// Aggregate updates global in place. updates is non-empty, every Delta has
// len(global) finite values and every Samples is positive; the slice is
// ordered by ClientID, so a deterministic strategy gives deterministic
// results. Aggregate must not retain the updates. The server calls it from
// one goroutine at a time.
//
// A strategy with state across rounds (momentum, adaptive moments) should
// implement encoding.BinaryMarshaler and encoding.BinaryUnmarshaler so
// that checkpoints capture it.
//
// A Strategy need not be safe for concurrent use: the server calls it from
// one goroutine at a time, the one running Run, and so must any other
// caller.
type Strategy interface {
	Aggregate(round int, global []float64, updates []Update) error
}

// MeanStrategy is implemented by strategies that use the updates only
// through their mean (FedAvg, FedAvgM, FedAdam, FedYogi, FedAdagrad). Only
// such strategies can run under secure aggregation, where the server learns
// just the sum, or with central differential privacy, which noises the
// mean.
//
// Like a Strategy, a MeanStrategy is called from one goroutine at a time and
// need not be safe for concurrent use.
type MeanStrategy interface {
	Strategy
	// SampleWeighted reports whether the mean weights each update by its
	// sample count (true) or counts every update once (false). Central
	// differential privacy always uses the unweighted mean.
	SampleWeighted() bool
	// Apply moves global (in place) by the round's mean update.
	Apply(round int, global, mean []float64) error
}

// meanChunk is the number of coordinates WeightedMean accumulates at a
// time: small enough that the accumulator stays in the L2 cache while every
// update streams through once.
const meanChunk = 8192

// WeightedMean sets dst to Σ wᵢ·updates[i].Delta / Σ wᵢ, where wᵢ is the
// sample count when bySamples and 1 otherwise. It streams each update once,
// in cache-sized blocks, folding four updates into the accumulator per
// pass, so it runs at about the speed of copying the updates. dst must have
// the updates' length.
func WeightedMean(dst []float64, updates []Update, bySamples bool) {
	total := 0.0
	for _, u := range updates {
		total += weight(u, bySamples)
	}
	clear(dst)
	for lo := 0; lo < len(dst); lo += meanChunk {
		hi := min(lo+meanChunk, len(dst))
		acc := dst[lo:hi]
		i := 0
		for ; i+4 <= len(updates); i += 4 {
			u := updates[i : i+4]
			a, b, c, d := u[0].Delta[lo:hi], u[1].Delta[lo:hi], u[2].Delta[lo:hi], u[3].Delta[lo:hi]
			a, b, c, d = a[:len(acc)], b[:len(acc)], c[:len(acc)], d[:len(acc)]
			wa, wb := weight(u[0], bySamples)/total, weight(u[1], bySamples)/total
			wc, wd := weight(u[2], bySamples)/total, weight(u[3], bySamples)/total
			for j := range acc {
				acc[j] += wa*a[j] + wb*b[j] + wc*c[j] + wd*d[j]
			}
		}
		for _, u := range updates[i:] {
			a := u.Delta[lo:hi]
			a = a[:len(acc)]
			w := weight(u, bySamples) / total
			for j := range acc {
				acc[j] += w * a[j]
			}
		}
	}
}

func weight(u Update, bySamples bool) float64 {
	if bySamples {
		return float64(u.Samples)
	}
	return 1
}

// FedAvg is federated averaging (McMahan et al. 2017): the new global
// parameters are the sample-weighted mean of the clients' parameters over
// the round's cohort. The zero value is ready to use.
//
// A FedAvg keeps a scratch buffer; it is not safe for concurrent use.
type FedAvg struct {
	// Unweighted counts every client once instead of weighting by samples.
	Unweighted bool
	// ServerLR scales the mean update; zero means 1 (plain FedAvg).
	ServerLR float64

	mean []float64
}

// Aggregate implements Strategy.
func (s *FedAvg) Aggregate(round int, global []float64, updates []Update) error {
	if len(s.mean) != len(global) {
		s.mean = make([]float64, len(global))
	}
	WeightedMean(s.mean, updates, s.SampleWeighted())
	return s.Apply(round, global, s.mean)
}

// SampleWeighted implements MeanStrategy.
func (s *FedAvg) SampleWeighted() bool { return !s.Unweighted }

// Apply implements MeanStrategy.
func (s *FedAvg) Apply(_ int, global, mean []float64) error {
	lr := s.ServerLR
	if lr == 0 {
		lr = 1
	}
	blas64.Implementation().Daxpy(len(global), lr, mean, 1, global, 1)
	return nil
}

// FedAvgM is federated averaging with server momentum (Hsu et al. 2019):
// v ← β·v + Δ̄, x ← x + η·v. The zero value uses β = 0.9 and η = 1.
//
// A FedAvgM holds the momentum buffer; it is not safe for concurrent use.
type FedAvgM struct {
	// Momentum is β; zero means 0.9.
	Momentum float64
	// ServerLR is η; zero means 1.
	ServerLR float64
	// Unweighted counts every client once instead of weighting by samples.
	Unweighted bool

	vel, mean []float64
}

// Aggregate implements Strategy.
func (s *FedAvgM) Aggregate(round int, global []float64, updates []Update) error {
	if len(s.mean) != len(global) {
		s.mean = make([]float64, len(global))
	}
	WeightedMean(s.mean, updates, s.SampleWeighted())
	return s.Apply(round, global, s.mean)
}

// SampleWeighted implements MeanStrategy.
func (s *FedAvgM) SampleWeighted() bool { return !s.Unweighted }

// Apply implements MeanStrategy.
func (s *FedAvgM) Apply(_ int, global, mean []float64) error {
	beta, lr := orDefault(s.Momentum, 0.9), orDefault(s.ServerLR, 1)
	if len(s.vel) != len(global) {
		s.vel = make([]float64, len(global))
	}
	for i, d := range mean {
		s.vel[i] = beta*s.vel[i] + d
		global[i] += lr * s.vel[i]
	}
	return nil
}

// MarshalBinary encodes the momentum buffer for a checkpoint.
func (s *FedAvgM) MarshalBinary() ([]byte, error) { return encodeVectors(s.vel), nil }

// UnmarshalBinary restores the momentum buffer from a checkpoint.
func (s *FedAvgM) UnmarshalBinary(b []byte) error {
	v, err := decodeVectors(b, 1)
	if err != nil {
		return err
	}
	s.vel = v[0]
	return nil
}

// Adaptive server optimisers of Reddi et al. (2021), "Adaptive Federated
// Optimization": the mean update Δ̄ is a pseudo-gradient;
// m ← β₁m + (1−β₁)Δ̄, the second moment v follows the optimiser's rule, and
// x ← x + η·m/(√v + τ).
type adaptKind int

const (
	adagrad adaptKind = iota
	adam
	yogi
)

// adaptive is the state and arithmetic shared by FedAdam, FedYogi and
// FedAdagrad.
type adaptive struct {
	m, v, mean []float64
}

func (s *adaptive) aggregate(kind adaptKind, eta, b1, b2, tau float64, weighted bool, global []float64, updates []Update) error {
	if len(s.mean) != len(global) {
		s.mean = make([]float64, len(global))
	}
	WeightedMean(s.mean, updates, weighted)
	return s.apply(kind, eta, b1, b2, tau, global, s.mean)
}

func (s *adaptive) apply(kind adaptKind, eta, b1, b2, tau float64, global, mean []float64) error {
	eta, b1, b2, tau = orDefault(eta, 0.01), orDefault(b1, 0.9), orDefault(b2, 0.99), orDefault(tau, 1e-3)
	if len(s.m) != len(global) {
		s.m = make([]float64, len(global))
		s.v = make([]float64, len(global))
		for i := range s.v {
			s.v[i] = tau * tau
		}
	}
	for i, d := range mean {
		s.m[i] = b1*s.m[i] + (1-b1)*d
		d2 := d * d
		switch kind {
		case adagrad:
			s.v[i] += d2
		case adam:
			s.v[i] = b2*s.v[i] + (1-b2)*d2
		case yogi:
			if diff := s.v[i] - d2; diff > 0 {
				s.v[i] -= (1 - b2) * d2
			} else if diff < 0 {
				s.v[i] += (1 - b2) * d2
			}
		}
		global[i] += eta * s.m[i] / (math.Sqrt(s.v[i]) + tau)
	}
	return nil
}

func (s *adaptive) MarshalBinary() ([]byte, error) { return encodeVectors(s.m, s.v), nil }

func (s *adaptive) UnmarshalBinary(b []byte) error {
	v, err := decodeVectors(b, 2)
	if err != nil {
		return err
	}
	if len(v[0]) != len(v[1]) {
		return fmt.Errorf("%w: moment buffers differ in length", ErrCheckpoint)
	}
	s.m, s.v = v[0], v[1]
	return nil
}

// FedAdam is the FedAdam server optimiser of Reddi et al. (2021).
// The zero value uses η = 0.01, β₁ = 0.9, β₂ = 0.99, τ = 1e-3.
//
// A FedAdam holds its moment buffers; it is not safe for concurrent use.
type FedAdam struct {
	// ServerLR is η; zero means 0.01.
	ServerLR float64
	// Beta1 is β₁; zero means 0.9.
	Beta1 float64
	// Beta2 is β₂; zero means 0.99.
	Beta2 float64
	// Tau is the adaptivity τ; zero means 1e-3.
	Tau float64
	// Unweighted counts every client once instead of weighting by samples.
	Unweighted bool

	st adaptive
}

// Aggregate implements Strategy.
func (s *FedAdam) Aggregate(_ int, global []float64, updates []Update) error {
	return s.st.aggregate(adam, s.ServerLR, s.Beta1, s.Beta2, s.Tau, !s.Unweighted, global, updates)
}

// SampleWeighted implements MeanStrategy.
func (s *FedAdam) SampleWeighted() bool { return !s.Unweighted }

// Apply implements MeanStrategy.
func (s *FedAdam) Apply(_ int, global, mean []float64) error {
	return s.st.apply(adam, s.ServerLR, s.Beta1, s.Beta2, s.Tau, global, mean)
}

// MarshalBinary encodes the moment buffers for a checkpoint.
func (s *FedAdam) MarshalBinary() ([]byte, error) { return s.st.MarshalBinary() }

// UnmarshalBinary restores the moment buffers from a checkpoint.
func (s *FedAdam) UnmarshalBinary(b []byte) error { return s.st.UnmarshalBinary(b) }

// FedYogi is the FedYogi server optimiser of Reddi et al. (2021), whose
// second moment grows more cautiously than Adam's.
// The zero value uses η = 0.01, β₁ = 0.9, β₂ = 0.99, τ = 1e-3.
//
// A FedYogi holds its moment buffers; it is not safe for concurrent use.
type FedYogi struct {
	// ServerLR is η; zero means 0.01.
	ServerLR float64
	// Beta1 is β₁; zero means 0.9.
	Beta1 float64
	// Beta2 is β₂; zero means 0.99.
	Beta2 float64
	// Tau is the adaptivity τ; zero means 1e-3.
	Tau float64
	// Unweighted counts every client once instead of weighting by samples.
	Unweighted bool

	st adaptive
}

// Aggregate implements Strategy.
func (s *FedYogi) Aggregate(_ int, global []float64, updates []Update) error {
	return s.st.aggregate(yogi, s.ServerLR, s.Beta1, s.Beta2, s.Tau, !s.Unweighted, global, updates)
}

// SampleWeighted implements MeanStrategy.
func (s *FedYogi) SampleWeighted() bool { return !s.Unweighted }

// Apply implements MeanStrategy.
func (s *FedYogi) Apply(_ int, global, mean []float64) error {
	return s.st.apply(yogi, s.ServerLR, s.Beta1, s.Beta2, s.Tau, global, mean)
}

// MarshalBinary encodes the moment buffers for a checkpoint.
func (s *FedYogi) MarshalBinary() ([]byte, error) { return s.st.MarshalBinary() }

// UnmarshalBinary restores the moment buffers from a checkpoint.
func (s *FedYogi) UnmarshalBinary(b []byte) error { return s.st.UnmarshalBinary(b) }

// FedAdagrad is the FedAdagrad server optimiser of Reddi et al. (2021).
// The zero value uses η = 0.01, β₁ = 0.9, τ = 1e-3 (β₂ is unused).
//
// A FedAdagrad holds its moment buffers; it is not safe for concurrent use.
type FedAdagrad struct {
	// ServerLR is η; zero means 0.01.
	ServerLR float64
	// Beta1 is β₁; zero means 0.9.
	Beta1 float64
	// Beta2 is β₂; zero means 0.99.
	Beta2 float64
	// Tau is the adaptivity τ; zero means 1e-3.
	Tau float64
	// Unweighted counts every client once instead of weighting by samples.
	Unweighted bool

	st adaptive
}

// Aggregate implements Strategy.
func (s *FedAdagrad) Aggregate(_ int, global []float64, updates []Update) error {
	return s.st.aggregate(adagrad, s.ServerLR, s.Beta1, s.Beta2, s.Tau, !s.Unweighted, global, updates)
}

// SampleWeighted implements MeanStrategy.
func (s *FedAdagrad) SampleWeighted() bool { return !s.Unweighted }

// Apply implements MeanStrategy.
func (s *FedAdagrad) Apply(_ int, global, mean []float64) error {
	return s.st.apply(adagrad, s.ServerLR, s.Beta1, s.Beta2, s.Tau, global, mean)
}

// MarshalBinary encodes the moment buffers for a checkpoint.
func (s *FedAdagrad) MarshalBinary() ([]byte, error) { return s.st.MarshalBinary() }

// UnmarshalBinary restores the moment buffers from a checkpoint.
func (s *FedAdagrad) UnmarshalBinary(b []byte) error { return s.st.UnmarshalBinary(b) }

func orDefault(v, d float64) float64 {
	if v == 0 {
		return d
	}
	return v
}

// encodeVectors encodes float64 vectors as a count, then for each a length
// and little-endian values.
func encodeVectors(vs ...[]float64) []byte {
	n := 4
	for _, v := range vs {
		n += 4 + 8*len(v)
	}
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(vs)))
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
		for _, x := range v {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
		}
	}
	return b
}

// decodeVectors decodes want vectors encoded by encodeVectors.
func decodeVectors(b []byte, want int) ([][]float64, error) {
	if len(b) < 4 || int(binary.LittleEndian.Uint32(b)) != want {
		return nil, fmt.Errorf("%w: strategy state: want %d vectors", ErrCheckpoint, want)
	}
	b = b[4:]
	out := make([][]float64, want)
	for i := range out {
		if len(b) < 4 {
			return nil, fmt.Errorf("%w: strategy state truncated", ErrCheckpoint)
		}
		n := int(binary.LittleEndian.Uint32(b))
		b = b[4:]
		if n > len(b)/8 {
			return nil, fmt.Errorf("%w: strategy state truncated", ErrCheckpoint)
		}
		if n > 0 {
			out[i] = make([]float64, n)
		}
		for j := range n {
			out[i][j] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:]))
		}
		b = b[8*n:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: strategy state has %d trailing bytes", ErrCheckpoint, len(b))
	}
	return out, nil
}
