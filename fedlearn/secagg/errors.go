package secagg

import "errors"

// Errors returned by this package; test for them with [errors.Is]. They
// are wrapped with detail.
var (
	// ErrTooFew reports that too few clients remain for the protocol to
	// continue: fewer than the minimum cohort size, or fewer than the
	// threshold t of a client's neighbours to recover its secrets. The
	// aggregation is aborted and no sum is released.
	ErrTooFew = errors.New("secagg: too few clients")

	// ErrAborted reports a call on a server or client whose protocol run
	// already failed. Start a new run.
	ErrAborted = errors.New("secagg: protocol aborted")

	// ErrUnexpected reports a message that does not belong to the current
	// stage, arrives twice, or comes from a client that is not (or no
	// longer) part of the run.
	ErrUnexpected = errors.New("secagg: unexpected message")

	// ErrMalformed reports a message whose contents are invalid: wrong
	// vector length, bad key encoding, unsorted or duplicated IDs,
	// parameters out of range.
	ErrMalformed = errors.New("secagg: malformed message")

	// ErrForged reports cryptographic evidence of tampering: a ciphertext
	// that fails authentication, a share that does not match its
	// commitment, or a reconstructed key that does not match the
	// advertised public key.
	ErrForged = errors.New("secagg: forged or corrupted data")

	// ErrProtocol reports a request from the server that an honest client
	// must refuse because answering could reveal its inputs or a
	// neighbour's, such as asking for both kinds of share of one
	// neighbour, a threshold below a strict majority, or a second
	// unmasking.
	ErrProtocol = errors.New("secagg: protocol violation")

	// ErrNonFinite reports a NaN or infinite input value.
	ErrNonFinite = errors.New("secagg: NaN or infinite input")
)
