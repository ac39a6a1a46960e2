package access_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// grant is what one token of a tableAuthorizer stands for: the things it
// may use, each compared whole.
type grant struct {
	id, subject string
	things      []string
	expires     time.Time
}

// Permits implements access.Scope: a grant is its own Scope.
func (g grant) Permits(r access.Request) bool { return slices.Contains(g.things, r.ThingID) }

// tableAuthorizer is a minimal access.Authorizer over a fixed table of
// tokens. A map read by many goroutines and written by none is safe for
// concurrent use.
type tableAuthorizer map[string]grant

func (t tableAuthorizer) Authorize(_ context.Context, token string, r access.Request) (access.Decision, error) {
	g, ok := t[token]
	switch {
	case token == "":
		return access.Decision{}, fmt.Errorf("%w: no token", access.ErrInvalidToken)
	case !ok:
		return access.Decision{}, fmt.Errorf("%w: unknown token", access.ErrInvalidToken)
	case !time.Now().Before(g.expires):
		return access.Decision{}, fmt.Errorf("%w: expired", access.ErrInvalidToken)
	}
	return access.Decision{
		Allow:   g.Permits(r),
		GrantID: g.id,
		Subject: g.subject,
		Expires: g.expires,
		Scope:   g,
	}, nil
}

// An Authorizer answers for a token and a request: an error wrapping
// ErrInvalidToken when the token itself is unacceptable (a gateway answers
// 401), otherwise a Decision (Allow false: 403). Thing ids are compared
// whole, so a grant on "lamp" does not cover "lamp2".
func Example() {
	var auth access.Authorizer = tableAuthorizer{
		"t-guest": {id: "g-1", subject: "guest-7", things: []string{"lamp"}, expires: time.Now().Add(time.Hour)},
		"t-old":   {id: "g-0", subject: "guest-6", things: []string{"lamp"}, expires: time.Now().Add(-time.Hour)},
	}
	for _, c := range []struct {
		token, thing string
	}{
		{"t-guest", "lamp"},
		{"t-guest", "lamp2"},
		{"t-old", "lamp"},
		{"", "lamp"},
	} {
		d, err := auth.Authorize(context.Background(), c.token, access.Request{ThingID: c.thing, Op: "readproperty", Name: "on"})
		switch {
		case errors.Is(err, access.ErrInvalidToken):
			fmt.Printf("%q on %s: 401 (%v)\n", c.token, c.thing, err)
		case err != nil:
			fmt.Printf("%q on %s: 503\n", c.token, c.thing)
		case !d.Allow:
			fmt.Printf("%q on %s: 403\n", c.token, c.thing)
		default:
			fmt.Printf("%q on %s: allowed under grant %s of %s\n", c.token, c.thing, d.GrantID, d.Subject)
		}
	}
	// Output:
	// "t-guest" on lamp: allowed under grant g-1 of guest-7
	// "t-guest" on lamp2: 403
	// "t-old" on lamp: 401 (access: invalid token: expired)
	// "" on lamp: 401 (access: invalid token: no token)
}

// notifier is a minimal access.RevocationNotifier: it calls its
// subscribers when a grant is revoked.
type notifier struct {
	subs map[int]func(access.Revocation)
	next int
}

func (n *notifier) SubscribeRevocations(fn func(access.Revocation)) (cancel func()) {
	id := n.next
	n.next++
	n.subs[id] = fn
	return func() { delete(n.subs, id) }
}

func (n *notifier) revoke(r access.Revocation) {
	for _, fn := range n.subs {
		fn(r)
	}
}

// A RevocationNotifier tells a gateway at once when a grant, or one token
// of it, is revoked, so that it closes the streams opened with it.
func ExampleRevocationNotifier() {
	n := &notifier{subs: map[int]func(access.Revocation){}}
	var rn access.RevocationNotifier = n
	cancel := rn.SubscribeRevocations(func(r access.Revocation) {
		if r.TokenID != "" {
			fmt.Printf("close the streams of token %s\n", r.TokenID)
			return
		}
		fmt.Printf("close every stream of grant %s\n", r.GrantID)
	})
	n.revoke(access.Revocation{GrantID: "g-1", TokenID: "jti-42"})
	n.revoke(access.Revocation{GrantID: "g-1"})
	cancel()
	n.revoke(access.Revocation{GrantID: "g-2"}) // nobody listens any more
	// Output:
	// close the streams of token jti-42
	// close every stream of grant g-1
}
