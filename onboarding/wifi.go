package onboarding

import "context"

// WiFi is the device's network interface, as the device state machine
// drives it: join with staged credentials, then commit or roll back.
// Package nmwifi implements it with NetworkManager; simradio.Station
// simulates it.
//
// Implementations need not be safe for concurrent use: the Device calls
// their methods from one goroutine at a time, but Join may be cancelled
// through its ctx at any point.
type WiFi interface {
	// Join stages c and tries to join the network, returning when the
	// device is connected (nil) or has given up. A failure the
	// commissioner should hear about is returned as a *JoinError; any
	// other error is reported as JoinReasonUnknown. Join must not retain
	// c.Passphrase after it returns (the device erases it): copy what the
	// network stack needs. The staged network must not survive a reboot
	// until Commit.
	Join(ctx context.Context, c WiFiCredentials) error
	// Commit makes the staged network permanent.
	Commit(ctx context.Context) error
	// Rollback forgets the staged network and restores the previous one.
	// It is called after a failed join, when the fail-safe expires and when
	// the session is lost before Complete. Rolling back with nothing staged
	// is not an error.
	Rollback(ctx context.Context) error
	// Forget erases every network the device was given (factory reset).
	Forget(ctx context.Context) error
}
