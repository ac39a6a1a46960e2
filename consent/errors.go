package consent

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/hearth-wot/hearth/gateway/access"
)

// Errors callers branch on. Token errors returned by Authorize and
// Introspect wrap both access.ErrInvalidToken and one of the token
// sentinels below, so a gateway sees "401" and a test sees the reason.
var (
	// ErrNotFound means no grant (or client, or audit entry) has the given id.
	ErrNotFound = errors.New("consent: not found")
	// ErrRevoked means the grant or token family was revoked.
	ErrRevoked = errors.New("consent: grant revoked")
	// ErrExpired means the grant or token is past its expiry.
	ErrExpired = errors.New("consent: expired")
	// ErrNotYetValid means a token's nbf or iat lies in the future.
	ErrNotYetValid = errors.New("consent: token not yet valid")
	// ErrMalformedToken means a token could not be parsed.
	ErrMalformedToken = errors.New("consent: malformed token")
	// ErrUnknownKey means a token names a key (kid) the ledger does not have.
	ErrUnknownKey = errors.New("consent: unknown signing key")
	// ErrAlgorithm means a token's alg is not the one bound to its key.
	ErrAlgorithm = errors.New("consent: algorithm not allowed for key")
	// ErrSignature means a token's signature does not verify.
	ErrSignature = errors.New("consent: bad signature")
	// ErrTokenType means a token's typ is not "at+jwt".
	ErrTokenType = errors.New("consent: wrong token type")
	// ErrIssuer means a token's iss is not the ledger's issuer.
	ErrIssuer = errors.New("consent: wrong issuer")
	// ErrAudience means a token's aud does not name the ledger's audience.
	ErrAudience = errors.New("consent: wrong audience")
	// ErrMissingToken means no token was presented.
	ErrMissingToken = errors.New("consent: no token")
	// ErrRefreshReuse means a refresh token that was already exchanged was
	// presented again; its whole family has been revoked.
	ErrRefreshReuse = errors.New("consent: refresh token reused")

	// ErrInvalidScope means a scope is malformed.
	ErrInvalidScope = errors.New("consent: invalid scope")
	// ErrScopeExceeded means a request asks for more than its grant allows.
	ErrScopeExceeded = errors.New("consent: scope exceeds grant")
	// ErrUnknownPurpose means a purpose is not in the ledger's registry.
	ErrUnknownPurpose = errors.New("consent: unknown purpose")
	// ErrUnknownClient means a client (holder) is not registered.
	ErrUnknownClient = errors.New("consent: unknown client")
	// ErrInvalidRequest means a request to the ledger is malformed.
	ErrInvalidRequest = errors.New("consent: invalid request")

	// ErrClosed means the Ledger or Store was closed.
	ErrClosed = errors.New("consent: closed")
	// ErrCorrupt means stored data failed its checksum or does not decode.
	// Errors from opening a damaged file store are *CorruptError values.
	ErrCorrupt = errors.New("consent: corrupt store")
	// ErrLocked means another process holds the file store.
	ErrLocked = errors.New("consent: store locked by another process")
	// ErrStoreFailed means a write to the store failed; the Ledger refuses
	// further changes until it is closed and opened again, because what
	// reached the disk is unknown.
	ErrStoreFailed = errors.New("consent: store failed")
	// ErrNotErasable means the ledger's Store is not a Compactor, so the
	// records that Erase or Purge deleted from the ledger stay in the
	// store: the ledger's state no longer holds them, but the data has
	// not left the storage. Use a Store that implements Compactor (both
	// MemoryStore and FileStore do) where erasure must be complete.
	ErrNotErasable = errors.New("consent: store cannot erase records")

	// ErrVerify means a checkpoint, receipt or proof did not verify.
	ErrVerify = errors.New("consent: verification failed")

	// ErrUnauthenticated is returned by an Authenticator when nobody is
	// signed in.
	ErrUnauthenticated = errors.New("consent: not signed in")
)

// CorruptError reports where a file store is damaged. It wraps ErrCorrupt.
//
// A *CorruptError is not modified after it is returned, so it is safe for
// concurrent use.
type CorruptError struct {
	Path   string // the store file
	Offset int64  // byte offset of the first bad record
	Reason string // what is wrong there
}

// Error describes the damage.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("consent: corrupt store %s at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// tokenError builds an error that wraps access.ErrInvalidToken and reason,
// so that the gateway answers 401 and callers can tell why.
func tokenError(reason error) error {
	return &invalidTokenError{reason: reason}
}

type invalidTokenError struct{ reason error }

func (e *invalidTokenError) Error() string   { return e.reason.Error() }
func (e *invalidTokenError) Unwrap() []error { return []error{access.ErrInvalidToken, e.reason} }

// Preallocated errors for the hot path of Authorize.
var (
	errTokenMissing = tokenError(ErrMissingToken)
	errTokenRevoked = tokenError(ErrRevoked)
	errTokenExpired = tokenError(ErrExpired)
)

// A Secret is a token or credential: an access token, a refresh token, a
// client secret. It redacts itself when printed or logged; convert it to a
// string explicitly to use its value.
//
// A Secret is an immutable string and safe for concurrent use.
type Secret string

const redacted = "[REDACTED]"

// String returns a redacted placeholder, never the secret.
func (s Secret) String() string { return redacted }

// GoString returns a redacted placeholder, never the secret.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer: logs show a redacted placeholder.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText writes a redacted placeholder: a Secret embedded in a
// logged or encoded struct does not leak. Encode string(s) on purpose
// where the value must be sent.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
