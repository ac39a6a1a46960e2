package wire

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
)

// DType is the element type of an encoded tensor.
//
// A DType is an immutable value, safe for concurrent use.
type DType uint8

const (
	// Float32 encodes each element as a little-endian IEEE 754 binary32.
	// It is the default (the zero DType means Float32 when encoding): it
	// halves the bytes on the wire and is exact enough for model
	// parameters. Values are rounded to nearest float32.
	Float32 DType = 1
	// Float64 encodes each element as a little-endian IEEE 754 binary64,
	// losslessly.
	Float64 DType = 2
)

// Size returns the number of bytes one element occupies, or 0 for an
// unknown DType. The zero DType counts as [Float32].
func (d DType) Size() int {
	switch d {
	case 0, Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// String returns "float32", "float64" or "dtype(N)".
func (d DType) String() string {
	switch d {
	case 0, Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("dtype(%d)", uint8(d))
}

func (d DType) orDefault() DType {
	if d == 0 {
		return Float32
	}
	return d
}

// Default limits applied by a zero [Limits].
const (
	DefaultMaxBytes    = 64 << 20 // 64 MiB per frame
	DefaultMaxElements = 16 << 20 // 16 Mi elements per tensor
	DefaultMaxTensors  = 1024     // tensors per message
	DefaultMaxEntries  = 1024     // entries per config or metrics map
	DefaultMaxString   = 64 << 10 // bytes per string or []byte value
	DefaultMaxPeers    = 1 << 16  // IDs, keys, envelopes or shares per secure-aggregation message
)

// Limits bounds what a decoder accepts. Every bound is checked against
// the input before the memory it governs is allocated, so a decoder never
// allocates more than a small constant multiple of the input length (at
// most twice it for float32 tensors widened to float64). A zero field
// means the corresponding Default constant; a negative field is treated
// as zero (nothing allowed).
//
// The zero Limits is ready to use. Limits is a plain value and is safe to
// use concurrently.
type Limits struct {
	MaxBytes    int // largest accepted frame, in bytes
	MaxElements int // largest accepted tensor, in elements
	MaxTensors  int // most tensors in one message
	MaxEntries  int // most entries in each of Config and Metrics
	MaxString   int // longest string, map key or []byte value, in bytes
	MaxPeers    int // most list entries in a secure-aggregation message
}

func pick(v, def int) int {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	}
	return v
}

func (l Limits) maxBytes() int    { return pick(l.MaxBytes, DefaultMaxBytes) }
func (l Limits) maxElements() int { return pick(l.MaxElements, DefaultMaxElements) }
func (l Limits) maxTensors() int  { return pick(l.MaxTensors, DefaultMaxTensors) }
func (l Limits) maxEntries() int  { return pick(l.MaxEntries, DefaultMaxEntries) }
func (l Limits) maxString() int   { return pick(l.MaxString, DefaultMaxString) }
func (l Limits) maxPeers() int    { return pick(l.MaxPeers, DefaultMaxPeers) }

// castagnoli is the CRC-32C table; the standard library uses the SSE4.2
// or ARMv8 CRC instructions for it when the CPU has them.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Tensor frame layout (all integers little-endian):
//
//	offset  size     field
//	0       2        magic "HT"
//	2       1        version (1)
//	3       1        dtype (1 = float32, 2 = float64)
//	4       4        n, the element count (uint32)
//	8       n*size   elements, IEEE 754, little-endian
//	8+n*s   4        CRC-32C (Castagnoli) of bytes [0, 8+n*size)
const (
	tensorMagic0  = 'H'
	tensorMagic1  = 'T'
	formatVersion = 1
	tensorHeader  = 8
	crcSize       = 4
)

// TensorSize returns the encoded size in bytes of a tensor of n elements
// of type dt, as produced by [AppendTensor], or -1 if dt is unknown or n is
// negative or too large for the format.
func TensorSize(n int, dt DType) int {
	s := dt.Size()
	if s == 0 || n < 0 || uint64(n) > math.MaxUint32 {
		return -1
	}
	return tensorHeader + n*s + crcSize
}

// AppendTensor appends the self-describing, checksummed encoding of v as
// dtype dt (zero means [Float32]) to dst and returns the extended slice.
//
// It returns an error wrapping [ErrNonFinite] if an element is NaN or
// infinite, or overflows float32 when dt is Float32 (a model whose
// parameters diverged must not be shipped as if it were valid), and
// [ErrTooLarge] if len(v) does not fit the format's uint32 count. On
// error dst is returned unextended.
func AppendTensor(dst []byte, v []float64, dt DType) ([]byte, error) {
	dt = dt.orDefault()
	size := TensorSize(len(v), dt)
	if size < 0 {
		if dt.Size() == 0 {
			return dst, fmt.Errorf("%w: %v", ErrMalformed, dt)
		}
		return dst, fmt.Errorf("%w: %d elements", ErrTooLarge, len(v))
	}
	start := len(dst)
	out := grow(dst, size)
	b := out[start:]
	b[0], b[1], b[2], b[3] = tensorMagic0, tensorMagic1, formatVersion, byte(dt)
	binary.LittleEndian.PutUint32(b[4:8], uint32(len(v)))
	if i := putElements(b[tensorHeader:tensorHeader+len(v)*dt.Size()], v, dt); i >= 0 {
		return dst, fmt.Errorf("%w: element %d is %v", ErrNonFinite, i, v[i])
	}
	body := b[:size-crcSize]
	binary.LittleEndian.PutUint32(b[size-crcSize:], crc32.Checksum(body, castagnoli))
	return out, nil
}

// DecodeTensor decodes a frame produced by [AppendTensor] with the default
// [Limits], appending the elements to dst. See [Limits.DecodeTensor].
func DecodeTensor(dst []float64, b []byte) ([]float64, error) {
	return Limits{}.DecodeTensor(dst, b)
}

// DecodeTensor decodes the tensor frame b, which must be exactly one
// frame, appending its elements to dst (as float64) and returning the
// extended slice. Pass dst[:0] of a buffer from an earlier call to decode
// without allocating.
//
// The header and sizes are checked against l and against len(b), and the
// checksum is verified, before any memory is allocated. Errors wrap
// [ErrMalformed], [ErrVersion], [ErrTooLarge], [ErrChecksum] or
// [ErrNonFinite] (decoded tensors never contain NaN or ±Inf). On error
// dst is returned with its original length; elements past that length
// may have been overwritten.
func (l Limits) DecodeTensor(dst []float64, b []byte) ([]float64, error) {
	if len(b) > l.maxBytes() {
		return dst, fmt.Errorf("%w: tensor frame of %d bytes", ErrTooLarge, len(b))
	}
	if len(b) < tensorHeader+crcSize {
		return dst, fmt.Errorf("%w: tensor frame of %d bytes", ErrMalformed, len(b))
	}
	if b[0] != tensorMagic0 || b[1] != tensorMagic1 {
		return dst, fmt.Errorf("%w: bad tensor magic", ErrMalformed)
	}
	if b[2] != formatVersion {
		return dst, fmt.Errorf("%w: tensor version %d", ErrVersion, b[2])
	}
	dt := DType(b[3])
	if dt != Float32 && dt != Float64 {
		return dst, fmt.Errorf("%w: %v", ErrMalformed, dt)
	}
	n := uint64(binary.LittleEndian.Uint32(b[4:8]))
	if n > uint64(l.maxElements()) {
		return dst, fmt.Errorf("%w: tensor of %d elements", ErrTooLarge, n)
	}
	if want := uint64(tensorHeader+crcSize) + n*uint64(dt.Size()); uint64(len(b)) != want {
		return dst, fmt.Errorf("%w: tensor frame of %d bytes, header says %d", ErrMalformed, len(b), want)
	}
	body := b[:len(b)-crcSize]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-crcSize:]) {
		return dst, ErrChecksum
	}
	return appendElements(dst, body[tensorHeader:], int(n), dt)
}

