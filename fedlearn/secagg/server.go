package secagg

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
)

// DefaultMinClients is the minimum cohort size used when
// ServerConfig.MinClients is zero.
const DefaultMinClients = 3

// ServerConfig configures a [Server]. Length, Clip and MaxClients are
// required; the zero value of every other field is a sensible default.
//
// NewServer copies a ServerConfig, so it may be reused afterwards; the
// Server keeps its Logger, which is safe for concurrent use.
type ServerConfig struct {
	// Length is the input vector length, at most MaxLength.
	Length int

	// Clip bounds each input coordinate for quantization (see
	// [Quantizer]); with updates L2-clipped to S, use S.
	Clip float64

	// MaxClients is the number of clients sampled for the run: the most
	// Advertise messages accepted, and the headroom of the quantization.
	MaxClients int

	// Neighbors is the degree k of SecAgg+'s sparse communication graph:
	// each client shares secrets with, and masks against, only k others.
	// Zero means the complete graph of the original protocol, whose cost
	// grows with the cohort size; a few times log2(MaxClients) scales to
	// thousands of clients. Odd values are rounded up.
	Neighbors int

	// Threshold is t, the number of a client's neighbours needed to
	// recover its secrets. Zero means ⌊d/2⌋+1 for degree d, the smallest
	// value clients accept (a strict majority). A larger t resists more
	// colluding clients but tolerates fewer dropouts.
	Threshold int

	// MinClients is the minimum cohort size: the run aborts, releasing
	// nothing, if fewer clients remain at any stage. Zero means
	// DefaultMinClients. It may not exceed MaxClients.
	MinClients int

	// Logger receives debug records of stage transitions and warnings
	// about rejected messages; nil discards them.
	Logger *slog.Logger
}

// Result is the outcome of a successful run, a plain value owned by the
// caller: safe for concurrent reads, not for a write concurrent with any
// other use.
type Result struct {
	// Sum is the sum of the inputs of Clients, dequantized: each
	// coordinate is within Quantizer.MaxError(len(Clients)) of the true
	// sum of the clamped inputs.
	Sum []float64
	// Clients are the IDs whose inputs are in Sum, sorted.
	Clients []ID
}

// Server is the aggregator's side of a secure-aggregation run. It sends
// [Server.Begin] to the sampled clients, feeds every reply to
// [Server.Receive], and calls [Server.Advance] when a stage's replies are
// all in or its deadline has passed; Advance returns the messages for the
// next stage, keyed by recipient. Clients that miss a stage are dropped
// from the run. After the unmasking stage, [Server.Result] holds the sum.
//
// The server learns only the sum of the surviving clients' inputs: every
// input it receives is masked, and it recovers, for each client, either
// the self-mask seed (if the client's input arrived) or the pairwise
// mask key (if it did not), never both.
//
// A Server is safe for concurrent use; Receive may be called from one
// goroutine per connection.
type Server struct {
	mu    sync.Mutex
	cfg   ServerConfig
	log   *slog.Logger
	quant Quantizer
	begin Begin
	stage Stage
	err   error // why the run aborted

	keys      map[ID]*Advertise // U1
	graph     map[ID][]ID
	threshold int
	shares    map[ID]*Shares // senders of Shares (U2 before pruning)
	u2        map[ID]bool
	sum       []uint32
	u3        map[ID]bool
	requests  map[ID]*UnmaskRequest
	reveals   map[ID]*Reveal
	result    *Result
}

// NewServer validates cfg and returns a server in StageAdvertise with a
// fresh random session.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Length < 1 || cfg.Length > MaxLength {
		return nil, fmt.Errorf("%w: length %d", ErrMalformed, cfg.Length)
	}
	q := Quantizer{Clip: cfg.Clip, Clients: cfg.MaxClients}
	if err := q.validate(); err != nil {
		return nil, err
	}
	if cfg.MinClients == 0 {
		cfg.MinClients = DefaultMinClients
	}
	if cfg.Neighbors < 0 || cfg.Threshold < 0 || cfg.MinClients < 1 || cfg.MinClients > cfg.MaxClients {
		return nil, fmt.Errorf("%w: neighbors %d, threshold %d, min clients %d of %d",
			ErrMalformed, cfg.Neighbors, cfg.Threshold, cfg.MinClients, cfg.MaxClients)
	}
	s := &Server{
		cfg:    cfg,
		log:    cfg.Logger,
		quant:  q,
		keys:   make(map[ID]*Advertise),
		shares: make(map[ID]*Shares),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.begin = Begin{Length: cfg.Length, Clip: cfg.Clip, MaxClients: cfg.MaxClients}
	rand.Read(s.begin.Session[:])
	return s, nil
}

