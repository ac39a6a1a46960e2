// Package gatewaytest provides helpers for testing code built on package
// gateway, in the spirit of net/http/httptest: an in-memory Authorizer with
// static tokens, and an in-memory Adapter whose devices a test drives
// directly.
package gatewaytest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// Any matches every thing, operation or affordance name in a Rule.
const Any = "*"

// Rule is one thing a token allows: an operation on an affordance of a
// thing. Fields match whole values exactly (a rule for thing "lamp" does
// not cover "lamp2"); Any matches everything, including an empty Name.
type Rule struct {
	ThingID string
	Op      string
	Name    string
}

func (r Rule) covers(q access.Request) bool {
	return (r.ThingID == Any || r.ThingID == q.ThingID) &&
		(r.Op == Any || r.Op == q.Op) &&
		(r.Name == Any || r.Name == q.Name)
}

// Grant is what a static token stands for.
type Grant struct {
	ID       string    // the grant id (Decision.GrantID); revocation closes the streams opened with it
	Subject  string    // the data subject
	ClientID string    // the application
	Purpose  string    // the purpose
	Expires  time.Time // zero: never
	Rules    []Rule    // what it allows
	// NoScope makes Decisions carry no Scope, so the gateway must ask
	// Authorize for every message.
	NoScope bool
	// TokenID is the token's own id (Decision.TokenID); empty means none.
	// RevokeToken revokes this token alone.
	TokenID string
}

func (g *Grant) permits(q access.Request) bool {
	return slices.ContainsFunc(g.Rules, func(r Rule) bool { return r.covers(q) })
}

// Authorizer is an in-memory access.Authorizer for tests: static tokens,
// each standing for a Grant. It also implements access.RevocationNotifier
// and access.HistoryPolicy.
//
// An Authorizer is safe for concurrent use.
type Authorizer struct {
	mu            sync.RWMutex
	tokens        map[string]*Grant
	revoked       map[string]bool // grant ids
	revokedTokens map[string]bool // token ids (Grant.TokenID)
	subs          map[int]func(access.Revocation)
	nextSub       int
	history       map[[2]string][]access.HistoryConsent
	calls         atomic.Int64
	fail          error
}

var (
	_ access.Authorizer         = (*Authorizer)(nil)
	_ access.RevocationNotifier = (*Authorizer)(nil)
	_ access.HistoryPolicy      = (*Authorizer)(nil)
)

// NewAuthorizer returns an Authorizer that knows no token.
func NewAuthorizer() *Authorizer {
	return &Authorizer{
		tokens:        make(map[string]*Grant),
		revoked:       make(map[string]bool),
		revokedTokens: make(map[string]bool),
		subs:          make(map[int]func(access.Revocation)),
		history:       make(map[[2]string][]access.HistoryConsent),
	}
}

// Add makes token stand for g.
func (a *Authorizer) Add(token string, g Grant) {
	a.mu.Lock()
	a.tokens[token] = &g
	a.mu.Unlock()
}

// Revoke revokes grant id: its tokens stop working and the revocation
// subscribers are told.
func (a *Authorizer) Revoke(id string) {
	a.mu.Lock()
	a.revoked[id] = true
	subs := make([]func(access.Revocation), 0, len(a.subs))
	for _, f := range a.subs {
		subs = append(subs, f)
	}
	a.mu.Unlock()
	for _, f := range subs {
		f(access.Revocation{GrantID: id})
	}
}

// RevokeToken revokes the token whose Grant.TokenID is tokenID, and only
// it: the grant's other tokens keep working. The revocation subscribers are
// told with a Revocation naming the token.
func (a *Authorizer) RevokeToken(tokenID string) {
	a.mu.Lock()
	a.revokedTokens[tokenID] = true
	var grant string
	for _, g := range a.tokens {
		if g.TokenID == tokenID {
			grant = g.ID
		}
	}
	subs := make([]func(access.Revocation), 0, len(a.subs))
	for _, f := range a.subs {
		subs = append(subs, f)
	}
	a.mu.Unlock()
	for _, f := range subs {
		f(access.Revocation{GrantID: grant, TokenID: tokenID})
	}
}

// revokedLocked reports whether g, or the token it stands for, is revoked.
func (a *Authorizer) revokedLocked(g *Grant) bool {
	return a.revoked[g.ID] || (g.TokenID != "" && a.revokedTokens[g.TokenID])
}

// FailWith makes Authorize fail with err (nil restores normal answers),
// to test how an internal authorizer failure is handled.
func (a *Authorizer) FailWith(err error) {
	a.mu.Lock()
	a.fail = err
	a.mu.Unlock()
}

// Calls reports how many times Authorize was called.
func (a *Authorizer) Calls() int64 { return a.calls.Load() }

// Authorize implements access.Authorizer.
func (a *Authorizer) Authorize(_ context.Context, token string, req access.Request) (access.Decision, error) {
	a.calls.Add(1)
	a.mu.RLock()
	g, ok := a.tokens[token]
	revoked := ok && a.revokedLocked(g)
	fail := a.fail
	a.mu.RUnlock()
	switch {
	case fail != nil:
		return access.Decision{}, fail
	case token == "":
		return access.Decision{}, fmt.Errorf("%w: no token", access.ErrInvalidToken)
	case !ok:
		return access.Decision{}, fmt.Errorf("%w: unknown token", access.ErrInvalidToken)
	case revoked:
		return access.Decision{}, fmt.Errorf("%w: grant revoked", access.ErrInvalidToken)
	case !g.Expires.IsZero() && !time.Now().Before(g.Expires):
		return access.Decision{}, fmt.Errorf("%w: token expired", access.ErrInvalidToken)
	}
	d := access.Decision{
		Allow:    g.permits(req),
		GrantID:  g.ID,
		TokenID:  g.TokenID,
		Subject:  g.Subject,
		ClientID: g.ClientID,
		Purpose:  g.Purpose,
		Expires:  g.Expires,
	}
	if !g.NoScope {
		d.Scope = scope{a: a, g: g}
	}
	return d, nil
}

// scope answers for one grant; it stops permitting anything once the grant
// is revoked.
type scope struct {
	a *Authorizer
	g *Grant
}

func (s scope) Permits(q access.Request) bool {
	s.a.mu.RLock()
	revoked := s.a.revokedLocked(s.g)
	s.a.mu.RUnlock()
	return !revoked && s.g.permits(q)
}

// SubscribeRevocations implements access.RevocationNotifier.
func (a *Authorizer) SubscribeRevocations(fn func(access.Revocation)) (cancel func()) {
	a.mu.Lock()
	id := a.nextSub
	a.nextSub++
	a.subs[id] = fn
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		delete(a.subs, id)
		a.mu.Unlock()
	}
}

// Subscribers reports how many revocation subscriptions are open.
func (a *Authorizer) Subscribers() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.subs)
}

// SetHistoryConsents sets the history consents that cover a property.
func (a *Authorizer) SetHistoryConsents(thingID, property string, consents ...access.HistoryConsent) {
	a.mu.Lock()
	a.history[[2]string{thingID, property}] = consents
	a.mu.Unlock()
}

// HistoryConsents implements access.HistoryPolicy. Consents of revoked
// grants are left out.
func (a *Authorizer) HistoryConsents(_ context.Context, thingID, property string) ([]access.HistoryConsent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []access.HistoryConsent
	for _, c := range a.history[[2]string{thingID, property}] {
		if !a.revoked[c.GrantID] {
			out = append(out, c)
		}
	}
	return out, nil
}
