package dp

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// DefaultOrders are the Rényi orders α an [Accountant] evaluates when its
// Orders field is nil: 1.1, 1.2, …, 10.9 and 12, 13, …, 63, the default
// of TensorFlow Privacy and Opacus, so ε values are comparable with
// theirs. Do not modify it.
var DefaultOrders = defaultOrders()

func defaultOrders() []float64 {
	var o []float64
	for x := 1; x < 100; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 12; a < 64; a++ {
		o = append(o, float64(a))
	}
	return o
}

// RDP returns the Rényi differential privacy ε_α at order α of one
// application of the sampled Gaussian mechanism: each record (here, each
// client) is included independently with probability q, and Gaussian
// noise of standard deviation z times the sensitivity is added to the
// sum. It follows Mironov, Talwar and Zhang, "Rényi Differential Privacy
// of the Sampled Gaussian Mechanism" (2019), §3.3: a finite binomial
// expansion for integer α and a convergent series with erfc tails for
// fractional α, both in log space, which is also what TensorFlow Privacy
// and Opacus compute.
//
// It returns 0 for q = 0, α/(2z²) for q = 1, +Inf for z = 0 or α = +Inf,
// and NaN for parameters outside their domain (q ∉ [0,1], z < 0, α ≤ 1)
// or if the series cannot be evaluated.
func RDP(q, z, alpha float64) float64 {
	switch {
	case !(q >= 0 && q <= 1) || !(z >= 0) || !(alpha > 1):
		return math.NaN()
	case q == 0:
		return 0
	case z == 0 || math.IsInf(alpha, 1):
		return math.Inf(1)
	case q == 1:
		return alpha / (2 * z * z)
	}
	var la float64
	if alpha == math.Trunc(alpha) && alpha < 1<<20 {
		la = logAInt(q, z, int(alpha))
	} else {
		la = logAFrac(q, z, alpha)
	}
	return la / (alpha - 1)
}

// logAInt is log A_α for integer α: log Σ_{i=0}^{α} C(α,i) q^i (1-q)^{α-i}
// exp((i²-i)/(2z²)).
func logAInt(q, z float64, alpha int) float64 {
	lq, l1q := math.Log(q), math.Log1p(-q)
	a := float64(alpha)
	lga, _ := math.Lgamma(a + 1)
	acc := math.Inf(-1)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		lgi, _ := math.Lgamma(fi + 1)
		lgr, _ := math.Lgamma(a - fi + 1)
		term := lga - lgi - lgr + fi*lq + (a-fi)*l1q + (fi*fi-fi)/(2*z*z)
		acc = logAdd(acc, term)
	}
	return acc
}

// logAFrac is log A_α for fractional α: the two tails of the integral,
// split at z0 = z²·log(1/q - 1) + 1/2, each expanded with the generalised
// binomial series and summed until the terms fall below e^-30.
func logAFrac(q, z, alpha float64) float64 {
	lq, l1q := math.Log(q), math.Log1p(-q)
	z0 := z*z*math.Log(1/q-1) + 0.5
	lga, _ := math.Lgamma(alpha + 1)
	a0, a1 := math.Inf(-1), math.Inf(-1)
	for i := 0; i < maxSeriesTerms; i++ {
		fi := float64(i)
		j := alpha - fi
		// log|C(α, i)| and its sign; Γ(α+1) and Γ(i+1) are positive.
		lgi, _ := math.Lgamma(fi + 1)
		lgj, sign := math.Lgamma(j + 1)
		lc := lga - lgi - lgj

		lt0 := lc + fi*lq + j*l1q
		lt1 := lc + j*lq + fi*l1q
		le0 := math.Log(0.5) + logErfc((fi-z0)/(math.Sqrt2*z))
		le1 := math.Log(0.5) + logErfc((z0-j)/(math.Sqrt2*z))
		ls0 := lt0 + (fi*fi-fi)/(2*z*z) + le0
		ls1 := lt1 + (j*j-j)/(2*z*z) + le1
		if sign > 0 {
			a0, a1 = logAdd(a0, ls0), logAdd(a1, ls1)
		} else {
			a0, a1 = logSub(a0, ls0), logSub(a1, ls1)
		}
		if max(ls0, ls1) < -30 {
			return logAdd(a0, a1)
		}
	}
	return math.NaN() // did not converge
}

