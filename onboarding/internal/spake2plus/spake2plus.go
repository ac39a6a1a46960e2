// Package spake2plus implements SPAKE2+ (RFC 9383) with the ciphersuite
// P256-SHA256-HKDF-SHA256-HMAC-SHA256, the suite Matter uses for its
// passcode-authenticated session.
//
// The prover knows the password and derives (w0, w1) from it; the verifier
// stores only the registration record (w0, L = w1*P). The prover sends
// shareP, the verifier answers with shareV and confirmV, the prover checks
// confirmV and answers with confirmP, and both end with the same K_shared.
// Either side learns from a failed run only that the other did not know the
// password it tried: one guess per run, and nothing a passive observer can
// test offline.
//
// Group operations come from filippo.io/nistec (the code that backs
// crypto/ecdh, exported), which gives constant-time scalar multiplication,
// point addition and negation on P-256; the standard library exposes no
// point addition outside its deprecated crypto/elliptic. Scalars are reduced
// modulo the group order in constant time by this package.
package spake2plus

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"

	"filippo.io/nistec"
)

// Sizes of the values SPAKE2+ exchanges and derives for this suite.
const (
	ShareSize       = 65 // an uncompressed P-256 point: shareP, shareV
	ConfirmSize     = 32 // HMAC-SHA256: confirmP, confirmV
	KeySize         = 32 // K_shared
	ScalarSize      = 32 // w0, w1, x, y
	PBKDFOutputSize = 80 // w0s || w1s, 40 bytes each (RFC 9383, section 3.2)
)

// Errors. They say what failed and never carry secret material.
var (
	// ErrInvalidShare means a share is not an uncompressed P-256 point, is
	// the identity, or cancels the password mask.
	ErrInvalidShare = errors.New("spake2plus: invalid share")
	// ErrConfirmation means the peer's key confirmation did not verify: it
	// did not use the same password (or the messages were altered).
	ErrConfirmation = errors.New("spake2plus: key confirmation failed")
	// ErrInvalidSecret means a password hash output or record is unusable.
	ErrInvalidSecret = errors.New("spake2plus: invalid secret")
	// ErrState means a method was called out of order or twice.
	ErrState = errors.New("spake2plus: out-of-order call")
)

// The suite's M and N (RFC 9383, section 4), compressed.
const (
	hexM = "02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"
	hexN = "03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"
)

var pointM, pointN = mustPoint(hexM), mustPoint(hexN)

// encM and encN are M and N in the uncompressed form the transcript uses.
var encM, encN = pointM.Bytes(), pointN.Bytes()

func mustPoint(s string) *nistec.P256Point {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	p, err := nistec.NewP256Point().SetBytes(b)
	if err != nil {
		panic(err)
	}
	return p
}

// Context binds a run to its protocol and parties: the RFC's Context,
// idProver and idVerifier. Both sides must use the same values. It is
// plain data, safe for concurrent use as long as nobody modifies it.
type Context struct {
	Context    []byte
	ProverID   []byte
	VerifierID []byte
}

// PBKDFInput returns the bytes the password hash is applied to:
// len(pw) || pw || len(idProver) || idProver || len(idVerifier) ||
// idVerifier (RFC 9383, section 3.2). The caller zeroes the result.
func PBKDFInput(password, proverID, verifierID []byte) []byte {
	var b []byte
	b = appendLP(b, password)
	b = appendLP(b, proverID)
	b = appendLP(b, verifierID)
	return b
}

// DeriveSecrets runs PBKDF2-HMAC-SHA256 over PBKDFInput(password, ...) with
// salt and iterations and reduces the output to (w0, w1).
func DeriveSecrets(password, proverID, verifierID, salt []byte, iterations int) (*Secrets, error) {
	in := PBKDFInput(password, proverID, verifierID)
	defer clear(in)
	out, err := pbkdf2.Key(sha256.New, string(in), salt, iterations, PBKDFOutputSize)
	if err != nil {
		return nil, ErrInvalidSecret
	}
	defer clear(out)
	return SecretsFromPBKDF(out)
}

