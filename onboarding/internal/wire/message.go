package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// FormatVersion is the version byte every message starts with. A receiver
// refuses any other value with ErrVersion; the protocol versions a peer
// speaks are negotiated inside Hello and HelloReply.
const FormatVersion = 1

// Message errors.
var (
	// ErrVersion means a message carries a format version this package
	// does not speak.
	ErrVersion = errors.New("wire: unsupported format version")
	// ErrMalformed means a message does not decode: truncated, an unknown
	// type or critical field, a duplicated field, a value of the wrong
	// size.
	ErrMalformed = errors.New("wire: malformed message")
)

// Type identifies a message. Types below 0x20 travel in the clear (the
// session is not yet keyed); types from 0x20 travel only inside Sealed.
// It is a plain value, safe for concurrent use.
type Type uint8

// Message types.
const (
	TypeHello       Type = 0x01 // commissioner → device: versions, capabilities
	TypeHelloReply  Type = 0x02 // device → commissioner: version, capabilities, PBKDF parameters
	TypePakeShare   Type = 0x03 // commissioner → device: shareP
	TypePakeReply   Type = 0x04 // device → commissioner: shareV, confirmV
	TypePakeConfirm Type = 0x05 // commissioner → device: confirmP
	TypeError       Type = 0x0f // either way, clear or sealed: an error code
	TypeSealed      Type = 0x10 // either way: sequence number and AEAD ciphertext

	TypeSetNetwork  Type = 0x21 // commissioner → device: Wi-Fi credentials
	TypeNetworkAck  Type = 0x22 // device → commissioner: credentials staged, joining
	TypeGetStatus   Type = 0x23 // commissioner → device: report the join (long poll)
	TypeStatus      Type = 0x24 // device → commissioner: join state, reason, Thing Description
	TypeComplete    Type = 0x25 // commissioner → device: commit everything
	TypeCompleteAck Type = 0x26 // device → commissioner: committed
)

// Field tags. Tags below 0x80 are critical: a receiver that does not know
// one refuses the message. Tags from 0x80 are optional: unknown ones are
// skipped, which is how a later version adds fields an older peer may
// ignore.
const (
	tagVersions     = 0x01
	tagCaps         = 0x02
	tagMaxMessage   = 0x03
	tagVersion      = 0x04
	tagSalt         = 0x05
	tagIterations   = 0x06
	tagShare        = 0x07
	tagConfirm      = 0x08
	tagCode         = 0x09
	tagRetryAfter   = 0x0a
	tagAttemptsLeft = 0x0b
	tagSSID         = 0x0c
	tagPassphrase   = 0x0d
	tagJoinState    = 0x0e
	tagReason       = 0x0f
	tagTD           = 0x10
	tagPublicKey    = 0x11

	optionalTags = 0x80
)

// Size limits enforced while decoding.
const (
	ShareSize     = 65
	ConfirmSize   = 32
	MinSalt       = 16
	MaxSalt       = 64
	MaxVersions   = 16
	MaxSSID       = 32
	MaxPassphrase = 64
	MaxPublicKey  = 512
)

// Message is one decoded message. Messages are plain data, safe for
// concurrent use as long as nobody modifies them; Marshal only reads them.
type Message interface {
	Type() Type
	appendBody(b []byte) []byte
	parseBody(f *fields) error
}

// Hello opens a session: the protocol versions and capabilities the
// commissioner supports and the largest message it accepts.
// It is plain data, safe for concurrent use while unmodified.
type Hello struct {
	Versions   []byte
	Caps       uint64
	MaxMessage uint64
}

// HelloReply answers Hello: the version the device chose, its
// capabilities, its largest message, and the PBKDF parameters of its
// SPAKE2+ record.
// It is plain data, safe for concurrent use while unmodified.
type HelloReply struct {
	Version    uint8
	Caps       uint64
	MaxMessage uint64
	Salt       []byte
	Iterations uint64
}

// PakeShare carries the commissioner's SPAKE2+ share.
// It is plain data, safe for concurrent use while unmodified.
type PakeShare struct{ Share []byte }

// PakeReply carries the device's SPAKE2+ share and key confirmation.
// It is plain data, safe for concurrent use while unmodified.
type PakeReply struct{ Share, Confirm []byte }

// PakeConfirm carries the commissioner's key confirmation.
// It is plain data, safe for concurrent use while unmodified.
type PakeConfirm struct{ Confirm []byte }

// Error reports why a peer refused a request. RetryAfterMillis and
// AttemptsLeft are meaningful only when the Has flags are set.
// It is plain data, safe for concurrent use while unmodified.
type Error struct {
	Code             uint64
	RetryAfterMillis uint64
	AttemptsLeft     uint64
	HasRetryAfter    bool
	HasAttemptsLeft  bool
}

