package fedlearn

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas/blas64"
)

// Byzantine-robust strategies. They look at every update individually, so
// they cannot run under secure aggregation or central differential privacy
// (NewServer rejects the combination).

// robustChunk is the number of coordinates the coordinate-wise strategies
// transpose at a time.
const robustChunk = 512

// coordinatewise applies f to each coordinate's values across the updates,
// in chunks so that the gathered columns stay in cache, and adds the result
// to global.
func coordinatewise(global []float64, updates []Update, f func(col []float64) float64) {
	n := len(updates)
	buf := make([]float64, robustChunk*n)
	for lo := 0; lo < len(global); lo += robustChunk {
		hi := min(lo+robustChunk, len(global))
		w := hi - lo
		for i, u := range updates {
			for j, v := range u.Delta[lo:hi] {
				buf[j*n+i] = v
			}
		}
		for j := range w {
			global[lo+j] += f(buf[j*n : (j+1)*n])
		}
	}
}

// Median is the coordinate-wise median of the updates (Yin et al. 2018):
// each parameter moves by the median of the clients' changes to it, so a
// minority of arbitrarily bad updates cannot drag it far. Sample counts are
// ignored. The zero value is ready to use; Median is stateless and safe for
// concurrent use.
type Median struct{}

// Aggregate implements Strategy.
func (Median) Aggregate(_ int, global []float64, updates []Update) error {
	coordinatewise(global, updates, func(col []float64) float64 {
		n := len(col)
		selectNth(col, n/2)
		if n%2 == 1 {
			return col[n/2]
		}
		return (slices.Max(col[:n/2]) + col[n/2]) / 2
	})
	return nil
}

// TrimmedMean is the coordinate-wise trimmed mean (Yin et al. 2018): for
// each parameter, the largest and smallest Trim fraction of the clients'
// changes are dropped and the rest averaged. Sample counts are ignored.
// TrimmedMean is stateless and safe for concurrent use.
type TrimmedMean struct {
	// Trim is the fraction β in [0, 0.5) dropped from each end; zero means
	// 0.1. At least one value per end is dropped when there are three or
	// more updates.
	Trim float64
}

// Aggregate implements Strategy.
func (s TrimmedMean) Aggregate(_ int, global []float64, updates []Update) error {
	beta := orDefault(s.Trim, 0.1)
	if beta < 0 || beta >= 0.5 {
		return fmt.Errorf("%w: trimmed mean fraction %v outside [0, 0.5)", ErrConfig, beta)
	}
	n := len(updates)
	k := int(math.Floor(beta * float64(n)))
	if k == 0 && n >= 3 && s.Trim >= 0 {
		k = 1
	}
	coordinatewise(global, updates, func(col []float64) float64 {
		if k > 0 {
			selectNth(col, k)         // col[:k] are the k smallest
			selectNth(col[k:], n-2*k) // col[n-k:] the k largest
		}
		sum := 0.0
		for _, v := range col[k : n-k] {
			sum += v
		}
		return sum / float64(n-2*k)
	})
	return nil
}

// Krum is Krum and Multi-Krum (Blanchard et al. 2017): each update is scored
// by the summed squared distance to its n−f−2 nearest neighbours, and the
// Select lowest-scoring updates are averaged (weighted by samples). An
// outlier far from the honest majority gets a high score and is left out.
// Krum needs n > 2f+2 updates; with fewer it falls back to the single
// best-scored update among n−1 neighbours. Krum is stateless and safe for
// concurrent use.
type Krum struct {
	// Byzantine is f, the number of malicious clients to tolerate; zero
	// means ⌊(n−3)/2⌋, the most Krum can handle.
	Byzantine int
	// Select is m, the number of updates averaged; zero or one is classic
	// Krum, more is Multi-Krum.
	Select int
}

// Aggregate implements Strategy.
func (s Krum) Aggregate(round int, global []float64, updates []Update) error {
	chosen := s.Choose(updates)
	sel := make([]Update, len(chosen))
	for i, c := range chosen {
		sel[i] = updates[c]
	}
	mean := make([]float64, len(global))
	WeightedMean(mean, sel, true)
	blas64.Implementation().Daxpy(len(global), 1, mean, 1, global, 1)
	return nil
}

// Choose returns the indices of the updates Krum selects, best first.
func (s Krum) Choose(updates []Update) []int {
	n := len(updates)
	f := s.Byzantine
	if f <= 0 {
		f = max((n-3)/2, 0)
	}
	nb := n - f - 2 // neighbours counted in a score
	if nb < 1 {
		nb = max(n-1, 1)
	}
	impl := blas64.Implementation()
	norms := make([]float64, n)
	for i, u := range updates {
		norms[i] = impl.Ddot(len(u.Delta), u.Delta, 1, u.Delta, 1)
	}
	dist := make([]float64, n*n)
	for i := range n {
		for j := i + 1; j < n; j++ {
			a, b := updates[i].Delta, updates[j].Delta
			d := max(norms[i]+norms[j]-2*impl.Ddot(len(a), a, 1, b, 1), 0)
			dist[i*n+j], dist[j*n+i] = d, d
		}
	}
	scores := make([]float64, n)
	row := make([]float64, 0, n)
	for i := range n {
		row = row[:0]
		for j := range n {
			if j != i {
				row = append(row, dist[i*n+j])
			}
		}
		slices.Sort(row)
		for _, d := range row[:min(nb, len(row))] {
			scores[i] += d
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case scores[a] < scores[b]:
			return -1
		case scores[a] > scores[b]:
			return 1
		}
		return 0
	})
	m := min(max(s.Select, 1), n)
	return order[:m]
}

// selectNth reorders a so that a[k] is the element that would be there if
// a were sorted, with no larger element before it and no smaller one after
// (quickselect, expected linear time). It requires 0 <= k < len(a).
func selectNth(a []float64, k int) {
	lo, hi := 0, len(a)-1
	for lo < hi {
		// Median-of-three pivot.
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p := a[mid]
		i, j := lo, hi
		for i <= j {
			for a[i] < p {
				i++
			}
			for a[j] > p {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}
