package secagg

import (
	"fmt"
	"testing"
)

// params2NN is the parameter count of McMahan et al.'s 2NN.
const params2NN = 199210

// BenchmarkProtocol runs whole secure-aggregation rounds in one process
// over the 2NN's 199,210 parameters and reports, besides the wall time
// of the round, the mean wall time one client spends in its four Handle
// calls (client-ms) and the wall time the server spends in Receive and
// Advance (server-ms), and the same as process CPU time (client-cpu-ms,
// server-cpu-ms; GC included), which is less disturbed by other load on
// the machine. Both sides use every core (GOMAXPROCS) for mask
// expansion, so CPU time can exceed wall time. The complete graph is Bonawitz et al.; k>0 is SecAgg+.
// Dropouts happen at the masked-input stage, the expensive case for the
// server. With a sparse graph, dropouts must stay well below half of a
// neighbourhood, hence the degrees chosen for each dropout rate.
func BenchmarkProtocol(b *testing.B) {
	for _, bc := range []struct {
		n, k, dropPct int
	}{
		{100, 0, 0},
		{100, 0, 10},
		{100, 8, 0},
		{100, 16, 10},
		{1000, 10, 0},
		{1000, 10, 1},
	} {
		graph := "complete"
		if bc.k > 0 {
			graph = fmt.Sprintf("k=%d", bc.k)
		}
		b.Run(fmt.Sprintf("n=%d/%s/drop=%d%%", bc.n, graph, bc.dropPct), func(b *testing.B) {
			input := make([]float64, params2NN)
			for i := range input {
				input[i] = float64(i%200-100) / 1000
			}
			var clientNs, serverNs, clientCPU, serverCPU float64
			runs := 0
			for b.Loop() {
				r := &run{
					cfg:      ServerConfig{Length: params2NN, Clip: 1, MaxClients: bc.n, Neighbors: bc.k},
					inputs:   make(map[ID][]float64, bc.n),
					drop:     make(map[Stage]map[ID]bool),
					noRecord: true,
				}
				for i := 1; i <= bc.n; i++ {
					r.inputs[ID(i)] = input // shared: SetInput copies
				}
				// Drop every (100/dropPct)-th client at the masked stage.
				if bc.dropPct > 0 {
					for i := 1; i <= bc.n; i += 100 / bc.dropPct {
						r.dropAt(StageMasked, ID(i))
					}
				}
				res, err := r.do(b)
				if err != nil {
					b.Fatal(err)
				}
				if want := bc.n - bc.n*bc.dropPct/100; len(res.Clients) != want {
					b.Fatalf("%d clients summed, want %d", len(res.Clients), want)
				}
				clientNs += float64(r.clientTime.Nanoseconds()) / float64(bc.n)
				serverNs += float64(r.serverTime.Nanoseconds())
				clientCPU += float64(r.clientCPU.Nanoseconds()) / float64(bc.n)
				serverCPU += float64(r.serverCPU.Nanoseconds())
				runs++
			}
			b.ReportMetric(clientNs/float64(runs)/1e6, "client-ms/op")
			b.ReportMetric(serverNs/float64(runs)/1e6, "server-ms/op")
			b.ReportMetric(clientCPU/float64(runs)/1e6, "client-cpu-ms/op")
			b.ReportMetric(serverCPU/float64(runs)/1e6, "server-cpu-ms/op")
		})
	}
}

// BenchmarkMask is the core cost: expanding one 199,210-word mask with
// AES-256-CTR and adding it to a vector.
func BenchmarkMask(b *testing.B) {
	v := make([]uint32, params2NN)
	var seed [32]byte
	var mk masker
	b.SetBytes(4 * params2NN)
	b.ReportAllocs()
	for b.Loop() {
		mk.apply(v, &seed, 1)
	}
}

// BenchmarkShamir splits a 32-byte secret for k holders with threshold
// k/2+1 and recovers it from t shares.
func BenchmarkShamir(b *testing.B) {
	for _, k := range []int{10, 99, 999} {
		b.Run(fmt.Sprintf("k=%d", k), func(b *testing.B) {
			var secret [secretSize]byte
			xs := seq(k)
			t := k/2 + 1
			b.ReportAllocs()
			for b.Loop() {
				shares := splitSecret(&secret, xs, t)
				ys := make([][shareChunks]uint64, t)
				for i := range ys {
					ys[i], _ = decodeShare(&shares[i])
				}
				if _, err := combineShares(lagrangeAtZero(xs[:t]), ys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