// Secrets are the prover's password-derived scalars w0 and w1.
// The zero value is not valid; use SecretsFromPBKDF or DeriveSecrets.
// Secrets are safe for concurrent use, except that Zero must not run
// while other goroutines use them.
type Secrets struct {
	w0, w1 [ScalarSize]byte
}

// SecretsFromPBKDF reduces a PBKDF output w0s || w1s (each half at least
// 40 bytes, as the RFC requires for P-256) to (w0, w1).
func SecretsFromPBKDF(out []byte) (*Secrets, error) {
	if len(out) < PBKDFOutputSize || len(out)%2 != 0 {
		return nil, ErrInvalidSecret
	}
	half := len(out) / 2
	s := &Secrets{w0: reduce(out[:half]), w1: reduce(out[half:])}
	if isZero(&s.w0) || isZero(&s.w1) {
		s.Zero()
		return nil, ErrInvalidSecret
	}
	return s, nil
}

// secretsFromScalars builds Secrets from already-reduced scalars (tests).
func secretsFromScalars(w0, w1 []byte) (*Secrets, error) {
	if len(w0) != ScalarSize || len(w1) != ScalarSize {
		return nil, ErrInvalidSecret
	}
	s := &Secrets{w0: reduce(w0), w1: reduce(w1)}
	if isZero(&s.w0) || isZero(&s.w1) {
		return nil, ErrInvalidSecret
	}
	return s, nil
}

// Record returns the verifier's registration record (w0, L = w1*P).
func (s *Secrets) Record() *Record {
	L, err := nistec.NewP256Point().ScalarBaseMult(s.w1[:])
	if err != nil {
		panic(err) // the scalar is always 32 bytes
	}
	r := &Record{w0: s.w0}
	copy(r.l[:], L.Bytes())
	return r
}

// Zero overwrites the secrets.
func (s *Secrets) Zero() { clear(s.w0[:]); clear(s.w1[:]) }

// RecordSize is the size of an encoded Record: w0 || L.
const RecordSize = ScalarSize + ShareSize

// Record is the verifier's registration record: w0 and L = w1*P. It lets
// the verifier authenticate a prover without knowing the password, but an
// attacker who steals it can run a dictionary attack against the password
// hash, so it is secret too. A Record is safe for concurrent use, except
// that Zero must not run while other goroutines use it.
type Record struct {
	w0 [ScalarSize]byte
	l  [ShareSize]byte
}

// ParseRecord decodes w0 || L, checking that w0 is a nonzero reduced
// scalar and L a valid point other than the identity.
func ParseRecord(b []byte) (*Record, error) {
	if len(b) != RecordSize {
		return nil, ErrInvalidSecret
	}
	r := &Record{}
	copy(r.w0[:], b[:ScalarSize])
	copy(r.l[:], b[ScalarSize:])
	if reduce(r.w0[:]) != r.w0 || isZero(&r.w0) {
		return nil, ErrInvalidSecret
	}
	if _, err := decodePoint(r.l[:]); err != nil {
		return nil, ErrInvalidSecret
	}
	return r, nil
}

// Bytes returns w0 || L. The caller zeroes the result when done.
func (r *Record) Bytes() []byte {
	b := make([]byte, 0, RecordSize)
	b = append(b, r.w0[:]...)
	return append(b, r.l[:]...)
}

// Zero overwrites the record.
func (r *Record) Zero() { clear(r.w0[:]); clear(r.l[:]) }

// decodePoint accepts only uncompressed points on the curve, so the
// identity (encoded as a single zero byte) and compressed forms are refused
// and the transcript has one encoding per point.
func decodePoint(b []byte) (*nistec.P256Point, error) {
	if len(b) != ShareSize || b[0] != 4 {
		return nil, ErrInvalidShare
	}
	p, err := nistec.NewP256Point().SetBytes(b)
	if err != nil {
		return nil, ErrInvalidShare
	}
	return p, nil
}

