package secagg

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"testing/cryptotest"
)

func TestAggregateDropouts(t *testing.T) {
	tests := []struct {
		name      string
		n, k      int
		dropMask  []ID // go silent at the masked-input stage
		dropOther map[Stage][]ID
	}{
		{name: "complete/no-dropout", n: 10},
		{name: "complete/one-dropout", n: 10, dropMask: []ID{4}},
		{name: "complete/30%-dropout", n: 10, dropMask: []ID{2, 5, 9}},
		{name: "complete/early-dropouts", n: 12, dropOther: map[Stage][]ID{StageAdvertise: {1}, StageShares: {7}}, dropMask: []ID{3}},
		{name: "complete/unmask-dropout", n: 10, dropMask: []ID{2}, dropOther: map[Stage][]ID{StageUnmask: {6}}},
		{name: "secagg+/no-dropout", n: 30, k: 12},
		{name: "secagg+/one-dropout", n: 30, k: 12, dropMask: []ID{17}},
		{name: "secagg+/30%-dropout", n: 30, k: 16, dropMask: []ID{1, 4, 6, 10, 13, 17, 21, 25, 29}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Deterministic keys, seeds and graph, so the run is
			// reproducible; the protocol is the same as with real
			// randomness.
			cryptotest.SetGlobalRandom(t, 1)
			r := newRun(tt.n, 1000, ServerConfig{Neighbors: tt.k})
			r.dropAt(StageMasked, tt.dropMask...)
			gone := slices.Clone(tt.dropMask)
			for st, ids := range tt.dropOther {
				r.dropAt(st, ids...)
				if st < StageUnmask {
					gone = append(gone, ids...)
				}
			}
			res, err := r.do(t)
			if err != nil {
				t.Fatal(err)
			}
			checkSum(t, r, res, without(seq(tt.n), gone...))
			if len(r.receiveErr) != 0 || len(r.clientErr) != 0 {
				t.Fatalf("errors: server %v, clients %v", r.receiveErr, r.clientErr)
			}
		})
	}
}

func TestAggregateRealRandomness(t *testing.T) {
	// The same protocol with crypto/rand, as in production.
	r := newRun(20, 3000, ServerConfig{Neighbors: 8, Clip: 0.25})
	r.dropAt(StageMasked, 3, 11)
	res, err := r.do(t)
	if err != nil {
		t.Fatal(err)
	}
	checkSum(t, r, res, without(seq(20), 3, 11))
}

func TestAggregateAborts(t *testing.T) {
	tests := []struct {
		name string
		n    int
		cfg  ServerConfig
		drop map[Stage][]ID
	}{
		{"below-min-cohort-at-masked", 6, ServerConfig{MinClients: 5}, map[Stage][]ID{StageMasked: {1, 2}}},
		{"below-min-cohort-at-advertise", 6, ServerConfig{MinClients: 6}, map[Stage][]ID{StageAdvertise: {4}}},
		{"below-threshold-at-masked", 10, ServerConfig{}, map[Stage][]ID{StageMasked: {1, 2, 3, 4, 5}}},
		{"below-threshold-at-unmask", 10, ServerConfig{}, map[Stage][]ID{StageMasked: {1, 2, 3}, StageUnmask: {4, 5, 6}}},
		{"everyone-gone", 5, ServerConfig{}, map[Stage][]ID{StageShares: {1, 2, 3, 4, 5}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cryptotest.SetGlobalRandom(t, 2)
			r := newRun(tt.n, 50, tt.cfg)
			for st, ids := range tt.drop {
				r.dropAt(st, ids...)
			}
			res, err := r.do(t)
			if !errors.Is(err, ErrTooFew) || res != nil {
				t.Fatalf("got %v, %v; want ErrTooFew and no result", res, err)
			}
			if _, err := r.server.Result(); !errors.Is(err, ErrAborted) || !errors.Is(err, ErrTooFew) {
				t.Fatalf("Result after abort: %v", err)
			}
			if _, err := r.server.Advance(); !errors.Is(err, ErrAborted) {
				t.Fatalf("Advance after abort: %v", err)
			}
		})
	}
}

