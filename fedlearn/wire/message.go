package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hearth-wot/hearth/fedlearn/secagg"
)

// Kind says what a [Message] is for. The zero Kind is invalid.
//
// A Kind is an immutable value, safe for concurrent use.
type Kind uint8

// Message kinds. A request and the reply to it carry the same
// [Message.Seq].
const (
	// KindJoin: client → server, the client is available for rounds.
	// Text may name the client; Config may describe it (e.g. "samples").
	KindJoin Kind = 1
	// KindFitRequest: server → client, train on Tensors (the global
	// model) with Config (e.g. "epochs", "batch", "lr") in round Round.
	KindFitRequest Kind = 2
	// KindFitResult: client → server, Tensors are the local model or
	// update, Samples the number of training examples, Metrics e.g. "loss".
	KindFitResult Kind = 3
	// KindEvaluateRequest: server → client, evaluate Tensors on local data.
	KindEvaluateRequest Kind = 4
	// KindEvaluateResult: client → server, Samples examples evaluated,
	// Metrics e.g. "loss" and "accuracy".
	KindEvaluateResult Kind = 5
	// KindHeartbeat: either direction, keeps a connection alive; carries
	// nothing but Seq.
	KindHeartbeat Kind = 6
	// KindError: either direction, a request failed or was refused; Code
	// is application-defined (wire defines none) and Text explains.
	KindError Kind = 7
	// KindSecAgg: either direction, one secure-aggregation protocol
	// message in SecAgg (package fedlearn/secagg); Round and Seq
	// correlate it with the training round.
	KindSecAgg Kind = 8
)

const maxKind = KindSecAgg

var kindNames = [...]string{
	KindJoin:            "join",
	KindFitRequest:      "fit-request",
	KindFitResult:       "fit-result",
	KindEvaluateRequest: "evaluate-request",
	KindEvaluateResult:  "evaluate-result",
	KindHeartbeat:       "heartbeat",
	KindError:           "error",
	KindSecAgg:          "secagg",
}

