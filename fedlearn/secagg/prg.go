package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"runtime"
	"sync"
)

// A mask is the keystream of AES-256 in counter mode under a 32-byte
// seed, read as little-endian uint32 words. Every seed is used for one
// vector only (pairwise seeds are bound to the session, self-mask seeds
// are fresh), so a zero IV is safe.

const maskChunk = 16 << 10 // words per keystream chunk

// masker expands seeds into masks, reusing its buffer.
type masker struct {
	buf []byte
}

// apply adds (sign > 0) or subtracts (sign < 0) the mask expanded from
// seed to v, modulo 2^32.
func (m *masker) apply(v []uint32, seed *[32]byte, sign int) {
	block, err := aes.NewCipher(seed[:])
	if err != nil {
		panic(err) // unreachable: the key is 32 bytes
	}
	var iv [aes.BlockSize]byte
	ctr := cipher.NewCTR(block, iv[:])
	if m.buf == nil {
		m.buf = make([]byte, 4*maskChunk)
	}
	for off := 0; off < len(v); off += maskChunk {
		w := v[off:min(off+maskChunk, len(v))]
		p := m.buf[:4*len(w)]
		clear(p)
		ctr.XORKeyStream(p, p)
		if sign > 0 {
			addWords(w, p)
		} else {
			subWords(w, p)
		}
	}
}

// addWords adds the little-endian words of p (len(p) == 4*len(w)) to w.
// The loop is unrolled by hand: it is the innermost loop of masking.
func addWords(w []uint32, p []byte) {
	for len(w) >= 4 && len(p) >= 16 {
		w[0] += binary.LittleEndian.Uint32(p[0:4])
		w[1] += binary.LittleEndian.Uint32(p[4:8])
		w[2] += binary.LittleEndian.Uint32(p[8:12])
		w[3] += binary.LittleEndian.Uint32(p[12:16])
		w, p = w[4:], p[16:]
	}
	for i := range w {
		w[i] += binary.LittleEndian.Uint32(p[4*i:])
	}
}

// subWords subtracts the little-endian words of p from w.
func subWords(w []uint32, p []byte) {
	for len(w) >= 4 && len(p) >= 16 {
		w[0] -= binary.LittleEndian.Uint32(p[0:4])
		w[1] -= binary.LittleEndian.Uint32(p[4:8])
		w[2] -= binary.LittleEndian.Uint32(p[8:12])
		w[3] -= binary.LittleEndian.Uint32(p[12:16])
		w, p = w[4:], p[16:]
	}
	for i := range w {
		w[i] -= binary.LittleEndian.Uint32(p[4*i:])
	}
}

// applyMasks applies every job's mask to v, spreading the work over up to
// GOMAXPROCS goroutines when there is enough of it; each worker sums into
// its own buffer, so the result does not depend on scheduling.
func applyMasks(v []uint32, jobs []maskJob) {
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers <= 1 || len(v)*len(jobs) < 1<<20 {
		var mk masker
		for i := range jobs {
			mk.apply(v, &jobs[i].seed, jobs[i].sign)
		}
		return
	}
	parts := make([][]uint32, workers)
	var wg sync.WaitGroup
	for w := range workers {
		parts[w] = make([]uint32, len(v))
		wg.Go(func() {
			var mk masker
			for i := w; i < len(jobs); i += workers {
				mk.apply(parts[w], &jobs[i].seed, jobs[i].sign)
			}
		})
	}
	wg.Wait()
	for _, p := range parts {
		for i := range v {
			v[i] += p[i]
		}
	}
}