func TestForgedShareRejected(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 3)
	r := newRun(10, 200, ServerConfig{})
	r.dropAt(StageMasked, 8)
	forger := ID(5)
	r.toServer = func(m Message) Message {
		if rv, ok := m.(*Reveal); ok && rv.From == forger {
			f := *rv
			f.Seeds = slices.Clone(rv.Seeds)
			f.Seeds[0].Share[3] ^= 1 // a different, still well-formed share
			return &f
		}
		return m
	}
	res, err := r.do(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.receiveErr) != 1 || !errors.Is(r.receiveErr[0], ErrForged) {
		t.Fatalf("receive errors %v, want one ErrForged", r.receiveErr)
	}
	// The forged reveal was discarded and the honest ones sufficed.
	checkSum(t, r, res, without(seq(10), 8))
}

func TestMalformedShareRejected(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 4)
	r := newRun(8, 100, ServerConfig{})
	r.dropAt(StageMasked, 2)
	r.toServer = func(m Message) Message {
		if rv, ok := m.(*Reveal); ok && rv.From == 3 {
			f := *rv
			f.Keys = slices.Clone(rv.Keys)
			for i := range f.Keys[0].Share {
				f.Keys[0].Share[i] = 0xff // field elements ≥ p
			}
			return &f
		}
		return m
	}
	res, err := r.do(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.receiveErr) != 1 || !errors.Is(r.receiveErr[0], ErrMalformed) {
		t.Fatalf("receive errors %v, want one ErrMalformed", r.receiveErr)
	}
	checkSum(t, r, res, without(seq(8), 2))
}

func TestForgedEnvelopeRejected(t *testing.T) {
	for _, tamper := range []struct {
		name string
		f    func(e *Envelope)
	}{
		{"ciphertext", func(e *Envelope) { e.Ciphertext[7] ^= 0x40 }},
		{"commitment", func(e *Envelope) { e.SeedHash[0] ^= 1 }},
		{"sender", func(e *Envelope) { e.From, e.To = e.To, e.From }},
	} {
		t.Run(tamper.name, func(t *testing.T) {
			r := newRun(6, 20, ServerConfig{})
			victim := ID(4)
			r.toClient = func(to ID, m Message) Message {
				if in, ok := m.(*Inbox); ok && to == victim {
					f := &Inbox{Envelopes: slices.Clone(in.Envelopes)}
					f.Envelopes[1].Ciphertext = slices.Clone(f.Envelopes[1].Ciphertext)
					tamper.f(&f.Envelopes[1])
					return f
				}
				return m
			}
			_, _ = r.do(t)
			err := r.clientErr[victim]
			if !errors.Is(err, ErrForged) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("victim's error %v, want ErrForged or ErrMalformed", err)
			}
			if r.clients[victim].Stage() != StageAborted {
				t.Fatal("victim did not abort")
			}
		})
	}
}

// TestServerNeverSeesInput checks what an honest-but-curious server
// holds: masked vectors that are uniformly scrambled, and for each
// client only one of the two secrets that could unmask it.
func TestServerNeverSeesInput(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 5)
	const n, length = 10, 4096
	r := newRun(n, length, ServerConfig{})
	r.dropAt(StageMasked, 7)
	res, err := r.do(t)
	if err != nil {
		t.Fatal(err)
	}
	checkSum(t, r, res, without(seq(n), 7))
	q := r.server.Quantizer()
	for id, y := range r.masked {
		x := make([]uint32, length)
		if err := q.Quantize(x, r.inputs[id]); err != nil {
			t.Fatal(err)
		}
		// y - x is a mask; it must look uniform: almost no zeros, and
		// about half the words with the top bit set.
		zeros, high := 0, 0
		for j := range y {
			d := y[j] - x[j]
			if d == 0 {
				zeros++
			}
			if d>>31 == 1 {
				high++
			}
		}
		if zeros > 1 || high < length/2-200 || high > length/2+200 {
			t.Errorf("client %d: masked input not scrambled (%d zeros, %d high bits of %d)", id, zeros, high, length)
		}
	}
	// Over the whole run the server obtained, for each client, shares of
	// only one of its two secrets.
	gotSeed, gotKey := map[ID]bool{}, map[ID]bool{}
	for _, rv := range r.reveals {
		for _, s := range rv.Seeds {
			gotSeed[s.Owner] = true
		}
		for _, s := range rv.Keys {
			gotKey[s.Owner] = true
		}
	}
	for id := ID(1); id <= n; id++ {
		if gotSeed[id] && gotKey[id] {
			t.Errorf("server received shares of both secrets of client %d", id)
		}
		if id == 7 && !gotKey[id] || id != 7 && !gotSeed[id] {
			t.Errorf("client %d: seed shares %v, key shares %v", id, gotSeed[id], gotKey[id])
		}
	}
}

