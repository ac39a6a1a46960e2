package onboarding

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"log/slog"
	"time"

	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
)

// Protocol constants.
const (
	// ProtocolVersion is the onboarding protocol version this package
	// speaks.
	ProtocolVersion = 1

	capWiFi  = 1 << 0 // the device takes Wi-Fi credentials
	capThing = 1 << 1 // the device reports a Thing Description

	// statusHold is the longest a device holds a GetStatus before
	// answering "connecting" (a long poll).
	statusHold = 5 * time.Second

	defaultMaxMessage = 16 << 10
	minMaxMessage     = 512

	// pakeContextLabel starts the SPAKE2+ Context, which also hashes the
	// exact Hello and HelloReply bytes, so a tampered version or capability
	// negotiation makes key confirmation fail.
	pakeContextLabel = "hearth onboarding v1"
)

// pakeContext binds the SPAKE2+ run to this protocol and to the
// negotiation that preceded it. Both identities are empty, as in Matter's
// PASE: the setup code is the only credential.
func pakeContext(hello, helloReply []byte) spake2plus.Context {
	h := sha256.New()
	for _, b := range [][]byte{hello, helloReply} {
		h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(b))))
		h.Write(b)
	}
	return spake2plus.Context{Context: h.Sum([]byte(pakeContextLabel))}
}

// conn frames messages over a Link. send is used by one goroutine and recv
// by one goroutine (they may differ).
type conn struct {
	link  Link
	mtu   int
	frag  wire.Fragmenter
	reasm wire.Reassembler
	log   *slog.Logger
}

func newConn(l Link, maxMessage int, log *slog.Logger) *conn {
	return &conn{link: l, mtu: l.MTU(), reasm: wire.Reassembler{Limit: maxMessage}, log: log}
}

// send fragments and transmits messages back to back (one flight).
func (c *conn) send(ctx context.Context, msgs ...[]byte) error {
	for _, m := range msgs {
		frames, err := c.frag.Fragment(m, c.mtu)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrRadio, err)
		}
		for _, f := range frames {
			if err := c.link.Send(ctx, f); err != nil {
				return c.linkErr(ctx, err)
			}
		}
	}
	return nil
}

// recv returns the next complete message. Frames that do not reassemble
// are dropped (the peer retransmits the message).
func (c *conn) recv(ctx context.Context) ([]byte, error) {
	for {
		f, err := c.link.Recv(ctx)
		if err != nil {
			return nil, c.linkErr(ctx, err)
		}
		msg, err := c.reasm.Push(f)
		if err != nil {
			c.log.Debug("onboarding: frame dropped", "err", err)
			continue
		}
		if msg != nil {
			return msg, nil
		}
	}
}

// linkErr returns ctx's error when ctx ended, else err as a radio failure.
func (c *conn) linkErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return radioError{err}
}

// radioError wraps a radio's error as ErrRadio without repeating its text:
// a radio stack's messages can name the peer's address (BlueZ object paths
// do), and Hearth errors end up in logs. errors.Is and errors.As still see
// the original.
type radioError struct{ err error }

func (e radioError) Error() string   { return ErrRadio.Error() }
func (e radioError) Unwrap() []error { return []error{ErrRadio, e.err} }