// Begin returns the message that opens the run, to be sent to every
// sampled client.
func (s *Server) Begin() *Begin {
	b := s.begin
	return &b
}

// Quantizer returns the quantization clients use in this run.
func (s *Server) Quantizer() Quantizer { return s.quant }

// Stage returns the stage the server is collecting messages for.
func (s *Server) Stage() Stage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stage
}

// Progress returns how many valid messages the current stage has
// received and how many it can expect at most: once they are equal,
// Advance need not wait for the deadline.
func (s *Server) Progress() (received, expected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.stage {
	case StageAdvertise:
		return len(s.keys), s.cfg.MaxClients
	case StageShares:
		return len(s.shares), len(s.keys)
	case StageMasked:
		return len(s.u3), len(s.u2)
	case StageUnmask:
		return len(s.reveals), len(s.u3)
	}
	return 0, 0
}

// Receive records a client's message for the current stage. It returns
// an error wrapping [ErrUnexpected] (wrong stage, unknown or duplicate
// sender), [ErrMalformed] or [ErrForged], in which case the message is
// ignored and the run goes on without it, or [ErrAborted].
func (s *Server) Receive(m Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stage == StageAborted {
		return s.abortedErr()
	}
	var err error
	switch m := m.(type) {
	case *Advertise:
		err = s.receiveAdvertise(m)
	case *Shares:
		err = s.receiveShares(m)
	case *MaskedInput:
		err = s.receiveMasked(m)
	case *Reveal:
		err = s.receiveReveal(m)
	default:
		err = fmt.Errorf("%w: %T", ErrUnexpected, m)
	}
	if err != nil {
		s.log.Warn("secagg: message rejected", "stage", s.stage.String(), "type", fmt.Sprintf("%T", m), "err", err)
	}
	return err
}

func (s *Server) abortedErr() error {
	return fmt.Errorf("%w: %w", ErrAborted, s.err)
}

func (s *Server) expect(st Stage, m Message) error {
	if s.stage != st {
		return fmt.Errorf("%w: %T in stage %v", ErrUnexpected, m, s.stage)
	}
	return nil
}

func (s *Server) receiveAdvertise(a *Advertise) error {
	if err := s.expect(StageAdvertise, a); err != nil {
		return err
	}
	if a.From == 0 {
		return fmt.Errorf("%w: client ID 0", ErrMalformed)
	}
	if _, dup := s.keys[a.From]; dup {
		return fmt.Errorf("%w: second Advertise from %d", ErrUnexpected, a.From)
	}
	if len(s.keys) >= s.cfg.MaxClients {
		return fmt.Errorf("%w: more than %d clients", ErrUnexpected, s.cfg.MaxClients)
	}
	if a.EncKey == a.MaskKey {
		return fmt.Errorf("%w: client %d reuses one key for both purposes", ErrMalformed, a.From)
	}
	// Low-order points would make every agreement with them predictable.
	probe, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	for _, k := range [][KeySize]byte{a.EncKey, a.MaskKey} {
		if _, err := agree(probe, k[:]); err != nil {
			return fmt.Errorf("client %d: %w", a.From, err)
		}
		for _, o := range s.keys {
			if k == o.EncKey || k == o.MaskKey {
				return fmt.Errorf("%w: client %d repeats another client's key", ErrMalformed, a.From)
			}
		}
	}
	c := *a
	s.keys[a.From] = &c
	return nil
}

