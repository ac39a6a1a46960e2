package dp

import (
	crand "crypto/rand"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
)

// Gaussian is the Gaussian mechanism of DP-FedAvg with central
// differential privacy (McMahan et al., "Learning Differentially Private
// Recurrent Language Models", ICLR 2018): the server clips each of the m
// client updates to L2 norm S (see [ClipL2]), averages them with equal
// weights and adds independent N(0, σ²) noise to every coordinate of the
// mean, with σ = z·S/m for noise multiplier z.
//
// A Gaussian is safe for concurrent use.
type Gaussian struct {
	z, clip float64

	mu  sync.Mutex
	rng *rand.Rand
}

// NewGaussian returns the mechanism with noise multiplier z and clipping
// bound clip (both positive and finite). Noise is drawn from src; a nil
// src means a ChaCha8 generator seeded from crypto/rand, which is what
// production must use so that the noise cannot be predicted. Pass a
// seeded source (rand.NewPCG(1, 2)) only for reproducible tests and
// simulations.
func NewGaussian(z, clip float64, src rand.Source) (*Gaussian, error) {
	if !(z > 0) || math.IsInf(z, 1) {
		return nil, fmt.Errorf("%w: noise multiplier %v", ErrInvalid, z)
	}
	if !(clip > 0) || math.IsInf(clip, 1) {
		return nil, fmt.Errorf("%w: clipping bound %v", ErrInvalid, clip)
	}
	if src == nil {
		var seed [32]byte
		crand.Read(seed[:]) // never returns an error (crypto/rand docs)
		src = rand.NewChaCha8(seed)
	}
	return &Gaussian{z: z, clip: clip, rng: rand.New(src)}, nil
}

// NoiseMultiplier returns z.
func (g *Gaussian) NoiseMultiplier() float64 { return g.z }

// Clip returns the clipping bound S.
func (g *Gaussian) Clip() float64 { return g.clip }

// Std returns the noise standard deviation z·S/m added to the mean of m
// clipped updates.
func (g *Gaussian) Std(m int) float64 { return g.z * g.clip / float64(m) }

// AddNoise adds independent N(0, (z·S/m)²) noise to each element of mean,
// the equally weighted mean of m updates each clipped to S. Weighting
// updates by sample counts would change the sensitivity and void the
// guarantee; pass the unweighted mean.
//
// It returns an error wrapping [ErrInvalid] if m < 1 and [ErrNonFinite]
// if mean contains NaN or ±Inf (mean is unchanged then).
func (g *Gaussian) AddNoise(mean []float64, m int) error {
	if m < 1 {
		return fmt.Errorf("%w: cohort size %d", ErrInvalid, m)
	}
	for _, x := range mean {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ErrNonFinite
		}
	}
	std := g.Std(m)
	g.mu.Lock()
	defer g.mu.Unlock()
	for i := range mean {
		mean[i] += std * g.rng.NormFloat64()
	}
	return nil
}
