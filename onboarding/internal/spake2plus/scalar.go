package spake2plus

import "math/bits"

// order is the order n of the P-256 group, as four little-endian 64-bit
// limbs.
var order = [4]uint64{0xf3b9cac2fc632551, 0xbce6faada7179e84, 0xffffffffffffffff, 0xffffffff00000000}

// reduce returns b, read as a big-endian integer of any length, modulo the
// P-256 group order, as a 32-byte big-endian scalar.
//
// It runs in time that depends only on len(b): it shifts the input in one bit
// at a time and subtracts n with a mask instead of a branch, so the
// password-derived values it reduces leak nothing through timing.
func reduce(b []byte) [ScalarSize]byte {
	var r [4]uint64 // invariant: r < n
	for _, octet := range b {
		for i := 7; i >= 0; i-- {
			bit := uint64(octet>>uint(i)) & 1
			// r = 2r + bit; the bit shifted out of r[3] is the carry c.
			c := r[3] >> 63
			r[3] = r[3]<<1 | r[2]>>63
			r[2] = r[2]<<1 | r[1]>>63
			r[1] = r[1]<<1 | r[0]>>63
			r[0] = r[0]<<1 | bit
			// Subtract n unless c*2^256 + r < n, that is unless c == 0 and
			// the subtraction borrows.
			t0, borrow := bits.Sub64(r[0], order[0], 0)
			t1, borrow := bits.Sub64(r[1], order[1], borrow)
			t2, borrow := bits.Sub64(r[2], order[2], borrow)
			t3, borrow := bits.Sub64(r[3], order[3], borrow)
			mask := -(c | (borrow ^ 1))
			r[0] = t0&mask | r[0]&^mask
			r[1] = t1&mask | r[1]&^mask
			r[2] = t2&mask | r[2]&^mask
			r[3] = t3&mask | r[3]&^mask
		}
	}
	var out [ScalarSize]byte
	for i := range 4 {
		limb := r[3-i]
		for j := range 8 {
			out[8*i+j] = byte(limb >> (56 - 8*uint(j)))
		}
	}
	return out
}

// isZero reports, in constant time, whether the scalar s is zero.
func isZero(s *[ScalarSize]byte) bool {
	var acc byte
	for _, b := range s {
		acc |= b
	}
	return acc == 0
}
