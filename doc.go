// Package hearth is an embeddable Go SDK for the Web of Things with privacy
// built in.
//
// Hearth turns devices into W3C Web Things, puts a consent ledger in front
// of every access, onboards new devices over Bluetooth LE with a
// password-authenticated session, and lets a fleet of homes learn together
// with federated learning without their data ever leaving the house.
// Nothing in Hearth owns main: every package is a library that you wire
// together; examples/holiday-home wires all of them.
//
// # Packages
//
//   - [github.com/hearth-wot/hearth/thing]: the W3C Thing Description 1.1
//     model: parsing with validation, serialisation, value checking, form
//     resolution, a builder and Thing Models. Pure data, no I/O.
//   - [github.com/hearth-wot/hearth/gateway]: an http.Handler that exposes
//     things over the W3C WoT HTTP binding and the WebThings Web Thing API
//     (REST, WebSocket, SSE), with pluggable device adapters, a WoT
//     Discovery directory and an Authorizer seam; subpackages hold built-in
//     adapters and remote access.
//   - [github.com/hearth-wot/hearth/consent]: the consent and token ledger:
//     purpose-bound grants, scoped revocable JWTs, OAuth 2.0 with PKCE and a
//     consent page, a tamper-evident audit log, export and erasure.
//   - [github.com/hearth-wot/hearth/onboarding]: BLE and Wi-Fi provisioning
//     as explicit state machines for commissioner and device, over a
//     PAKE-secured session.
//   - [github.com/hearth-wot/hearth/fedlearn]: federated averaging server and
//     client with differential privacy and secure aggregation, on gonum.
//     It imports nothing else of Hearth.
//
// # Privacy
//
// Hearth logs only to a *slog.Logger its caller supplies (nil means
// silence), never phones home, and keeps secrets (tokens, setup codes,
// passphrases) in types that redact themselves.
package hearth
