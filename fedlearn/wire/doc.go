// Package wire is the compact binary encoding that federated-learning
// peers exchange: self-describing checksummed tensors and a small set of
// protocol messages.
//
// It has no notion of connections: it turns values into bytes and bytes
// into values, so any transport (HTTP bodies, WebSocket binary frames, a
// file, an in-process channel) can carry them.
//
// # Tensors
//
// [AppendTensor] encodes a []float64 as a tensor frame and
// [DecodeTensor] decodes one:
//
//	offset  size     field
//	0       2        magic "HT"
//	2       1        format version (1)
//	3       1        dtype: 1 = float32 (default), 2 = float64
//	4       4        n, element count, uint32 little-endian
//	8       n*size   elements, IEEE 754 little-endian
//	8+n*s   4        CRC-32C (Castagnoli) of bytes [0, 8+n*size)
//
// Float32 halves the bytes on the wire and is exact enough for model
// parameters (values are rounded to nearest); Float64 is lossless. The
// 2NN's 199,210 parameters take 796,852 bytes as float32. CRC-32C is the
// checksum the standard library computes with the CPU's CRC instruction;
// it detects corruption, not tampering (use TLS for that).
//
// # Messages
//
// A [Message] is a kind plus fixed header fields (Seq, Round, Samples,
// Code, Text), a Config map of typed scalars, a Metrics map of floats and
// a list of tensors sharing one dtype. The kinds are [KindJoin],
// [KindFitRequest], [KindFitResult], [KindEvaluateRequest],
// [KindEvaluateResult], [KindHeartbeat], [KindError] and [KindSecAgg]; a
// kind only says which fields are meaningful, so a transport needs one
// codec. A KindSecAgg message carries one secure-aggregation protocol
// message (package fedlearn/secagg) in Message.SecAgg, so the same
// connection carries training and secure aggregation. Message
// implements [encoding.BinaryAppender], [encoding.BinaryMarshaler] and
// [encoding.BinaryUnmarshaler]; the byte layout is documented on the
// format constants in message.go and is canonical: each message has
// exactly one encoding, and decoding rejects any other.
//
// # Limits
//
// Decoding untrusted bytes never panics and never allocates for a size it
// has not checked: every length is compared against a [Limits] bound and
// against the bytes actually present before memory is allocated, so
// decoding allocates at most about twice the input length. The zero
// Limits applies the Default constants (64 MiB frames, 16 Mi elements per
// tensor, 1024 map entries, 64 KiB strings, 65,536 list entries in a
// secure-aggregation message); raise them for larger models
// with, e.g., wire.Limits{MaxBytes: 512 << 20, MaxElements: 100 << 20}.
//
// # Non-finite values
//
// NaN and ±Inf are rejected with [ErrNonFinite] wherever a float appears:
// tensor elements, metrics and float configuration values, when encoding
// and when decoding. A float64 that overflows float32 is rejected when
// encoding as Float32 rather than silently becoming Inf. A model that
// diverged must not be averaged into everyone else's; a client that
// diverges should send a [KindError] message instead.
//
// # Concurrency
//
// The functions are safe for concurrent use. A [Message] is a plain value
// that must not be mutated while it is being encoded.
package wire