// String returns the kind's name, such as "fit-request".
func (k Kind) String() string {
	if k > 0 && k <= maxKind {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Message is one protocol message: a kind, a few fixed header fields, two
// small maps and any number of tensors. The same shape carries every kind
// so that a transport needs one codec and new uses need no format change;
// fields a kind does not use are left zero and cost one byte each.
//
// A Message is a plain value; it is not safe for concurrent mutation.
type Message struct {
	Kind    Kind
	Seq     uint64 // correlates a reply with its request; chosen by the requester
	Round   uint64 // server round number, 0 when not applicable
	Samples uint64 // examples trained or evaluated on (results)
	Code    uint32 // KindError: application-defined error code
	Text    string // KindError: message; KindJoin: client name; otherwise free

	// Config holds settings for a request. Values must be bool, int64,
	// float64, string or []byte; int is accepted when encoding and decodes
	// as int64. Float values must be finite.
	Config map[string]any

	// Metrics holds named results, e.g. "loss", "accuracy". Values must be
	// finite: a diverged client should send KindError instead.
	Metrics map[string]float64

	// DType is the encoding of every tensor (zero means Float32). Decoding
	// sets it to the dtype found on the wire.
	DType DType

	// Tensors are model parameters, updates or anything vector-shaped; by
	// convention Tensors[0] is the flat parameter vector. Elements must be
	// finite.
	Tensors [][]float64

	// SecAgg is the secure-aggregation message of a KindSecAgg message,
	// and must be nil for every other kind.
	SecAgg secagg.Message
}

// Message frame layout. Integers marked uvarint are unsigned LEB128 in
// their shortest form (as encoding/binary.AppendUvarint writes them);
// varint is the zig-zag signed form; fixed-width integers and floats are
// little-endian. A string is a uvarint byte length followed by that many
// bytes of valid UTF-8.
//
//	magic    4 bytes  "HFL" followed by the version byte 1
//	kind     1 byte
//	dtype    1 byte   1 = float32, 2 = float64
//	seq      uvarint
//	round    uvarint
//	samples  uvarint
//	code     uvarint  (< 2^32)
//	text     string
//	config   uvarint count, then per entry in strictly increasing key order:
//	         key string, type byte, value:
//	           1 bool    1 byte, 0 or 1
//	           2 int64   varint
//	           3 float64 8 bytes
//	           4 string  string
//	           5 bytes   uvarint length + bytes
//	metrics  uvarint count, then per entry in strictly increasing key order:
//	         key string, 8-byte float64
//	tensors  uvarint count, then per tensor: uvarint element count n,
//	         n elements of dtype
//	secagg   only for KindSecAgg: the secure-aggregation message, laid
//	         out as documented in secagg.go
//	crc      4 bytes  CRC-32C (Castagnoli) of everything before it
//
// The encoding is canonical: every message has exactly one encoding, and
// decoding rejects any other (unsorted or duplicate keys, padded varints,
// trailing bytes), so re-encoding a decoded message reproduces its bytes.
const (
	msgMagic  = "HFL"
	msgHeader = 6
)

const (
	valBool    = 1
	valInt     = 2
	valFloat   = 3
	valString  = 4
	valBytes   = 5
	maxValType = valBytes
)

// MarshalBinary encodes m. It implements [encoding.BinaryMarshaler].
func (m *Message) MarshalBinary() ([]byte, error) {
	return m.AppendBinary(make([]byte, 0, m.size()))
}

// AppendBinary appends the encoding of m to b. It implements
// [encoding.BinaryAppender]. Errors wrap [ErrMalformed] (invalid Kind or
// DType, invalid UTF-8), [ErrType], [ErrNonFinite] or [ErrTooLarge]; on
// error b is returned unextended.
func (m *Message) AppendBinary(b []byte) ([]byte, error) {
	start := len(b)
	out, err := m.appendBinary(b)
	if err != nil {
		return b[:start], err
	}
	return binary.LittleEndian.AppendUint32(out, crc32.Checksum(out[start:], castagnoli)), nil
}

func (m *Message) appendBinary(b []byte) ([]byte, error) {
	if m.Kind == 0 || m.Kind > maxKind {
		return b, fmt.Errorf("%w: %v", ErrMalformed, m.Kind)
	}
	dt := m.DType.orDefault()
	if dt.Size() == 0 {
		return b, fmt.Errorf("%w: %v", ErrMalformed, dt)
	}
	b = append(b, msgMagic...)
	b = append(b, formatVersion, byte(m.Kind), byte(dt))
	b = binary.AppendUvarint(b, m.Seq)
	b = binary.AppendUvarint(b, m.Round)
	b = binary.AppendUvarint(b, m.Samples)
	b = binary.AppendUvarint(b, uint64(m.Code))
	var err error
	if b, err = appendString(b, m.Text); err != nil {
		return b, err
	}

	b = binary.AppendUvarint(b, uint64(len(m.Config)))
	for _, k := range sortedKeys(m.Config) {
		if b, err = appendString(b, k); err != nil {
			return b, err
		}
		if b, err = appendValue(b, m.Config[k]); err != nil {
			return b, fmt.Errorf("config %q: %w", k, err)
		}
	}

	b = binary.AppendUvarint(b, uint64(len(m.Metrics)))
	for _, k := range sortedKeys(m.Metrics) {
		v := m.Metrics[k]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("%w: metric %q is %v", ErrNonFinite, k, v)
		}
		if b, err = appendString(b, k); err != nil {
			return b, err
		}
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}

	b = binary.AppendUvarint(b, uint64(len(m.Tensors)))
	for ti, t := range m.Tensors {
		if uint64(len(t)) > math.MaxUint32 {
			return b, fmt.Errorf("%w: tensor %d has %d elements", ErrTooLarge, ti, len(t))
		}
		b = binary.AppendUvarint(b, uint64(len(t)))
		start := len(b)
		b = grow(b, len(t)*dt.Size())
		if i := putElements(b[start:], t, dt); i >= 0 {
			return b, fmt.Errorf("%w: tensor %d element %d is %v", ErrNonFinite, ti, i, t[i])
		}
	}
	switch {
	case m.Kind == KindSecAgg:
		return appendSecAgg(b, m.SecAgg)
	case m.SecAgg != nil:
		return b, fmt.Errorf("%w: SecAgg set on a %v message", ErrMalformed, m.Kind)
	}
	return b, nil
}

// size is an upper bound on the encoded size of m, used to allocate once.
func (m *Message) size() int {
	n := msgHeader + 4*binary.MaxVarintLen64 + binary.MaxVarintLen64 + len(m.Text) + 3*binary.MaxVarintLen64 + crcSize
	for k, v := range m.Config {
		n += binary.MaxVarintLen64 + len(k) + 1 + binary.MaxVarintLen64 + 8
		switch v := v.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		}
	}
	for k := range m.Metrics {
		n += binary.MaxVarintLen64 + len(k) + 8
	}
	s := m.DType.orDefault().Size()
	for _, t := range m.Tensors {
		n += binary.MaxVarintLen64 + len(t)*s
	}
	return n + secaggSize(m.SecAgg)
}

