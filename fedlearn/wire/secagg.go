package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
)

// Secure-aggregation section of a KindSecAgg message. It starts with a
// type byte; IDs and counts are uvarints, keys, hashes, sessions and
// shares are raw fixed-size byte strings, floats are 8-byte
// little-endian, vector words 4-byte little-endian.
//
//	1 Begin          session[32] length:uvarint clip:float64 maxClients:uvarint
//	2 Advertise      from encKey[32] maskKey[32]
//	3 Roster         threshold:uvarint count, count × (id encKey[32] maskKey[32])
//	4 Shares         from count, count × envelope
//	5 Inbox          count, count × envelope
//	6 MaskedInput    from n:uvarint, n × uint32
//	7 UnmaskRequest  count, count × id (survivors), count, count × id (dropped)
//	8 Reveal         from count, count × (owner share[40]) (seeds),
//	                 count, count × (owner share[40]) (keys)
//
//	envelope = from to keyHash[32] seedHash[32] ciphertext[secagg.EnvelopeSize]
const (
	saBegin = 1 + iota
	saAdvertise
	saRoster
	saShares
	saInbox
	saMasked
	saUnmask
	saReveal
)

const envelopeWire = 2 + 64 + secagg.EnvelopeSize // smallest encoded envelope

func appendID(b []byte, id secagg.ID) []byte { return binary.AppendUvarint(b, uint64(id)) }

func appendEnvelopes(b []byte, es []secagg.Envelope) ([]byte, error) {
	b = binary.AppendUvarint(b, uint64(len(es)))
	for i := range es {
		e := &es[i]
		if len(e.Ciphertext) != secagg.EnvelopeSize {
			return b, fmt.Errorf("%w: envelope ciphertext of %d bytes", ErrMalformed, len(e.Ciphertext))
		}
		b = appendID(appendID(b, e.From), e.To)
		b = append(b, e.KeyHash[:]...)
		b = append(b, e.SeedHash[:]...)
		b = append(b, e.Ciphertext...)
	}
	return b, nil
}

func appendIDs(b []byte, ids []secagg.ID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = appendID(b, id)
	}
	return b
}

func appendRevealed(b []byte, rs []secagg.RevealedShare) []byte {
	b = binary.AppendUvarint(b, uint64(len(rs)))
	for i := range rs {
		b = appendID(b, rs[i].Owner)
		b = append(b, rs[i].Share[:]...)
	}
	return b
}

func appendSecAgg(b []byte, m secagg.Message) ([]byte, error) {
	switch m := m.(type) {
	case *secagg.Begin:
		if m.Length < 0 || uint64(m.Length) > math.MaxUint32 || m.MaxClients < 0 || uint64(m.MaxClients) > math.MaxUint32 {
			return b, fmt.Errorf("%w: secagg Begin length %d, clients %d", ErrMalformed, m.Length, m.MaxClients)
		}
		if math.IsNaN(m.Clip) || math.IsInf(m.Clip, 0) {
			return b, fmt.Errorf("%w: secagg clip %v", ErrNonFinite, m.Clip)
		}
		b = append(b, saBegin)
		b = append(b, m.Session[:]...)
		b = binary.AppendUvarint(b, uint64(m.Length))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(m.Clip))
		return binary.AppendUvarint(b, uint64(m.MaxClients)), nil
	case *secagg.Advertise:
		b = appendID(append(b, saAdvertise), m.From)
		b = append(b, m.EncKey[:]...)
		return append(b, m.MaskKey[:]...), nil
	case *secagg.Roster:
		if m.Threshold < 0 || uint64(m.Threshold) > math.MaxUint32 {
			return b, fmt.Errorf("%w: secagg threshold %d", ErrMalformed, m.Threshold)
		}
		b = binary.AppendUvarint(append(b, saRoster), uint64(m.Threshold))
		b = binary.AppendUvarint(b, uint64(len(m.Neighbors)))
		for i := range m.Neighbors {
			p := &m.Neighbors[i]
			b = appendID(b, p.ID)
			b = append(b, p.EncKey[:]...)
			b = append(b, p.MaskKey[:]...)
		}
		return b, nil
	case *secagg.Shares:
		return appendEnvelopes(appendID(append(b, saShares), m.From), m.Envelopes)
	case *secagg.Inbox:
		return appendEnvelopes(append(b, saInbox), m.Envelopes)
	case *secagg.MaskedInput:
		b = appendID(append(b, saMasked), m.From)
		b = binary.AppendUvarint(b, uint64(len(m.Vector)))
		start := len(b)
		b = grow(b, 4*len(m.Vector))
		p := b[start : start+4*len(m.Vector)]
		for i, v := range m.Vector {
			binary.LittleEndian.PutUint32(p[4*i:4*i+4], v)
		}
		return b, nil
	case *secagg.UnmaskRequest:
		return appendIDs(appendIDs(append(b, saUnmask), m.Survivors), m.Dropped), nil
	case *secagg.Reveal:
		b = appendID(append(b, saReveal), m.From)
		return appendRevealed(appendRevealed(b, m.Seeds), m.Keys), nil
	case nil:
		return b, fmt.Errorf("%w: KindSecAgg without a SecAgg message", ErrMalformed)
	}
	return b, fmt.Errorf("%w: secagg message %T", ErrType, m)
}