// appendElements decodes n elements of type dt from p (len(p) == n*size)
// onto dst, rejecting non-finite values.
func appendElements(dst []float64, p []byte, n int, dt DType) ([]float64, error) {
	start := len(dst)
	out := growFloats(dst, n)
	if i := getElements(out[start:start+n], p, dt); i >= 0 {
		return dst, fmt.Errorf("%w: element %d", ErrNonFinite, i)
	}
	return out, nil
}

const (
	exp32 = 0x7f800000
	exp64 = 0x7ff0000000000000
)

// putElements writes v into p (len(p) == len(v)*dt.Size()) and returns the
// index of the first element that is not finite (after conversion), or -1.
func putElements(p []byte, v []float64, dt DType) int {
	if dt == Float64 {
		p = p[:len(v)*8]
		for i, x := range v {
			u := math.Float64bits(x)
			if u&exp64 == exp64 {
				return i
			}
			binary.LittleEndian.PutUint64(p[i*8:i*8+8], u)
		}
		return -1
	}
	p = p[:len(v)*4]
	for i, x := range v {
		u := math.Float32bits(float32(x))
		if u&exp32 == exp32 {
			return i
		}
		binary.LittleEndian.PutUint32(p[i*4:i*4+4], u)
	}
	return -1
}

// getElements fills dst from p (len(p) == len(dst)*dt.Size()) and returns
// the index of the first non-finite element, or -1.
func getElements(dst []float64, p []byte, dt DType) int {
	if dt == Float64 {
		p = p[:len(dst)*8]
		for i := range dst {
			u := binary.LittleEndian.Uint64(p[i*8 : i*8+8])
			if u&exp64 == exp64 {
				return i
			}
			dst[i] = math.Float64frombits(u)
		}
		return -1
	}
	p = p[:len(dst)*4]
	for i := range dst {
		u := binary.LittleEndian.Uint32(p[i*4 : i*4+4])
		if u&exp32 == exp32 {
			return i
		}
		dst[i] = float64(math.Float32frombits(u))
	}
	return -1
}

// grow extends b by n bytes, reallocating at most once.
func grow(b []byte, n int) []byte {
	if cap(b)-len(b) < n {
		nb := make([]byte, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}

func growFloats(b []float64, n int) []float64 {
	if cap(b)-len(b) < n {
		nb := make([]float64, len(b), len(b)+n)
		copy(nb, b)
		b = nb
	}
	return b[:len(b)+n]
}
