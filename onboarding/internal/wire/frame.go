// Package wire is the Hearth onboarding wire format: the fragmentation of
// messages into radio-sized frames and the compact, versioned TLV encoding
// of the messages themselves. It does no cryptography and keeps no
// protocol state beyond reassembly.
//
// # Frames
//
// A message travels as one or more frames, each at most one radio payload
// (an ATT write or notification: 20 bytes at the BLE minimum). A frame is
//
//	header(1) [length(2), first frame only] payload
//
// The header's bit 7 marks the first frame of a message, bit 6 the last,
// and bits 0-5 count frames modulo 64 along the link, so a lost or
// reordered frame is detected. The first frame carries the whole message's
// length (big-endian), which bounds the reassembly buffer before any
// payload arrives.
package wire

import (
	"encoding/binary"
	"errors"
)

// Frame header bits.
const (
	flagStart   = 0x80
	flagEnd     = 0x40
	counterMask = 0x3f
)

// MinMTU is the smallest radio payload the framing supports: the 20 bytes
// of a BLE ATT write at the default ATT_MTU of 23.
const MinMTU = 20

// MaxMessage is the largest message the format can describe.
const MaxMessage = 0xffff

// Framing errors.
var (
	// ErrFrame means a frame is malformed: empty, a continuation without a
	// start, a length that disagrees with the payload.
	ErrFrame = errors.New("wire: malformed frame")
	// ErrFrameLost means a frame of the message being reassembled went
	// missing (a gap in the counter, or a new message started early); the
	// partial message was discarded.
	ErrFrameLost = errors.New("wire: frame lost")
	// ErrTooLarge means a message exceeds the size limit.
	ErrTooLarge = errors.New("wire: message too large")
	// ErrMTU means the radio payload is smaller than MinMTU.
	ErrMTU = errors.New("wire: MTU below 20 bytes")
)

// Fragmenter splits messages into frames for one direction of a link. The
// zero value is ready to use. It is not safe for concurrent use.
type Fragmenter struct {
	counter uint8
}

// Fragment splits msg into frames of at most mtu bytes each and advances
// the frame counter. The frames do not alias msg.
func (f *Fragmenter) Fragment(msg []byte, mtu int) ([][]byte, error) {
	if mtu < MinMTU {
		return nil, ErrMTU
	}
	if len(msg) == 0 || len(msg) > MaxMessage {
		return nil, ErrTooLarge
	}
	var frames [][]byte
	rest := msg
	first := true
	for first || len(rest) > 0 {
		room := mtu - 1
		var frame []byte
		hdr := f.counter & counterMask
		f.counter++
		if first {
			hdr |= flagStart
			room -= 2
		}
		n := min(room, len(rest))
		if n == len(rest) {
			hdr |= flagEnd
		}
		frame = make([]byte, 0, 1+2+n)
		frame = append(frame, hdr)
		if first {
			frame = binary.BigEndian.AppendUint16(frame, uint16(len(msg)))
		}
		frame = append(frame, rest[:n]...)
		frames = append(frames, frame)
		rest = rest[n:]
		first = false
	}
	return frames, nil
}

// Reassembler rebuilds messages from the frames of one direction of a
// link. Limit bounds the messages it accepts (0 means MaxMessage). It is
// not safe for concurrent use.
type Reassembler struct {
	Limit   int
	Dropped int // partial messages discarded because frames went missing

	buf    []byte
	want   int
	next   uint8
	active bool
}

// Push adds one frame. It returns the message when the frame completes
// one, nil when more frames are needed, and an error when the frame is
// rejected; after an error the reassembler is ready for the next message,
// so a caller logs the error and keeps pushing. A partial message cut short
// by the start of the next one is dropped and counted in Dropped. The
// returned message is the caller's to keep.
func (r *Reassembler) Push(frame []byte) ([]byte, error) {
	if len(frame) == 0 {
		return nil, ErrFrame
	}
	hdr := frame[0]
	counter := hdr & counterMask
	if hdr&flagStart != 0 {
		if r.active {
			// The previous message's last frames never arrived.
			r.Dropped++
			r.reset()
		}
		if len(frame) < 3 {
			return nil, ErrFrame
		}
		n := int(binary.BigEndian.Uint16(frame[1:3]))
		limit := r.Limit
		if limit <= 0 || limit > MaxMessage {
			limit = MaxMessage
		}
		if n == 0 {
			return nil, ErrFrame
		}
		if n > limit {
			return nil, ErrTooLarge
		}
		r.active = true
		r.want = n
		r.buf = make([]byte, 0, n)
		r.next = counter
		frame = frame[3:]
	} else {
		if !r.active {
			return nil, ErrFrame
		}
		frame = frame[1:]
	}
	if counter != r.next {
		r.Dropped++
		r.reset()
		return nil, ErrFrameLost
	}
	r.next = (r.next + 1) & counterMask
	if len(r.buf)+len(frame) > r.want {
		r.reset()
		return nil, ErrFrame
	}
	r.buf = append(r.buf, frame...)
	end := hdr&flagEnd != 0
	switch {
	case end && len(r.buf) == r.want:
		msg := r.buf
		r.buf = nil
		r.reset()
		return msg, nil
	case end || len(r.buf) == r.want:
		// The last frame came early or the length ran out without one.
		r.reset()
		return nil, ErrFrame
	}
	return nil, nil
}

// Reset drops any partial message.
func (r *Reassembler) Reset() { r.reset() }

func (r *Reassembler) reset() {
	clear(r.buf)
	r.buf = nil
	r.want = 0
	r.active = false
}
