package onboarding

import (
	"context"
	"errors"
)

// The GATT layout of Hearth onboarding. A device serves one primary
// service with two characteristics: the commissioner writes frames to RX
// (write without response) and the device notifies frames on TX. The
// device advertises service data under ServiceUUID while its commissioning
// window is open.
var (
	ServiceUUID = [16]byte{0xf4, 0xb9, 0x1d, 0x87, 0xbc, 0x59, 0x48, 0xed, 0xb8, 0xa2, 0x61, 0x2c, 0xd5, 0x28, 0xf9, 0x22}
	RXUUID      = [16]byte{0xf4, 0xb9, 0x1d, 0x88, 0xbc, 0x59, 0x48, 0xed, 0xb8, 0xa2, 0x61, 0x2c, 0xd5, 0x28, 0xf9, 0x22}
	TXUUID      = [16]byte{0xf4, 0xb9, 0x1d, 0x89, 0xbc, 0x59, 0x48, 0xed, 0xb8, 0xa2, 0x61, 0x2c, 0xd5, 0x28, 0xf9, 0x22}
)

// ErrLinkClosed is returned by Link methods after the link closed, locally
// or by the peer.
var ErrLinkClosed = errors.New("onboarding: link closed")

// Central is the commissioner's radio: it scans for advertising devices
// and connects to them. Implementations: package simradio (simulated) and
// package bluez (Linux, BlueZ).
//
// Implementations must be safe for concurrent use.
type Central interface {
	// Scan reports devices advertising Hearth service data (under
	// ServiceUUID) to found, until ctx is done; then it returns nil. found
	// may be called from another goroutine, and more than once for the same
	// device. An error means the radio failed.
	Scan(ctx context.Context, found func(Advertisement)) error

	// Connect opens a link to a device found by Scan.
	Connect(ctx context.Context, p Peer) (Link, error)
}

// Advertisement is one device seen by a scan. It is plain data, safe for
// concurrent use as long as nobody modifies ServiceData.
type Advertisement struct {
	// Peer is the opaque handle Connect needs.
	Peer Peer
	// ServiceData is the device's service data under ServiceUUID.
	ServiceData []byte
	// RSSI is the received signal strength in dBm (0 if unknown).
	RSSI int
}

// Peer identifies a discovered device to the radio that found it. It is
// deliberately opaque: Hearth never reads, logs or stores a radio address
// (a Bluetooth MAC address is a tracking identifier). Implementations keep
// the address unexported and make String return a description without it.
// A Peer is immutable and must be safe for concurrent use.
type Peer interface {
	String() string
}

// Peripheral is the device's radio: it advertises and accepts links.
// Implementations must be safe for concurrent use.
type Peripheral interface {
	// Listen starts advertising serviceData under ServiceUUID and accepting
	// links, until the Listener is closed or ctx is done.
	Listen(ctx context.Context, serviceData []byte) (Listener, error)
}

// Listener accepts the links of one advertising period. Closing it stops
// advertising; links already accepted stay open. Accept and Close may be
// called concurrently.
type Listener interface {
	// Accept waits for the next link.
	Accept(ctx context.Context) (Link, error)
	Close() error
}

// Link carries frames between a commissioner and a device: on BLE, writes
// to RX one way and notifications on TX the other. A frame is at most MTU
// bytes. Links may lose frames (Hearth retransmits), but must not reorder
// them.
//
// Send and Recv may be called concurrently with each other and with Close;
// Hearth never calls Send, or Recv, from two goroutines at once.
type Link interface {
	// MTU returns the largest frame the link carries: the ATT payload,
	// at least 20 bytes.
	MTU() int
	// Send transmits one frame.
	Send(ctx context.Context, frame []byte) error
	// Recv returns the next frame; it returns an error wrapping
	// ErrLinkClosed once the link closed.
	Recv(ctx context.Context) ([]byte, error)
	// Close closes the link. It is safe to call more than once.
	Close() error
}
