package onboarding

import (
	"errors"
	"fmt"
	"time"
)

// Errors a Session or Device reports. Tests and callers branch on them
// with errors.Is; none carries a secret, a radio address or an SSID.
var (
	// ErrNoGesture means Commission was called without a fresh, unused
	// Gesture from UserGesture: scanning needs a person to ask for it.
	ErrNoGesture = errors.New("onboarding: scanning needs a fresh user gesture")
	// ErrNotFound means no Hearth device with the setup payload's
	// discriminator advertised before the scan timed out.
	ErrNotFound = errors.New("onboarding: no matching device found")
	// ErrUnsupportedVersion means the device and the commissioner share no
	// protocol version.
	ErrUnsupportedVersion = errors.New("onboarding: no common protocol version")
	// ErrRadio means the radio failed or the link dropped.
	ErrRadio = errors.New("onboarding: radio link failed")
	// ErrTimeout means the peer did not answer in time, retransmissions
	// included.
	ErrTimeout = errors.New("onboarding: peer did not answer in time")
	// ErrBusy means the device is serving another commissioner, or the
	// Session is already running.
	ErrBusy = errors.New("onboarding: busy")
	// ErrRateLimited means the device refuses attempts for a while after
	// failed ones; the error is a *RateLimitError.
	ErrRateLimited = errors.New("onboarding: too many failed attempts, retry later")
	// ErrWindowClosed means the device's commissioning window is closed:
	// power-cycle it or press its button.
	ErrWindowClosed = errors.New("onboarding: commissioning window closed")
	// ErrAuthentication means the secure session could not be established
	// with this setup code: the code is wrong, or the peer is an impostor.
	// It says nothing about how close the code was.
	ErrAuthentication = errors.New("onboarding: authentication failed")
	// ErrProtocol means the peer broke the protocol: a malformed,
	// unexpected or out-of-bounds message.
	ErrProtocol = errors.New("onboarding: protocol violation")
	// ErrJoinFailed means the device could not join the network; the error
	// is a *JoinError with the reason.
	ErrJoinFailed = errors.New("onboarding: device could not join the network")
	// ErrInvalidThing means the device sent a Thing Description that does
	// not parse, or has no id.
	ErrInvalidThing = errors.New("onboarding: invalid Thing Description")
	// ErrRegistration means the Registrar refused the device.
	ErrRegistration = errors.New("onboarding: registration failed")
	// ErrFailSafe means the device's fail-safe timer expired and it rolled
	// back what it had staged.
	ErrFailSafe = errors.New("onboarding: device fail-safe expired")
	// ErrCancelled means the session was cancelled, by Cancel or its
	// context.
	ErrCancelled = errors.New("onboarding: cancelled")
	// ErrInvalidSetupCode means a setup code or payload does not parse.
	ErrInvalidSetupCode = errors.New("onboarding: invalid setup code")
	// ErrNotRunning means a Device method needs Run to be running.
	ErrNotRunning = errors.New("onboarding: device not running")
	// ErrInvalidConfig means a Config or DeviceConfig is unusable.
	ErrInvalidConfig = errors.New("onboarding: invalid configuration")
)

// RateLimitError reports that a device is backing off after failed
// attempts. It matches ErrRateLimited. It is plain data, safe for
// concurrent use once returned.
type RateLimitError struct {
	// RetryAfter is how long the device will refuse new attempts.
	RetryAfter time.Duration
	// AttemptsLeft is how many failed attempts the device still allows in
	// this commissioning window; -1 if it did not say.
	AttemptsLeft int
}

// Error describes the back-off.
func (e *RateLimitError) Error() string {
	return fmt.Sprintf("onboarding: too many failed attempts, retry in %v", e.RetryAfter)
}

// Is reports whether target is ErrRateLimited.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// JoinReason says why a device could not join a network. It is a plain
// value, safe for concurrent use.
type JoinReason uint8

// Join failure reasons.
const (
	JoinReasonUnknown         JoinReason = iota // the joiner gave no reason
	JoinReasonWrongPassphrase                   // the network refused the passphrase
	JoinReasonNotFound                          // no network with that SSID is in range
	JoinReasonNoAddress                         // associated, but got no IP address
	JoinReasonTimeout                           // the join did not finish in time
)

// String describes the reason in a few words.
func (r JoinReason) String() string {
	switch r {
	case JoinReasonWrongPassphrase:
		return "wrong passphrase"
	case JoinReasonNotFound:
		return "network not found"
	case JoinReasonNoAddress:
		return "no IP address"
	case JoinReasonTimeout:
		return "timed out"
	}
	return "unknown reason"
}

// JoinError reports a failed network join. A WiFi implementation returns
// one from Join; the commissioner receives it as the Session's error. It
// matches ErrJoinFailed. It is plain data, safe for concurrent use once
// returned.
type JoinError struct {
	Reason JoinReason
	// AttemptsLeft is how many more credentials the device accepts in this
	// session; -1 if unknown.
	AttemptsLeft int
}

// Error describes the failed join.
func (e *JoinError) Error() string {
	if e.AttemptsLeft >= 0 {
		return fmt.Sprintf("onboarding: device could not join the network: %v (%d attempts left)", e.Reason, e.AttemptsLeft)
	}
	return fmt.Sprintf("onboarding: device could not join the network: %v", e.Reason)
}

// Is reports whether target is ErrJoinFailed.
func (e *JoinError) Is(target error) bool { return target == ErrJoinFailed }

// Wire error codes (wire.Error.Code).
const (
	codeBusy           = 1
	codeRateLimited    = 2
	codeWindowClosed   = 3
	codeVersion        = 4
	codeProtocol       = 5
	codeAuthentication = 6
	codeFailSafe       = 7
	codeInternal       = 8
)

// codeError maps a wire error code to the error a Session reports.
func codeError(code uint64) error {
	switch code {
	case codeBusy:
		return ErrBusy
	case codeRateLimited:
		return ErrRateLimited
	case codeWindowClosed:
		return ErrWindowClosed
	case codeVersion:
		return ErrUnsupportedVersion
	case codeAuthentication:
		return ErrAuthentication
	case codeFailSafe:
		return ErrFailSafe
	}
	return ErrProtocol
}
