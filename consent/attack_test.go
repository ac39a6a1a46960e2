package consent

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/access"
	"github.com/hearth-wot/hearth/thing"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws"
)

// rawJWT assembles a compact JWS from a header, claims and signature
// function (nil: no signature).
func rawJWT(t *testing.T, hdr, claims map[string]any, sign func(signingInput []byte) []byte) string {
	t.Helper()
	hb, _ := json.Marshal(hdr)
	cb, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// validClaims returns claims the ledger would accept for the grant/family
// behind tok (read from its payload), for tampering.
func claimsOf(t *testing.T, tok Secret) map[string]any {
	t.Helper()
	_, rest, _ := cut(string(tok), '.')
	payload, _, _ := cut(rest, '.')
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	json.Unmarshal(b, &c)
	return c
}

func cut(s string, sep byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == sep {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// signWithLedgerKey signs claims with the ledger's own current key, as a
// token minted by the ledger with other claims would be.
func signWithLedgerKey(t *testing.T, l *Ledger, hdr, claims map[string]any) string {
	t.Helper()
	k := l.ring.Load().current
	if hdr == nil {
		hdr = map[string]any{"alg": k.alg.String(), "kid": k.kid, "typ": TokenType}
	}
	return rawJWT(t, hdr, claims, func(in []byte) []byte { return ed25519.Sign(k.priv.(ed25519.PrivateKey), in) })
}

func TestAttacks(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t, func(c *Config) { c.ClockSkew = 10 * time.Second })
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	req := access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}
	k := l.ring.Load().current
	good := claimsOf(t, tok.AccessToken)
	with := func(k string, v any) map[string]any {
		c := make(map[string]any, len(good))
		for kk, vv := range good {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	now := time.Now().Unix()

	attackerPub, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
	attackerJWK, _ := jwk.Import(attackerPub)
	attackerJWKJSON, _ := json.Marshal(attackerJWK)
	var attackerJWKMap map[string]any
	json.Unmarshal(attackerJWKJSON, &attackerJWKMap)
	pubBytes := []byte(k.pub.(ed25519.PublicKey))
	pubJWKJSON, _ := json.Marshal(mustImport(t, k.pub))

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", rawJWT(t, map[string]any{"alg": "none", "kid": k.kid, "typ": TokenType}, good, nil), ErrMalformedToken},
		{"alg none with a signature", rawJWT(t, map[string]any{"alg": "none", "kid": k.kid, "typ": TokenType}, good, func([]byte) []byte { return []byte("x") }), ErrAlgorithm},
		{"alg none, no kid", rawJWT(t, map[string]any{"alg": "none", "typ": TokenType}, good, func([]byte) []byte { return []byte("x") }), ErrUnknownKey},
		{"HS256 keyed with the public key", rawJWT(t, map[string]any{"alg": "HS256", "kid": k.kid, "typ": TokenType}, good, func(in []byte) []byte {
			m := hmac.New(sha256.New, pubBytes)
			m.Write(in)
			return m.Sum(nil)
		}), ErrAlgorithm},
		{"HS256 keyed with the public JWK", rawJWT(t, map[string]any{"alg": "HS256", "kid": k.kid, "typ": TokenType}, good, func(in []byte) []byte {
			m := hmac.New(sha256.New, pubJWKJSON)
			m.Write(in)
			return m.Sum(nil)
		}), ErrAlgorithm},
		{"unknown kid", signWithLedgerKey(t, l, map[string]any{"alg": "EdDSA", "kid": "no-such-key", "typ": TokenType}, good), ErrUnknownKey},
		{"kid path traversal", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": "../../../../dev/null", "typ": TokenType}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrUnknownKey},
		{"kid injection", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": "' OR '1'='1", "typ": TokenType}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrUnknownKey},
		{"jku injection", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": TokenType, "jku": "https://evil.example/jwks.json"}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrMalformedToken},
		{"jwk injection", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": TokenType, "jwk": attackerJWKMap}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrMalformedToken},
		{"x5u injection", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": TokenType, "x5u": "https://evil.example/cert"}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrMalformedToken},
		{"crit header", signWithLedgerKey(t, l, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": TokenType, "crit": []string{"exp"}}, good), ErrMalformedToken},
		{"attacker key under our kid", rawJWT(t, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": TokenType}, good, func(in []byte) []byte { return ed25519.Sign(attackerPriv, in) }), ErrSignature},
		{"tampered claims", func() string {
			s := string(tok.AccessToken)
			h, rest, _ := cut(s, '.')
			_, sig, _ := cut(rest, '.')
			cb, _ := json.Marshal(with("scope", "%2A:readproperty"))
			return h + "." + base64.RawURLEncoding.EncodeToString(cb) + "." + sig
		}(), ErrSignature},
		{"expired", signWithLedgerKey(t, l, nil, with("exp", now-60)), ErrExpired},
		{"not yet valid", signWithLedgerKey(t, l, nil, with("nbf", now+3600)), ErrNotYetValid},
		{"issued in the future", signWithLedgerKey(t, l, nil, with("iat", now+3600)), ErrNotYetValid},
		{"wrong audience", signWithLedgerKey(t, l, nil, with("aud", "urn:other")), ErrAudience},
		{"wrong issuer", signWithLedgerKey(t, l, nil, with("iss", "https://evil.example")), ErrIssuer},
		{"wrong typ", signWithLedgerKey(t, l, map[string]any{"alg": "EdDSA", "kid": k.kid, "typ": "JWT"}, good), ErrTokenType},
		{"missing typ", signWithLedgerKey(t, l, map[string]any{"alg": "EdDSA", "kid": k.kid}, good), ErrTokenType},
		{"unknown claim", signWithLedgerKey(t, l, nil, with("admin", true)), ErrMalformedToken},
		{"scope escalation in a signed token", signWithLedgerKey(t, l, nil, with("scope", "lamp2:readproperty")), ErrScopeExceeded},
		{"all-things escalation in a signed token", signWithLedgerKey(t, l, nil, with("scope", "*:readproperty")), ErrScopeExceeded},
		{"subject swapped", signWithLedgerKey(t, l, nil, with("sub", "mallory")), ErrMalformedToken},
		{"unknown grant", signWithLedgerKey(t, l, nil, with("gid", "nope")), ErrRevoked},
		{"two dots only", "a.b", ErrMalformedToken},
		{"four parts", string(tok.AccessToken) + ".x", ErrMalformedToken},
		{"huge", string(make([]byte, maxTokenLen+1)), ErrMalformedToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := l.Authorize(ctx, tt.token, req)
			if !errors.Is(err, access.ErrInvalidToken) || !errors.Is(err, tt.want) {
				t.Errorf("Authorize = %+v, %v; want %v", d, err, tt.want)
			}
			if d.Allow {
				t.Error("allowed")
			}
			if in := l.Introspect(ctx, Secret(tt.token)); in != (Introspection{}) {
				t.Errorf("Introspect = %+v, want only active:false", in)
			}
		})
	}
	// The genuine token still works: the table did not pass by breaking it.
	if d, err := l.Authorize(ctx, string(tok.AccessToken), req); err != nil || !d.Allow {
		t.Fatalf("genuine token: %v %v", d.Allow, err)
	}
}

func mustImport(t *testing.T, key any) jwk.Key {
	k, err := jwk.Import(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAttackJWXSignedForeignKey signs with jwx itself, as an attacker with
// a library would, and checks the ledger refuses both a foreign key with our
// kid and an ES256 token under our EdDSA key.
func TestAttackAlgorithmConfusionES256(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	g := grantTo(t, l, "alice", lampRead)
	tok := issue(t, l, g.ID)
	k := l.ring.Load().current
	priv, err := generateKey(AlgES256, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := jws.NewHeaders()
	h.Set(jws.KeyIDKey, k.kid)
	h.Set(jws.TypeKey, TokenType)
	payload, _ := json.Marshal(claimsOf(t, tok.AccessToken))
	signed, err := jws.Sign(payload, jws.WithKey(jwa.ES256(), priv.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Authorize(ctx, string(signed), access.Request{ThingID: "lamp", Op: thing.OpReadProperty, Name: "on"}); !errors.Is(err, ErrAlgorithm) {
		t.Errorf("ES256 token under an EdDSA kid: %v", err)
	}
}

// TestAttackPrefixTrick: a grant for "lamp" must say nothing about
// "lamp2", "lamp/x", "lamp:x" or "lam"; ids are matched as whole segments.
func TestAttackPrefixTrick(t *testing.T) {
	ctx := t.Context()
	l := newTestLedger(t)
	for _, id := range []string{"lamp", "urn:dev:lamp", "home/lamp"} {
		g := grantTo(t, l, "alice", []Scope{{Thing: id, Ops: []string{thing.OpReadProperty}}})
		tok := issue(t, l, g.ID)
		for _, other := range []string{id + "2", id + "/x", id + ":x", id[:len(id)-1], id + " ", " " + id, id + "%00", "LAMP"} {
			d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: other, Op: thing.OpReadProperty, Name: "on"})
			if err != nil || d.Allow {
				t.Errorf("grant for %q allows %q: %v %v", id, other, d.Allow, err)
			}
			if d.Scope.Permits(access.Request{ThingID: other, Op: thing.OpReadProperty, Name: "on"}) {
				t.Errorf("scope for %q permits %q", id, other)
			}
		}
		d, err := l.Authorize(ctx, string(tok.AccessToken), access.Request{ThingID: id, Op: thing.OpReadProperty, Name: "on"})
		if err != nil || !d.Allow {
			t.Errorf("grant for %q does not allow itself: %v %v", id, d.Allow, err)
		}
	}
	// In the scope syntax there is no wildcard but the whole "*" segment.
	for _, s := range []string{"lamp*:readproperty", "lam*:readproperty", "*lamp:readproperty", ":readproperty", "lamp:", "lamp:readproperty:", "lamp:readproperty,", "lamp:read", "lamp:readallproperties:on"} {
		if sc, err := ParseScopes(s); err == nil {
			t.Errorf("ParseScopes(%q) = %+v, want error", s, sc)
		}
	}
	// "lamp%2A" is how a thing literally named "lamp*" is written; it is
	// not a wildcard either.
	sc, err := ParseScopes("lamp%2A:readproperty")
	if err != nil || sc[0].Thing != "lamp*" {
		t.Fatalf("ParseScopes(lamp%%2A) = %+v, %v", sc, err)
	}
	set := compileScopes(sc)
	for _, id := range []string{"lamp", "lamp2", "lampX"} {
		if set.Permits(access.Request{ThingID: id, Op: thing.OpReadProperty, Name: "on"}) {
			t.Errorf("scope for thing %q permits %q", "lamp*", id)
		}
	}
}