const maxSeriesTerms = 1 << 20

// logAdd returns log(e^x + e^y).
func logAdd(x, y float64) float64 {
	a, b := min(x, y), max(x, y)
	if math.IsInf(a, -1) {
		return b
	}
	return math.Log1p(math.Exp(a-b)) + b
}

// logSub returns log(e^x - e^y), or NaN if y > x.
func logSub(x, y float64) float64 {
	switch {
	case x < y || math.IsNaN(x) || math.IsNaN(y):
		return math.NaN()
	case math.IsInf(y, -1):
		return x
	case x == y:
		return math.Inf(-1)
	case x-y > 700: // e^(x-y) - 1 overflows; the correction is negligible
		return x
	}
	return math.Log(math.Expm1(x-y)) + y
}

// logErfc returns log(erfc(x)), accurate where erfc underflows.
func logErfc(x float64) float64 {
	if x < 20 {
		return math.Log(math.Erfc(x))
	}
	// Asymptotic series: erfc(x) = e^{-x²}/(x√π) · (1 - 1/(2x²) + 3/(4x⁴)
	// - 15/(8x⁶) + 105/(16x⁸) - …); at x ≥ 20 the omitted terms are below
	// 1e-11 relative.
	r := 1 / (2 * x * x)
	s := 1 - r*(1-3*r*(1-5*r*(1-7*r)))
	return -x*x - math.Log(x) - 0.5*math.Log(math.Pi) + math.Log(s)
}

// epsilon converts RDP guarantees at the given orders to the smallest ε
// of an (ε, δ) guarantee, with the conversion of Balle et al.,
// "Hypothesis Testing Interpretations and Rényi Differential Privacy"
// (AISTATS 2020), Theorem 21: ε = ε_α + log((α-1)/α) - (log δ + log α)/(α-1).
// It returns the best ε (at least 0) and its order; orders whose RDP is
// NaN or +Inf are skipped, and ε is +Inf if none is usable.
func epsilon(orders, rdp []float64, delta float64) (eps, order float64) {
	eps, order = math.Inf(1), math.NaN()
	ld := math.Log(delta)
	for k, a := range orders {
		r := rdp[k]
		if math.IsNaN(r) || math.IsInf(r, 1) {
			continue
		}
		e := r + math.Log((a-1)/a) - (ld+math.Log(a))/(a-1)
		if e < eps {
			eps, order = e, a
		}
	}
	return max(eps, 0), order
}

// Accountant tracks the cumulative privacy loss of a training run, one
// application of the sampled Gaussian mechanism per round, by adding up
// Rényi DP at a set of orders (RDP composes additively) and converting
// to (ε, δ) on demand. Call [Accountant.Step] once per round that
// released a noised aggregate and [Accountant.Epsilon] to report ε.
//
// The sampling rate is q = m/K for m clients sampled out of K. The
// analysis assumes each client is included independently with
// probability q (Poisson sampling); a server that samples exactly m
// clients uniformly is analysed with the same figure, as TensorFlow
// Federated and the DP-FedAvg literature do, but that is an
// approximation rather than a proof for fixed-size sampling.
//
// The zero Accountant is ready to use with [DefaultOrders]. An Accountant
// is safe for concurrent use.
type Accountant struct {
	// Orders are the Rényi orders α > 1 to track; nil means
	// DefaultOrders. Set before the first Step and do not modify after.
	Orders []float64

	mu     sync.Mutex
	rdp    []float64 // cumulative RDP per order
	rounds int
	// cache of the per-step RDP vector for the last (q, z)
	cq, cz float64
	cache  []float64
}

func (a *Accountant) orders() []float64 {
	if a.Orders == nil {
		return DefaultOrders
	}
	return a.Orders
}

