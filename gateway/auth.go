package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
)

// caller is who makes a request: the token presented and the first
// Decision the Authorizer gave for it.
type caller struct {
	token  string
	dec    access.Decision
	hasDec bool
	// gen is the Server's revocation generation when the Authorizer was
	// first asked (before it answered dec): a stream opened with dec
	// checks the revocations after it (see streamSet.revokedSince).
	gen uint64
}

// bearerToken extracts the bearer token from r: the Authorization header,
// or, for WebSocket upgrades only, the jwt query parameter (which browsers
// must use since they cannot set headers on WebSockets).
func bearerToken(r *http.Request, allowQuery bool) string {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return "" // another scheme: no bearer token
	}
	if allowQuery && strings.Contains(r.URL.RawQuery, "jwt=") {
		return r.URL.Query().Get("jwt")
	}
	return ""
}

// errExpired reports a token past its Decision.Expires.
var errExpired = fmt.Errorf("%w: token expired", access.ErrInvalidToken)

// authorize asks whether c may perform req. Once the Authorizer has
// returned a Decision with a Scope, the Scope answers further questions
// for the same caller (as access.Decision documents).
func (s *Server) authorize(ctx context.Context, c *caller, req access.Request) (bool, error) {
	if c.hasDec {
		if !c.dec.Expires.IsZero() && !time.Now().Before(c.dec.Expires) {
			return false, errExpired
		}
		if c.dec.Scope != nil {
			return c.dec.Scope.Permits(req), nil
		}
	}
	gen := s.streams.gen.Load()
	d, err := s.auth.Authorize(ctx, c.token, req)
	if err != nil {
		return false, err
	}
	if !d.Expires.IsZero() && !time.Now().Before(d.Expires) {
		return false, errExpired
	}
	if !c.hasDec {
		c.dec, c.hasDec, c.gen = d, true, gen
	}
	return d.Allow, nil
}

// verify makes sure c's token is acceptable at all, asking about req
// (which need not be allowed).
func (s *Server) verify(ctx context.Context, c *caller, req access.Request) error {
	_, err := s.authorize(ctx, c, req)
	return err
}

// verifyOnce verifies c's token, asking about req, unless a decision on it
// was already made: a response that asked about nothing else (an empty
// listing, a thing offering nothing) must still refuse a bad token.
func (s *Server) verifyOnce(ctx context.Context, c *caller, req access.Request) error {
	if c.hasDec {
		return nil
	}
	return s.verify(ctx, c, req)
}

// view is what one caller may do with one thing: the offered operations
// the Authorizer allows.
type view struct {
	thing   opSet
	props   map[string]opSet
	actions map[string]opSet
	events  map[string]opSet
}

func (v *view) empty() bool {
	return v.thing == 0 && len(v.props) == 0 && len(v.actions) == 0 && len(v.events) == 0
}

// full reports whether v is everything e offers.
func (v *view) full(e *entry) bool {
	return v.thing == e.thingOffer && v.allOffered(e)
}

func (v *view) allOffered(e *entry) bool {
	for n, pi := range e.props {
		if v.props[n] != pi.offer {
			return false
		}
	}
	for n, ai := range e.actions {
		if v.actions[n] != ai.offer {
			return false
		}
	}
	for n, ei := range e.events {
		if v.events[n] != ei.offer {
			return false
		}
	}
	return true
}

// viewOf computes what c may do with e. It returns the Authorizer's error
// (for example one wrapping access.ErrInvalidToken) if there is one.
func (s *Server) viewOf(ctx context.Context, c *caller, e *entry) (*view, error) {
	v := &view{}
	check := func(name string, offer opSet) (opSet, error) {
		var got opSet
		for _, o := range offer.ops() {
			ok, err := s.authorize(ctx, c, access.Request{ThingID: e.id, Op: opNames[o], Name: name})
			if err != nil {
				return 0, err
			}
			if ok {
				got |= opBit(o)
			}
		}
		return got, nil
	}
	for _, n := range e.propNames {
		got, err := check(n, e.props[n].offer)
		if err != nil {
			return nil, err
		}
		if got != 0 {
			if v.props == nil {
				v.props = make(map[string]opSet)
			}
			v.props[n] = got
		}
	}
	for _, n := range e.actionNames {
		got, err := check(n, e.actions[n].offer)
		if err != nil {
			return nil, err
		}
		if got != 0 {
			if v.actions == nil {
				v.actions = make(map[string]opSet)
			}
			v.actions[n] = got
		}
	}
	for _, n := range e.eventNames {
		got, err := check(n, e.events[n].offer)
		if err != nil {
			return nil, err
		}
		if got != 0 {
			if v.events == nil {
				v.events = make(map[string]opSet)
			}
			v.events[n] = got
		}
	}
	got, err := check("", e.thingOffer)
	if err != nil {
		return nil, err
	}
	v.thing = got
	// A thing offering nothing: still make sure the token is valid.
	if err := s.verifyOnce(ctx, c, access.Request{ThingID: e.id}); err != nil {
		return nil, err
	}
	return v, nil
}

// errForbidden is reported when a valid token does not cover a request.
var errForbidden = errors.New("gateway: insufficient scope")

// authError writes the response for an Authorizer error or a refusal.
func (s *Server) authError(w http.ResponseWriter, c *caller, err error) {
	switch {
	case errors.Is(err, errForbidden):
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope"`)
		writeProblem(w, http.StatusForbidden, "insufficient_scope", "the token does not permit this operation")
	case errors.Is(err, access.ErrInvalidToken):
		if c.token == "" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeProblem(w, http.StatusUnauthorized, "", "a bearer token is required")
		} else {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "invalid_token", "the token is not valid")
		}
	default:
		s.log.Error("gateway: authorizer failed", "err", err)
		writeProblem(w, http.StatusServiceUnavailable, "", "authorization is unavailable")
	}
}

// require authorizes req for c and writes the refusal if it is not
// allowed. It reports whether the request may go on.
func (s *Server) require(w http.ResponseWriter, r *http.Request, c *caller, req access.Request) bool {
	ok, err := s.authorize(r.Context(), c, req)
	if err == nil && !ok {
		err = errForbidden
	}
	if err != nil {
		s.authError(w, c, err)
		return false
	}
	return true
}
