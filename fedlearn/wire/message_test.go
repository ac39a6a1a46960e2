package wire_test

import (
	"bytes"
	"encoding"
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
	"unsafe"

	"github.com/hearth-wot/hearth/fedlearn/secagg"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

var (
	_ encoding.BinaryAppender    = (*wire.Message)(nil)
	_ encoding.BinaryMarshaler   = (*wire.Message)(nil)
	_ encoding.BinaryUnmarshaler = (*wire.Message)(nil)
)

func sampleMessages() []*wire.Message {
	return []*wire.Message{
		{Kind: wire.KindJoin, Seq: 1, Text: "home-17", Config: map[string]any{"samples": int64(600)}},
		{Kind: wire.KindFitRequest, Seq: 2, Round: 3, Config: map[string]any{
			"epochs": int64(1), "batch": int64(10), "lr": 0.1, "prox": false, "model": "2nn",
			"blob": []byte{0, 1, 2}, "neg": int64(-7), "big": int64(math.MinInt64),
		}, Tensors: [][]float64{ramp(100)}},
		{Kind: wire.KindFitResult, Seq: 2, Round: 3, Samples: 600,
			Metrics: map[string]float64{"loss": 0.25, "accuracy": 0.93},
			DType:   wire.Float64, Tensors: [][]float64{ramp(50), nil, {1}}},
		{Kind: wire.KindEvaluateRequest, Seq: 4, Round: 3, Tensors: [][]float64{{0.5, -0.5}}},
		{Kind: wire.KindEvaluateResult, Seq: 4, Round: 3, Samples: 100, Metrics: map[string]float64{"loss": 0}},
		{Kind: wire.KindHeartbeat, Seq: math.MaxUint64},
		{Kind: wire.KindError, Seq: 5, Code: math.MaxUint32, Text: "consent withdrawn: ünïcode ok"},
	}
}

// normalized is what a message decodes to: DType made explicit and
// tensors rounded to it.
func normalized(m *wire.Message) *wire.Message {
	n := *m
	if n.DType == 0 {
		n.DType = wire.Float32
	}
	n.Tensors = nil
	for _, t := range m.Tensors {
		var c []float64
		for _, x := range t {
			if n.DType == wire.Float32 {
				x = float64(float32(x))
			}
			c = append(c, x)
		}
		n.Tensors = append(n.Tensors, c)
	}
	return &n
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		t.Run(m.Kind.String(), func(t *testing.T) {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := wire.Unmarshal(b)
			if err != nil {
				t.Fatal(err)
			}
			if want := normalized(m); !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip\n got %+v\nwant %+v", got, want)
			}
			again, err := got.AppendBinary([]byte("x"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again[1:], b) {
				t.Fatal("re-encoding changed the bytes")
			}
		})
	}
}

func TestMessageIntDecodesAsInt64(t *testing.T) {
	m := &wire.Message{Kind: wire.KindFitRequest, Config: map[string]any{"epochs": 5}}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := got.Config["epochs"].(int64); !ok || v != 5 {
		t.Fatalf("epochs = %#v", got.Config["epochs"])
	}
}

func TestMessageUnmarshalReusesTensors(t *testing.T) {
	b, _ := (&wire.Message{Kind: wire.KindFitRequest, Tensors: [][]float64{ramp(params2NN)}}).MarshalBinary()
	var m wire.Message
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	p := &m.Tensors[0][0]
	if err := m.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if &m.Tensors[0][0] != p {
		t.Fatal("tensor buffer not reused")
	}
}

func TestMessageEncodeErrors(t *testing.T) {
	tests := []struct {
		name string
		m    wire.Message
		want error
	}{
		{"zero-kind", wire.Message{}, wire.ErrMalformed},
		{"unknown-kind", wire.Message{Kind: 99}, wire.ErrMalformed},
		{"dtype", wire.Message{Kind: wire.KindHeartbeat, DType: 3}, wire.ErrMalformed},
		{"utf8-text", wire.Message{Kind: wire.KindError, Text: "\xff"}, wire.ErrMalformed},
		{"utf8-key", wire.Message{Kind: wire.KindFitResult, Metrics: map[string]float64{"\xfe": 1}}, wire.ErrMalformed},
		{"config-type", wire.Message{Kind: wire.KindFitRequest, Config: map[string]any{"x": uint8(1)}}, wire.ErrType},
		{"config-nil", wire.Message{Kind: wire.KindFitRequest, Config: map[string]any{"x": nil}}, wire.ErrType},
		{"config-nan", wire.Message{Kind: wire.KindFitRequest, Config: map[string]any{"lr": math.NaN()}}, wire.ErrNonFinite},
		{"metric-inf", wire.Message{Kind: wire.KindFitResult, Metrics: map[string]float64{"loss": math.Inf(1)}}, wire.ErrNonFinite},
		{"tensor-nan", wire.Message{Kind: wire.KindFitResult, Tensors: [][]float64{{1}, {2, math.NaN()}}}, wire.ErrNonFinite},
		{"tensor-f32-overflow", wire.Message{Kind: wire.KindFitResult, Tensors: [][]float64{{-1e300}}}, wire.ErrNonFinite},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.m.AppendBinary([]byte("keep"))
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst extended on error: %q", got)
			}
		})
	}
}

