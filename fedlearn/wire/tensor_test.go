package wire_test

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"slices"
	"testing"

	"github.com/hearth-wot/hearth/fedlearn/wire"
)

// params2NN is the parameter count of McMahan et al.'s 2NN
// (784-200-200-10), the vector size the protocol is tuned for.
const params2NN = 199210

func ramp(n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = float64(i%1000)/1000 - 0.5 + float64(i)*1e-7
	}
	return v
}

func TestTensorRoundTrip(t *testing.T) {
	v := ramp(1000)
	v[3] = math.Copysign(0, -1)
	v[4] = math.SmallestNonzeroFloat64 // underflows to float32 zero
	v[5] = math.MaxFloat32
	for _, dt := range []wire.DType{0, wire.Float32, wire.Float64} {
		t.Run(dt.String(), func(t *testing.T) {
			b, err := wire.AppendTensor(nil, v, dt)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(b), wire.TensorSize(len(v), dt); got != want {
				t.Fatalf("len = %d, TensorSize = %d", got, want)
			}
			got, err := wire.DecodeTensor(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(v) {
				t.Fatalf("decoded %d elements, want %d", len(got), len(v))
			}
			for i := range v {
				want := v[i]
				if dt != wire.Float64 {
					want = float64(float32(want))
				}
				if math.Float64bits(got[i]) != math.Float64bits(want) {
					t.Fatalf("element %d = %v, want %v", i, got[i], want)
				}
			}
		})
	}
}

func TestTensorLayout(t *testing.T) {
	b, err := wire.AppendTensor([]byte("prefix"), []float64{1, -2}, wire.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:6]) != "prefix" {
		t.Fatalf("prefix clobbered: %q", b[:6])
	}
	b = b[6:]
	want := []byte{'H', 'T', 1, 1, 2, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}
	want = binary.LittleEndian.AppendUint32(want, crc32.Checksum(want, crc32.MakeTable(crc32.Castagnoli)))
	if !slices.Equal(b, want) {
		t.Fatalf("encoding\n got % x\nwant % x", b, want)
	}
}

func TestTensorDecodeAppendsAndReuses(t *testing.T) {
	b, _ := wire.AppendTensor(nil, []float64{1, 2, 3}, wire.Float64)
	dst := make([]float64, 1, 16)
	dst[0] = 42
	got, err := wire.DecodeTensor(dst, b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []float64{42, 1, 2, 3}) || &got[0] != &dst[0] {
		t.Fatalf("got %v (reused: %v)", got, &got[0] == &dst[0])
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := wire.DecodeTensor(dst[:0], b); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("decode into a large enough buffer allocated %v times", allocs)
	}
}

// reseal recomputes the trailing CRC-32C of a frame so that a test can
// forge a frame that passes the checksum.
func reseal(b []byte) []byte {
	body := b[:len(b)-4]
	binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func TestTensorDecodeErrors(t *testing.T) {
	good, _ := wire.AppendTensor(nil, []float64{1, 2, 3}, wire.Float32)
	mut := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	nan := mut(func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[12:], math.Float32bits(float32(math.NaN())))
		return reseal(b)
	})
	inf64, _ := wire.AppendTensor(nil, []float64{0}, wire.Float64)
	binary.LittleEndian.PutUint64(inf64[8:], math.Float64bits(math.Inf(-1)))
	reseal(inf64)

	tests := []struct {
		name string
		b    []byte
		lim  wire.Limits
		want error
	}{
		{"empty", nil, wire.Limits{}, wire.ErrMalformed},
		{"short", good[:11], wire.Limits{}, wire.ErrMalformed},
		{"truncated", good[:len(good)-1], wire.Limits{}, wire.ErrMalformed},
		{"trailing", append(slices.Clone(good), 0), wire.Limits{}, wire.ErrMalformed},
		{"magic", mut(func(b []byte) []byte { b[0] = 'X'; return b }), wire.Limits{}, wire.ErrMalformed},
		{"version", mut(func(b []byte) []byte { b[2] = 2; return b }), wire.Limits{}, wire.ErrVersion},
		{"dtype", mut(func(b []byte) []byte { b[3] = 3; return reseal(b) }), wire.Limits{}, wire.ErrMalformed},
		{"crc", mut(func(b []byte) []byte { b[9] ^= 1; return b }), wire.Limits{}, wire.ErrChecksum},
		{"crc-field", mut(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), wire.Limits{}, wire.ErrChecksum},
		{"count", mut(func(b []byte) []byte { b[4] = 4; return reseal(b) }), wire.Limits{}, wire.ErrMalformed},
		{"nan", nan, wire.Limits{}, wire.ErrNonFinite},
		{"inf64", inf64, wire.Limits{}, wire.ErrNonFinite},
		{"max-elements", good, wire.Limits{MaxElements: 2}, wire.ErrTooLarge},
		{"max-bytes", good, wire.Limits{MaxBytes: len(good) - 1}, wire.ErrTooLarge},
		{"negative-limit", good, wire.Limits{MaxElements: -1}, wire.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []float64{7}
			got, err := tt.lim.DecodeTensor(dst, tt.b)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if len(got) != 1 || got[0] != 7 {
				t.Fatalf("dst changed on error: %v", got)
			}
		})
	}
}