// TestSelfMaskAloneDoesNotUnmask checks that a survivor's input stays
// hidden from a server that knows its self-mask seed: the pairwise masks
// remain.
func TestSelfMaskAloneDoesNotUnmask(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 6)
	const n, length = 5, 1024
	r := newRun(n, length, ServerConfig{})
	var seeds = map[ID][32]byte{}
	r.toServer = func(m Message) Message {
		if mi, ok := m.(*MaskedInput); ok {
			seeds[mi.From] = r.clients[mi.From].seed // what the server will recover
		}
		return m
	}
	if _, err := r.do(t); err != nil {
		t.Fatal(err)
	}
	q := r.server.Quantizer()
	for id, y := range r.masked {
		v := slices.Clone(y)
		seed := seeds[id]
		var mk masker
		mk.apply(v, &seed, -1)
		x := make([]uint32, length)
		q.Quantize(x, r.inputs[id])
		same := 0
		for j := range v {
			if v[j] == x[j] {
				same++
			}
		}
		if same > 1 {
			t.Errorf("client %d: %d coordinates exposed once the self mask is removed", id, same)
		}
	}
}

func TestClientRefusesDishonestServer(t *testing.T) {
	// Run a small protocol up to the unmask request, then send crafted
	// requests to one client.
	setup := func(t *testing.T) (*Client, *UnmaskRequest) {
		cryptotest.SetGlobalRandom(t, 7)
		var req *UnmaskRequest
		victim := ID(2)
		r := newRun(5, 10, ServerConfig{})
		r.toClient = func(to ID, m Message) Message {
			if u, ok := m.(*UnmaskRequest); ok && to == victim {
				req = u
				return &Begin{} // keep the victim from answering
			}
			return m
		}
		r.do(t)
		c := r.clients[victim]
		if req == nil || c.Stage() != StageUnmask {
			t.Fatalf("setup: stage %v", c.Stage())
		}
		return c, req
	}
	t.Run("both-kinds", func(t *testing.T) {
		c, req := setup(t)
		bad := &UnmaskRequest{Survivors: req.Survivors, Dropped: req.Survivors[:1]}
		if _, err := c.Handle(bad); !errors.Is(err, ErrProtocol) {
			t.Fatalf("err = %v, want ErrProtocol", err)
		}
		if _, err := c.Handle(req); !errors.Is(err, ErrAborted) {
			t.Fatalf("after refusing: %v, want ErrAborted", err)
		}
	})
	t.Run("stranger", func(t *testing.T) {
		c, _ := setup(t)
		if _, err := c.Handle(&UnmaskRequest{Dropped: []ID{99}}); !errors.Is(err, ErrProtocol) {
			t.Fatalf("err = %v, want ErrProtocol", err)
		}
	})
	t.Run("second-request", func(t *testing.T) {
		c, req := setup(t)
		if _, err := c.Handle(req); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Handle(&UnmaskRequest{Dropped: req.Survivors}); !errors.Is(err, ErrProtocol) {
			t.Fatalf("second request: %v, want ErrProtocol", err)
		}
	})
	t.Run("minority-threshold", func(t *testing.T) {
		c, _ := NewClient(1)
		if _, err := c.Handle(&Begin{Length: 4, Clip: 1, MaxClients: 5}); err != nil {
			t.Fatal(err)
		}
		var r Roster
		r.Threshold = 2
		for i := 2; i <= 5; i++ {
			r.Neighbors = append(r.Neighbors, PeerKeys{ID: ID(i)})
		}
		if _, err := c.Handle(&r); !errors.Is(err, ErrProtocol) {
			t.Fatalf("threshold 2 of 4: %v, want ErrProtocol", err)
		}
	})
}