func sortedKeys[V any](m map[string]V) []string {
	if len(m) == 0 {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return b, fmt.Errorf("%w: invalid UTF-8 in %q", ErrMalformed, s)
	}
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...), nil
}

func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case bool:
		b = append(b, valBool, 0)
		if v {
			b[len(b)-1] = 1
		}
	case int:
		b = binary.AppendVarint(append(b, valInt), int64(v))
	case int64:
		b = binary.AppendVarint(append(b, valInt), v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("%w: %v", ErrNonFinite, v)
		}
		b = binary.LittleEndian.AppendUint64(append(b, valFloat), math.Float64bits(v))
	case string:
		return appendString(append(b, valString), v)
	case []byte:
		b = binary.AppendUvarint(append(b, valBytes), uint64(len(v)))
		b = append(b, v...)
	default:
		return b, fmt.Errorf("%w: %T", ErrType, v)
	}
	return b, nil
}

// UnmarshalBinary decodes one message frame into m with the default
// [Limits], replacing all of m's fields. It implements
// [encoding.BinaryUnmarshaler]. See [Limits.Unmarshal].
func (m *Message) UnmarshalBinary(b []byte) error {
	return Limits{}.Unmarshal(b, m)
}

// Unmarshal decodes b, which must be exactly one message frame, into m,
// replacing all of m's fields; m's tensor buffers are reused when large
// enough. Sizes are checked against l and against the bytes remaining
// before anything is allocated, and the checksum is verified before
// anything is decoded. Errors wrap [ErrMalformed], [ErrVersion],
// [ErrChecksum], [ErrTooLarge] or [ErrNonFinite]; on error m is left in
// an unspecified but valid state.
func (l Limits) Unmarshal(b []byte, m *Message) error {
	if len(b) > l.maxBytes() {
		return fmt.Errorf("%w: message frame of %d bytes", ErrTooLarge, len(b))
	}
	if len(b) < msgHeader+crcSize {
		return fmt.Errorf("%w: message frame of %d bytes", ErrMalformed, len(b))
	}
	if string(b[:3]) != msgMagic {
		return fmt.Errorf("%w: bad message magic", ErrMalformed)
	}
	if b[3] != formatVersion {
		return fmt.Errorf("%w: message version %d", ErrVersion, b[3])
	}
	body := b[:len(b)-crcSize]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-crcSize:]) {
		return ErrChecksum
	}
	kind, dt := Kind(b[4]), DType(b[5])
	if kind == 0 || kind > maxKind {
		return fmt.Errorf("%w: %v", ErrMalformed, kind)
	}
	if dt != Float32 && dt != Float64 {
		return fmt.Errorf("%w: %v", ErrMalformed, dt)
	}
	tensors := m.Tensors[:0]
	*m = Message{Kind: kind, DType: dt}
	d := decoder{b: body[msgHeader:], lim: l}
	m.Seq = d.uvarint()
	m.Round = d.uvarint()
	m.Samples = d.uvarint()
	if code := d.uvarint(); code <= math.MaxUint32 {
		m.Code = uint32(code)
	} else {
		d.fail(fmt.Errorf("%w: code %d", ErrMalformed, code))
	}
	m.Text = d.str()

	if n := d.count(l.maxEntries(), 3, "config entries"); n > 0 {
		m.Config = make(map[string]any, n)
		prev := ""
		for i := range n {
			k := d.key(i, &prev)
			m.Config[k] = d.value()
		}
	}
	if n := d.count(l.maxEntries(), 9, "metrics"); n > 0 {
		m.Metrics = make(map[string]float64, n)
		prev := ""
		for i := range n {
			k := d.key(i, &prev)
			v := d.float()
			if d.err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
				d.fail(fmt.Errorf("%w: metric %q", ErrNonFinite, k))
			}
			m.Metrics[k] = v
		}
	}
	if n := d.count(l.maxTensors(), 1, "tensors"); n > 0 {
		if cap(tensors) < n {
			tensors = slices.Grow(tensors, n)
		}
		tensors = tensors[:n]
		for i := range n {
			tensors[i] = d.tensor(tensors[i][:0], dt)
		}
		m.Tensors = tensors
	}
	if kind == KindSecAgg {
		m.SecAgg = d.secagg()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b)))
	}
	return d.err
}

