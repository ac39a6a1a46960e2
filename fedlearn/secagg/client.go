package secagg

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"slices"
)

// MaxLength is the longest input vector a client accepts in [Begin].
const MaxLength = 1 << 28

// Client is one participant's side of a secure-aggregation run. Create
// one per run with [NewClient], give it its input with
// [Client.SetInput], and pass every message from the server to
// [Client.Handle], sending back the reply:
//
//	Begin → Advertise, Roster → Shares, Inbox → MaskedInput,
//	UnmaskRequest → Reveal
//
// A Client holds private keys and secret shares; its String and
// LogValue methods never print them. After an error the client is
// aborted and refuses further messages. A Client is not safe for
// concurrent use.
type Client struct {
	id    ID
	stage Stage

	begin     Begin
	quant     Quantizer
	encPriv   *ecdh.PrivateKey
	maskPriv  *ecdh.PrivateKey
	seed      [32]byte // self-mask seed b_u
	threshold int
	peers     map[ID]*PeerKeys
	encShared map[ID][]byte     // X25519 secrets with each neighbour's EncKey
	held      map[ID]heldShares // shares this client holds for peers, by owner
	input     []float64
}

type heldShares struct {
	key, seed Share
}

// NewClient returns a client with the given ID, waiting for [Begin]. IDs
// must be non-zero.
func NewClient(id ID) (*Client, error) {
	if id == 0 {
		return nil, fmt.Errorf("%w: client ID 0", ErrMalformed)
	}
	return &Client{id: id}, nil
}

// ID returns the client's ID.
func (c *Client) ID() ID { return c.id }

// Stage returns the message the client expects next: StageAdvertise
// before Begin, StageShares before Roster, StageMasked before Inbox,
// StageUnmask before UnmaskRequest, then StageDone (or StageAborted).
func (c *Client) Stage() Stage { return c.stage }

// String describes the client without revealing any secret.
func (c *Client) String() string {
	return fmt.Sprintf("secagg.Client{id: %d, stage: %v}", c.id, c.stage)
}

// GoString describes the client without revealing any secret.
func (c *Client) GoString() string { return c.String() }

// LogValue describes the client without revealing any secret.
func (c *Client) LogValue() slog.Value {
	return slog.GroupValue(slog.Any("id", c.id), slog.String("stage", c.stage.String()))
}

// SetInput sets the vector the client contributes; it is copied. It must
// be called before the Inbox arrives and may be called before Begin. The
// length is checked against Begin; values are clamped to ±Begin.Clip when
// quantized. It returns an error wrapping [ErrNonFinite] if x contains
// NaN or ±Inf.
func (c *Client) SetInput(x []float64) error {
	if c.stage > StageMasked {
		return fmt.Errorf("%w: input after masking", ErrUnexpected)
	}
	for i, v := range x {
		if v != v || v > maxFloat || v < -maxFloat {
			return fmt.Errorf("%w: element %d is %v", ErrNonFinite, i, v)
		}
	}
	if c.stage > StageAdvertise && len(x) != c.begin.Length {
		return fmt.Errorf("%w: input of %d values, run expects %d", ErrMalformed, len(x), c.begin.Length)
	}
	c.input = slices.Clone(x)
	return nil
}

const maxFloat = 1.7976931348623157e308

// Handle processes a message from the server and returns the reply to
// send back. Errors wrap [ErrUnexpected] for a message out of order,
// [ErrMalformed], [ErrForged] or [ErrProtocol] for a bad or dishonest
// request, [ErrTooFew] when too few neighbours remain, and [ErrAborted]
// after an earlier error. On any error other than ErrUnexpected the
// client aborts and discards its secrets.
func (c *Client) Handle(m Message) (Message, error) {
	if c.stage == StageAborted {
		return nil, ErrAborted
	}
	var (
		reply Message
		err   error
	)
	switch m := m.(type) {
	case *Begin:
		if c.stage != StageAdvertise {
			return nil, c.unexpected(m)
		}
		reply, err = c.handleBegin(m)
	case *Roster:
		if c.stage != StageShares {
			return nil, c.unexpected(m)
		}
		reply, err = c.handleRoster(m)
	case *Inbox:
		if c.stage != StageMasked {
			return nil, c.unexpected(m)
		}
		if c.input == nil {
			return nil, fmt.Errorf("%w: Inbox before SetInput", ErrUnexpected)
		}
		reply, err = c.handleInbox(m)
	case *UnmaskRequest:
		if c.stage != StageUnmask {
			if c.stage == StageDone {
				err = fmt.Errorf("%w: second unmask request", ErrProtocol)
				break
			}
			return nil, c.unexpected(m)
		}
		reply, err = c.handleUnmask(m)
	default:
		return nil, c.unexpected(m)
	}
	if err != nil {
		c.abort()
		return nil, err
	}
	c.stage++
	return reply, nil
}

