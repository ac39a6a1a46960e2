// Package onboarding brings a new device into a home: a commissioner (a
// gateway, or a phone app written in Go) finds the device over Bluetooth
// LE, but only after a person asked it to, authenticates it with the setup
// code on its label, hands it the Wi-Fi credentials over an encrypted
// session, waits for it to join the network and registers its Thing
// Description with a Registrar (typically a gateway adapter). Both sides
// are explicit state machines: Session for the commissioner, Device for
// the device.
//
// The security bar is Espressif's unified provisioning with Security 2
// (SRP6a + AES-GCM) and Matter's commissioning (a PAKE keyed by the setup
// code, a fail-safe that rolls staged changes back): the session is
// SPAKE2+ (RFC 9383) keyed by the setup code, the device keeps only a
// verifier, and nothing it stages survives unless commissioning completes.
//
// # Tour
//
// A device vendor derives a Verifier from the setup code at manufacture,
// prints the SetupPayload (NewSetupPayload(842, code).Reveal():
// "HRT1:0842:20202021") on the label or in a QR code, and runs a Device:
//
//	dev, err := onboarding.NewDevice(onboarding.DeviceConfig{
//		Radio:         radio,            // bluez.Radio, or simradio's Peripheral
//		WiFi:          wifi,             // nmwifi.WiFi, or simradio.Station
//		Verifier:      verifier,         // from onboarding.NewVerifier(code, nil, 0)
//		Discriminator: 842,              // from the setup payload
//		Describe:      describeMyThing,  // the Thing Description, once on the network
//	})
//	go dev.Run(ctx)      // power-up: the commissioning window opens
//	dev.OpenWindow()     // the button
//
// A commissioner runs a Session from the handler of the user's "Add
// device" action:
//
//	s, err := onboarding.NewSession(onboarding.Config{Radio: radio, Registrar: registrar, OnProgress: show})
//	setup, err := onboarding.ParseSetupPayload(scannedQRCode)
//	reg, err := s.Commission(ctx, onboarding.UserGesture(), setup, onboarding.WiFiCredentials{
//		SSID: "holiday-home", Passphrase: onboarding.NewPassphrase(typed),
//	})
//
// Package simradio simulates the radios and Wi-Fi for tests and examples;
// packages bluez and nmwifi are the Linux implementations; package
// onboardingtest has an in-memory Registrar and a Registrar conformance
// test.
//
// # Session states
//
// A Session moves through these states; Config.OnProgress sees each step.
// The table is enforced at run time (CanTransition reports it) and a test
// walks every row, every failure included.
//
//	from            to              when
//	Idle            Scanning        Commission with a fresh Gesture, a valid setup payload and credentials
//	Scanning        Discovered      a device advertises Hearth service data with the payload's discriminator
//	Discovered      Connecting      the device's advertised protocol versions include ours
//	Connecting      Authenticating  the link is up and Hello / HelloReply agreed a version and PBKDF parameters
//	Authenticating  Provisioning    SPAKE2+ done and the device's key confirmation verified
//	Provisioning    Joining         the device verified our confirmation and acknowledged the credentials
//	Joining         Registering     the device joined and sent its Thing Description (valid, with an id)
//	Joining         Provisioning    the join failed, the device allows more attempts and Config.RetryJoin gave new credentials
//	Registering     Complete        the Registrar accepted the device and the device acknowledged Complete
//	any but the three terminal states
//	                Failed          see below
//	                Cancelled       Cancel, or the Commission context ended (Cancel on an Idle Session too)
//	Complete, Failed, Cancelled
//	                Idle            Reset
//
// Failures, by the state they leave (the error matches the sentinel with
// errors.Is):
//
//	Idle            ErrNoGesture (zero, used or expired Gesture), ErrInvalidSetupCode, ErrInvalidConfig (credentials)
//	Scanning        ErrNotFound (ScanTimeout, 30 s, elapsed), ErrRadio
//	Discovered      ErrUnsupportedVersion
//	Connecting      ErrRadio, ErrTimeout, ErrBusy (another commissioner), ErrRateLimited (*RateLimitError),
//	                ErrWindowClosed, ErrUnsupportedVersion, ErrProtocol (a misbehaving device)
//	Authenticating  ErrAuthentication (wrong code, or an impostor device), ErrProtocol, ErrRadio, ErrTimeout, ErrRateLimited
//	Provisioning    ErrAuthentication (the device refused our confirmation), ErrTimeout, ErrRadio, ErrFailSafe
//	Joining         ErrJoinFailed (*JoinError: wrong passphrase, network not found, no address, timed out;
//	                attempts left), ErrInvalidThing, ErrFailSafe, ErrTimeout, ErrRadio
//	Registering     ErrRegistration (the Registrar's error wrapped), ErrFailSafe, ErrTimeout, ErrRadio
//
// # Device states
//
// A Device is Closed (window shut, never commissioned), Advertising (window
// open), Authenticating (a commissioner is connected), Provisioning (secure
// session up, fail-safe armed), Joining, Joined (waiting for Complete) or
// Commissioned.
//
//	Closed, Commissioned  → Advertising     power-up (if not commissioned), OpenWindow (the button), FactoryReset
//	Advertising           → Closed          the window (15 min) expires, or MaxAttempts (20) failed attempts
//	Advertising           → Authenticating  a commissioner connects
//	Authenticating        → Provisioning    the commissioner's confirmation verifies: fail-safe armed (2 min),
//	                                        advertising stops, the failure count resets
//	Authenticating        → Advertising     wrong code (one failed attempt), hang-up, HandshakeTimeout (30 s),
//	                                        back-off refusal, protocol error; Closed if the window shut meanwhile
//	Provisioning          → Joining         credentials received: fail-safe re-armed, staged with WiFi.Join
//	Joining               → Joined          joined; the Thing Description goes to the commissioner
//	Joining               → Provisioning    the join failed: rolled back; if attempts remain (MaxJoinAttempts, 3),
//	                                        fail-safe re-armed and the commissioner may send new credentials
//	Joined                → Commissioned    Complete: WiFi.Commit, fail-safe disarmed, window closed
//	Provisioning, Joining, Joined
//	                      → Advertising     fail-safe expired, link lost or protocol error: WiFi.Rollback
//	                                        (Closed, or Commissioned, if the window is shut)
//	any                   → Advertising     FactoryReset: rollback, WiFi.Forget, counters cleared
//
// # Security
//
// Threat model: an attacker within radio range can listen to, drop, alter,
// replay, reorder and inject frames, connect to the device, impersonate a
// device, and try codes; the attacker does not have the label. Wanted: an
// eavesdropper learns nothing (not the credentials, not the Thing
// Description, nothing that helps guess the code); an active attacker gets
// one guess of the code per attempt and cannot take over a session; a
// commissioner never hands credentials to a device that does not know the
// code.
//
// The setup code is 8 digits (about 2^26.6 values once trivial codes are
// refused). SPAKE2+ (RFC 9383, P256-SHA256-HKDF-SHA256-HMAC-SHA256, the
// suite Matter's PASE uses; implemented in onboarding/internal/spake2plus
// on filippo.io/nistec and checked against the RFC's test vector) turns it
// into a 256-bit session key:
//
//   - The commissioner is the prover: w0, w1 come from PBKDF2-HMAC-SHA256
//     over the code with the device's salt and iteration count (sent in
//     HelloReply; 1000 to 100000 accepted). The device is the verifier and
//     stores only (w0, L = w1·P), so a leaked firmware image does not leak
//     the code directly (but allows an offline search of the small code
//     space: keep the Verifier as secret as the code).
//   - Its shares are masked by w0·M and w0·N; without w0 they are random
//     points. The transcript hash, and so both confirmations and the key,
//     depends on Z and V, computable only with the password's secrets and
//     an ephemeral secret. An eavesdropper sees random points and MACs: no
//     offline dictionary attack is possible.
//   - One online guess per attempt. An attacker posing as commissioner
//     commits to one guess in its share; the device's reply (shareV,
//     confirmV) lets it test exactly that guess. The device therefore counts
//     the attempt as failed when it sends the reply, not when a confirmation
//     fails (an attacker would simply not confirm), and clears the count
//     only on a verified confirmation. Failed attempts cost a back-off
//     (BackoffBase doubling to BackoffMax) and MaxAttempts of them close
//     the window until the button is pressed. An attacker posing as device
//     likewise commits to one guess in shareV/confirmV; the commissioner
//     checks confirmV before it sends anything else and fails with
//     ErrAuthentication, so it, too, grants one guess per attempt.
//   - Key confirmation both ways: confirmV (device → commissioner) before
//     the credentials leave, confirmP (commissioner → device) before the
//     device decrypts them.
//   - The SPAKE2+ Context hashes the exact Hello and HelloReply, so an
//     attacker who alters the version or parameter negotiation breaks key
//     confirmation.
//
// After the handshake every message is sealed (onboarding/internal/secure):
// AES-128-GCM with a key and a 96-bit nonce base per direction from
// HKDF-SHA256(K_shared), the nonce being the base XOR a 32-bit sequence
// number carried in the clear header, which is also the AEAD's additional
// data. A receiver accepts only the next sequence number: a replayed,
// reordered, truncated, altered or forged message is dropped. A
// byte-identical copy of the last message is a retransmission, answered by
// resending the previous reply, so nothing is ever acted on twice; each
// direction's sequence starts at 0 under fresh keys, so messages from
// another session do not authenticate. After more than 16 rejected sealed
// messages the device drops the session. Frames that do not reassemble are dropped
// before decryption.
//
// One commissioner at a time: while a handshake runs, other links are told
// ErrBusy; once the session is established the device stops advertising,
// and nothing on the link is accepted that is not sealed under the
// session's keys.
//
// Fail-safe: what the device stages (the network it joined, and the
// commissioning itself) is committed only by Complete. The fail-safe is
// armed for FailSafe (2 min) when the secure session is up and, as in
// Matter, where the commissioner re-arms it before each step, re-armed
// for a full FailSafe after each authenticated step that starts a new
// wait: when the device accepts credentials (covering the join, the
// Thing Description and Complete) and when a join fails with attempts
// left (covering the person retyping the passphrase). However often it is
// re-armed it expires at the latest FailSafeMax (15 min) after the secure
// session, which bounds how long even an authenticated commissioner can
// hold the device silent. So the defaults allow every join attempt
// (MaxJoinAttempts, 3, each up to the Session's JoinTimeout, 90 s, below
// FailSafe) with up to 2 minutes of retyping between them: at worst
// 3 × 1.5 + 2 × 2 = 8.5 minutes, within the cap. If the fail-safe
// expires, or the link drops, or the commissioner breaks the protocol,
// the device rolls back with WiFi.Rollback. If the device does not acknowledge Complete, the Session
// calls the Registrar's Unregister (when it has one), so the directory
// does not list a device that rolled back.
//
// Compared with Espressif: Security 1 lets an active attacker who runs one
// session test proof-of-possession guesses offline; Security 2 (SRP6a over
// a 3072-bit group) does not, like this package, but it needs 4 request
// exchanges to deliver credentials where this needs 3, and in its original
// form (sec_patch_ver 0; esp_prov's security2.py advances the nonce only
// from patch version 1) it seals every message under the same AES-GCM key
// and nonce.
//
// Not covered: the device does not authenticate the commissioner beyond
// the code (anyone holding the label can commission it, as with any
// setup-code scheme), and the device's identity is whatever its Thing
// Description and optional public key say, vouched for only by the code.
//
// # Wire format
//
// Messages are a compact TLV, not protobuf: one byte of format version, one
// byte of type, then fields as tag, uvarint length, value. Tags below 0x80
// are critical (an unknown one is refused) and tags from 0x80 optional (an
// unknown one is skipped), which is how a later version adds fields.
// Versions and capabilities are exchanged first (Hello, HelloReply). The
// format needs no code generator or dependency, is small enough for a
// microcontroller, and every decoder of untrusted bytes is fuzzed.
// Messages are fragmented into frames of one radio payload (at least the
// BLE minimum of 20 bytes): the first frame carries the message length, a
// 6-bit counter catches lost frames, and a message that does not
// reassemble is dropped and retransmitted whole.
//
// # Round trips
//
// From connect to credentials delivered takes 3 radio round trips: Hello /
// HelloReply; PakeShare / PakeReply (with the device's confirmation);
// PakeConfirm and the sealed credentials in one flight / acknowledgement.
// Two more finish the job: a long-polled join status (with the Thing
// Description) and Complete. The commissioner writes without response and
// the device notifies, so a flight of several frames costs one round trip.
// Espressif's Security 2 needs 4 request exchanges to deliver credentials
// (proto-ver, two SRP6a steps, set-config), then apply-config and status
// polls; over BLE each exchange is a write then a read of a
// characteristic, and at a 20-byte MTU its 384-byte SRP6a keys take many
// ATT round trips each (see BenchmarkEspressifSec2). Lost frames cost a
// retransmission after Config.ResponseTimeout.
//
// # Concurrency
//
// Session and Device are safe for concurrent use. A Session runs one
// Commission at a time; Cancel, Reset, State and Err may be called from any
// goroutine, and OnProgress is called in order from the goroutine that
// changed the state. A Device is driven by Run in the caller's goroutine,
// which owns all its state; OpenWindow, FactoryReset and State may be called
// from any goroutine. Radios (Central, Peripheral, Link) and Registrars
// must be safe for concurrent use; a WiFi is called from one goroutine at a
// time.
//
// # Privacy
//
// Scanning needs a Gesture, which only UserGesture makes, which expires
// after GestureLifetime (10 s) and which one scan consumes: a background
// scan is impossible without a UserGesture call outside a UI handler, which
// a review spots. A scan stops by itself after ScanTimeout and keeps only
// devices advertising Hearth service data. Radio addresses never reach this
// package's API: a Peer is opaque, a radio stack's errors are wrapped
// without their text, and nothing is stored. Devices advertise only while
// their window is open, and then only a 12-bit discriminator.
//
// Secrets (SetupCode, SetupPayload, Passphrase, WiFiCredentials, Verifier)
// print as "[redacted]" through fmt, slog (LogValue) and encoding/json;
// reading them takes an explicit Reveal. Logs (to the caller's
// *slog.Logger only; nil means none) carry states, reasons and counts, never
// a code, a passphrase, an SSID or an address. Setup codes, passphrases,
// PBKDF outputs, SPAKE2+ secrets and session keys are zeroed when done
// where Go allows: Go strings (NewPassphrase's argument, the PBKDF2
// password, D-Bus arguments) and the key schedules inside crypto/aes cannot
// be erased.
//
// # Hardware
//
// Package bluez implements the radio on Linux with BlueZ through
// tinygo.org/x/bluetooth, both roles, and package nmwifi implements WiFi
// with NetworkManager over D-Bus. Both are built for linux/amd64 and
// linux/arm64 in CI, which has no Bluetooth adapter and no NetworkManager:
// they cannot run there, and have been checked only by building them
// (nmwifi's logic also against a fake bus). Everything else is tested over
// package simradio.
package onboarding
