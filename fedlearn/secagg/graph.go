package secagg

import (
	crand "crypto/rand"
	"math/rand/v2"
	"slices"
)

// buildGraph returns each client's neighbours (sorted) in the
// communication graph over the sorted IDs. k = 0, or k ≥ n-1, gives the
// complete graph of Bonawitz et al.; otherwise it is SecAgg+'s sparse
// graph: the clients are put on a ring in uniformly random order and
// each is joined to the k/2 nearest on either side (k rounded up to even),
// a k-regular Harary graph. It returns the degree.
func buildGraph(ids []ID, k int) (map[ID][]ID, int) {
	n := len(ids)
	g := make(map[ID][]ID, n)
	if k == 0 || k >= n-1 {
		for _, u := range ids {
			nb := make([]ID, 0, n-1)
			for _, v := range ids {
				if v != u {
					nb = append(nb, v)
				}
			}
			g[u] = nb
		}
		return g, n - 1
	}
	half := (k + 1) / 2
	if 2*half >= n-1 {
		return buildGraph(ids, 0)
	}
	var seed [32]byte
	crand.Read(seed[:])
	perm := rand.New(rand.NewChaCha8(seed)).Perm(n)
	ring := make([]ID, n)
	for i, p := range perm {
		ring[i] = ids[p]
	}
	for i, u := range ring {
		nb := make([]ID, 0, 2*half)
		for d := 1; d <= half; d++ {
			nb = append(nb, ring[(i+d)%n], ring[(i-d+n)%n])
		}
		slices.Sort(nb)
		g[u] = nb
	}
	return g, 2 * half
}