func (c *Client) unexpected(m Message) error {
	return fmt.Errorf("%w: %T in stage %v", ErrUnexpected, m, c.stage)
}

func (c *Client) forgetEncShared() {
	for _, k := range c.encShared {
		clear(k)
	}
	c.encShared = nil
}

func (c *Client) abort() {
	c.stage = StageAborted
	c.forgetEncShared()
	c.encPriv, c.maskPriv = nil, nil
	clear(c.seed[:])
	c.held, c.peers, c.input = nil, nil, nil
}

func (c *Client) handleBegin(b *Begin) (Message, error) {
	if b.Length < 1 || b.Length > MaxLength {
		return nil, fmt.Errorf("%w: length %d", ErrMalformed, b.Length)
	}
	q := Quantizer{Clip: b.Clip, Clients: b.MaxClients}
	if q.Scale() == 0 {
		return nil, fmt.Errorf("%w: quantization clip %v for %d clients", ErrMalformed, b.Clip, b.MaxClients)
	}
	if c.input != nil && len(c.input) != b.Length {
		return nil, fmt.Errorf("%w: input of %d values, run expects %d", ErrMalformed, len(c.input), b.Length)
	}
	var err error
	if c.encPriv, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	if c.maskPriv, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		return nil, err
	}
	c.begin, c.quant = *b, q
	a := &Advertise{From: c.id}
	copy(a.EncKey[:], c.encPriv.PublicKey().Bytes())
	copy(a.MaskKey[:], c.maskPriv.PublicKey().Bytes())
	return a, nil
}

func (c *Client) handleRoster(r *Roster) (Message, error) {
	n := len(r.Neighbors)
	// A strict majority: no two disjoint groups of neighbours can both
	// reach t, so a server that tells some neighbours this client
	// survived and others that it dropped cannot recover both its seed
	// and its mask key.
	if r.Threshold < 1 || r.Threshold > n || 2*r.Threshold <= n {
		return nil, fmt.Errorf("%w: threshold %d for %d neighbours is not a strict majority", ErrProtocol, r.Threshold, n)
	}
	c.peers = make(map[ID]*PeerKeys, n)
	holders := make([]ID, n)
	for i := range r.Neighbors {
		p := &r.Neighbors[i]
		if p.ID == 0 || p.ID == c.id || (i > 0 && p.ID <= r.Neighbors[i-1].ID) {
			return nil, fmt.Errorf("%w: neighbour IDs must be non-zero, sorted, unique and not the client's own", ErrMalformed)
		}
		c.peers[p.ID] = p
		holders[i] = p.ID
	}
	c.threshold = r.Threshold
	rand.Read(c.seed[:])
	maskSecret := [secretSize]byte(c.maskPriv.Bytes())
	keyShares := splitSecret(&maskSecret, holders, r.Threshold)
	seedShares := splitSecret(&c.seed, holders, r.Threshold)
	clear(maskSecret[:])

	s := &Shares{From: c.id, Envelopes: make([]Envelope, n)}
	var plain [2 * ShareSize]byte
	c.encShared = make(map[ID][]byte, n)
	for i, v := range holders {
		shared, err := agree(c.encPriv, r.Neighbors[i].EncKey[:])
		if err != nil {
			return nil, fmt.Errorf("neighbour %d: %w", v, err)
		}
		c.encShared[v] = shared // reused to open v's envelope
		aead, err := envelopeAEAD(shared, &c.begin.Session, c.id, v)
		if err != nil {
			return nil, err
		}
		e := &s.Envelopes[i]
		e.From, e.To = c.id, v
		e.KeyHash = shareHash(labelKey, &c.begin.Session, c.id, v, &keyShares[i])
		e.SeedHash = shareHash(labelSeed, &c.begin.Session, c.id, v, &seedShares[i])
		copy(plain[:ShareSize], keyShares[i][:])
		copy(plain[ShareSize:], seedShares[i][:])
		e.Ciphertext = aead.Seal(nil, zeroNonce[:], plain[:], envelopeAD(&c.begin.Session, e))
	}
	clear(plain[:])
	clear(keyShares)
	clear(seedShares)
	return s, nil
}