func (s *Server) receiveShares(m *Shares) error {
	if err := s.expect(StageShares, m); err != nil {
		return err
	}
	nb, ok := s.graph[m.From]
	if !ok {
		return fmt.Errorf("%w: Shares from %d, which did not advertise", ErrUnexpected, m.From)
	}
	if _, dup := s.shares[m.From]; dup {
		return fmt.Errorf("%w: second Shares from %d", ErrUnexpected, m.From)
	}
	if len(m.Envelopes) != len(nb) {
		return fmt.Errorf("%w: %d envelopes from %d for %d neighbours", ErrMalformed, len(m.Envelopes), m.From, len(nb))
	}
	for i := range m.Envelopes {
		e := &m.Envelopes[i]
		if e.From != m.From || e.To != nb[i] || len(e.Ciphertext) != EnvelopeSize {
			return fmt.Errorf("%w: envelope %d from %d: want %d→%d with %d bytes", ErrMalformed, i, m.From, m.From, nb[i], EnvelopeSize)
		}
	}
	c := &Shares{From: m.From, Envelopes: slices.Clone(m.Envelopes)}
	for i := range c.Envelopes {
		c.Envelopes[i].Ciphertext = slices.Clone(c.Envelopes[i].Ciphertext)
	}
	s.shares[m.From] = c
	return nil
}

func (s *Server) receiveMasked(m *MaskedInput) error {
	if err := s.expect(StageMasked, m); err != nil {
		return err
	}
	if !s.u2[m.From] {
		return fmt.Errorf("%w: MaskedInput from %d, which is not in the run", ErrUnexpected, m.From)
	}
	if s.u3[m.From] {
		return fmt.Errorf("%w: second MaskedInput from %d", ErrUnexpected, m.From)
	}
	if len(m.Vector) != s.cfg.Length {
		return fmt.Errorf("%w: vector of %d from %d, want %d", ErrMalformed, len(m.Vector), m.From, s.cfg.Length)
	}
	// Only the running sum is kept: the server never stores a client's
	// masked vector.
	sum := s.sum[:len(m.Vector)]
	for i, v := range m.Vector {
		sum[i] += v
	}
	s.u3[m.From] = true
	return nil
}

func (s *Server) receiveReveal(m *Reveal) error {
	if err := s.expect(StageUnmask, m); err != nil {
		return err
	}
	req, ok := s.requests[m.From]
	if !ok {
		return fmt.Errorf("%w: Reveal from %d, which was not asked", ErrUnexpected, m.From)
	}
	if _, dup := s.reveals[m.From]; dup {
		return fmt.Errorf("%w: second Reveal from %d", ErrUnexpected, m.From)
	}
	check := func(got []RevealedShare, want []ID, label string) error {
		if len(got) != len(want) {
			return fmt.Errorf("%w: %d shares from %d, asked for %d", ErrMalformed, len(got), m.From, len(want))
		}
		for i := range got {
			r := &got[i]
			if r.Owner != want[i] {
				return fmt.Errorf("%w: share %d from %d is for %d, asked for %d", ErrMalformed, i, m.From, r.Owner, want[i])
			}
			if _, err := decodeShare(&r.Share); err != nil {
				return err
			}
			e := s.envelope(r.Owner, m.From)
			commit := e.SeedHash
			if label == labelKey {
				commit = e.KeyHash
			}
			h := shareHash(label, &s.begin.Session, r.Owner, m.From, &r.Share)
			if subtle.ConstantTimeCompare(h[:], commit[:]) != 1 {
				return fmt.Errorf("%w: share of %d's secret from %d does not match its commitment", ErrForged, r.Owner, m.From)
			}
		}
		return nil
	}
	if err := check(m.Seeds, req.Survivors, labelSeed); err != nil {
		return err
	}
	if err := check(m.Keys, req.Dropped, labelKey); err != nil {
		return err
	}
	c := &Reveal{From: m.From, Seeds: slices.Clone(m.Seeds), Keys: slices.Clone(m.Keys)}
	s.reveals[m.From] = c
	return nil
}

// envelope returns the envelope owner sent to holder.
func (s *Server) envelope(owner, holder ID) *Envelope {
	sh := s.shares[owner]
	nb := s.graph[owner]
	i, _ := slices.BinarySearch(nb, holder)
	return &sh.Envelopes[i]
}