// Step records one round of the sampled Gaussian mechanism with sampling
// rate q and noise multiplier z. It is StepN(q, z, 1).
func (a *Accountant) Step(q, z float64) error { return a.StepN(q, z, 1) }

// StepN records n rounds with sampling rate q and noise multiplier z (the
// noise standard deviation divided by the clipping bound S). It returns
// an error wrapping [ErrInvalid] if q ∉ [0, 1], z is not positive and
// finite, n < 0, or an order is not greater than 1; nothing is recorded
// then. Computing a new (q, z) costs about a millisecond; repeated steps
// with the same parameters reuse it.
func (a *Accountant) StepN(q, z float64, n int) error {
	if !(q >= 0 && q <= 1) {
		return fmt.Errorf("%w: sampling rate %v", ErrInvalid, q)
	}
	if !(z > 0) || math.IsInf(z, 1) {
		return fmt.Errorf("%w: noise multiplier %v", ErrInvalid, z)
	}
	if n < 0 {
		return fmt.Errorf("%w: %d steps", ErrInvalid, n)
	}
	orders := a.orders()
	for _, o := range orders {
		if !(o > 1) {
			return fmt.Errorf("%w: order %v", ErrInvalid, o)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cache == nil || a.cq != q || a.cz != z {
		a.cache = slices.Grow(a.cache[:0], len(orders))[:len(orders)]
		for k, o := range orders {
			a.cache[k] = RDP(q, z, o)
		}
		a.cq, a.cz = q, z
	}
	if a.rdp == nil {
		a.rdp = make([]float64, len(orders))
	}
	for k, r := range a.cache {
		if math.IsNaN(r) {
			r = math.Inf(1) // unusable order
		}
		a.rdp[k] += float64(n) * r
	}
	a.rounds += n
	return nil
}

// Rounds returns the number of steps recorded.
func (a *Accountant) Rounds() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rounds
}

// Epsilon returns the smallest ε such that the rounds recorded so far
// are (ε, δ)-differentially private, and the Rényi order that attains
// it. It is 0 before any step. If the optimum is the smallest or the
// largest tracked order, a wider range of Orders could give a smaller ε.
// It returns an error wrapping [ErrInvalid] unless 0 < δ < 1.
func (a *Accountant) Epsilon(delta float64) (eps, order float64, err error) {
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("%w: delta %v", ErrInvalid, delta)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	orders := a.orders()
	if a.rdp == nil {
		return 0, orders[len(orders)-1], nil
	}
	eps, order = epsilon(orders, a.rdp, delta)
	return eps, order, nil
}

// NoiseMultiplier returns the smallest noise multiplier z (to within
// 0.1%) for which rounds steps of the sampled Gaussian mechanism with
// sampling rate q stay within (eps, δ)-differential privacy, computed
// with [DefaultOrders]. It returns an error wrapping [ErrInvalid] for
// parameters outside their domain or if no z up to 10⁴ suffices.
func NoiseMultiplier(eps, delta, q float64, rounds int) (float64, error) {
	if !(eps > 0) || !(delta > 0 && delta < 1) || !(q > 0 && q <= 1) || rounds < 1 {
		return 0, fmt.Errorf("%w: eps=%v delta=%v q=%v rounds=%d", ErrInvalid, eps, delta, q, rounds)
	}
	spent := func(z float64) float64 {
		r := make([]float64, len(DefaultOrders))
		for k, o := range DefaultOrders {
			r[k] = float64(rounds) * RDP(q, z, o)
		}
		e, _ := epsilon(DefaultOrders, r, delta)
		return e
	}
	lo, hi := 0.0, 1.0
	for spent(hi) > eps {
		lo, hi = hi, 2*hi
		if hi > 1e4 {
			return 0, fmt.Errorf("%w: no noise multiplier reaches eps=%v", ErrInvalid, eps)
		}
	}
	for hi-lo > 1e-3*hi {
		mid := (lo + hi) / 2
		if spent(mid) > eps {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi, nil
}