func TestClientStages(t *testing.T) {
	c, err := NewClient(3)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewClient(0); !errors.Is(err, ErrMalformed) {
		t.Errorf("ID 0: %v", err)
	}
	// Out of order: rejected without aborting.
	if _, err := c.Handle(&Inbox{}); !errors.Is(err, ErrUnexpected) {
		t.Errorf("Inbox first: %v", err)
	}
	if c.Stage() != StageAdvertise {
		t.Fatalf("stage %v after unexpected message", c.Stage())
	}
	for _, b := range []*Begin{{Length: 0, Clip: 1, MaxClients: 3}, {Length: 3, Clip: 0, MaxClients: 3}, {Length: 3, Clip: 1, MaxClients: 0}} {
		c, _ := NewClient(1)
		if _, err := c.Handle(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("Begin %+v: %v", b, err)
		}
	}
	a, err := c.Handle(&Begin{Length: 3, Clip: 1, MaxClients: 4})
	if err != nil {
		t.Fatal(err)
	}
	if adv, ok := a.(*Advertise); !ok || adv.From != 3 || adv.EncKey == adv.MaskKey {
		t.Fatalf("reply %#v", a)
	}
	if err := c.SetInput([]float64{1, 2}); !errors.Is(err, ErrMalformed) {
		t.Errorf("wrong length: %v", err)
	}
	if err := c.SetInput([]float64{1, 2, nan()}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	if s := c.String(); s != "secagg.Client{id: 3, stage: shares}" {
		t.Errorf("String = %q", s)
	}
	sh := Share{1, 2, 3}
	if s := fmt.Sprintf("%v %x %s %#v %#v", sh, sh, sh, sh, c); strings.Contains(s, "010203") || strings.Count(s, "REDACTED") != 3 || strings.Contains(s, "Priv") {
		t.Errorf("Share formats as %q", s)
	}
	var buf bytes.Buffer
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "share", sh, "client", c)
	if strings.Contains(buf.String(), "[1 2 3") || !strings.Contains(buf.String(), "REDACTED") || !strings.Contains(buf.String(), "client.id=3") {
		t.Errorf("slog output %q", buf.String())
	}
}

func nan() float64 { var z float64; return z / z }

func TestServerRejects(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 8)
	for _, cfg := range []ServerConfig{
		{Length: 0, Clip: 1, MaxClients: 5},
		{Length: 5, Clip: -1, MaxClients: 5},
		{Length: 5, Clip: 1, MaxClients: 0},
		{Length: 5, Clip: 1, MaxClients: 5, MinClients: 6},
		{Length: 5, Clip: 1, MaxClients: 5, Neighbors: -2},
	} {
		if _, err := NewServer(cfg); !errors.Is(err, ErrMalformed) {
			t.Errorf("NewServer(%+v): %v", cfg, err)
		}
	}
	s, err := NewServer(ServerConfig{Length: 5, Clip: 1, MaxClients: 3})
	if err != nil {
		t.Fatal(err)
	}
	adv := func(id ID) *Advertise {
		c, _ := NewClient(id)
		m, err := c.Handle(s.Begin())
		if err != nil {
			t.Fatal(err)
		}
		return m.(*Advertise)
	}
	a1 := adv(1)
	if err := s.Receive(a1); err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(a1); !errors.Is(err, ErrUnexpected) {
		t.Errorf("duplicate: %v", err)
	}
	copyKey := *adv(2)
	copyKey.MaskKey = a1.EncKey
	if err := s.Receive(&copyKey); !errors.Is(err, ErrMalformed) {
		t.Errorf("repeated key: %v", err)
	}
	lowOrder := *adv(2)
	lowOrder.EncKey = [KeySize]byte{} // the all-zero point has low order
	if err := s.Receive(&lowOrder); !errors.Is(err, ErrMalformed) {
		t.Errorf("low-order key: %v", err)
	}
	if err := s.Receive(&MaskedInput{From: 1}); !errors.Is(err, ErrUnexpected) {
		t.Errorf("wrong stage: %v", err)
	}
	if err := s.Receive(adv(2)); err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(adv(3)); err != nil {
		t.Fatal(err)
	}
	if err := s.Receive(adv(4)); !errors.Is(err, ErrUnexpected) {
		t.Errorf("over MaxClients: %v", err)
	}
	if got, want := s.Stage(), StageAdvertise; got != want {
		t.Errorf("stage %v", got)
	}
	if rcv, exp := s.Progress(); rcv != 3 || exp != 3 {
		t.Errorf("progress %d/%d", rcv, exp)
	}
	if _, err := s.Result(); !errors.Is(err, ErrUnexpected) {
		t.Errorf("early Result: %v", err)
	}
}

