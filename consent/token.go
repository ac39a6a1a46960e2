package consent

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// TokenType is the JWT "typ" of the ledger's access tokens (RFC 9068).
const TokenType = "at+jwt"

// maxTokenLen bounds the tokens the ledger will look at.
const maxTokenLen = 8 << 10

// Tokens are what a client receives for a grant: a short-lived access
// token and a refresh token that rotates on every use.
//
// Tokens is a plain value: copies are independent, and it is safe for
// concurrent reads but not for a write concurrent with other use.
type Tokens struct {
	AccessToken  Secret    // a JWT for the gateway's Authorization header
	RefreshToken Secret    // exchange with Ledger.Refresh; single use
	TokenType    string    // always "Bearer"
	Expires      time.Time // when the access token expires
	Scope        string    // the access token's scope, in FormatScopes form
	GrantID      string    // the grant the tokens carry
}

// TokenOptions adjusts IssueTokens.
//
// TokenOptions is plain data that IssueTokens only reads; it is safe for
// concurrent reads but must not be modified while a call that uses it runs.
type TokenOptions struct {
	// Scopes narrows the tokens to part of the grant. Nil means the whole
	// grant; anything beyond it is ErrScopeExceeded.
	Scopes []Scope
}

// accessClaims are the claims of an access token: RFC 9068's plus the
// purpose and the ids of the grant (gid) and token family (fid).
type accessClaims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	Aud      string `json:"aud"`
	Exp      int64  `json:"exp"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf,omitempty"` // checked if present; the ledger does not set it
	Jti      string `json:"jti"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	Purpose  string `json:"purpose"`
	Gid      string `json:"gid"`
	Fid      string `json:"fid"`
}

// verified is what checking an access token establishes.
type verified struct {
	claims accessClaims
	grant  *grantState
	fam    *family
	scope  *scopeSet
}

// cacheEntry is a verified token's standing answer. Revocation is seen
// through the grant and family flags; expiry through notAfter.
type cacheEntry struct {
	notAfter int64 // UnixNano; the token or its grant ends here
	grant    *grantState
	fam      *family
	scope    *scopeSet
	dec      access.Decision
}

func (e *cacheEntry) check(now int64) error {
	if e.grant.revoked.Load() || e.fam.revoked.Load() {
		return errTokenRevoked
	}
	if now >= e.notAfter {
		return errTokenExpired
	}
	return nil
}

// tokenCache maps token hashes to verified entries. It holds no tokens,
// only their SHA-256.
type tokenCache struct {
	mu  sync.RWMutex
	max int
	m   map[[32]byte]*cacheEntry
}

func newTokenCache(max int) *tokenCache {
	return &tokenCache{max: max, m: make(map[[32]byte]*cacheEntry, min(max, 1024))}
}

func (c *tokenCache) get(h *[32]byte) *cacheEntry {
	c.mu.RLock()
	e := c.m[*h]
	c.mu.RUnlock()
	return e
}

func (c *tokenCache) put(h [32]byte, e *cacheEntry, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		// Evict: expired or revoked entries first, else arbitrary ones
		// (map order is random).
		n := 0
		for k, old := range c.m {
			if old.check(now) != nil || n >= 8 {
				delete(c.m, k)
				if len(c.m) < c.max {
					break
				}
			}
			n++
		}
	}
	c.m[h] = e
}

func (c *tokenCache) drop(h *[32]byte) {
	c.mu.Lock()
	delete(c.m, *h)
	c.mu.Unlock()
}

func (c *tokenCache) sweep(now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		if e.check(now) != nil {
			delete(c.m, k)
		}
	}
}

// stringBytes views s as bytes without copying; the bytes must not be
// modified.
func stringBytes(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// Authorize implements access.Authorizer. It checks the token's signature
// (with the algorithm bound to its key), typ, iss, aud, exp and nbf (with
// Config.ClockSkew), that its grant and token family are neither revoked nor
// expired, and then whether its scope covers req. Verified tokens are
// cached by hash; a cached token is re-checked for revocation and expiry on
// every call, so revocation takes effect at once.
//
// Errors wrap access.ErrInvalidToken and say why (ErrExpired, ErrRevoked,
// ErrSignature, ...). A valid token that does not cover req is a Decision
// with Allow false, not an error.
func (l *Ledger) Authorize(ctx context.Context, token string, req access.Request) (access.Decision, error) {
	if token == "" {
		return access.Decision{}, errTokenMissing
	}
	if l.closedF.Load() {
		return access.Decision{}, ErrClosed
	}
	now := time.Now()
	if l.cache != nil {
		h := sha256.Sum256(stringBytes(token))
		if e := l.cache.get(&h); e != nil {
			if err := e.check(now.UnixNano()); err != nil {
				if err == errTokenExpired {
					l.cache.drop(&h)
				}
				return access.Decision{}, err
			}
			d := e.dec
			d.Allow = e.scope.Permits(req)
			return d, nil
		}
		e, err := l.verifyEntry(token, now)
		if err != nil {
			return access.Decision{}, err
		}
		l.cache.put(h, e, now.UnixNano())
		d := e.dec
		d.Allow = e.scope.Permits(req)
		return d, nil
	}
	e, err := l.verifyEntry(token, now)
	if err != nil {
		return access.Decision{}, err
	}
	d := e.dec
	d.Allow = e.scope.Permits(req)
	return d, nil
}

func (l *Ledger) verifyEntry(token string, now time.Time) (*cacheEntry, error) {
	v, err := l.verifyAccess(token, now, true)
	if err != nil {
		return nil, err
	}
	notAfter := time.Unix(v.claims.Exp, 0).Add(l.skew).UnixNano()
	notAfter = min(notAfter, v.grant.expires)
	return &cacheEntry{
		notAfter: notAfter,
		grant:    v.grant,
		fam:      v.fam,
		scope:    v.scope,
		dec: access.Decision{
			GrantID: v.grant.g.ID,
			// The token family, not the jti: a family is what the ledger
			// revokes on its own (refresh reuse, RFC 7009), and its
			// Revocations name it (access.Revocation.TokenID).
			TokenID:  v.claims.Fid,
			Subject:  v.grant.g.Subject,
			ClientID: v.fam.client,
			Purpose:  v.grant.g.Purpose,
			Expires:  time.Unix(v.claims.Exp, 0),
			Scope:    v.scope,
		},
	}, nil
}

// allowedHeader lists the only JOSE header members the ledger accepts. In
// particular jku, x5u, jwk and x5c (key injection) and crit are refused:
// keys come from the ledger alone.
var allowedHeader = map[string]bool{"alg": true, "kid": true, "typ": true}

// verifyAccess checks an access token. With checkTime false, exp, nbf and
// iat are not checked (for revocation of expired tokens).
func (l *Ledger) verifyAccess(token string, now time.Time, checkTime bool) (*verified, error) {
	if len(token) > maxTokenLen {
		return nil, tokenError(fmt.Errorf("%w: too long", ErrMalformedToken))
	}
	hdrPart, rest, ok1 := strings.Cut(token, ".")
	payloadPart, sigPart, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || hdrPart == "" || payloadPart == "" || sigPart == "" || strings.Contains(sigPart, ".") {
		return nil, tokenError(fmt.Errorf("%w: not a compact JWS", ErrMalformedToken))
	}
	hdrJSON, err := base64.RawURLEncoding.Strict().DecodeString(hdrPart)
	if err != nil {
		return nil, tokenError(fmt.Errorf("%w: header encoding", ErrMalformedToken))
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil {
		return nil, tokenError(fmt.Errorf("%w: header", ErrMalformedToken))
	}
	for k := range hdr {
		if !allowedHeader[k] {
			return nil, tokenError(fmt.Errorf("%w: header member %q not allowed", ErrMalformedToken, k))
		}
	}
	str := func(name string) (string, bool) {
		raw, ok := hdr[name]
		if !ok {
			return "", true
		}
		var s string
		return s, json.Unmarshal(raw, &s) == nil
	}
	alg, ok1 := str("alg")
	kid, ok2 := str("kid")
	typ, ok3 := str("typ")
	if !ok1 || !ok2 || !ok3 {
		return nil, tokenError(fmt.Errorf("%w: header members must be strings", ErrMalformedToken))
	}
	if !strings.EqualFold(typ, TokenType) && !strings.EqualFold(typ, "application/"+TokenType) {
		return nil, tokenError(ErrTokenType)
	}
	k := l.ring.Load().byKID[kid]
	if k == nil || !k.live(now) {
		return nil, tokenError(ErrUnknownKey)
	}
	if alg != k.alg.String() {
		return nil, tokenError(ErrAlgorithm)
	}
	payload, err := jws.VerifyCompactFast(k.pub, stringBytes(token), k.alg)
	if err != nil {
		return nil, tokenError(ErrSignature)
	}
	var c accessClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, tokenError(fmt.Errorf("%w: claims", ErrMalformedToken))
	}
	if c.Iss != l.issuer {
		return nil, tokenError(ErrIssuer)
	}
	if c.Aud != l.audience {
		return nil, tokenError(ErrAudience)
	}
	if checkTime {
		skew := int64(l.skew / time.Second)
		sec := now.Unix()
		if sec >= c.Exp+skew {
			return nil, tokenError(ErrExpired)
		}
		if c.Nbf > sec+skew || c.Iat > sec+skew {
			return nil, tokenError(ErrNotYetValid)
		}
	}
	l.mu.RLock()
	gs, fam := l.grants[c.Gid], l.families[c.Fid]
	l.mu.RUnlock()
	switch {
	case gs == nil || fam == nil || gs.revoked.Load() || fam.revoked.Load():
		return nil, tokenError(ErrRevoked)
	case fam.grant != gs || c.Sub != gs.g.Subject || c.ClientID != fam.client || c.Purpose != gs.g.Purpose:
		return nil, tokenError(fmt.Errorf("%w: claims disagree with the grant", ErrMalformedToken))
	case checkTime && now.UnixNano() >= gs.expires:
		return nil, tokenError(ErrExpired)
	}
	v := &verified{claims: c, grant: gs, fam: fam}
	switch c.Scope {
	case fam.scope.text:
		v.scope = fam.scope
	default:
		scopes, err := ParseScopes(c.Scope)
		if err != nil {
			return nil, tokenError(fmt.Errorf("%w: scope", ErrMalformedToken))
		}
		if !fam.scope.coversAll(scopes) {
			return nil, tokenError(ErrScopeExceeded)
		}
		v.scope = compileScopes(scopes)
	}
	return v, nil
}

// signAccess signs an access token for a family.
func (l *Ledger) signAccess(f *family, scope string, now time.Time) (Secret, time.Time, error) {
	k := l.ring.Load().current
	exp := now.Add(l.accessTTL)
	if g := fromUnixNano(f.grant.expires); g.Before(exp) {
		exp = g
	}
	c := accessClaims{
		Iss: l.issuer, Sub: f.grant.g.Subject, Aud: l.audience,
		Exp: exp.Unix(), Iat: now.Unix(), Jti: newID(),
		ClientID: f.client, Scope: scope, Purpose: f.grant.g.Purpose,
		Gid: f.grant.g.ID, Fid: f.id,
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", time.Time{}, err
	}
	h := jws.NewHeaders()
	if err := h.Set(jws.KeyIDKey, k.kid); err != nil {
		return "", time.Time{}, err
	}
	if err := h.Set(jws.TypeKey, TokenType); err != nil {
		return "", time.Time{}, err
	}
	tok, err := jws.Sign(payload, jws.WithKey(k.alg, k.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		return "", time.Time{}, fmt.Errorf("consent: sign token: %w", err)
	}
	return Secret(tok), time.Unix(c.Exp, 0), nil
}

// grantUsableLocked reports why a grant cannot back new tokens, if it
// cannot.
func grantUsable(gs *grantState, now time.Time) error {
	switch gs.status(now) {
	case StatusRevoked:
		return ErrRevoked
	case StatusExpired:
		return ErrExpired
	}
	return nil
}

// IssueTokens issues an access token and a refresh token for a grant,
// starting a new token family. The family is durable and audited before
// IssueTokens returns.
func (l *Ledger) IssueTokens(ctx context.Context, grantID string, opts TokenOptions) (*Tokens, error) {
	t, _, err := l.issueTokens(ctx, grantID, opts.Scopes)
	return t, err
}

func (l *Ledger) issueTokens(ctx context.Context, grantID string, scopes []Scope) (*Tokens, *family, error) {
	now := time.Now()
	if scopes != nil {
		if err := validateScopes(scopes); err != nil {
			return nil, nil, err
		}
	}
	l.mu.Lock()
	gs := l.grants[grantID]
	if gs == nil {
		l.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: grant %q", ErrNotFound, grantID)
	}
	f, refresh, size, err := l.newFamilyLocked(gs, scopes, now)
	l.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if err := l.sync(ctx, size); err != nil {
		return nil, nil, err
	}
	t, err := l.tokensFor(f, refresh, f.scope.text, now)
	return t, f, err
}

func (l *Ledger) newFamilyLocked(gs *grantState, scopes []Scope, now time.Time) (*family, Secret, int64, error) {
	if err := grantUsable(gs, now); err != nil {
		return nil, "", 0, err
	}
	scopeText := gs.scope.text
	if scopes != nil {
		if !gs.scope.coversAll(scopes) {
			return nil, "", 0, ErrScopeExceeded
		}
		scopeText = FormatScopes(scopes)
	}
	refresh := newRefreshToken()
	h := hashToken([]byte(refresh))
	var ops []txOp
	fid := newID()
	ops = append(ops, txOp{Kind: opFamily, Family: &familyRec{
		ID: fid, Grant: gs.g.ID, Client: gs.g.Holder, Scope: scopeText, Created: now.UnixNano(), Current: h[:],
	}}, auditOp(AuditEntry{
		Time: now, Event: EventIssue, Grant: gs.g.ID, Family: fid,
		Subject: l.pseudonymLocked(gs.g.Subject, &ops), Holder: gs.g.Holder, Purpose: gs.g.Purpose,
	}))
	size, err := l.commitLocked(ops)
	if err != nil {
		return nil, "", 0, err
	}
	return l.families[fid], refresh, size, nil
}

func newRefreshToken() Secret {
	return Secret(base64.RawURLEncoding.EncodeToString(randomBytes(32)))
}

func (l *Ledger) tokensFor(f *family, refresh Secret, scope string, now time.Time) (*Tokens, error) {
	at, exp, err := l.signAccess(f, scope, now)
	if err != nil {
		return nil, err
	}
	return &Tokens{AccessToken: at, RefreshToken: refresh, TokenType: "Bearer", Expires: exp, Scope: scope, GrantID: f.grant.g.ID}, nil
}

// Refresh exchanges a refresh token for new tokens. The refresh token is
// spent: presenting it again is taken as theft, revokes the whole family
// (every access and refresh token descended from the same authorization)
// and returns an error wrapping ErrRefreshReuse. clientID must be the
// family's client. scopes, if not nil, narrows the new access token.
func (l *Ledger) Refresh(ctx context.Context, refreshToken Secret, clientID string, scopes []Scope) (*Tokens, error) {
	if len(refreshToken) == 0 || len(refreshToken) > maxTokenLen {
		return nil, tokenError(ErrMalformedToken)
	}
	if scopes != nil {
		if err := validateScopes(scopes); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	h := hashToken([]byte(refreshToken))
	l.mu.Lock()
	f := l.refresh[h]
	if f == nil || subtle.ConstantTimeCompare([]byte(f.client), []byte(clientID)) != 1 {
		l.mu.Unlock()
		return nil, tokenError(fmt.Errorf("%w: unknown refresh token", ErrNotFound))
	}
	if f.revoked.Load() {
		l.mu.Unlock()
		return nil, tokenError(ErrRevoked)
	}
	if f.current != h {
		size, err := l.revokeFamilyLocked(f, EventRefreshReuse, now)
		l.mu.Unlock()
		if err == nil {
			l.notifyFamily(f)
			err = l.sync(ctx, size)
		}
		if err != nil {
			return nil, err
		}
		l.logger.Warn("consent: refresh token reused; token family revoked", "grant", f.grant.g.ID, "family", f.id)
		return nil, tokenError(ErrRefreshReuse)
	}
	if err := grantUsable(f.grant, now); err != nil {
		l.mu.Unlock()
		return nil, tokenError(err)
	}
	scopeText := f.scope.text
	if scopes != nil {
		if !f.scope.coversAll(scopes) {
			l.mu.Unlock()
			return nil, ErrScopeExceeded
		}
		scopeText = FormatScopes(scopes)
	}
	next := newRefreshToken()
	nh := hashToken([]byte(next))
	var ops []txOp
	ops = append(ops, txOp{Kind: opRotate, ID: f.id, Hash: nh[:]}, auditOp(AuditEntry{
		Time: now, Event: EventRefresh, Grant: f.grant.g.ID, Family: f.id,
		Subject: l.pseudonymLocked(f.grant.g.Subject, &ops), Holder: f.client, Purpose: f.grant.g.Purpose,
	}))
	size, err := l.commitLocked(ops)
	l.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if err := l.sync(ctx, size); err != nil {
		return nil, err
	}
	return l.tokensFor(f, next, scopeText, now)
}

func (l *Ledger) revokeFamilyLocked(f *family, event string, now time.Time) (int64, error) {
	var ops []txOp
	ops = append(ops, txOp{Kind: opRevokeFam, ID: f.id, At: now.UnixNano()}, auditOp(AuditEntry{
		Time: now, Event: event, Grant: f.grant.g.ID, Family: f.id,
		Subject: l.pseudonymLocked(f.grant.g.Subject, &ops), Holder: f.client, Purpose: f.grant.g.Purpose,
	}))
	return l.commitLocked(ops)
}

// revokeFamily revokes a token family unless it already is.
func (l *Ledger) revokeFamily(ctx context.Context, f *family) error {
	l.mu.Lock()
	if f.revoked.Load() || l.families[f.id] != f {
		l.mu.Unlock()
		return nil
	}
	size, err := l.revokeFamilyLocked(f, EventRevokeFamily, time.Now())
	l.mu.Unlock()
	if err != nil {
		return err
	}
	l.notifyFamily(f)
	return l.sync(ctx, size)
}

// RevokeToken implements RFC 7009 token revocation: revoking an access or
// refresh token revokes its token family (the refresh token and every
// access token issued with it); the grant itself stands. Tokens that are
// unknown, invalid, or (when clientID is not empty) issued to another
// client are ignored, as RFC 7009 asks, and RevokeToken returns nil.
func (l *Ledger) RevokeToken(ctx context.Context, token Secret, clientID string) error {
	f := l.familyOf(token, time.Now())
	if f == nil || (clientID != "" && f.client != clientID) {
		return nil
	}
	return l.revokeFamily(ctx, f)
}

// familyOf finds the family of an access token (checked, except for
// expiry) or of a current or spent refresh token.
func (l *Ledger) familyOf(token Secret, now time.Time) *family {
	if len(token) == 0 || len(token) > maxTokenLen {
		return nil
	}
	if strings.Contains(string(token), ".") {
		v, err := l.verifyAccess(string(token), now, false)
		if err != nil {
			return nil
		}
		return v.fam
	}
	h := hashToken([]byte(token))
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.refresh[h]
}

// Introspection is the RFC 7662 answer about a token. For a token that is
// not active every field but Active is empty.
//
// An Introspection is a plain value: copies are independent, and it is safe
// for concurrent reads but not for a write concurrent with other use.
type Introspection struct {
	Active    bool   `json:"active"`               // the token is valid now
	Scope     string `json:"scope,omitempty"`      // FormatScopes form
	ClientID  string `json:"client_id,omitempty"`  // the holder
	Subject   string `json:"sub,omitempty"`        // the data subject
	TokenType string `json:"token_type,omitempty"` // "Bearer" or "refresh_token"
	Expires   int64  `json:"exp,omitempty"`        // Unix seconds
	IssuedAt  int64  `json:"iat,omitempty"`        // Unix seconds
	NotBefore int64  `json:"nbf,omitempty"`        // Unix seconds
	Issuer    string `json:"iss,omitempty"`        // the ledger's issuer
	Audience  string `json:"aud,omitempty"`        // the resource server
	TokenID   string `json:"jti,omitempty"`        // the access token's id
	Purpose   string `json:"purpose,omitempty"`    // the grant's purpose
	GrantID   string `json:"grant_id,omitempty"`   // the grant
}

// Introspect reports whether a token (access or refresh) is active, and
// if so what it carries. Anything not active yields only Active false.
func (l *Ledger) Introspect(ctx context.Context, token Secret) Introspection {
	now := time.Now()
	if len(token) == 0 || len(token) > maxTokenLen {
		return Introspection{}
	}
	if strings.Contains(string(token), ".") {
		v, err := l.verifyAccess(string(token), now, true)
		if err != nil {
			return Introspection{}
		}
		c := v.claims
		return Introspection{
			Active: true, Scope: c.Scope, ClientID: c.ClientID, Subject: c.Sub, TokenType: "Bearer",
			Expires: c.Exp, IssuedAt: c.Iat, NotBefore: c.Nbf, Issuer: c.Iss, Audience: c.Aud,
			TokenID: c.Jti, Purpose: c.Purpose, GrantID: c.Gid,
		}
	}
	h := hashToken([]byte(token))
	l.mu.RLock()
	defer l.mu.RUnlock()
	f := l.refresh[h]
	if f == nil || f.current != h || f.revoked.Load() || grantUsable(f.grant, now) != nil {
		return Introspection{}
	}
	return Introspection{
		Active: true, Scope: f.scope.text, ClientID: f.client, Subject: f.grant.g.Subject,
		TokenType: "refresh_token", Expires: f.grant.expires / int64(time.Second), Issuer: l.issuer,
		Purpose: f.grant.g.Purpose, GrantID: f.grant.g.ID,
	}
}