// randomScalar draws 40 bytes (64 bits more than the order) and reduces
// them, so the bias is below 2^-64.
func randomScalar(rand io.Reader) ([ScalarSize]byte, error) {
	var buf [40]byte
	defer clear(buf[:])
	for {
		if _, err := io.ReadFull(rand, buf[:]); err != nil {
			return [ScalarSize]byte{}, err
		}
		s := reduce(buf[:])
		if !isZero(&s) {
			return s, nil
		}
	}
}

// mulAdd returns a*P + b*Q where P is the generator.
func mulAdd(a *[ScalarSize]byte, b *[ScalarSize]byte, q *nistec.P256Point) *nistec.P256Point {
	aP, err := nistec.NewP256Point().ScalarBaseMult(a[:])
	if err != nil {
		panic(err)
	}
	bQ, err := nistec.NewP256Point().ScalarMult(q, b[:])
	if err != nil {
		panic(err)
	}
	return aP.Add(aP, bQ)
}

// unmask returns share - w0*base, refusing the identity (a share built to
// cancel the mask).
func unmask(share *nistec.P256Point, w0 *[ScalarSize]byte, base *nistec.P256Point) (*nistec.P256Point, error) {
	t, err := nistec.NewP256Point().ScalarMult(base, w0[:])
	if err != nil {
		panic(err)
	}
	t.Negate(t)
	t.Add(t, share)
	if t.IsInfinity() == 1 {
		return nil, ErrInvalidShare
	}
	return t, nil
}

func mul(p *nistec.P256Point, s *[ScalarSize]byte) *nistec.P256Point {
	r, err := nistec.NewP256Point().ScalarMult(p, s[:])
	if err != nil {
		panic(err)
	}
	return r
}

func appendLP(b, data []byte) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(data)))
	return append(b, data...)
}

// keys holds what the key schedule derives from a transcript.
type keys struct {
	confirmP, confirmV [ConfirmSize]byte
	shared             [KeySize]byte
}

func (k *keys) zero() { clear(k.confirmP[:]); clear(k.confirmV[:]); clear(k.shared[:]) }

// schedule computes TT, K_main, the confirmation keys, both confirmation
// MACs and K_shared (RFC 9383, sections 3.3 and 3.4).
func schedule(c *Context, shareP, shareV, Z, V []byte, w0 *[ScalarSize]byte) *keys {
	var tt []byte
	tt = appendLP(tt, c.Context)
	tt = appendLP(tt, c.ProverID)
	tt = appendLP(tt, c.VerifierID)
	tt = appendLP(tt, encM)
	tt = appendLP(tt, encN)
	tt = appendLP(tt, shareP)
	tt = appendLP(tt, shareV)
	tt = appendLP(tt, Z)
	tt = appendLP(tt, V)
	tt = appendLP(tt, w0[:])
	kMain := sha256.Sum256(tt)
	clear(tt)
	defer clear(kMain[:])

	conf, err := hkdf.Key(sha256.New, kMain[:], nil, "ConfirmationKeys", 2*sha256.Size)
	if err != nil {
		panic(err)
	}
	defer clear(conf)
	shared, err := hkdf.Key(sha256.New, kMain[:], nil, "SharedKey", KeySize)
	if err != nil {
		panic(err)
	}
	defer clear(shared)

	k := &keys{}
	mac := hmac.New(sha256.New, conf[:sha256.Size])
	mac.Write(shareV)
	mac.Sum(k.confirmP[:0])
	mac = hmac.New(sha256.New, conf[sha256.Size:])
	mac.Write(shareP)
	mac.Sum(k.confirmV[:0])
	copy(k.shared[:], shared)
	return k
}

// Prover is the password-holding side of one run. It is not safe for
// concurrent use.
type Prover struct {
	ctx    Context
	w0, w1 [ScalarSize]byte
	x      [ScalarSize]byte
	shareP [ShareSize]byte
	done   bool
}

// NewProver starts a run: it draws x from rand and returns the prover and
// shareP = x*P + w0*M.
func NewProver(c Context, s *Secrets, rand io.Reader) (*Prover, []byte, error) {
	x, err := randomScalar(rand)
	if err != nil {
		return nil, nil, err
	}
	return newProver(c, s, x)
}