func TestServerConcurrentReceive(t *testing.T) {
	const n = 16
	r := newRun(n, 256, ServerConfig{Neighbors: 6})
	s, err := NewServer(r.cfg)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*Client, n)
	replies := make([]Message, n)
	for i := range clients {
		clients[i], _ = NewClient(ID(i + 1))
		clients[i].SetInput(r.inputs[ID(i+1)])
		replies[i], _ = clients[i].Handle(s.Begin())
	}
	for st := StageAdvertise; st <= StageUnmask; st++ {
		errs := make(chan error, n)
		for _, m := range replies {
			go func() { errs <- s.Receive(m) }()
		}
		for range replies {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		out, err := s.Advance()
		if err != nil {
			t.Fatal(err)
		}
		for i := range replies {
			if out[ID(i+1)] != nil {
				replies[i], err = clients[i].Handle(out[ID(i+1)])
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	r.server = s
	res, err := s.Result()
	if err != nil {
		t.Fatal(err)
	}
	checkSum(t, r, res, seq(n))
}

func TestQuantizer(t *testing.T) {
	for _, q := range []Quantizer{{1, 1}, {1, 100}, {1, 1000}, {0.01, 7}, {1e6, 3}, {1, 1 << 20}} {
		s := q.Scale()
		if s <= 0 {
			t.Fatalf("%+v: scale %v", q, s)
		}
		// Power of two.
		if fr, _ := frexp(s); fr != 0.5 {
			t.Errorf("%+v: scale %v is not a power of two", q, s)
		}
		// Headroom: Clients vectors at ±Clip sum without wrapping, and
		// doubling the scale would overflow.
		in := []float64{q.Clip, -q.Clip, q.Clip * 0.3}
		x := make([]uint32, len(in))
		if err := q.Quantize(x, in); err != nil {
			t.Fatal(err)
		}
		sum := make([]uint32, len(in))
		for range q.Clients {
			for j := range sum {
				sum[j] += x[j]
			}
		}
		got := make([]float64, len(in))
		q.Dequantize(got, sum)
		for j := range in {
			want := in[j] * float64(q.Clients)
			if d := got[j] - want; d > q.MaxError(q.Clients) || -d > q.MaxError(q.Clients) {
				t.Errorf("%+v: sum[%d] = %v, want %v ± %v", q, j, got[j], want, q.MaxError(q.Clients))
			}
		}
		if float64(q.Clients)*(q.Clip*2*s+0.5) <= float64(1<<31-1) {
			t.Errorf("%+v: scale %v is not the largest safe power of two", q, s)
		}
	}
	q := Quantizer{Clip: 1, Clients: 10}
	x := make([]uint32, 2)
	if err := q.Quantize(x, []float64{5, -5}); err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 2)
	q.Dequantize(got, x)
	if got[0] != 1 || got[1] != -1 {
		t.Errorf("clamping: %v", got)
	}
	if err := q.Quantize(x, []float64{1, nan()}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	if err := q.Quantize(x[:1], []float64{1, 2}); !errors.Is(err, ErrMalformed) {
		t.Errorf("length: %v", err)
	}
	if (Quantizer{Clip: 1}).Scale() != 0 {
		t.Error("zero clients accepted")
	}
}

func frexp(f float64) (float64, int) {
	e := 0
	for f >= 1 {
		f /= 2
		e++
	}
	for f < 0.5 {
		f *= 2
		e--
	}
	return f, e
}

func TestShamir(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var secret [secretSize]byte
	for i := range secret {
		secret[i] = byte(rng.Uint32())
	}
	secret[31] = 0xff // the high chunk at its limit
	xs := []ID{3, 9, 10, 11, 40, 1 << 31, 7}
	const th = 4
	shares := splitSecret(&secret, xs, th)
	ys := make([][shareChunks]uint64, len(xs))
	for i := range shares {
		var err error
		if ys[i], err = decodeShare(&shares[i]); err != nil {
			t.Fatal(err)
		}
	}
	// Every subset of size t recovers the secret.
	for trial := 0; trial < 30; trial++ {
		idx := rng.Perm(len(xs))[:th]
		sx := make([]ID, th)
		sy := make([][shareChunks]uint64, th)
		for i, k := range idx {
			sx[i], sy[i] = xs[k], ys[k]
		}
		got, err := combineShares(lagrangeAtZero(sx), sy)
		if err != nil || got != secret {
			t.Fatalf("subset %v: %x, %v", sx, got, err)
		}
	}
	// t-1 shares (padded with a wrong point) do not.
	sx := []ID{xs[0], xs[1], xs[2], 99}
	sy := [][shareChunks]uint64{ys[0], ys[1], ys[2], {1, 2, 3, 4, 5}}
	if got, err := combineShares(lagrangeAtZero(sx), sy); err == nil && got == secret {
		t.Fatal("recovered the secret from t-1 shares")
	}
	// A corrupted share is detected (almost surely) by the range check.
	sy = [][shareChunks]uint64{ys[0], ys[1], ys[2], ys[3]}
	sy[3][2] = addmod(sy[3][2], 1)
	if _, err := combineShares(lagrangeAtZero(xs[:4]), sy); !errors.Is(err, ErrForged) {
		t.Fatalf("corrupted share: %v", err)
	}
}

func TestFieldArithmetic(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		a, b := rng.Uint64N(fieldP), rng.Uint64N(fieldP)
		want := mulmodSlow(a, b)
		if got := mulmod(a, b); got != want {
			t.Fatalf("%d·%d = %d, want %d", a, b, got, want)
		}
		if a != 0 && mulmod(a, invmod(a)) != 1 {
			t.Fatalf("inverse of %d", a)
		}
		if addmod(submod(a, b), b) != a {
			t.Fatalf("sub/add %d %d", a, b)
		}
	}
	if mulmod(fieldP-1, fieldP-1) != 1 {
		t.Error("(-1)² ≠ 1")
	}
}

// mulmodSlow is schoolbook multiplication modulo p by doubling.
func mulmodSlow(a, b uint64) uint64 {
	var r uint64
	for b > 0 {
		if b&1 == 1 {
			r = addmod(r, a)
		}
		a = addmod(a, a)
		b >>= 1
	}
	return r
}

func TestGraph(t *testing.T) {
	ids := seq(50)
	for _, k := range []int{0, 4, 5, 10, 48, 49, 100} {
		g, d := buildGraph(ids, k)
		wantD := (k + 1) / 2 * 2
		if k == 0 || wantD >= 49 {
			wantD = 49
		}
		if d != wantD {
			t.Errorf("k=%d: degree %d, want %d", k, d, wantD)
		}
		for _, u := range ids {
			nb := g[u]
			if len(nb) != d || !slices.IsSorted(nb) || slices.Contains(nb, u) {
				t.Fatalf("k=%d: neighbours of %d: %v", k, u, nb)
			}
			for _, v := range nb {
				if _, ok := slices.BinarySearch(g[v], u); !ok {
					t.Fatalf("k=%d: %d→%d not symmetric", k, u, v)
				}
			}
		}
	}
}

func TestMaskWords(t *testing.T) {
	for _, n := range []int{0, 1, 3, 4, 13, maskChunk + 5} {
		var seed [32]byte
		seed[0] = byte(n)
		var mk masker
		v := make([]uint32, n)
		mk.apply(v, &seed, 1)
		// Compare with a word-at-a-time reference: the keystream itself.
		ref := make([]uint32, n)
		var ref2 masker
		ref2.apply(ref, &seed, -1)
		for i := range v {
			if v[i] != -ref[i] {
				t.Fatalf("n=%d: word %d: +mask %d, -mask %d", n, i, v[i], ref[i])
			}
		}
		mk.apply(v, &seed, -1)
		for i := range v {
			if v[i] != 0 {
				t.Fatalf("n=%d: mask did not cancel at %d", n, i)
			}
		}
		if n > 8 && v[0] == 0 && ref[1] == 0 && ref[2] == 0 {
			t.Fatalf("n=%d: mask is zero", n)
		}
	}
}