// Advance closes the current stage and returns the messages that open
// the next one, keyed by recipient; clients that did not reply in time
// are dropped. Closing the unmasking stage computes the result and
// returns a nil map. If too few clients remain it aborts the run and
// returns an error wrapping [ErrTooFew]; nothing is released then.
func (s *Server) Advance() (map[ID]Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var (
		out map[ID]Message
		err error
	)
	switch s.stage {
	case StageAdvertise:
		out, err = s.closeAdvertise()
	case StageShares:
		out, err = s.closeShares()
	case StageMasked:
		out, err = s.closeMasked()
	case StageUnmask:
		err = s.closeUnmask()
	case StageDone:
		return nil, fmt.Errorf("%w: run already complete", ErrUnexpected)
	case StageAborted:
		return nil, s.abortedErr()
	}
	if err != nil {
		s.log.Debug("secagg: run aborted", "stage", s.stage.String(), "err", err)
		s.stage, s.err = StageAborted, err
		s.sum, s.reveals, s.shares = nil, nil, nil
		return nil, err
	}
	s.stage++
	return out, nil
}

func (s *Server) tooFew(what string, have int) error {
	if have < s.cfg.MinClients {
		return fmt.Errorf("%w: %d %s, minimum %d", ErrTooFew, have, what, s.cfg.MinClients)
	}
	return nil
}

func (s *Server) closeAdvertise() (map[ID]Message, error) {
	if err := s.tooFew("clients advertised keys", len(s.keys)); err != nil {
		return nil, err
	}
	u1 := slices.Sorted(maps.Keys(s.keys))
	var d int
	s.graph, d = buildGraph(u1, s.cfg.Neighbors)
	t := s.cfg.Threshold
	if t == 0 {
		t = d/2 + 1
	}
	if t > d {
		return nil, fmt.Errorf("%w: threshold %d exceeds the %d neighbours each client has", ErrTooFew, t, d)
	}
	if 2*t <= d {
		return nil, fmt.Errorf("%w: threshold %d is not a strict majority of %d neighbours; clients would refuse it", ErrProtocol, t, d)
	}
	s.threshold = t
	s.log.Debug("secagg: keys advertised", "clients", len(u1), "degree", d, "threshold", t)
	out := make(map[ID]Message, len(u1))
	for _, u := range u1 {
		r := &Roster{Threshold: t, Neighbors: make([]PeerKeys, len(s.graph[u]))}
		for i, v := range s.graph[u] {
			k := s.keys[v]
			r.Neighbors[i] = PeerKeys{ID: v, EncKey: k.EncKey, MaskKey: k.MaskKey}
		}
		out[u] = r
	}
	return out, nil
}

func (s *Server) closeShares() (map[ID]Message, error) {
	// A client with fewer than t live neighbours could not have its
	// secrets recovered; drop it, which can leave others short in turn.
	s.u2 = make(map[ID]bool, len(s.shares))
	for u := range s.shares {
		s.u2[u] = true
	}
	for changed := true; changed; {
		changed = false
		for u := range s.u2 {
			live := 0
			for _, v := range s.graph[u] {
				if s.u2[v] {
					live++
				}
			}
			if live < s.threshold {
				delete(s.u2, u)
				changed = true
			}
		}
	}
	if err := s.tooFew("clients shared keys", len(s.u2)); err != nil {
		return nil, err
	}
	s.log.Debug("secagg: shares collected", "clients", len(s.u2), "dropped", len(s.keys)-len(s.u2))
	out := make(map[ID]Message, len(s.u2))
	for w := range s.u2 {
		in := &Inbox{}
		for _, v := range s.graph[w] {
			if s.u2[v] {
				in.Envelopes = append(in.Envelopes, *s.envelope(v, w))
			}
		}
		out[w] = in
	}
	s.sum = make([]uint32, s.cfg.Length)
	s.u3 = make(map[ID]bool, len(s.u2))
	return out, nil
}

func (s *Server) closeMasked() (map[ID]Message, error) {
	if err := s.tooFew("masked inputs", len(s.u3)); err != nil {
		return nil, err
	}
	// Each client's secrets are held by its neighbours that are still
	// here; at least t of them must be.
	for v := range s.u2 {
		n := 0
		for _, w := range s.graph[v] {
			if s.u3[w] {
				n++
			}
		}
		if n < s.threshold {
			return nil, fmt.Errorf("%w: only %d of client %d's neighbours remain, threshold %d", ErrTooFew, n, v, s.threshold)
		}
	}
	s.log.Debug("secagg: masked inputs collected", "clients", len(s.u3), "dropped", len(s.u2)-len(s.u3))
	s.requests = make(map[ID]*UnmaskRequest, len(s.u3))
	s.reveals = make(map[ID]*Reveal, len(s.u3))
	out := make(map[ID]Message, len(s.u3))
	for w := range s.u3 {
		r := &UnmaskRequest{}
		for _, v := range s.graph[w] {
			switch {
			case s.u3[v]:
				r.Survivors = append(r.Survivors, v)
			case s.u2[v]:
				r.Dropped = append(r.Dropped, v)
			}
		}
		s.requests[w] = r
		out[w] = r
	}
	return out, nil
}