// SetNetwork hands the device the Wi-Fi credentials.
// It is plain data, safe for concurrent use while unmodified.
type SetNetwork struct{ SSID, Passphrase []byte }

// NetworkAck says the device staged the credentials and is joining.
// It has no fields and is safe for concurrent use.
type NetworkAck struct{}

// GetStatus asks for the join result; the device answers when it has one
// or after a hold time.
// It has no fields and is safe for concurrent use.
type GetStatus struct{}

// Status reports the device's join state. A joined device includes its
// Thing Description (JSON) and, optionally, its long-term public key; a
// failed one, a reason and how many attempts it still allows.
// It is plain data, safe for concurrent use while unmodified.
type Status struct {
	JoinState       uint64
	Reason          uint64
	AttemptsLeft    uint64
	HasAttemptsLeft bool
	TD              []byte
	PublicKey       []byte
}

// Complete ends commissioning: the device commits what it staged.
// It has no fields and is safe for concurrent use.
type Complete struct{}

// CompleteAck confirms the commit.
// It has no fields and is safe for concurrent use.
type CompleteAck struct{}

// Type returns TypeHello.
func (*Hello) Type() Type { return TypeHello }

// Type returns TypeHelloReply.
func (*HelloReply) Type() Type { return TypeHelloReply }

// Type returns TypePakeShare.
func (*PakeShare) Type() Type { return TypePakeShare }

// Type returns TypePakeReply.
func (*PakeReply) Type() Type { return TypePakeReply }

// Type returns TypePakeConfirm.
func (*PakeConfirm) Type() Type { return TypePakeConfirm }

// Type returns TypeError.
func (*Error) Type() Type { return TypeError }

// Type returns TypeSetNetwork.
func (*SetNetwork) Type() Type { return TypeSetNetwork }

// Type returns TypeNetworkAck.
func (*NetworkAck) Type() Type { return TypeNetworkAck }

// Type returns TypeGetStatus.
func (*GetStatus) Type() Type { return TypeGetStatus }

// Type returns TypeStatus.
func (*Status) Type() Type { return TypeStatus }

// Type returns TypeComplete.
func (*Complete) Type() Type { return TypeComplete }

// Type returns TypeCompleteAck.
func (*CompleteAck) Type() Type { return TypeCompleteAck }

func (m *Hello) appendBody(b []byte) []byte {
	b = appendBytes(b, tagVersions, m.Versions)
	b = appendUint(b, tagCaps, m.Caps)
	return appendUint(b, tagMaxMessage, m.MaxMessage)
}

func (m *Hello) parseBody(f *fields) error {
	m.Versions = f.bytes(tagVersions, 1, MaxVersions, true)
	m.Caps = f.uint(tagCaps, false)
	m.MaxMessage = f.uint(tagMaxMessage, true)
	return f.done(tagVersions, tagCaps, tagMaxMessage)
}

func (m *HelloReply) appendBody(b []byte) []byte {
	b = appendUint(b, tagVersion, uint64(m.Version))
	b = appendUint(b, tagCaps, m.Caps)
	b = appendUint(b, tagMaxMessage, m.MaxMessage)
	b = appendBytes(b, tagSalt, m.Salt)
	return appendUint(b, tagIterations, m.Iterations)
}

func (m *HelloReply) parseBody(f *fields) error {
	v := f.uint(tagVersion, true)
	if v > 0xff {
		f.fail()
	}
	m.Version = uint8(v)
	m.Caps = f.uint(tagCaps, false)
	m.MaxMessage = f.uint(tagMaxMessage, true)
	m.Salt = f.bytes(tagSalt, MinSalt, MaxSalt, true)
	m.Iterations = f.uint(tagIterations, true)
	return f.done(tagVersion, tagCaps, tagMaxMessage, tagSalt, tagIterations)
}

func (m *PakeShare) appendBody(b []byte) []byte { return appendBytes(b, tagShare, m.Share) }

func (m *PakeShare) parseBody(f *fields) error {
	m.Share = f.bytes(tagShare, ShareSize, ShareSize, true)
	return f.done(tagShare)
}

func (m *PakeReply) appendBody(b []byte) []byte {
	b = appendBytes(b, tagShare, m.Share)
	return appendBytes(b, tagConfirm, m.Confirm)
}

func (m *PakeReply) parseBody(f *fields) error {
	m.Share = f.bytes(tagShare, ShareSize, ShareSize, true)
	m.Confirm = f.bytes(tagConfirm, ConfirmSize, ConfirmSize, true)
	return f.done(tagShare, tagConfirm)
}

func (m *PakeConfirm) appendBody(b []byte) []byte { return appendBytes(b, tagConfirm, m.Confirm) }

func (m *PakeConfirm) parseBody(f *fields) error {
	m.Confirm = f.bytes(tagConfirm, ConfirmSize, ConfirmSize, true)
	return f.done(tagConfirm)
}

