package fedlearn

import (
	"context"
	"errors"
	"fmt"
)

var (
	// ErrConfig is wrapped by errors about invalid configuration.
	ErrConfig = errors.New("fedlearn: invalid configuration")

	// ErrNotEnoughClients means a round could not start because fewer
	// clients than required were connected when the bounded wait ended.
	ErrNotEnoughClients = errors.New("fedlearn: not enough clients")

	// ErrQuorum means too few acceptable updates arrived before the round
	// deadline; the round released no aggregate and the model is unchanged.
	ErrQuorum = errors.New("fedlearn: round quorum not reached")

	// ErrBadUpdate is wrapped by the reasons an update is rejected: wrong
	// length, NaN or Inf values, a non-positive sample count.
	ErrBadUpdate = errors.New("fedlearn: bad update")

	// ErrDeclined is returned by a client that will not take part right now,
	// for example because its consent check says no.
	ErrDeclined = errors.New("fedlearn: client declined")

	// ErrClosed is returned by operations on a closed server, client or
	// connection.
	ErrClosed = errors.New("fedlearn: closed")

	// ErrUnauthorized means a network client presented no valid bearer
	// token.
	ErrUnauthorized = errors.New("fedlearn: unauthorized")

	// ErrProtocol is wrapped by errors about malformed or unexpected
	// protocol messages.
	ErrProtocol = errors.New("fedlearn: protocol error")

	// ErrCheckpoint is wrapped by errors reading a damaged or incompatible
	// checkpoint.
	ErrCheckpoint = errors.New("fedlearn: bad checkpoint")
)

// RemoteError is an error reported by the other side of a connection, such
// as a client's training failure. Is matches the package sentinels it was
// sent as, so errors.Is(err, ErrDeclined) works across the network. It is
// an immutable value, safe for concurrent use.
type RemoteError struct {
	// Code is the sentinel's code; see the # Protocol section of the package
	// documentation.
	Code ErrorCode
	// Msg is the remote error's text.
	Msg string
}

// Error returns the remote message.
func (e *RemoteError) Error() string { return fmt.Sprintf("fedlearn: remote: %s", e.Msg) }

// Is reports whether the remote error was sent as target.
func (e *RemoteError) Is(target error) bool {
	s := e.Code.sentinel()
	return s != nil && s == target
}

// ErrorCode identifies a sentinel error on the wire.
//
// An ErrorCode is an immutable value, safe for concurrent use.
type ErrorCode uint8

// The error codes of the protocol.
const (
	CodeInternal ErrorCode = iota
	CodeDeclined
	CodeBadUpdate
	CodeConfig
	CodeModel
	CodeProtocol
	CodeCanceled
)

func (c ErrorCode) sentinel() error {
	switch c {
	case CodeDeclined:
		return ErrDeclined
	case CodeBadUpdate:
		return ErrBadUpdate
	case CodeConfig:
		return ErrConfig
	case CodeModel:
		return ErrModel
	case CodeProtocol:
		return ErrProtocol
	case CodeCanceled:
		return context.Canceled
	}
	return nil
}

// codeOf maps err to its wire code.
func codeOf(err error) ErrorCode {
	switch {
	case errors.Is(err, ErrDeclined):
		return CodeDeclined
	case errors.Is(err, ErrBadUpdate):
		return CodeBadUpdate
	case errors.Is(err, ErrConfig):
		return CodeConfig
	case errors.Is(err, ErrModel):
		return CodeModel
	case errors.Is(err, ErrProtocol):
		return CodeProtocol
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CodeCanceled
	}
	return CodeInternal
}