func newProver(c Context, s *Secrets, x [ScalarSize]byte) (*Prover, []byte, error) {
	p := &Prover{ctx: c, w0: s.w0, w1: s.w1, x: x}
	X := mulAdd(&p.x, &p.w0, pointM)
	copy(p.shareP[:], X.Bytes())
	return p, append([]byte(nil), p.shareP[:]...), nil
}

// Finish checks the verifier's shareV and confirmV. On success it returns
// confirmP for the verifier and K_shared; on failure it returns
// ErrInvalidShare or ErrConfirmation. Either way the prover's secrets are
// zeroed and it cannot be used again.
func (p *Prover) Finish(shareV, confirmV []byte) (confirmP, shared []byte, err error) {
	if p.done {
		return nil, nil, ErrState
	}
	p.done = true
	defer p.zero()
	Y, err := decodePoint(shareV)
	if err != nil {
		return nil, nil, err
	}
	base, err := unmask(Y, &p.w0, pointN)
	if err != nil {
		return nil, nil, err
	}
	Z := mul(base, &p.x)
	V := mul(base, &p.w1)
	k := schedule(&p.ctx, p.shareP[:], shareV, Z.Bytes(), V.Bytes(), &p.w0)
	defer k.zero()
	if len(confirmV) != ConfirmSize || !hmac.Equal(confirmV, k.confirmV[:]) {
		return nil, nil, ErrConfirmation
	}
	return append([]byte(nil), k.confirmP[:]...), append([]byte(nil), k.shared[:]...), nil
}

func (p *Prover) zero() { clear(p.w0[:]); clear(p.w1[:]); clear(p.x[:]) }

// Verifier is the record-holding side of one run. It is not safe for
// concurrent use.
type Verifier struct {
	confirmP [ConfirmSize]byte
	shared   [KeySize]byte
	done     bool
}

// NewVerifier answers shareP: it draws y from rand and returns the
// verifier, shareV = y*P + w0*N and confirmV. A shareP that is not a valid
// point or cancels the mask is refused with ErrInvalidShare.
func NewVerifier(c Context, r *Record, shareP []byte, rand io.Reader) (*Verifier, []byte, []byte, error) {
	y, err := randomScalar(rand)
	if err != nil {
		return nil, nil, nil, err
	}
	defer clear(y[:])
	return newVerifier(c, r, shareP, y)
}

func newVerifier(c Context, r *Record, shareP []byte, y [ScalarSize]byte) (*Verifier, []byte, []byte, error) {
	X, err := decodePoint(shareP)
	if err != nil {
		return nil, nil, nil, err
	}
	base, err := unmask(X, &r.w0, pointM)
	if err != nil {
		return nil, nil, nil, err
	}
	L, err := decodePoint(r.l[:])
	if err != nil {
		return nil, nil, nil, ErrInvalidSecret
	}
	Y := mulAdd(&y, &r.w0, pointN)
	shareV := Y.Bytes()
	Z := mul(base, &y)
	V := mul(L, &y)
	k := schedule(&c, shareP, shareV, Z.Bytes(), V.Bytes(), &r.w0)
	defer k.zero()
	v := &Verifier{confirmP: k.confirmP, shared: k.shared}
	return v, shareV, append([]byte(nil), k.confirmV[:]...), nil
}

// Finish checks the prover's confirmP and returns K_shared, or
// ErrConfirmation. The verifier cannot be used again either way.
func (v *Verifier) Finish(confirmP []byte) ([]byte, error) {
	if v.done {
		return nil, ErrState
	}
	v.done = true
	defer v.Zero()
	if len(confirmP) != ConfirmSize || !hmac.Equal(confirmP, v.confirmP[:]) {
		return nil, ErrConfirmation
	}
	return append([]byte(nil), v.shared[:]...), nil
}

// Zero overwrites the verifier's keys; use it to abandon a run.
func (v *Verifier) Zero() { clear(v.confirmP[:]); clear(v.shared[:]) }
