package consent

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
)

// Token signing algorithms a Ledger supports. Each signing key is bound to
// exactly one; a token whose header names any other algorithm is refused.
const (
	AlgEdDSA = "EdDSA" // Ed25519, the default
	AlgES256 = "ES256" // ECDSA P-256 with SHA-256
)

// signingKey is one token signing key. It is immutable once built.
type signingKey struct {
	kid     string
	alg     jwa.SignatureAlgorithm
	algName string
	priv    crypto.Signer
	pub     crypto.PublicKey
	pkcs8   []byte
	created time.Time
	retired time.Time // zero while the key signs
	until   time.Time // after this a retired key verifies nothing
}

// keyRing is an immutable snapshot of the signing keys, swapped atomically
// on rotation so that verification takes no lock.
type keyRing struct {
	current *signingKey
	byKID   map[string]*signingKey
	all     []*signingKey
}

func generateKey(algName string, now time.Time) (*signingKey, error) {
	var priv crypto.Signer
	switch algName {
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = k
	case AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = k
	default:
		return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidRequest, algName)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	return keyFromRecord(&keyRec{Alg: algName, PKCS8: der, Created: now.UnixNano()})
}

// keyFromRecord rebuilds a key from its record. The kid is derived from
// the RFC 7638 JWK thumbprint of the public key, never trusted.
func keyFromRecord(r *keyRec) (*signingKey, error) {
	raw, err := x509.ParsePKCS8PrivateKey(r.PKCS8)
	if err != nil {
		return nil, fmt.Errorf("%w: signing key: %v", ErrCorrupt, err)
	}
	k := &signingKey{algName: r.Alg, pkcs8: r.PKCS8, created: fromUnixNano(r.Created), retired: fromUnixNano(r.Retired), until: fromUnixNano(r.Until)}
	switch priv := raw.(type) {
	case ed25519.PrivateKey:
		if r.Alg != AlgEdDSA {
			return nil, fmt.Errorf("%w: Ed25519 key bound to %q", ErrCorrupt, r.Alg)
		}
		k.priv, k.pub, k.alg = priv, priv.Public(), jwa.EdDSA()
	case *ecdsa.PrivateKey:
		if r.Alg != AlgES256 || priv.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: ECDSA key bound to %q", ErrCorrupt, r.Alg)
		}
		k.priv, k.pub, k.alg = priv, priv.Public(), jwa.ES256()
	default:
		return nil, fmt.Errorf("%w: unsupported signing key type %T", ErrCorrupt, raw)
	}
	pk, err := jwk.Import(k.pub)
	if err != nil {
		return nil, fmt.Errorf("consent: import key: %w", err)
	}
	tp, err := pk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("consent: key thumbprint: %w", err)
	}
	// 96 bits of the thumbprint name a key unambiguously and keep the
	// token (hashed on every Authorize) short.
	k.kid = base64.RawURLEncoding.EncodeToString(tp[:12])
	if r.KID != "" && r.KID != k.kid {
		return nil, fmt.Errorf("%w: signing key id does not match its key", ErrCorrupt)
	}
	return k, nil
}

func (k *signingKey) record() *keyRec {
	return &keyRec{KID: k.kid, Alg: k.algName, PKCS8: k.pkcs8, Created: unixNano(k.created), Retired: unixNano(k.retired), Until: unixNano(k.until)}
}

// live reports whether the key still verifies tokens at now.
func (k *signingKey) live(now time.Time) bool {
	return k.retired.IsZero() || now.Before(k.until)
}

func newRing(keys []*signingKey) *keyRing {
	r := &keyRing{byKID: make(map[string]*signingKey, len(keys))}
	for _, k := range keys {
		r.byKID[k.kid] = k
		r.all = append(r.all, k)
		if k.retired.IsZero() && (r.current == nil || k.created.After(r.current.created)) {
			r.current = k
		}
	}
	return r
}

// jwks returns the JSON Web Key Set of the keys that verify at now: the
// current key and every retired key whose tokens may still be live.
func (r *keyRing) jwks(now time.Time) ([]byte, error) {
	set := jwk.NewSet()
	for _, k := range r.all {
		if !k.live(now) {
			continue
		}
		pk, err := jwk.Import(k.pub)
		if err != nil {
			return nil, err
		}
		if err := pk.Set(jwk.KeyIDKey, k.kid); err != nil {
			return nil, err
		}
		if err := pk.Set(jwk.AlgorithmKey, k.alg); err != nil {
			return nil, err
		}
		if err := pk.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
			return nil, err
		}
		if err := set.AddKey(pk); err != nil {
			return nil, err
		}
	}
	return json.Marshal(set)
}

// auditSigner signs audit checkpoints and receipts as golang.org/x/mod
// signed notes, with an Ed25519 key.
type auditSigner struct {
	name string
	hash uint32
	key  crypto.Signer
	vkey string
}

func newAuditSigner(name string, key crypto.Signer) (*auditSigner, error) {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: audit key must be Ed25519, not %T", ErrInvalidRequest, key.Public())
	}
	vkey, err := newVerifierKey(name, pub)
	if err != nil {
		return nil, err
	}
	v, err := parseVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	return &auditSigner{name: name, hash: v.KeyHash(), key: key, vkey: vkey}, nil
}

func (s *auditSigner) Name() string    { return s.name }
func (s *auditSigner) KeyHash() uint32 { return s.hash }
func (s *auditSigner) Sign(msg []byte) ([]byte, error) {
	return s.key.Sign(rand.Reader, msg, crypto.Hash(0))
}

// hashToken is the cache and lookup key of a token: its SHA-256.
func hashToken(b []byte) [32]byte { return sha256.Sum256(b) }
