package onboarding

import (
	"context"

	"github.com/hearth-wot/hearth/thing"
)

// Registrar is where a commissioned device goes: typically a gateway
// adapter that adds the device to the gateway's directory. It is the only
// thing onboarding needs from a gateway, and onboarding does not import
// gateway: the application wires the two together.
//
// Register is called once per successful onboarding, after the device has
// joined the network and before it is told to commit. If Register returns
// an error the device is not told to commit: its fail-safe rolls it back.
// Registering an ID that is already registered replaces the earlier
// registration (a device that was factory-reset and onboarded again).
//
// Implementations must be safe for concurrent use: several Sessions may
// run at once. onboardingtest.Directory is an in-memory implementation and
// onboardingtest.TestRegistrar a conformance test.
type Registrar interface {
	Register(ctx context.Context, r *Registration) error
}

// Unregisterer is an optional Registrar capability. If the device does not
// acknowledge the commit after Register succeeded, the Session calls
// Unregister so the directory does not list a device that rolled back.
// Unregistering an unknown ID is not an error. Like Register, it may be
// called concurrently.
type Unregisterer interface {
	Unregister(ctx context.Context, id string) error
}

// Registration is what the Session learned about a device, authenticated
// by the setup code: everything in it came over the encrypted session. It
// is plain data: safe to read concurrently, not to modify concurrently.
type Registration struct {
	// ID is the Thing Description's id.
	ID string
	// Description is the device's Thing Description, parsed and validated
	// with thing.Parse.
	Description *thing.Description
	// TD is the Thing Description as the device sent it (JSON).
	TD []byte
	// PublicKey is the device's long-term public key, as the device
	// declared it (for example a DER SubjectPublicKeyInfo), or nil. A
	// gateway can pin it to authenticate the device on the local network
	// without trusting that network.
	PublicKey []byte
}
