package fedlearn

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
)

// Token is a bearer token. It redacts itself when printed, logged or
// marshalled (as JSON, XML or text), so it cannot leak through a log line,
// an error message or a dumped configuration such as a DialConfig. Only an
// explicit conversion, string(tok), reveals it; the transports do that
// when they put it in an Authorization header. Unmarshalling is not
// redacted, so tokens can be loaded from a configuration file. One leak
// remains that no method can close: encoding/json writes the keys of a
// map[Token]V as they are, so do not marshal such a map.
//
// A Token is an immutable string, safe for concurrent use.
type Token string

const redacted = "[REDACTED]"

// String returns a redacted form.
func (Token) String() string { return redacted }

// LogValue implements slog.LogValuer with a redacted form.
func (Token) LogValue() slog.Value { return slog.StringValue(redacted) }

// GoString returns a redacted form, for %#v.
func (Token) GoString() string { return `fedlearn.Token("[REDACTED]")` }

// MarshalText implements encoding.TextMarshaler with a redacted form, so
// that encoders such as encoding/xml never write the token.
func (Token) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON implements json.Marshaler with a redacted form, so that
// json.Marshal of a configuration holding a Token does not write it.
func (Token) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Authenticator maps a bearer token presented by a network client to the
// client's ID. The ID a client is known by comes from here, never from
// anything the client says, so a client cannot impersonate another.
//
// Authenticate returns an error wrapping ErrUnauthorized for a missing,
// unknown, expired or revoked token (the transport answers 401); other
// errors are internal failures (503). It is called for every connection
// and request, possibly concurrently, and must be safe for concurrent use.
// A consent ledger or an OAuth introspection endpoint can stand behind it.
type Authenticator interface {
	Authenticate(ctx context.Context, token Token) (clientID string, err error)
}

// AuthenticatorFunc adapts a function to the Authenticator interface.
//
// An AuthenticatorFunc is safe for concurrent use when the function is,
// which Authenticator requires.
type AuthenticatorFunc func(ctx context.Context, token Token) (string, error)

// Authenticate returns f(ctx, token).
func (f AuthenticatorFunc) Authenticate(ctx context.Context, token Token) (string, error) {
	return f(ctx, token)
}

// StaticTokens is an Authenticator over a fixed set of tokens. It stores
// only SHA-256 digests of the tokens, so lookups do not leak token bytes
// through timing. It is safe for concurrent use.
type StaticTokens struct {
	ids map[[sha256.Size]byte]string
}

// NewStaticTokens returns an Authenticator accepting each token in ids for
// the client ID it maps to. Empty tokens are refused.
func NewStaticTokens(ids map[Token]string) (*StaticTokens, error) {
	s := &StaticTokens{ids: make(map[[sha256.Size]byte]string, len(ids))}
	for tok, id := range ids {
		if tok == "" || id == "" {
			return nil, fmt.Errorf("%w: empty token or client ID", ErrConfig)
		}
		s.ids[sha256.Sum256([]byte(tok))] = id
	}
	return s, nil
}

// Authenticate implements Authenticator.
func (s *StaticTokens) Authenticate(_ context.Context, token Token) (string, error) {
	if id, ok := s.ids[sha256.Sum256([]byte(token))]; ok && token != "" {
		return id, nil
	}
	return "", fmt.Errorf("%w: unknown token", ErrUnauthorized)
}
