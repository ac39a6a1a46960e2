package dp_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/hearth-wot/hearth/fedlearn/dp"
)

// One round of DP-FedAvg on the server: clip each update, average with
// equal weights, add noise calibrated to the cohort, account for it.
func Example() {
	const (
		clients   = 100 // K, available clients
		cohort    = 10  // m, sampled this round
		clip      = 1.0 // S
		noiseMult = 1.0 // z
	)
	updates := make([][]float64, cohort)
	for i := range updates {
		updates[i] = []float64{float64(i), 1, -2} // a client's model delta
	}

	mean := make([]float64, 3)
	for _, u := range updates {
		if _, err := dp.ClipL2(u, clip); err != nil {
			panic(err) // a NaN update: reject the client, not the round
		}
		for j, x := range u {
			mean[j] += x / cohort
		}
	}

	// Seeded for a reproducible example; production passes nil.
	g, err := dp.NewGaussian(noiseMult, clip, rand.NewPCG(1, 2))
	if err != nil {
		panic(err)
	}
	if err := g.AddNoise(mean, cohort); err != nil {
		panic(err)
	}
	fmt.Printf("noise std %.2f\n", g.Std(cohort))

	var acct dp.Accountant
	for round := 1; round <= 3; round++ {
		acct.Step(float64(cohort)/clients, noiseMult)
		eps, _, _ := acct.Epsilon(1e-5)
		fmt.Printf("after round %d: ε = %.2f at δ = 1e-5\n", round, eps)
	}
	// Output:
	// noise std 0.10
	// after round 1: ε = 2.13 at δ = 1e-5
	// after round 2: ε = 2.41 at δ = 1e-5
	// after round 3: ε = 2.61 at δ = 1e-5
}

func ExampleNoiseMultiplier() {
	// How much noise keeps 200 rounds of 10-of-1000 sampling within ε = 2?
	z, err := dp.NoiseMultiplier(2, 1e-5, 0.01, 200)
	if err != nil {
		panic(err)
	}
	fmt.Printf("z ≈ %.2f\n", z)
	// Output:
	// z ≈ 0.86
}
