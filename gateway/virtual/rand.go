package virtual

// Deterministic pseudo-randomness: every simulated quantity is a pure
// function of a seed and a time slot, so the same seed gives the same
// readings at the same instants, whatever order they are read in.

// mix is the splitmix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hash64 hashes a seed and a sequence of words.
func hash64(seed uint64, words ...uint64) uint64 {
	h := mix(seed)
	for _, w := range words {
		h = mix(h ^ w)
	}
	return h
}

// unit returns a number in [0, 1) determined by seed and words.
func unit(seed uint64, words ...uint64) float64 {
	return float64(hash64(seed, words...)>>11) / (1 << 53)
}