// secaggSize is an upper bound on the encoded size of m.
func secaggSize(m secagg.Message) int {
	const v = binary.MaxVarintLen32
	switch m := m.(type) {
	case *secagg.Roster:
		return 3*v + len(m.Neighbors)*(v+64)
	case *secagg.Shares:
		return 3*v + len(m.Envelopes)*(envelopeWire+2*v)
	case *secagg.Inbox:
		return 3*v + len(m.Envelopes)*(envelopeWire+2*v)
	case *secagg.MaskedInput:
		return 3*v + 4*len(m.Vector)
	case *secagg.UnmaskRequest:
		return 3*v + (len(m.Survivors)+len(m.Dropped))*v
	case *secagg.Reveal:
		return 4*v + (len(m.Seeds)+len(m.Keys))*(v+secagg.ShareSize)
	}
	return 128
}

func (d *decoder) id() secagg.ID {
	u := d.uvarint()
	if u > math.MaxUint32 {
		d.fail(fmt.Errorf("%w: secagg ID %d", ErrMalformed, u))
		return 0
	}
	return secagg.ID(u)
}

func (d *decoder) raw(p []byte, what string) {
	if d.err != nil {
		return
	}
	if len(d.b) < len(p) {
		d.truncated(what)
		return
	}
	copy(p, d.b)
	d.b = d.b[len(p):]
}

func (d *decoder) u32(what string) int {
	u := d.uvarint()
	if u > math.MaxInt32 {
		d.fail(fmt.Errorf("%w: %s %d", ErrMalformed, what, u))
		return 0
	}
	return int(u)
}

func (d *decoder) envelopes() []secagg.Envelope {
	n := d.count(d.lim.maxPeers(), envelopeWire, "envelopes")
	if n == 0 {
		return nil
	}
	es := make([]secagg.Envelope, n)
	for i := range es {
		e := &es[i]
		e.From, e.To = d.id(), d.id()
		d.raw(e.KeyHash[:], "envelope")
		d.raw(e.SeedHash[:], "envelope")
		e.Ciphertext = make([]byte, secagg.EnvelopeSize)
		d.raw(e.Ciphertext, "envelope")
	}
	return es
}

func (d *decoder) ids() []secagg.ID {
	n := d.count(d.lim.maxPeers(), 1, "IDs")
	if n == 0 {
		return nil
	}
	ids := make([]secagg.ID, n)
	for i := range ids {
		ids[i] = d.id()
	}
	return ids
}

func (d *decoder) revealed() []secagg.RevealedShare {
	n := d.count(d.lim.maxPeers(), 1+secagg.ShareSize, "shares")
	if n == 0 {
		return nil
	}
	rs := make([]secagg.RevealedShare, n)
	for i := range rs {
		rs[i].Owner = d.id()
		d.raw(rs[i].Share[:], "share")
	}
	return rs
}

func (d *decoder) secagg() secagg.Message {
	switch t := d.byte1("secagg type"); t {
	case saBegin:
		m := &secagg.Begin{}
		d.raw(m.Session[:], "session")
		m.Length = d.u32("secagg length")
		m.Clip = d.float()
		if d.err == nil && (math.IsNaN(m.Clip) || math.IsInf(m.Clip, 0)) {
			d.fail(fmt.Errorf("%w: secagg clip", ErrNonFinite))
		}
		m.MaxClients = d.u32("secagg clients")
		return m
	case saAdvertise:
		m := &secagg.Advertise{From: d.id()}
		d.raw(m.EncKey[:], "key")
		d.raw(m.MaskKey[:], "key")
		return m
	case saRoster:
		m := &secagg.Roster{Threshold: d.u32("secagg threshold")}
		if n := d.count(d.lim.maxPeers(), 1+2*secagg.KeySize, "neighbours"); n > 0 {
			m.Neighbors = make([]secagg.PeerKeys, n)
			for i := range m.Neighbors {
				p := &m.Neighbors[i]
				p.ID = d.id()
				d.raw(p.EncKey[:], "key")
				d.raw(p.MaskKey[:], "key")
			}
		}
		return m
	case saShares:
		m := &secagg.Shares{From: d.id()}
		m.Envelopes = d.envelopes()
		return m
	case saInbox:
		return &secagg.Inbox{Envelopes: d.envelopes()}
	case saMasked:
		m := &secagg.MaskedInput{From: d.id()}
		n := d.uvarint()
		if d.err != nil {
			return m
		}
		if n > uint64(d.lim.maxElements()) {
			d.fail(fmt.Errorf("%w: masked vector of %d elements", ErrTooLarge, n))
			return m
		}
		if 4*n > uint64(len(d.b)) {
			d.truncated("masked vector")
			return m
		}
		if n > 0 {
			m.Vector = make([]uint32, n)
			p := d.b[:4*n]
			for i := range m.Vector {
				m.Vector[i] = binary.LittleEndian.Uint32(p[4*i : 4*i+4])
			}
			d.b = d.b[4*n:]
		}
		return m
	case saUnmask:
		m := &secagg.UnmaskRequest{}
		m.Survivors = d.ids()
		m.Dropped = d.ids()
		return m
	case saReveal:
		m := &secagg.Reveal{From: d.id()}
		m.Seeds = d.revealed()
		m.Keys = d.revealed()
		return m
	default:
		if d.err == nil {
			d.fail(fmt.Errorf("%w: secagg type %d", ErrMalformed, t))
		}
	}
	return nil
}
