package relay

import "errors"

var (
	// ErrUnknownHome is wrapped by Registry errors for a home with no
	// registered key.
	ErrUnknownHome = errors.New("relay: unknown home")

	// ErrInvalidHome reports a malformed home name (see ValidHome).
	ErrInvalidHome = errors.New("relay: invalid home name")

	// ErrInvalidKey reports a key that is not an Ed25519 key.
	ErrInvalidKey = errors.New("relay: invalid key")

	// ErrUnauthorized is returned by Client.Run when the relay refuses the
	// gateway's credentials: the home is not registered there, or not with
	// this key. It is permanent: Run does not retry it.
	ErrUnauthorized = errors.New("relay: gateway not authorized by relay")

	// ErrRefused is wrapped by errors reporting that the relay refused a
	// gateway for a reason that may pass (it is full, shutting down, or its
	// registry failed). Client.Run retries after a back-off.
	ErrRefused = errors.New("relay: refused by relay")

	// ErrProtocol is wrapped by errors reporting malformed or unexpected
	// data from the other side of a relay connection.
	ErrProtocol = errors.New("relay: protocol error")

	// ErrHeartbeatTimeout reports a link declared dead because nothing,
	// not even a heartbeat, arrived from the other side within the
	// heartbeat timeout.
	ErrHeartbeatTimeout = errors.New("relay: heartbeat timeout")

	// ErrHomeOffline reports that the home a request is for has no gateway
	// connected to the relay (or it went away during the request).
	ErrHomeOffline = errors.New("relay: home not connected")

	// ErrClosed is returned by Server.ServePassthrough and Client.Run after
	// Close or Shutdown.
	ErrClosed = errors.New("relay: closed")
)
