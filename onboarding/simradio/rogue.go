package simradio

import (
	"context"
	"crypto/rand"
	"encoding/binary"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
)

// Behavior is how a Rogue device misbehaves. It is a plain value, safe
// for concurrent use.
type Behavior int

// Behaviors.
const (
	// Silent accepts links and never answers.
	Silent Behavior = iota
	// Garbage answers every message with random bytes, well framed.
	Garbage
	// BadFrames answers with frames that never reassemble.
	BadFrames
	// FutureVersion advertises only protocol versions from the future.
	FutureVersion
	// WrongVersion answers Hello choosing a version nobody offered.
	WrongVersion
	// HugeIterations asks the commissioner for a password hash far too
	// expensive to compute.
	HugeIterations
	// InvalidShare answers SPAKE2+ with a point that is not on the curve.
	InvalidShare
	// Impostor runs SPAKE2+ properly, but with a setup code it guessed.
	Impostor
	// Oversized announces a message larger than any commissioner accepts.
	Oversized
	// Disconnect hangs up after its HelloReply.
	Disconnect
)

// Rogue is a misbehaving device for tests: it advertises like a Hearth
// device with Discriminator and misbehaves as Behavior says. Set its fields
// before Run; Run serves each link in its own goroutine. It is not safe for
// concurrent use while its fields change, and one Rogue runs one Run at a
// time.
type Rogue struct {
	Radio         onboarding.Peripheral
	Discriminator uint16
	Behavior      Behavior
}

// Run advertises and answers links until ctx is done.
func (r *Rogue) Run(ctx context.Context) error {
	adv := wire.Advert{MinVersion: onboarding.ProtocolVersion, MaxVersion: onboarding.ProtocolVersion, Discriminator: r.Discriminator}
	if r.Behavior == FutureVersion {
		adv.MinVersion, adv.MaxVersion = 200, 201
	}
	ln, err := r.Radio.Listen(ctx, adv.Append(nil))
	if err != nil {
		return err
	}
	defer ln.Close()
	for {
		link, err := ln.Accept(ctx)
		if err != nil {
			return nil
		}
		go r.serve(ctx, link)
	}
}

func (r *Rogue) serve(ctx context.Context, link onboarding.Link) {
	defer link.Close()
	var frag wire.Fragmenter
	var reasm wire.Reassembler
	send := func(msg []byte) {
		frames, _ := frag.Fragment(msg, link.MTU())
		for _, f := range frames {
			link.Send(ctx, f)
		}
	}
	for {
		f, err := link.Recv(ctx)
		if err != nil {
			return
		}
		msg, _ := reasm.Push(f)
		if msg == nil {
			continue
		}
		m, err := wire.Unmarshal(msg)
		if err != nil {
			continue
		}
		switch r.Behavior {
		case Silent:
		case Garbage:
			junk := make([]byte, 40)
			rand.Read(junk)
			send(junk)
		case BadFrames:
			link.Send(ctx, []byte{0x05, 1, 2, 3}) // a continuation with no start
			link.Send(ctx, []byte{0x80, 0, 0})    // a start of length zero
		case Oversized:
			hdr := []byte{0x80, 0, 0}
			binary.BigEndian.PutUint16(hdr[1:], 0xffff)
			link.Send(ctx, append(hdr, make([]byte, link.MTU()-3)...))
		default:
			r.handshake(ctx, m, send)
			if r.Behavior == Disconnect {
				if _, ok := m.(*wire.Hello); ok {
					return
				}
			}
		}
	}
}

// handshake answers like a device, with the Behavior's twist.
func (r *Rogue) handshake(ctx context.Context, m wire.Message, send func([]byte)) {
	salt := make([]byte, 16)
	switch m := m.(type) {
	case *wire.Hello:
		reply := &wire.HelloReply{Version: onboarding.ProtocolVersion, Caps: 3, MaxMessage: 4096, Salt: salt, Iterations: 1000}
		switch r.Behavior {
		case WrongVersion:
			reply.Version = 99
		case HugeIterations:
			reply.Iterations = 1 << 40
		}
		send(wire.Marshal(reply))
	case *wire.PakeShare:
		switch r.Behavior {
		case InvalidShare:
			bad := make([]byte, wire.ShareSize)
			bad[0] = 4
			send(wire.Marshal(&wire.PakeReply{Share: bad, Confirm: make([]byte, wire.ConfirmSize)}))
		case Impostor:
			s, err := spake2plus.DeriveSecrets([]byte("11112222"), nil, nil, salt, 1000)
			if err != nil {
				return
			}
			_, shareV, confirmV, err := spake2plus.NewVerifier(spake2plus.Context{}, s.Record(), m.Share, rand.Reader)
			if err != nil {
				return
			}
			send(wire.Marshal(&wire.PakeReply{Share: shareV, Confirm: confirmV}))
		}
	}
}