func (c *Client) handleInbox(in *Inbox) (Message, error) {
	c.held = make(map[ID]heldShares, len(in.Envelopes))
	var plain [2 * ShareSize]byte
	for i := range in.Envelopes {
		e := &in.Envelopes[i]
		_, ok := c.peers[e.From]
		if !ok || e.To != c.id {
			return nil, fmt.Errorf("%w: envelope %d→%d is not from a neighbour to this client", ErrMalformed, e.From, e.To)
		}
		if _, dup := c.held[e.From]; dup {
			return nil, fmt.Errorf("%w: two envelopes from %d", ErrMalformed, e.From)
		}
		if len(e.Ciphertext) != EnvelopeSize {
			return nil, fmt.Errorf("%w: envelope from %d has %d bytes", ErrMalformed, e.From, len(e.Ciphertext))
		}
		aead, err := envelopeAEAD(c.encShared[e.From], &c.begin.Session, e.From, c.id)
		if err != nil {
			return nil, err
		}
		if _, err := aead.Open(plain[:0], zeroNonce[:], e.Ciphertext, envelopeAD(&c.begin.Session, e)); err != nil {
			return nil, fmt.Errorf("%w: envelope from %d does not authenticate", ErrForged, e.From)
		}
		var h heldShares
		copy(h.key[:], plain[:ShareSize])
		copy(h.seed[:], plain[ShareSize:])
		// The commitments the server will check must match what was
		// sent, or an honest reveal of these shares would be rejected.
		kh := shareHash(labelKey, &c.begin.Session, e.From, c.id, &h.key)
		sh := shareHash(labelSeed, &c.begin.Session, e.From, c.id, &h.seed)
		if subtle.ConstantTimeCompare(kh[:], e.KeyHash[:]) != 1 || subtle.ConstantTimeCompare(sh[:], e.SeedHash[:]) != 1 {
			return nil, fmt.Errorf("%w: commitments from %d do not match its shares", ErrForged, e.From)
		}
		if _, err := decodeShare(&h.key); err != nil {
			return nil, err
		}
		if _, err := decodeShare(&h.seed); err != nil {
			return nil, err
		}
		c.held[e.From] = h
	}
	clear(plain[:])
	// Every neighbour whose envelope arrived is alive; fewer than t of
	// them could not recover this client's secrets.
	if len(c.held) < c.threshold {
		return nil, fmt.Errorf("%w: %d neighbours remain, threshold %d", ErrTooFew, len(c.held), c.threshold)
	}

	y := make([]uint32, c.begin.Length)
	if err := c.quant.Quantize(y, c.input); err != nil {
		return nil, err
	}
	jobs := make([]maskJob, 0, 1+len(c.held))
	jobs = append(jobs, maskJob{seed: c.seed, sign: 1})
	for v := range c.held {
		shared, err := agree(c.maskPriv, c.peers[v].MaskKey[:])
		if err != nil {
			return nil, fmt.Errorf("neighbour %d: %w", v, err)
		}
		jobs = append(jobs, maskJob{seed: pairSeed(shared, &c.begin.Session, c.id, v), sign: pairSign(c.id, v)})
	}
	applyMasks(y, jobs)
	clear(jobs)
	clear(c.input)
	c.input = nil
	c.forgetEncShared()
	return &MaskedInput{From: c.id, Vector: y}, nil
}

func (c *Client) handleUnmask(r *UnmaskRequest) (Message, error) {
	seen := make(map[ID]bool, len(r.Survivors)+len(r.Dropped))
	check := func(list []ID) error {
		for i, v := range list {
			if i > 0 && v <= list[i-1] {
				return fmt.Errorf("%w: unmask lists must be sorted and unique", ErrMalformed)
			}
			if _, ok := c.held[v]; !ok {
				return fmt.Errorf("%w: %d is not a neighbour whose shares this client holds", ErrProtocol, v)
			}
			if seen[v] {
				return fmt.Errorf("%w: %d listed as both survivor and dropped", ErrProtocol, v)
			}
			seen[v] = true
		}
		return nil
	}
	if err := check(r.Survivors); err != nil {
		return nil, err
	}
	if err := check(r.Dropped); err != nil {
		return nil, err
	}
	out := &Reveal{
		From:  c.id,
		Seeds: make([]RevealedShare, len(r.Survivors)),
		Keys:  make([]RevealedShare, len(r.Dropped)),
	}
	for i, v := range r.Survivors {
		out.Seeds[i] = RevealedShare{Owner: v, Share: c.held[v].seed}
	}
	for i, v := range r.Dropped {
		out.Keys[i] = RevealedShare{Owner: v, Share: c.held[v].key}
	}
	// Done: forget everything secret.
	c.encPriv, c.maskPriv = nil, nil
	clear(c.seed[:])
	c.held = nil
	return out, nil
}
