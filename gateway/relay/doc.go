// Package relay gives a home's gateway remote access without an inbound
// port: the gateway dials out to a relay the resort runs itself, and the
// relay forwards the public requests for that home to it. The gateway
// keeps every authorization decision; the relay only carries bytes.
//
// A Server is the cloud side. It is an http.Handler: mount it in an
// http.Server with a TLS certificate, and gateways connect at ConnectPath
// while guests use https://relay.example/homes/{home}/... (or
// https://{home}.HomeDomain/... when Config.HomeDomain is set). A Client
// is the home side: it dials the relay over a TLS WebSocket, logs in with
// the gateway's own Ed25519 key, and serves the streams the relay opens
// with any http.Handler, typically a gateway.Server.
//
// # Tour
//
// The resort registers each home's public key and runs the relay:
//
//	keys := new(relay.MemRegistry)
//	keys.Register("villa-7", gatewayPublicKey)
//	srv, err := relay.NewServer(relay.Config{Registry: keys})
//	...
//	go http.ListenAndServeTLS(":443", "relay.crt", "relay.key", srv)
//
// The gateway runs a Client next to its own server:
//
//	c, err := relay.NewClient(relay.ClientConfig{
//		URL:     "https://relay.example",
//		Home:    "villa-7",
//		Key:     gatewayPrivateKey, // ed25519.PrivateKey or a crypto.Signer
//		Handler: gatewayServer,
//	})
//	...
//	go c.Run(ctx)           // reconnects until ctx ends or c.Close
//	defer c.Shutdown(ctx)
//
// A guest away from home then uses https://relay.example/homes/villa-7/...
// with the bearer token the home's consent ledger issued. The gateway
// sees the request with the /homes/villa-7 prefix removed, and with
// X-Forwarded-For, X-Forwarded-Host, X-Forwarded-Proto and
// X-Forwarded-Prefix set by the relay (a Forwarded or X-Forwarded-*
// header a public client sent is dropped, in both routing modes), so it
// can write absolute links that work from outside: relay.Relayed, as the
// gateway's TrustForwarded, says which requests carry the relay's word.
// Requests on a passthrough stream are not Relayed: the relay cannot
// touch their headers.
//
// For the mode in which the relay sees nothing, give the Client a TLS
// certificate for villa-7.HomeDomain (ClientConfig.TLSConfig) and serve
// Server.ServePassthrough on a listener: guests then talk TLS with the
// gateway itself, through the relay.
//
// Server.Metrics and Client.Metrics return snapshots of the counters
// (connected homes, open and total streams, bytes each way, refusals);
// they marshal to JSON, so expvar.Publish("relay", expvar.Func(func() any
// { return srv.Metrics() })) publishes them.
//
// # Privacy
//
// What the relay can and cannot see depends on the mode.
//
// Forwarding mode (the Server's http.Handler; TLS ends at the relay). The
// relay process necessarily holds, in memory, everything of each request
// and response: method, path, query, headers (bearer tokens and cookies
// included), bodies, WebSocket messages and SSE events, plus the guest's
// address and the timing and size of every exchange. It keeps none of it:
// it writes no request data to logs (its Logger receives home names,
// status codes, error classes and gateway addresses, never paths, queries,
// headers, tokens or bodies) and stores nothing. It never decides access:
// tokens pass through untouched and the gateway checks each one with its
// Authorizer, so a token revoked at home is refused through the relay at
// once, and a compromised relay cannot mint access, though it could
// replay a token it saw while that token is valid. This mode is what a
// browser on a plain https:// URL gets; keep tokens short-lived.
//
// Passthrough mode (ServePassthrough; TLS ends at the gateway). The relay
// reads the unencrypted ClientHello only to route it: it sees the server
// name (which names the home), the guest's IP address and port, the time
// and duration of each connection and the number of bytes each way. It
// cannot read or alter requests, responses, tokens or cookies, and cannot
// impersonate the gateway without a certificate for its name. With
// Encrypted Client Hello the relay sees only the outer (public) name.
//
// In both modes the Server's metrics are aggregates over all homes: it
// publishes no per-home counters, because a home's traffic pattern is
// itself personal data (when someone is in, when they shower). The relay
// operator still learns, per home, whether its gateway is online and, from
// connection timing, roughly when it is used. Public requests for a home
// that is offline and for a name that was never registered get the same
// answer (502), so the public cannot probe which homes exist.
//
// The gateway's login reveals to the relay only the home name and the
// gateway's public key; no password or long-lived secret crosses the
// network.
//
// # Concurrency
//
// Server and Client are safe for concurrent use. Each connected home has
// one WebSocket carrying one yamux session; every forwarded HTTP exchange,
// WebSocket and passthrough connection is its own yamux stream, so a slow
// or stalled request, or a slow home, holds only its own stream (yamux
// flow control is per stream) and never another home's connection. The
// relay runs four goroutines per connected home (the handler holding the
// connection, yamux's reader and writer, and the link writer that
// coalesces frames into WebSocket messages) plus, per forwarded request,
// the public request's own goroutine (and one more while a request body
// is sent); the heartbeat runs on a timer. The Client runs the same per
// connection, plus an http.Server that serves the streams.
//
// Client.Run owns its goroutine until ctx ends or Close or Shutdown is
// called. Server.Shutdown stops new work and waits for open streams;
// Server.Close and Client.Close cut everything and wait for the
// goroutines they started. Neither side leaks goroutines after Close. The
// Server does not close the http.Server it is mounted in: close the
// relay first, then the http.Server (which waits for its handlers,
// including the ones holding gateway connections).
//
// Reconnection uses exponential back-off from ClientConfig.MinBackoff to
// MaxBackoff with "equal jitter" (a random point in the upper half of
// each step), so that gateways dropped together by a relay restart do not
// return in the same instant. A relay that refuses the gateway's key
// (ErrUnauthorized) ends Run; other refusals are retried.
//
// Both sides ping every HeartbeatInterval and declare the link dead when
// nothing at all, data or heartbeat, arrived for HeartbeatTimeout: the
// relay then drops the home (its requests in flight fail with 502 or a
// broken body, never a truncated success) and the gateway reconnects. A
// gateway that reconnects before the relay noticed its old link die
// replaces the old connection.
//
// # Limits
//
// Per home: Config.MaxStreamsPerHome concurrent streams (429 beyond),
// Config.HomeBandwidth bytes per second each way (a token bucket holding a
// tenth of a second, shaping rather than failing), and
// Config.MaxRequestBody per forwarded request body (413). Per relay:
// Config.MaxHomes connected gateways (further logins are refused and
// retried) and Config.MaxStreams concurrent streams (503 beyond). On the
// gateway, ClientConfig.MaxStreams bounds the streams it serves at once,
// so even a compromised relay cannot exhaust it. Handshakes and
// ClientHellos are bounded in size and time (Config.HandshakeTimeout).
//
// # Protocol
//
// A gateway connects with an HTTPS GET to ConnectPath that upgrades to a
// WebSocket with subprotocol "hearth-relay.v1" (a request carrying an
// Origin header, as browsers send, is refused). The login is three JSON
// text messages:
//
//	relay   -> gateway  {"type":"challenge","v":1,"nonce":<32 random bytes>,"binding":"tls-exporter"}
//	gateway -> relay    {"type":"hello","v":1,"home":"villa-7","host":"relay.example","key":<Ed25519 public key>,"sig":<signature>}
//	relay   -> gateway  {"type":"welcome","v":1}  or  {"type":"refused","v":1,"reason":"unauthorized"}
//
// (byte strings in standard base64). The signature is Ed25519 over the
// transcript: the context string "hearth relay v1 gateway
// authentication\x00" followed by, each with a 2-byte big-endian length,
// the binding name, the home, the relay host name the gateway dialled
// (lower case), the nonce, the channel binding and the public key. The
// channel binding is 32 bytes of TLS keying material exported from the
// gateway's TLS connection (RFC 5705 / RFC 8446 section 7.5, label
// "EXPORTER-hearth-relay-v1"), so a login cannot be replayed on another
// connection, nor relayed by an impostor relay that terminates the
// gateway's TLS itself. Behind a TLS-terminating proxy
// (Config.BehindTLSProxy) the binding is "none" and the login is bound to
// the relay's configured Hostnames instead; gateways must opt in to that.
// The relay accepts the login if the registry lists the key for the home
// and the signature verifies; unknown homes and wrong keys get the same
// "unauthorized" answer.
//
// After the welcome, the WebSocket carries a yamux session (binary
// messages; the relay is the yamux client and alone opens streams — a
// gateway that opens one is disconnected). WebSocket pings are the
// heartbeat. Each stream starts with a preamble from the relay: a version
// byte (1), a kind byte ('H': an HTTP/1.1 exchange follows, the request
// written by the relay and the response by the gateway; 'T': the raw bytes
// of a passthrough client's TLS connection follow, ClientHello first),
// and a length-prefixed (one byte, at most 64) text address of the public
// client.
package relay