// frame builds a message frame from a hand-written body and seals it.
func frame(kind wire.Kind, dt wire.DType, body ...byte) []byte {
	b := append([]byte{'H', 'F', 'L', 1, byte(kind), byte(dt)}, body...)
	return reseal(append(b, 0, 0, 0, 0))
}

func TestMessageDecodeErrors(t *testing.T) {
	good, _ := sampleMessages()[2].MarshalBinary()
	mut := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	f64 := func(v float64) []byte {
		return binaryLE(math.Float64bits(v))
	}
	//          seq round samples code text
	hdr := []byte{0, 0, 0, 0, 0}
	cat := func(parts ...[]byte) []byte { return slices.Concat(parts...) }

	tests := []struct {
		name string
		b    []byte
		lim  wire.Limits
		want error
	}{
		{"empty", nil, wire.Limits{}, wire.ErrMalformed},
		{"short", good[:9], wire.Limits{}, wire.ErrMalformed},
		{"truncated", good[:len(good)-1], wire.Limits{}, wire.ErrChecksum},
		{"magic", mut(func(b []byte) []byte { b[1] = 'x'; return b }), wire.Limits{}, wire.ErrMalformed},
		{"version", mut(func(b []byte) []byte { b[3] = 9; return b }), wire.Limits{}, wire.ErrVersion},
		{"crc", mut(func(b []byte) []byte { b[20] ^= 4; return b }), wire.Limits{}, wire.ErrChecksum},
		{"kind0", frame(0, 1, cat(hdr, []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"kind99", frame(99, 1, cat(hdr, []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"dtype", frame(wire.KindHeartbeat, 0, cat(hdr, []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"minimal-ok", frame(wire.KindHeartbeat, 1, cat(hdr, []byte{0, 0, 0})...), wire.Limits{}, nil},
		{"trailing", frame(wire.KindHeartbeat, 1, cat(hdr, []byte{0, 0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"missing-field", frame(wire.KindHeartbeat, 1, cat(hdr, []byte{0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"padded-varint", frame(wire.KindHeartbeat, 1, cat([]byte{0x80, 0}, hdr[1:], []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"varint-overflow", frame(wire.KindHeartbeat, 1, cat(bytes.Repeat([]byte{0xff}, 10), []byte{1})...), wire.Limits{}, wire.ErrMalformed},
		{"code-overflow", frame(wire.KindError, 1, cat([]byte{0, 0, 0, 0x80, 0x80, 0x80, 0x80, 0x10, 0}, []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"text-utf8", frame(wire.KindError, 1, cat(hdr[:4], []byte{1, 0xff}, []byte{0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"text-long", frame(wire.KindError, 1, cat(hdr[:4], []byte{3, 'a', 'b', 'c'}, []byte{0, 0, 0})...), wire.Limits{MaxString: 2}, wire.ErrTooLarge},
		{"text-truncated", frame(wire.KindError, 1, cat(hdr[:4], []byte{9, 'a'})...), wire.Limits{}, wire.ErrMalformed},
		{"config-count", frame(wire.KindFitRequest, 1, cat(hdr, []byte{0x80, 0x80, 0x80, 0x80, 1})...), wire.Limits{}, wire.ErrTooLarge},
		{"config-count-vs-bytes", frame(wire.KindFitRequest, 1, cat(hdr, []byte{100, 1, 'a'})...), wire.Limits{}, wire.ErrMalformed},
		{"config-unsorted", frame(wire.KindFitRequest, 1, cat(hdr, []byte{2, 1, 'b', 1, 1, 1, 'a', 1, 0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"config-duplicate", frame(wire.KindFitRequest, 1, cat(hdr, []byte{2, 1, 'a', 1, 1, 1, 'a', 1, 0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"config-type", frame(wire.KindFitRequest, 1, cat(hdr, []byte{1, 1, 'a', 9, 0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"config-bool", frame(wire.KindFitRequest, 1, cat(hdr, []byte{1, 1, 'a', 1, 2, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"config-nan", frame(wire.KindFitRequest, 1, cat(hdr, []byte{1, 1, 'a', 3}, f64(math.NaN()), []byte{0, 0})...), wire.Limits{}, wire.ErrNonFinite},
		{"config-entries", frame(wire.KindFitRequest, 1, cat(hdr, []byte{2, 1, 'a', 1, 1, 1, 'b', 1, 0, 0, 0})...), wire.Limits{MaxEntries: 1}, wire.ErrTooLarge},
		{"metric-inf", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 1, 1, 'l'}, f64(math.Inf(-1)), []byte{0})...), wire.Limits{}, wire.ErrNonFinite},
		{"metric-truncated", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 1, 1, 'l', 0, 0, 0, 0, 0, 0, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"tensor-count", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 0, 3, 0, 0})...), wire.Limits{}, wire.ErrMalformed},
		{"tensors-limit", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 0, 2, 0, 0})...), wire.Limits{MaxTensors: 1}, wire.ErrTooLarge},
		{"tensor-elements", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})...), wire.Limits{}, wire.ErrTooLarge},
		{"tensor-truncated", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 0, 1, 2, 0, 0, 0x80, 0x3f})...), wire.Limits{}, wire.ErrMalformed},
		{"tensor-nan", frame(wire.KindFitResult, 1, cat(hdr, []byte{0, 0, 1, 1, 0, 0, 0xc0, 0x7f})...), wire.Limits{}, wire.ErrNonFinite},
		{"max-bytes", good, wire.Limits{MaxBytes: 10}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m wire.Message
			err := tt.lim.Unmarshal(tt.b, &m)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func binaryLE(u uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	return b
}

func TestMessageDecodeBoundsAllocation(t *testing.T) {
	// A frame that claims a 16 Mi-element tensor but carries 4 bytes.
	b := frame(wire.KindFitResult, wire.Float64, 0, 0, 0, 0, 0, 0, 0, 1, 0x80, 0x80, 0x80, 0x08, 0, 0, 0, 0)
	var m wire.Message
	n := allocatedBytes(func() {
		if err := (wire.Limits{}).Unmarshal(b, &m); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	if n > 4096 {
		t.Fatalf("%d bytes allocated", n)
	}
}

func TestKindString(t *testing.T) {
	if got := wire.KindFitRequest.String(); got != "fit-request" {
		t.Errorf("KindFitRequest = %q", got)
	}
	if got := wire.Kind(200).String(); got != "kind(200)" {
		t.Errorf("Kind(200) = %q", got)
	}
}

func FuzzMessage(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := m.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// One of each secure-aggregation message, from a real run.
	log, _, _ := secaggTranscript(f, 4, 3, 2)
	seen := map[reflect.Type]bool{}
	for _, sm := range log {
		if seen[reflect.TypeOf(sm)] {
			continue
		}
		seen[reflect.TypeOf(sm)] = true
		b, err := (&wire.Message{Kind: wire.KindSecAgg, SecAgg: sm}).MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	lim := wire.Limits{MaxBytes: 1 << 20, MaxElements: 1 << 16, MaxEntries: 64, MaxTensors: 16, MaxString: 256, MaxPeers: 64}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkMessage(t, lim, b)
		// The checksum stops almost every mutation at the door; a resealed
		// copy lets the fuzzer explore the decoder behind it.
		if len(b) >= 4 {
			checkMessage(t, lim, reseal(slices.Clone(b)))
		}
	})
}

func checkMessage(t *testing.T, lim wire.Limits, b []byte) {
	var m wire.Message
	if err := lim.Unmarshal(b, &m); err != nil {
		return
	}
	// Bounded allocation: decoded tensors never exceed twice the input.
	total := 0
	for _, tv := range m.Tensors {
		total += 8 * len(tv)
	}
	if total > 2*len(b) {
		t.Fatalf("%d tensor bytes from %d input bytes", total, len(b))
	}
	if n := secaggBytes(m.SecAgg); n > 4*len(b) {
		t.Fatalf("%d bytes of secagg message from %d input bytes", n, len(b))
	}
	// Round trip: the encoding is canonical, so re-encoding gives the
	// same bytes, and decoding those gives an equal message.
	again, err := m.MarshalBinary()
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if !bytes.Equal(again, b) {
		t.Fatalf("round trip changed bytes\n in % x\nout % x", b, again)
	}
	var m2 wire.Message
	if err := lim.Unmarshal(again, &m2); err != nil {
		t.Fatalf("decode re-encoded: %v", err)
	}
	if !reflect.DeepEqual(m, m2) {
		t.Fatalf("round trip changed message\n%+v\n%+v", m, m2)
	}
}

// secaggBytes is the memory a decoded secure-aggregation message holds.
func secaggBytes(m secagg.Message) int {
	switch m := m.(type) {
	case *secagg.Roster:
		return len(m.Neighbors) * int(unsafe.Sizeof(secagg.PeerKeys{}))
	case *secagg.Shares:
		return len(m.Envelopes) * (int(unsafe.Sizeof(secagg.Envelope{})) + secagg.EnvelopeSize)
	case *secagg.Inbox:
		return len(m.Envelopes) * (int(unsafe.Sizeof(secagg.Envelope{})) + secagg.EnvelopeSize)
	case *secagg.MaskedInput:
		return 4 * len(m.Vector)
	case *secagg.UnmaskRequest:
		return 4 * (len(m.Survivors) + len(m.Dropped))
	case *secagg.Reveal:
		return (len(m.Seeds) + len(m.Keys)) * int(unsafe.Sizeof(secagg.RevealedShare{}))
	}
	return 0
}