func (m *Error) appendBody(b []byte) []byte {
	b = appendUint(b, tagCode, m.Code)
	if m.HasRetryAfter {
		b = appendUint(b, tagRetryAfter, m.RetryAfterMillis)
	}
	if m.HasAttemptsLeft {
		b = appendUint(b, tagAttemptsLeft, m.AttemptsLeft)
	}
	return b
}

func (m *Error) parseBody(f *fields) error {
	m.Code = f.uint(tagCode, true)
	m.HasRetryAfter = f.has(tagRetryAfter)
	m.RetryAfterMillis = f.uint(tagRetryAfter, false)
	m.HasAttemptsLeft = f.has(tagAttemptsLeft)
	m.AttemptsLeft = f.uint(tagAttemptsLeft, false)
	return f.done(tagCode, tagRetryAfter, tagAttemptsLeft)
}

func (m *SetNetwork) appendBody(b []byte) []byte {
	b = appendBytes(b, tagSSID, m.SSID)
	return appendBytes(b, tagPassphrase, m.Passphrase)
}

func (m *SetNetwork) parseBody(f *fields) error {
	m.SSID = f.bytes(tagSSID, 1, MaxSSID, true)
	m.Passphrase = f.bytes(tagPassphrase, 0, MaxPassphrase, false)
	return f.done(tagSSID, tagPassphrase)
}

func (*NetworkAck) appendBody(b []byte) []byte  { return b }
func (*NetworkAck) parseBody(f *fields) error   { return f.done() }
func (*GetStatus) appendBody(b []byte) []byte   { return b }
func (*GetStatus) parseBody(f *fields) error    { return f.done() }
func (*Complete) appendBody(b []byte) []byte    { return b }
func (*Complete) parseBody(f *fields) error     { return f.done() }
func (*CompleteAck) appendBody(b []byte) []byte { return b }
func (*CompleteAck) parseBody(f *fields) error  { return f.done() }

func (m *Status) appendBody(b []byte) []byte {
	b = appendUint(b, tagJoinState, m.JoinState)
	if m.Reason != 0 {
		b = appendUint(b, tagReason, m.Reason)
	}
	if m.HasAttemptsLeft {
		b = appendUint(b, tagAttemptsLeft, m.AttemptsLeft)
	}
	if len(m.TD) > 0 {
		b = appendBytes(b, tagTD, m.TD)
	}
	if len(m.PublicKey) > 0 {
		b = appendBytes(b, tagPublicKey, m.PublicKey)
	}
	return b
}

func (m *Status) parseBody(f *fields) error {
	m.JoinState = f.uint(tagJoinState, true)
	m.Reason = f.uint(tagReason, false)
	m.HasAttemptsLeft = f.has(tagAttemptsLeft)
	m.AttemptsLeft = f.uint(tagAttemptsLeft, false)
	m.TD = f.bytes(tagTD, 0, MaxMessage, false)
	m.PublicKey = f.bytes(tagPublicKey, 0, MaxPublicKey, false)
	return f.done(tagJoinState, tagReason, tagAttemptsLeft, tagTD, tagPublicKey)
}

// newMessage returns an empty message of type t, or nil. sealed selects
// the types allowed inside Sealed rather than in the clear.
func newMessage(t Type, sealed bool) Message {
	if sealed {
		switch t {
		case TypeSetNetwork:
			return &SetNetwork{}
		case TypeNetworkAck:
			return &NetworkAck{}
		case TypeGetStatus:
			return &GetStatus{}
		case TypeStatus:
			return &Status{}
		case TypeComplete:
			return &Complete{}
		case TypeCompleteAck:
			return &CompleteAck{}
		case TypeError:
			return &Error{}
		}
		return nil
	}
	switch t {
	case TypeHello:
		return &Hello{}
	case TypeHelloReply:
		return &HelloReply{}
	case TypePakeShare:
		return &PakeShare{}
	case TypePakeReply:
		return &PakeReply{}
	case TypePakeConfirm:
		return &PakeConfirm{}
	case TypeError:
		return &Error{}
	}
	return nil
}

// Marshal encodes a message that travels in the clear: format version,
// type, fields. Sealed has its own encoder, AppendSealed.
func Marshal(m Message) []byte {
	b := []byte{FormatVersion, byte(m.Type())}
	return m.appendBody(b)
}

// MarshalInner encodes a message for sealing: type, fields.
func MarshalInner(m Message) []byte {
	return m.appendBody([]byte{byte(m.Type())})
}

// Peek returns a message's type after checking its format version.
func Peek(b []byte) (Type, error) {
	if len(b) < 2 {
		return 0, ErrMalformed
	}
	if b[0] != FormatVersion {
		return 0, ErrVersion
	}
	return Type(b[1]), nil
}