// Unmarshal decodes a message frame with the default [Limits].
func Unmarshal(b []byte) (*Message, error) {
	m := new(Message)
	if err := m.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	return m, nil
}

// decoder reads fields from b; after the first error every read returns
// a zero value and err keeps the first error.
type decoder struct {
	b   []byte
	lim Limits
	err error
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) truncated(what string) {
	d.fail(fmt.Errorf("%w: truncated %s", ErrMalformed, what))
}

// uvarint reads a canonical (shortest-form) unsigned LEB128 integer.
func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(fmt.Errorf("%w: bad varint", ErrMalformed))
		return 0
	}
	if n > 1 && d.b[n-1] == 0 {
		d.fail(fmt.Errorf("%w: non-canonical varint", ErrMalformed))
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// count reads an element count, bounded by max and by the bytes left
// given that each element takes at least minSize bytes.
func (d *decoder) count(max, minSize int, what string) int {
	n := d.uvarint()
	if d.err != nil {
		return 0
	}
	if n > uint64(max) {
		d.fail(fmt.Errorf("%w: %d %s", ErrTooLarge, n, what))
		return 0
	}
	if n*uint64(minSize) > uint64(len(d.b)) {
		d.truncated(what)
		return 0
	}
	return int(n)
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(d.lim.maxString()) {
		d.fail(fmt.Errorf("%w: %s of %d bytes", ErrTooLarge, what, n))
		return nil
	}
	if n > uint64(len(d.b)) {
		d.truncated(what)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str() string {
	p := d.bytes("string")
	if d.err != nil {
		return ""
	}
	if !utf8.Valid(p) {
		d.fail(fmt.Errorf("%w: invalid UTF-8", ErrMalformed))
		return ""
	}
	return string(p)
}

// key reads the i'th map key and checks that it sorts after *prev.
func (d *decoder) key(i int, prev *string) string {
	k := d.str()
	if d.err == nil && i > 0 && strings.Compare(k, *prev) <= 0 {
		d.fail(fmt.Errorf("%w: map keys unsorted or duplicated at %q", ErrMalformed, k))
	}
	*prev = k
	return k
}

func (d *decoder) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.truncated(what)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) float() float64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.truncated("float64")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) value() any {
	switch t := d.byte1("value type"); t {
	case valBool:
		switch d.byte1("bool") {
		case 0:
			return false
		case 1:
			return true
		}
		d.fail(fmt.Errorf("%w: bool not 0 or 1", ErrMalformed))
	case valInt:
		return d.varint()
	case valFloat:
		v := d.float()
		if d.err == nil && (math.IsNaN(v) || math.IsInf(v, 0)) {
			d.fail(fmt.Errorf("%w: config value", ErrNonFinite))
		}
		return v
	case valString:
		return d.str()
	case valBytes:
		p := d.bytes("bytes value")
		if d.err != nil {
			return nil
		}
		return slices.Clone(p)
	default:
		if d.err == nil {
			d.fail(fmt.Errorf("%w: value type %d", ErrMalformed, t))
		}
	}
	return nil
}

func (d *decoder) tensor(dst []float64, dt DType) []float64 {
	n := d.uvarint()
	if d.err != nil {
		return dst
	}
	if n > uint64(d.lim.maxElements()) {
		d.fail(fmt.Errorf("%w: tensor of %d elements", ErrTooLarge, n))
		return dst
	}
	size := n * uint64(dt.Size())
	if size > uint64(len(d.b)) {
		d.truncated("tensor")
		return dst
	}
	out, err := appendElements(dst, d.b[:size], int(n), dt)
	if err != nil {
		d.fail(err)
		return dst
	}
	d.b = d.b[size:]
	return out
}
