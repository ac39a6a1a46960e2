package secagg

import (
	"maps"
	"slices"
	"testing"
	"time"
)

// run drives one server and n clients (IDs 1..n) through a whole
// protocol run in process, the way a transport would.
type run struct {
	cfg    ServerConfig
	inputs map[ID][]float64
	// drop[stage] are clients that go silent before replying in that
	// stage (StageAdvertise … StageUnmask).
	drop map[Stage]map[ID]bool
	// toServer, if set, may replace or inspect each client reply before
	// the server receives it.
	toServer func(m Message) Message
	// toClient, if set, may replace or inspect each server message.
	toClient func(to ID, m Message) Message

	// noRecord skips keeping copies of masked vectors (benchmarks).
	noRecord bool

	// Filled in by do.
	server     *Server
	clients    map[ID]*Client
	masked     map[ID][]uint32 // every masked vector the server received
	reveals    []*Reveal
	receiveErr []error
	clientErr  map[ID]error
	clientTime time.Duration // total wall time inside Client methods
	serverTime time.Duration // total wall time inside Server methods
	clientCPU  time.Duration // total CPU time inside Client methods
	serverCPU  time.Duration // total CPU time inside Server methods
}

func (r *run) dropped(st Stage, id ID) bool { return r.drop[st][id] }

func (r *run) do(tb testing.TB) (*Result, error) {
	tb.Helper()
	s, err := NewServer(r.cfg)
	if err != nil {
		return nil, err
	}
	r.server = s
	r.clients = make(map[ID]*Client)
	r.masked = make(map[ID][]uint32)
	r.clientErr = make(map[ID]error)
	ids := slices.Sorted(maps.Keys(r.inputs))

	// Stage 0: Begin to everyone.
	out := make(map[ID]Message, len(ids))
	for _, id := range ids {
		c, err := NewClient(id)
		if err != nil {
			tb.Fatal(err)
		}
		r.clients[id] = c
		out[id] = s.Begin()
	}
	for st := StageAdvertise; st <= StageUnmask; st++ {
		for _, id := range slices.Sorted(maps.Keys(out)) {
			if r.dropped(st, id) {
				continue
			}
			m := out[id]
			if r.toClient != nil {
				m = r.toClient(id, m)
			}
			t0, c0 := time.Now(), cpuTime()
			if st == StageMasked {
				// Inputs are set just in time, as after local training.
				if err := r.clients[id].SetInput(r.inputs[id]); err != nil {
					tb.Fatal(err)
				}
			}
			reply, err := r.clients[id].Handle(m)
			r.clientTime += time.Since(t0)
			r.clientCPU += cpuTime() - c0
			if err != nil {
				r.clientErr[id] = err
				continue
			}
			if mi, ok := reply.(*MaskedInput); ok && !r.noRecord {
				r.masked[id] = slices.Clone(mi.Vector)
			}
			if rv, ok := reply.(*Reveal); ok {
				r.reveals = append(r.reveals, rv)
			}
			if r.toServer != nil {
				reply = r.toServer(reply)
			}
			t0, c0 = time.Now(), cpuTime()
			err = s.Receive(reply)
			r.serverTime += time.Since(t0)
			r.serverCPU += cpuTime() - c0
			if err != nil {
				r.receiveErr = append(r.receiveErr, err)
			}
		}
		t0, c0 := time.Now(), cpuTime()
		out, err = s.Advance()
		r.serverTime += time.Since(t0)
		r.serverCPU += cpuTime() - c0
		if err != nil {
			return nil, err
		}
	}
	return s.Result()
}

// newRun prepares n clients with deterministic inputs within ±clip.
func newRun(n, length int, cfg ServerConfig) *run {
	cfg.Length, cfg.MaxClients = length, n
	if cfg.Clip == 0 {
		cfg.Clip = 1
	}
	r := &run{cfg: cfg, inputs: make(map[ID][]float64), drop: make(map[Stage]map[ID]bool)}
	for i := 1; i <= n; i++ {
		x := make([]float64, length)
		for j := range x {
			// A spread of magnitudes and signs, exactly reproducible.
			x[j] = cfg.Clip * float64((i*7919+j*104729)%2001-1000) / 1000 / float64(1+j%5)
		}
		r.inputs[ID(i)] = x
	}
	return r
}

func (r *run) dropAt(st Stage, ids ...ID) {
	if r.drop[st] == nil {
		r.drop[st] = make(map[ID]bool)
	}
	for _, id := range ids {
		r.drop[st][id] = true
	}
}

// plainSum is the sum of the inputs of the given clients.
func (r *run) plainSum(ids []ID) []float64 {
	sum := make([]float64, r.cfg.Length)
	for _, id := range ids {
		for j, v := range r.inputs[id] {
			sum[j] += v
		}
	}
	return sum
}

func checkSum(tb testing.TB, r *run, res *Result, wantClients []ID) {
	tb.Helper()
	if !slices.Equal(res.Clients, wantClients) {
		tb.Fatalf("summed clients %v, want %v", res.Clients, wantClients)
	}
	want := r.plainSum(wantClients)
	// Exact bound from the quantization: n/(2·scale) per coordinate, plus
	// the rounding of the float64 reference sum itself.
	tol := r.server.Quantizer().MaxError(len(wantClients)) + 1e-12
	worst := 0.0
	for j := range want {
		d := res.Sum[j] - want[j]
		if d < 0 {
			d = -d
		}
		worst = max(worst, d)
		if d > tol {
			tb.Fatalf("coordinate %d: got %v, want %v (|diff| %g > %g)", j, res.Sum[j], want[j], d, tol)
		}
	}
	tb.Logf("%d clients: max error %.3g, bound %.3g", len(wantClients), worst, tol)
}

func without(ids []ID, drop ...ID) []ID {
	return slices.DeleteFunc(slices.Clone(ids), func(id ID) bool { return slices.Contains(drop, id) })
}

func seq(n int) []ID {
	ids := make([]ID, n)
	for i := range ids {
		ids[i] = ID(i + 1)
	}
	return ids
}
