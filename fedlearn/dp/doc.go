// Package dp provides the differential-privacy primitives of federated
// averaging: L2 clipping of updates, the Gaussian mechanism for central
// DP, and a Rényi-DP accountant for the sampled Gaussian mechanism that
// reports (ε, δ) after every round.
//
// It imports nothing outside the standard library and knows nothing of
// rounds or transports; a server calls it on plain []float64 vectors.
//
// # Tour
//
// A DP-FedAvg server (McMahan et al., ICLR 2018) does, each round:
//
//	for _, u := range updates {           // m updates from the cohort
//		if _, err := dp.ClipL2(u, S); err != nil { /* drop u: NaN/Inf */ }
//	}
//	mean := unweightedMean(updates)       // equal weights: sensitivity S/m
//	gauss.AddNoise(mean, m)               // + N(0, (z·S/m)²) per coordinate
//	acct.Step(float64(m)/float64(K), z)   // q = m/K
//	eps, _, _ := acct.Epsilon(delta)      // report after every round
//
// with gauss from [NewGaussian](z, S, nil) and acct a zero [Accountant].
// Clients may also clip their own updates with [ClipL2] before sending
// them ("client-side clipping"), which bounds their influence even when
// the server adds no noise; [NoiseMultiplier] picks z for a target ε.
//
// # Accounting
//
// [RDP] evaluates the Rényi DP of one sampled Gaussian step as in
// Mironov, Talwar and Zhang 2019 (integer and fractional orders), which
// is the computation TensorFlow Privacy and Opacus perform; the tests
// check it against values published in their test suites and against
// direct numerical integration. The [Accountant] adds RDP over rounds at
// [DefaultOrders] and converts to (ε, δ) with Balle et al. 2020, Theorem
// 21, as Opacus does. The analysis assumes Poisson sampling with rate
// q = m/K; see [Accountant] for what that means for fixed-size cohorts.
//
// # Privacy
//
// The guarantee covers a client's whole update (user-level DP) only if
// every update is clipped to the S given to [NewGaussian], the mean is
// taken with equal weights over exactly the m clients passed to
// [Gaussian.AddNoise], and every released model is counted by the
// accountant. A cohort smaller than planned needs more noise per
// coordinate, which AddNoise applies because it takes the actual m.
//
// Noise comes from a ChaCha8 generator seeded from crypto/rand unless a
// source is supplied; seeded sources are for tests and simulations only.
// The noise is floating-point Gaussian noise (math/rand/v2's
// NormFloat64); like TensorFlow Privacy and Opacus, this package does not
// defend against attacks on the low-order bits of floating-point samples
// (Mironov, CCS 2012), for which a discrete Gaussian would be needed.
//
// NaN and ±Inf are rejected with [ErrNonFinite] by [ClipL2] and
// [Gaussian.AddNoise]: a non-finite update has no bounded norm, so it
// must be dropped, never averaged.
//
// # Concurrency
//
// [ClipL2], [L2Norm], [RDP] and [NoiseMultiplier] are safe for
// concurrent use; so are [Gaussian] and [Accountant] values.
package dp
