package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// Domain-separation labels; the version suffix changes if the derivation
// ever does.
const (
	labelEnc  = "hearth/secagg/v1 share encryption"
	labelMask = "hearth/secagg/v1 pairwise mask"
	labelKey  = "hearth/secagg/v1 key share"
	labelSeed = "hearth/secagg/v1 seed share"
	labelAD   = "hearth/secagg/v1 envelope"
)

func ids(label string, a, b ID) string {
	var buf [8]byte
	binary.BigEndian.PutUint32(buf[:4], uint32(a))
	binary.BigEndian.PutUint32(buf[4:], uint32(b))
	return label + string(buf[:])
}

// agree runs X25519 and rejects low-order public keys (all-zero output).
func agree(priv *ecdh.PrivateKey, pub []byte) ([]byte, error) {
	pk, err := ecdh.X25519().NewPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	s, err := priv.ECDH(pk)
	if err != nil {
		return nil, fmt.Errorf("%w: public key: %v", ErrMalformed, err)
	}
	return s, nil
}

// envelopeAEAD returns the AES-256-GCM instance for shares sent from →
// to. The key is unique per direction and session and encrypts exactly
// one message, so a fixed nonce is safe.
func envelopeAEAD(shared []byte, session *[32]byte, from, to ID) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, shared, session[:], ids(labelEnc, from, to), 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var zeroNonce [12]byte

func envelopeAD(session *[32]byte, e *Envelope) []byte {
	ad := make([]byte, 0, len(labelAD)+32+8+64)
	ad = append(ad, labelAD...)
	ad = append(ad, session[:]...)
	ad = binary.BigEndian.AppendUint32(ad, uint32(e.From))
	ad = binary.BigEndian.AppendUint32(ad, uint32(e.To))
	ad = append(ad, e.KeyHash[:]...)
	return append(ad, e.SeedHash[:]...)
}

// pairSeed derives the seed of the pairwise mask between a and b from
// their X25519 shared secret; it is symmetric in a and b.
func pairSeed(shared []byte, session *[32]byte, a, b ID) [32]byte {
	lo, hi := min(a, b), max(a, b)
	k, err := hkdf.Key(sha256.New, shared, session[:], ids(labelMask, lo, hi), 32)
	if err != nil {
		panic(err) // unreachable: 32 bytes of SHA-256 HKDF output
	}
	return [32]byte(k)
}

// shareHash commits to the share of owner's secret held by holder.
func shareHash(label string, session *[32]byte, owner, holder ID, sh *Share) [32]byte {
	h := sha256.New()
	h.Write([]byte(ids(label, owner, holder)))
	h.Write(session[:])
	h.Write(sh[:])
	return [32]byte(h.Sum(nil))
}

// pairSign is the sign with which u applies the mask it shares with v:
// the lower ID adds it and the higher subtracts it, so that the two
// cancel in the sum.
func pairSign(u, v ID) int {
	if u < v {
		return 1
	}
	return -1
}
