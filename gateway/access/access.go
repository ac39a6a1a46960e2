// Package access defines the question a gateway asks before every access
// and the shape of the answer: the Authorizer seam between a gateway and
// whatever decides (such as a consent ledger).
//
// It is a separate, dependency-free package so that an authorizer (for
// example package consent) can implement it without importing the gateway
// server itself.
package access

import (
	"context"
	"errors"
	"time"
)

// Request names one access: an operation (a TD 1.1 op word such as
// "readproperty", see the thing.Op* constants) on an affordance of a thing.
// Name is empty for thing-level operations such as "readallproperties".
type Request struct {
	ThingID string
	Op      string
	Name    string
}

// Decision is an Authorizer's answer to a Request.
type Decision struct {
	// Allow reports whether the request is permitted.
	Allow bool
	// GrantID identifies the grant (consent) the token was issued under.
	// The gateway closes the streams opened under a grant when it is revoked.
	GrantID string
	// TokenID identifies the token, if the Authorizer can revoke tokens
	// one by one: the token itself (a JWT's jti) or the token family it
	// belongs to (all the access tokens issued from one refresh token
	// chain). It must be the identifier the Authorizer's revocations name
	// in Revocation.TokenID: the gateway closes the streams opened with a
	// token when a Revocation names its TokenID.
	TokenID string
	// Subject is the pseudonymous data subject whose consent the grant is.
	Subject string
	// ClientID is the application (holder) the token was issued to.
	ClientID string
	// Purpose is the declared purpose of the grant.
	Purpose string
	// Expires is when the token stops being valid; zero means unknown.
	Expires time.Time
	// Scope, when non-nil, answers further requests made with the same token
	// without another Authorize call (the gateway uses it to trim Thing
	// Descriptions and directory listings). It must agree with Authorize.
	Scope Scope
}

// Scope reports what one verified token permits.
// Implementations must be safe for concurrent use.
type Scope interface {
	Permits(Request) bool
}

// Authorizer decides whether a token permits a request.
//
// Authorize is called for every HTTP request and every WebSocket or SSE
// message, possibly concurrently, so implementations must be safe for
// concurrent use and should be fast. An empty token means the caller
// presented none.
//
// Check the token before the request: the gateway may ask about a request
// naming no thing or no operation (Request{} or Request{ThingID: id}) only
// to learn whether the token is acceptable at all (before listing its
// directory, or answering for a thing that does not exist). Such a request
// should not be allowed; what matters is the error.
//
// Requests name things, operations and affordances exactly: an
// implementation must compare them whole, never by prefix (a grant for
// thing "lamp" must not cover "lamp2").
//
// Errors: an error wrapping ErrInvalidToken means the token is missing,
// malformed, expired, revoked or otherwise unacceptable (the gateway answers
// 401 with WWW-Authenticate: Bearer). Any other error is an internal failure
// (the gateway answers 503). A valid token that does not cover the request
// is not an error: it is a Decision with Allow false (403 insufficient_scope).
type Authorizer interface {
	Authorize(ctx context.Context, token string, req Request) (Decision, error)
}

// ErrInvalidToken is wrapped by Authorizer errors that mean the presented
// token (or its absence) cannot authenticate the caller.
var ErrInvalidToken = errors.New("access: invalid token")

// Revocation tells subscribers that a grant, or only some of the tokens
// issued under it, no longer hold.
type Revocation struct {
	// GrantID is the grant concerned.
	GrantID string
	// TokenID, when set, narrows the revocation to the token (or token
	// family) that Decisions name with the same Decision.TokenID: the grant
	// itself and its other tokens stand. Empty means the whole grant is
	// revoked.
	TokenID string
}

// RevocationNotifier is an optional Authorizer capability: it lets the
// gateway learn at once when a grant is revoked, so it can close the
// WebSocket and SSE streams opened under it.
type RevocationNotifier interface {
	// SubscribeRevocations calls fn for every revocation until cancel is
	// called. fn must not block for long; it may be called concurrently.
	// The gateway closes the streams opened with a token whose
	// Decision.TokenID equals Revocation.TokenID when that is set, and
	// otherwise every stream opened under Revocation.GrantID.
	SubscribeRevocations(fn func(Revocation)) (cancel func())
}

// HistoryConsent is one standing consent to record a property's history:
// whose data it is, under which grant and purpose, and how long the
// recorded values may be kept.
type HistoryConsent struct {
	Subject   string
	GrantID   string
	Purpose   string
	Retention time.Duration
}

// HistoryPolicy is an optional Authorizer capability. A gateway that keeps
// property history records a value only for the consents HistoryConsents
// returns (none means: record nothing), tags it with their subjects and
// purges it when the retention ends.
type HistoryPolicy interface {
	HistoryConsents(ctx context.Context, thingID, property string) ([]HistoryConsent, error)
}