// A header claiming a huge tensor must be refused before any allocation,
// whatever the limit.
func TestTensorDecodeChecksSizeBeforeAllocating(t *testing.T) {
	hdr := []byte{'H', 'T', 1, 2, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}
	lim := wire.Limits{MaxElements: math.MaxInt32, MaxBytes: math.MaxInt32}
	n := allocatedBytes(func() {
		if _, err := lim.DecodeTensor(nil, hdr); !errors.Is(err, wire.ErrMalformed) {
			t.Fatalf("err = %v", err)
		}
	})
	// The error value itself is allocated (fmt.Errorf); the 16 GiB the
	// header asks for is not.
	if n > 4096 {
		t.Fatalf("%d bytes allocated", n)
	}
}

// allocatedBytes reports the bytes f allocates on the heap, averaged over
// ten runs.
func allocatedBytes(f func()) uint64 {
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / 10
}

func TestAppendTensorErrors(t *testing.T) {
	tests := []struct {
		name string
		v    []float64
		dt   wire.DType
		want error
	}{
		{"nan", []float64{0, math.NaN()}, wire.Float64, wire.ErrNonFinite},
		{"inf", []float64{math.Inf(1)}, wire.Float32, wire.ErrNonFinite},
		{"float32-overflow", []float64{1e39}, wire.Float32, wire.ErrNonFinite},
		{"dtype", []float64{1}, wire.DType(9), wire.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := wire.AppendTensor(dst, tt.v, tt.dt)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(got) != "keep" {
				t.Fatalf("dst extended on error: %q", got)
			}
		})
	}
	// 1e39 fits float64.
	if _, err := wire.AppendTensor(nil, []float64{1e39}, wire.Float64); err != nil {
		t.Fatal(err)
	}
}

func TestTensorSize(t *testing.T) {
	if got := wire.TensorSize(params2NN, wire.Float32); got != 796852 {
		t.Errorf("2NN float32 = %d bytes", got)
	}
	if got := wire.TensorSize(params2NN, wire.Float64); got != 1593692 {
		t.Errorf("2NN float64 = %d bytes", got)
	}
	if wire.TensorSize(-1, wire.Float32) != -1 || wire.TensorSize(1, 7) != -1 {
		t.Error("invalid arguments accepted")
	}
}

func FuzzDecodeTensor(f *testing.F) {
	for _, dt := range []wire.DType{wire.Float32, wire.Float64} {
		for _, v := range [][]float64{nil, {0}, {1, -2.5, 1e-30}, ramp(64)} {
			b, err := wire.AppendTensor(nil, v, dt)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte{'H', 'T', 1, 1, 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	lim := wire.Limits{MaxElements: 1 << 16, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkTensor(t, lim, b)
		// A resealed copy gets past the checksum to the decoder behind it.
		if len(b) >= 4 {
			checkTensor(t, lim, reseal(slices.Clone(b)))
		}
	})
}

func checkTensor(t *testing.T, lim wire.Limits, b []byte) {
	v, err := lim.DecodeTensor(nil, b)
	if err != nil {
		if v != nil {
			t.Fatalf("error %v with non-nil result", err)
		}
		return
	}
	// Bounded allocation: the result never exceeds twice the input.
	if 8*len(v) > 2*len(b) {
		t.Fatalf("%d elements from %d bytes", len(v), len(b))
	}
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			t.Fatalf("decoded non-finite %v", x)
		}
	}
	// Round trip: re-encoding with the frame's dtype reproduces it.
	again, err := wire.AppendTensor(nil, v, wire.DType(b[3]))
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if !slices.Equal(again, b) {
		t.Fatalf("round trip changed bytes\n in % x\nout % x", b, again)
	}
}
