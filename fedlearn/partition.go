package fedlearn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrPartition is wrapped by partitioner errors (impossible splits).
var ErrPartition = errors.New("fedlearn: cannot partition")

// PartitionIID deals the indices 0..n-1 to k clients uniformly at random, in
// parts whose sizes differ by at most one. The result is deterministic for a
// given seed.
func PartitionIID(n, k int, seed uint64) ([][]int, error) {
	if k <= 0 || n < k {
		return nil, fmt.Errorf("%w: %d examples among %d clients", ErrPartition, n, k)
	}
	perm := rand.New(rand.NewPCG(seed, 0x11d)).Perm(n)
	parts := make([][]int, k)
	for i := range k {
		lo, hi := i*n/k, (i+1)*n/k
		parts[i] = perm[lo:hi:hi]
	}
	return parts, nil
}

// PartitionShards is the pathological non-IID split of McMahan et al.
// (2017): sort the examples by label, cut them into k*perClient shards of
// equal size, and give each client perClient shards chosen at random. With
// MNIST's 60,000 training examples, k=100 and perClient=2 this is the
// paper's 200 shards of 300, and most clients see only two digits.
// Remainder examples (when the count does not divide evenly) are left out.
func PartitionShards(labels []int, k, perClient int, seed uint64) ([][]int, error) {
	shards := k * perClient
	if k <= 0 || perClient <= 0 || len(labels) < shards {
		return nil, fmt.Errorf("%w: %d examples into %d shards", ErrPartition, len(labels), shards)
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return labels[a] - labels[b] })
	size := len(labels) / shards
	perm := rand.New(rand.NewPCG(seed, 0x5a4d)).Perm(shards)
	parts := make([][]int, k)
	for c := range k {
		for j := range perClient {
			s := perm[c*perClient+j]
			parts[c] = append(parts[c], order[s*size:(s+1)*size]...)
		}
	}
	return parts, nil
}

// PartitionDirichlet splits examples among k clients with label skew drawn
// from a symmetric Dirichlet(alpha) distribution per class (Hsu et al.
// 2019): small alpha (0.1) gives each client a few dominant classes, large
// alpha (100) approaches IID. Every client receives at least one example.
func PartitionDirichlet(labels []int, k int, alpha float64, seed uint64) ([][]int, error) {
	if k <= 0 || len(labels) < k || !(alpha > 0) || math.IsInf(alpha, 0) {
		return nil, fmt.Errorf("%w: %d examples among %d clients with alpha %v", ErrPartition, len(labels), k, alpha)
	}
	rng := rand.New(rand.NewPCG(seed, 0xd1c4))
	byClass := map[int][]int{}
	var classes []int
	for i, l := range labels {
		if _, ok := byClass[l]; !ok {
			classes = append(classes, l)
		}
		byClass[l] = append(byClass[l], i)
	}
	slices.Sort(classes)
	parts := make([][]int, k)
	p := make([]float64, k)
	for _, c := range classes {
		idx := byClass[c]
		rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
		sum := 0.0
		for i := range p {
			p[i] = gamma(rng, alpha)
			sum += p[i]
		}
		start, acc := 0, 0.0
		for i := range k {
			acc += p[i]
			end := int(math.Round(acc / sum * float64(len(idx))))
			if i == k-1 {
				end = len(idx)
			}
			end = max(end, start)
			parts[i] = append(parts[i], idx[start:end]...)
			start = end
		}
	}
	// Give every empty client one example from the currently largest one.
	for i := range parts {
		if len(parts[i]) > 0 {
			continue
		}
		big := 0
		for j := range parts {
			if len(parts[j]) > len(parts[big]) {
				big = j
			}
		}
		last := len(parts[big]) - 1
		parts[i] = append(parts[i], parts[big][last])
		parts[big] = parts[big][:last]
	}
	return parts, nil
}

// gamma draws from Gamma(shape, 1) by Marsaglia and Tsang's method.
func gamma(rng *rand.Rand, shape float64) float64 {
	if shape < 1 {
		u := rng.Float64()
		return gamma(rng, shape+1) * math.Pow(u, 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := rng.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
