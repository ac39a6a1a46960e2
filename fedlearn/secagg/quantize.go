package secagg

import (
	"fmt"
	"math"
)

// Quantizer maps float vectors to fixed-point elements of the ring
// Z/2^32 in which masked vectors are summed, and maps sums back.
//
// Each coordinate is clamped to [-Clip, Clip], multiplied by Scale (a
// power of two) and rounded to the nearest integer, stored as a 32-bit
// two's-complement value. Scale is the largest power of two for which a
// sum of Clients such values cannot leave the signed 32-bit range, so
// the modular sum of up to Clients quantized vectors, read back as a
// signed integer, is their exact integer sum. Each coordinate of a
// dequantized sum of n ≤ Clients vectors is therefore within n/(2·Scale)
// of the true sum of the clamped inputs ([Quantizer.MaxError]).
//
// With L2-clipped updates of norm at most S, Clip = S bounds every
// coordinate, so nothing is clamped. For 100 clients and Clip = 1 the
// resolution is 2^-24 per coordinate; for 1,000 clients 2^-21.
//
// A Quantizer is a plain value, safe for concurrent use.
type Quantizer struct {
	Clip    float64 // bound on each input coordinate; must be positive and finite
	Clients int     // most vectors that will be summed; must be at least 1
}

func (q Quantizer) validate() error {
	if !(q.Clip > 0) || math.IsInf(q.Clip, 1) {
		return fmt.Errorf("%w: clip %v", ErrMalformed, q.Clip)
	}
	if q.Clients < 1 || q.Clients > 1<<30 {
		return fmt.Errorf("%w: %d clients", ErrMalformed, q.Clients)
	}
	return nil
}

// Scale returns the fixed-point scale, a power of two, or 0 if the
// Quantizer is invalid.
func (q Quantizer) Scale() float64 {
	if q.validate() != nil {
		return 0
	}
	// Need Clients·(Clip·s + 1/2) ≤ 2^31 - 1.
	limit := (float64(math.MaxInt32)/float64(q.Clients) - 0.5) / q.Clip
	if !(limit > 0) {
		return 0
	}
	_, e := math.Frexp(limit) // limit = f·2^e, 0.5 ≤ f < 1
	return math.Ldexp(1, e-1)
}

// MaxError returns the largest possible absolute error of one coordinate
// of a dequantized sum of n quantized vectors, n/(2·Scale), given inputs
// within [-Clip, Clip].
func (q Quantizer) MaxError(n int) float64 {
	return float64(n) / (2 * q.Scale())
}

// Quantize writes the fixed-point encoding of x into dst, which must
// have len(x) elements. Values beyond ±Clip are clamped. It returns an
// error wrapping [ErrNonFinite] for NaN or ±Inf and [ErrMalformed] for an
// invalid Quantizer or mismatched lengths.
func (q Quantizer) Quantize(dst []uint32, x []float64) error {
	s := q.Scale()
	if s == 0 {
		return q.validate()
	}
	if len(dst) != len(x) {
		return fmt.Errorf("%w: quantize %d values into %d", ErrMalformed, len(x), len(dst))
	}
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: element %d is %v", ErrNonFinite, i, v)
		}
		v = min(max(v, -q.Clip), q.Clip)
		dst[i] = uint32(int32(math.Round(v * s)))
	}
	return nil
}

// Dequantize writes the real values of the ring elements sum (for
// instance a sum of at most Clients quantized vectors) into dst, which
// must have len(sum) elements.
func (q Quantizer) Dequantize(dst []float64, sum []uint32) error {
	s := q.Scale()
	if s == 0 {
		return q.validate()
	}
	if len(dst) != len(sum) {
		return fmt.Errorf("%w: dequantize %d values into %d", ErrMalformed, len(sum), len(dst))
	}
	inv := 1 / s // exact: s is a power of two
	for i, v := range sum {
		dst[i] = float64(int32(v)) * inv
	}
	return nil
}
