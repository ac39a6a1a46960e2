package secagg

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math/bits"
)

// Shamir secret sharing over the prime field GF(p), p = 2^61 - 1 (a
// Mersenne prime, so reduction is two shifts and an add). A 32-byte
// secret is cut into five chunks of at most 56 bits, each shared with
// its own random polynomial of degree t-1; a share is the five
// evaluations at the holder's ID.

const (
	fieldP       = 1<<61 - 1
	secretSize   = 32
	chunkBytes   = 7
	shareChunks  = (secretSize + chunkBytes - 1) / chunkBytes // 5
	chunkBits    = 8 * chunkBytes
	lastChunkLen = secretSize - (shareChunks-1)*chunkBytes // 4
)

// ShareSize is the encoded size of a [Share] in bytes.
const ShareSize = 8 * shareChunks

// Share is one Shamir share of a 32-byte secret: five little-endian
// field elements. Shares are secret material; String and LogValue
// redact them.
//
// A Share is an immutable array value, safe for concurrent use.
type Share [ShareSize]byte

// String returns a redacted placeholder, never the share.
func (Share) String() string { return "secagg.Share(REDACTED)" }

// GoString returns a redacted placeholder, never the share.
func (Share) GoString() string { return "secagg.Share(REDACTED)" }

// LogValue returns a redacted placeholder, never the share.
func (Share) LogValue() slog.Value { return slog.StringValue("REDACTED") }

func mulmod(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	// a·b = hi·2^64 + lo; with p = 2^61-1, 2^61 ≡ 1, so the product is
	// congruent to (lo mod 2^61) + (a·b >> 61).
	r := (lo & fieldP) + (lo>>61 | hi<<3)
	if r >= fieldP {
		r -= fieldP
	}
	return r
}

func addmod(a, b uint64) uint64 {
	r := a + b
	if r >= fieldP {
		r -= fieldP
	}
	return r
}

func submod(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a + fieldP - b
}

// invmod returns a^(p-2) = a^-1 for a ≠ 0.
func invmod(a uint64) uint64 {
	r, e := uint64(1), uint64(fieldP-2)
	for e > 0 {
		if e&1 == 1 {
			r = mulmod(r, a)
		}
		a = mulmod(a, a)
		e >>= 1
	}
	return r
}

// randField returns a uniform element of GF(p).
func randField(buf *[8]byte) uint64 {
	for {
		rand.Read(buf[:])
		v := binary.LittleEndian.Uint64(buf[:]) & (1<<61 - 1)
		if v < fieldP {
			return v
		}
	}
}

func secretChunks(s *[secretSize]byte) [shareChunks]uint64 {
	var c [shareChunks]uint64
	var tmp [8]byte
	for i := range c {
		clear(tmp[:])
		copy(tmp[:], s[i*chunkBytes:min((i+1)*chunkBytes, secretSize)])
		c[i] = binary.LittleEndian.Uint64(tmp[:])
	}
	return c
}

// splitSecret shares s among the holders xs (distinct, non-zero) so that
// any t of them can recover it and t-1 learn nothing. It returns one
// share per holder, in the order of xs.
func splitSecret(s *[secretSize]byte, xs []ID, t int) []Share {
	chunks := secretChunks(s)
	// coef[c][k] is the coefficient of x^k for chunk c; coef[c][0] is the
	// secret chunk.
	coef := make([][shareChunks]uint64, t)
	var buf [8]byte
	for k := 1; k < t; k++ {
		for c := range coef[k] {
			coef[k][c] = randField(&buf)
		}
	}
	coef[0] = chunks
	out := make([]Share, len(xs))
	for i, x := range xs {
		var y [shareChunks]uint64
		xf := uint64(x)
		// Horner's rule, highest coefficient first.
		for k := t - 1; k >= 0; k-- {
			for c := range y {
				y[c] = addmod(mulmod(y[c], xf), coef[k][c])
			}
		}
		for c := range y {
			binary.LittleEndian.PutUint64(out[i][8*c:], y[c])
		}
	}
	clear(coef)
	return out
}

// decodeShare parses a share, rejecting elements outside the field.
func decodeShare(sh *Share) ([shareChunks]uint64, error) {
	var y [shareChunks]uint64
	for c := range y {
		y[c] = binary.LittleEndian.Uint64(sh[8*c:])
		if y[c] >= fieldP {
			return y, fmt.Errorf("%w: share element out of field", ErrMalformed)
		}
	}
	return y, nil
}

// lagrangeAtZero returns λ_i = Π_{j≠i} x_j / (x_j - x_i) for distinct
// non-zero xs, so that f(0) = Σ λ_i f(x_i) for any polynomial f of degree
// < len(xs).
func lagrangeAtZero(xs []ID) []uint64 {
	n := len(xs)
	lam := make([]uint64, n)
	prod := uint64(1)
	for _, x := range xs {
		prod = mulmod(prod, uint64(x))
	}
	// den_i = x_i · Π_{j≠i} (x_j - x_i), so λ_i = prod / den_i.
	den := make([]uint64, n)
	for i, xi := range xs {
		d := uint64(xi)
		for j, xj := range xs {
			if j != i {
				d = mulmod(d, submod(uint64(xj), uint64(xi)))
			}
		}
		den[i] = d
	}
	// Batch inversion (Montgomery's trick): one field inversion in all.
	acc := uint64(1)
	for i := range den {
		lam[i] = acc
		acc = mulmod(acc, den[i])
	}
	inv := invmod(acc)
	for i := n - 1; i >= 0; i-- {
		lam[i] = mulmod(mulmod(lam[i], inv), prod)
		inv = mulmod(inv, den[i])
	}
	return lam
}

// combineShares recovers the secret from shares ys held at xs (exactly
// the t points the coefficients lam were computed for). It fails with
// ErrForged if the result is not a valid secret encoding, which a set
// of shares from different polynomials almost surely produces.
func combineShares(lam []uint64, ys [][shareChunks]uint64) ([secretSize]byte, error) {
	var s [secretSize]byte
	var tmp [8]byte
	for c := range shareChunks {
		var v uint64
		for i, y := range ys {
			v = addmod(v, mulmod(lam[i], y[c]))
		}
		width := chunkBytes
		if c == shareChunks-1 {
			width = lastChunkLen
		}
		if v>>(8*width) != 0 {
			return s, fmt.Errorf("%w: shares do not reconstruct a valid secret", ErrForged)
		}
		binary.LittleEndian.PutUint64(tmp[:], v)
		copy(s[c*chunkBytes:], tmp[:width])
	}
	return s, nil
}