// maskJob is one mask to remove from the sum.
type maskJob struct {
	seed [32]byte
	sign int
}

func (s *Server) closeUnmask() error {
	// Gather, per owner, the verified shares in holder-ID order.
	type pt struct {
		x ID
		y [shareChunks]uint64
	}
	seeds := make(map[ID][]pt)
	keys := make(map[ID][]pt)
	for _, w := range slices.Sorted(maps.Keys(s.reveals)) {
		r := s.reveals[w]
		for _, sh := range r.Seeds {
			y, _ := decodeShare(&sh.Share) // validated on receipt
			seeds[sh.Owner] = append(seeds[sh.Owner], pt{w, y})
		}
		for _, sh := range r.Keys {
			y, _ := decodeShare(&sh.Share)
			keys[sh.Owner] = append(keys[sh.Owner], pt{w, y})
		}
	}
	lagrange := make(map[string][]uint64)
	recover := func(owner ID, pts []pt) ([secretSize]byte, error) {
		if len(pts) < s.threshold {
			return [secretSize]byte{}, fmt.Errorf("%w: %d shares of client %d's secret, threshold %d", ErrTooFew, len(pts), owner, s.threshold)
		}
		pts = pts[:s.threshold]
		xs := make([]ID, len(pts))
		ys := make([][shareChunks]uint64, len(pts))
		key := make([]byte, 0, 4*len(pts))
		for i, p := range pts {
			xs[i], ys[i] = p.x, p.y
			key = binary.LittleEndian.AppendUint32(key, uint32(p.x))
		}
		lam, ok := lagrange[string(key)]
		if !ok {
			lam = lagrangeAtZero(xs)
			lagrange[string(key)] = lam
		}
		return combineShares(lam, ys)
	}

	var jobs []maskJob
	for _, v := range slices.Sorted(maps.Keys(s.u2)) {
		if s.u3[v] {
			b, err := recover(v, seeds[v])
			if err != nil {
				return fmt.Errorf("self-mask seed: %w", err)
			}
			jobs = append(jobs, maskJob{seed: b, sign: -1})
			continue
		}
		sk, err := recover(v, keys[v])
		if err != nil {
			return fmt.Errorf("mask key: %w", err)
		}
		priv, err := ecdh.X25519().NewPrivateKey(sk[:])
		if err != nil {
			return fmt.Errorf("%w: %v", ErrForged, err)
		}
		if !slices.Equal(priv.PublicKey().Bytes(), s.keys[v].MaskKey[:]) {
			return fmt.Errorf("%w: recovered mask key of client %d does not match its public key", ErrForged, v)
		}
		// Every surviving neighbour w masked against v with sign
		// pairSign(w, v); remove it.
		for _, w := range s.graph[v] {
			if !s.u3[w] {
				continue
			}
			shared, err := agree(priv, s.keys[w].MaskKey[:])
			if err != nil {
				return err
			}
			jobs = append(jobs, maskJob{seed: pairSeed(shared, &s.begin.Session, v, w), sign: -pairSign(w, v)})
		}
	}
	applyMasks(s.sum, jobs)

	res := &Result{Sum: make([]float64, len(s.sum)), Clients: slices.Sorted(maps.Keys(s.u3))}
	if err := s.quant.Dequantize(res.Sum, s.sum); err != nil {
		return err
	}
	s.result = res
	s.sum, s.reveals, s.shares = nil, nil, nil
	s.log.Debug("secagg: sum released", "clients", len(res.Clients))
	return nil
}

// Result returns the outcome once the run is done. It returns an error
// wrapping [ErrAborted] (and the cause) if the run failed, and
// [ErrUnexpected] while it is still under way.
func (s *Server) Result() (*Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.stage {
	case StageDone:
		return s.result, nil
	case StageAborted:
		return nil, s.abortedErr()
	}
	return nil, fmt.Errorf("%w: run in stage %v", ErrUnexpected, s.stage)
}

// Err returns why the run aborted, or nil.
func (s *Server) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