// Unmarshal decodes a message that travels in the clear. Sealed messages
// are decoded with ParseSealed.
func Unmarshal(b []byte) (Message, error) {
	t, err := Peek(b)
	if err != nil {
		return nil, err
	}
	m := newMessage(t, false)
	if m == nil {
		return nil, fmt.Errorf("%w: type %#x", ErrMalformed, uint8(t))
	}
	return m, parse(m, b[2:])
}

// UnmarshalInner decodes the plaintext of a Sealed message.
func UnmarshalInner(b []byte) (Message, error) {
	if len(b) < 1 {
		return nil, ErrMalformed
	}
	m := newMessage(Type(b[0]), true)
	if m == nil {
		return nil, fmt.Errorf("%w: sealed type %#x", ErrMalformed, b[0])
	}
	return m, parse(m, b[1:])
}

func parse(m Message, body []byte) error {
	f, err := parseFields(body)
	if err != nil {
		return err
	}
	return m.parseBody(f)
}

// SealedHeaderSize is the size of a Sealed message's header: format
// version, type, 32-bit sequence number. The header is the AEAD's
// additional data.
const SealedHeaderSize = 6

// SealedHeader returns the header of a Sealed message with sequence seq.
func SealedHeader(seq uint32) [SealedHeaderSize]byte {
	var h [SealedHeaderSize]byte
	h[0] = FormatVersion
	h[1] = byte(TypeSealed)
	binary.BigEndian.PutUint32(h[2:], seq)
	return h
}

// ParseSealed splits a Sealed message into its header, sequence number
// and ciphertext (which aliases b).
func ParseSealed(b []byte) (header []byte, seq uint32, ciphertext []byte, err error) {
	t, err := Peek(b)
	if err != nil {
		return nil, 0, nil, err
	}
	if t != TypeSealed || len(b) < SealedHeaderSize {
		return nil, 0, nil, ErrMalformed
	}
	return b[:SealedHeaderSize], binary.BigEndian.Uint32(b[2:SealedHeaderSize]), b[SealedHeaderSize:], nil
}

// TLV encoding: tag (1 byte), length (unsigned varint), value. Integers
// are unsigned varints inside the value.

func appendBytes(b []byte, tag byte, v []byte) []byte {
	b = append(b, tag)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendUint(b []byte, tag byte, v uint64) []byte {
	var tmp [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(tmp[:], v)
	return appendBytes(b, tag, tmp[:n])
}

// fields is a decoded TLV body. Accessors record the first problem; done
// reports it, and any critical tag the message does not define.
type fields struct {
	tags []byte
	vals [][]byte
	err  error
}

func parseFields(b []byte) (*fields, error) {
	f := &fields{}
	for len(b) > 0 {
		tag := b[0]
		n, k := binary.Uvarint(b[1:])
		if k <= 0 || n > uint64(len(b)-1-k) {
			return nil, fmt.Errorf("%w: truncated field %#x", ErrMalformed, tag)
		}
		if tag < optionalTags {
			for _, t := range f.tags {
				if t == tag {
					return nil, fmt.Errorf("%w: duplicate field %#x", ErrMalformed, tag)
				}
			}
		}
		v := b[1+k : 1+k+int(n)]
		f.tags = append(f.tags, tag)
		f.vals = append(f.vals, v)
		b = b[1+k+int(n):]
	}
	return f, nil
}

func (f *fields) get(tag byte) ([]byte, bool) {
	for i, t := range f.tags {
		if t == tag {
			return f.vals[i], true
		}
	}
	return nil, false
}

func (f *fields) has(tag byte) bool {
	_, ok := f.get(tag)
	return ok
}

func (f *fields) fail() {
	if f.err == nil {
		f.err = ErrMalformed
	}
}

func (f *fields) bytes(tag byte, minLen, maxLen int, required bool) []byte {
	v, ok := f.get(tag)
	if !ok {
		if required {
			f.fail()
		}
		return nil
	}
	if len(v) < minLen || len(v) > maxLen {
		f.fail()
		return nil
	}
	if len(v) == 0 {
		return nil
	}
	return v
}

func (f *fields) uint(tag byte, required bool) uint64 {
	v, ok := f.get(tag)
	if !ok {
		if required {
			f.fail()
		}
		return 0
	}
	n, k := binary.Uvarint(v)
	if k <= 0 || k != len(v) {
		f.fail()
		return 0
	}
	return n
}

// done reports the first accessor failure, or a critical tag outside
// known.
func (f *fields) done(known ...byte) error {
	if f.err != nil {
		return f.err
	}
outer:
	for _, t := range f.tags {
		if t >= optionalTags {
			continue
		}
		for _, k := range known {
			if t == k {
				continue outer
			}
		}
		return fmt.Errorf("%w: unknown critical field %#x", ErrMalformed, t)
	}
	return nil
}
