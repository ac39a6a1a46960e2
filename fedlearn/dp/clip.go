package dp

import (
	"errors"
	"fmt"
	"math"
)

// Errors returned by this package; test for them with [errors.Is].
var (
	// ErrNonFinite reports a vector containing NaN or ±Inf, which no
	// clipping or noise can make private or useful.
	ErrNonFinite = errors.New("dp: NaN or infinite value")

	// ErrInvalid reports a parameter outside its domain: a non-positive
	// clipping bound, noise multiplier, cohort size or δ, a sampling rate
	// outside [0, 1], an order not greater than 1.
	ErrInvalid = errors.New("dp: invalid parameter")
)

// L2Norm returns the Euclidean norm of v. It does not overflow or
// underflow for finite inputs (a large or tiny vector is rescaled), and
// returns NaN if v contains NaN and +Inf if it contains ±Inf and no NaN.
func L2Norm(v []float64) float64 {
	// Fast path: four independent accumulators.
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s0 += v[i] * v[i]
		s1 += v[i+1] * v[i+1]
		s2 += v[i+2] * v[i+2]
		s3 += v[i+3] * v[i+3]
	}
	for ; i < len(v); i++ {
		s0 += v[i] * v[i]
	}
	s := (s0 + s1) + (s2 + s3)
	// A sum that overflowed, or that is so small that squaring may have
	// lost everything, is recomputed with scaling.
	if math.IsInf(s, 0) || (s < 0x1p-900 && s >= 0) || math.IsNaN(s) {
		return scaledNorm(v)
	}
	return math.Sqrt(s)
}

// scaledNorm computes the norm as max·sqrt(Σ(x/max)²), exact in range for
// any finite input.
func scaledNorm(v []float64) float64 {
	var m float64
	for _, x := range v {
		if math.IsNaN(x) {
			return math.NaN()
		}
		m = max(m, math.Abs(x))
	}
	if m == 0 || math.IsInf(m, 1) {
		return m
	}
	var s float64
	for _, x := range v {
		r := x / m
		s += r * r
	}
	return m * math.Sqrt(s)
}

// ClipL2 scales v in place, if needed, so that its Euclidean norm is at
// most bound, and returns v's norm before clipping. A vector already
// within the bound is left untouched. It does not allocate.
//
// This is the per-update clipping of DP-FedAvg: it bounds each client's
// contribution (the sensitivity) to bound, to within floating-point
// rounding. It returns an error wrapping [ErrNonFinite] if v contains NaN
// or ±Inf, and [ErrInvalid] if bound is not a positive finite number; v
// is unchanged on error.
func ClipL2(v []float64, bound float64) (norm float64, err error) {
	if !(bound > 0) || math.IsInf(bound, 1) {
		return 0, fmt.Errorf("%w: clipping bound %v", ErrInvalid, bound)
	}
	norm = L2Norm(v)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, ErrNonFinite
	}
	if norm <= bound {
		return norm, nil
	}
	f := bound / norm
	for i := range v {
		v[i] *= f
	}
	return norm, nil
}
