package wire

import "errors"

// Errors returned by the decoders and encoders. They are wrapped with
// detail; test for them with [errors.Is].
var (
	// ErrMalformed reports bytes that are not a well-formed frame: a bad
	// magic number, a truncated field, trailing bytes, a non-canonical
	// varint, an unknown kind or dtype, or a value of the wrong shape.
	ErrMalformed = errors.New("wire: malformed frame")

	// ErrVersion reports a frame whose magic number is right but whose
	// format version this package does not speak.
	ErrVersion = errors.New("wire: unsupported format version")

	// ErrChecksum reports a frame whose CRC-32C does not match its
	// contents: it was corrupted in transit or truncated.
	ErrChecksum = errors.New("wire: checksum mismatch")

	// ErrTooLarge reports a frame, tensor, string or map that exceeds a
	// [Limits] bound. It is returned before anything is allocated for it.
	ErrTooLarge = errors.New("wire: size limit exceeded")

	// ErrNonFinite reports a NaN or infinite floating-point value in a
	// tensor, a metric or a configuration value, or a float64 that
	// overflows float32 when encoded as [Float32].
	ErrNonFinite = errors.New("wire: NaN or infinite value")

	// ErrType reports a configuration value whose Go type the format
	// cannot carry (see [Message.Config]).
	ErrType = errors.New("wire: unsupported value type")
)
