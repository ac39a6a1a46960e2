// Package secure is the onboarding session's record layer: AES-128-GCM
// with a key and a nonce base per direction, derived from the SPAKE2+
// shared key, and a 32-bit sequence number in every message that must
// advance by exactly one, so a replayed, reordered, dropped-and-skipped,
// truncated or altered message is refused.
package secure

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"

	"github.com/hearth-wot/hearth/onboarding/internal/wire"
)

// Errors returned by Open and Seal.
var (
	// ErrAuth means a message failed authentication: tampered, truncated,
	// or sealed under another key.
	ErrAuth = errors.New("secure: message authentication failed")
	// ErrReplay means a message carries a sequence number already used.
	ErrReplay = errors.New("secure: replayed message")
	// ErrReorder means a message carries a sequence number ahead of the
	// next expected one: an earlier message is missing.
	ErrReorder = errors.New("secure: message out of order")
	// ErrDuplicate means the message is byte-for-byte the last one
	// accepted: a retransmission, which the receiver answers by resending
	// its reply rather than acting twice.
	ErrDuplicate = errors.New("secure: duplicate of the last message")
	// ErrExhausted means the sequence space is used up.
	ErrExhausted = errors.New("secure: sequence numbers exhausted")
	// ErrClosed means the channel was closed and its keys erased.
	ErrClosed = errors.New("secure: channel closed")
)

// Role says which direction a channel sends in. It is a plain value, safe
// for concurrent use.
type Role int

// Roles.
const (
	Commissioner Role = iota
	Device
)

const (
	keySize   = 16
	nonceSize = 12
	// KeyInfo is the HKDF info string that derives the session keys.
	KeyInfo = "hearth onboarding v1 session keys"
)

// Channel seals and opens the messages of one session. It is not safe for
// concurrent use.
type Channel struct {
	send, recv       cipher.AEAD
	sendIV, recvIV   [nonceSize]byte
	sendSeq, recvSeq uint64 // next sequence numbers; uint64 so exhaustion is detectable
	last             []byte // the last message accepted, for duplicate detection
	closed           bool
}

// New derives the session keys from the SPAKE2+ shared key. shared is not
// retained; the caller zeroes it.
func New(shared []byte, role Role) (*Channel, error) {
	okm, err := hkdf.Key(sha256.New, shared, nil, KeyInfo, 2*keySize+2*nonceSize)
	if err != nil {
		return nil, err
	}
	defer clear(okm)
	c2dKey, d2cKey := okm[:keySize], okm[keySize:2*keySize]
	c2dIV, d2cIV := okm[2*keySize:2*keySize+nonceSize], okm[2*keySize+nonceSize:]
	sendKey, recvKey, sendIV, recvIV := c2dKey, d2cKey, c2dIV, d2cIV
	if role == Device {
		sendKey, recvKey, sendIV, recvIV = d2cKey, c2dKey, d2cIV, c2dIV
	}
	c := &Channel{}
	if c.send, err = newGCM(sendKey); err != nil {
		return nil, err
	}
	if c.recv, err = newGCM(recvKey); err != nil {
		return nil, err
	}
	copy(c.sendIV[:], sendIV)
	copy(c.recvIV[:], recvIV)
	return c, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func nonce(iv *[nonceSize]byte, seq uint32) []byte {
	n := *iv
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	for i := range 4 {
		n[nonceSize-4+i] ^= s[i]
	}
	return n[:]
}

// Seal encrypts plaintext (an encoded inner message) into a complete
// Sealed message with the next sequence number.
func (c *Channel) Seal(plaintext []byte) ([]byte, error) {
	if c.closed {
		return nil, ErrClosed
	}
	if c.sendSeq > math.MaxUint32 {
		return nil, ErrExhausted
	}
	seq := uint32(c.sendSeq)
	c.sendSeq++
	hdr := wire.SealedHeader(seq)
	out := make([]byte, 0, len(hdr)+len(plaintext)+c.send.Overhead())
	out = append(out, hdr[:]...)
	return c.send.Seal(out, nonce(&c.sendIV, seq), plaintext, hdr[:]), nil
}

// Open authenticates and decrypts a Sealed message and returns its
// plaintext. It accepts only the next sequence number; on any error the
// channel's state is unchanged.
func (c *Channel) Open(msg []byte) ([]byte, error) {
	if c.closed {
		return nil, ErrClosed
	}
	hdr, seq, ct, err := wire.ParseSealed(msg)
	if err != nil {
		return nil, ErrAuth
	}
	switch s := uint64(seq); {
	case s+1 == c.recvSeq && bytes.Equal(msg, c.last):
		return nil, ErrDuplicate
	case s < c.recvSeq:
		return nil, ErrReplay
	case s > c.recvSeq:
		return nil, ErrReorder
	}
	pt, err := c.recv.Open(nil, nonce(&c.recvIV, seq), ct, hdr)
	if err != nil {
		return nil, ErrAuth
	}
	c.recvSeq++
	c.last = append(c.last[:0], msg...)
	return pt, nil
}

// Close erases the nonce bases and refuses further use. The AES key
// schedules inside crypto/cipher cannot be reached to erase; they become
// garbage with the Channel.
func (c *Channel) Close() {
	c.closed = true
	clear(c.sendIV[:])
	clear(c.recvIV[:])
	c.send, c.recv = nil, nil
	clear(c.last)
}
