package relay

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
)

// The gateway handshake (see the package documentation, # Protocol). Three
// JSON text messages travel over the WebSocket before it carries yamux:
// challenge (relay to gateway), hello (gateway to relay), result (relay to
// gateway).

const (
	// subprotocol is the WebSocket subprotocol of a gateway connection.
	subprotocol = "hearth-relay.v1"

	protocolVersion = 1

	// exporterLabel is the TLS exporter label (RFC 5705, RFC 8446 7.5) of
	// the channel binding.
	exporterLabel = "EXPORTER-hearth-relay-v1"
	exporterLen   = 32
	nonceLen      = 32

	// maxHandshakeMessage bounds every handshake message.
	maxHandshakeMessage = 4096

	// transcriptContext starts every signed transcript, so a gateway key
	// signs nothing else that could be confused with a relay login.
	transcriptContext = "hearth relay v1 gateway authentication\x00"

	msgChallenge = "challenge"
	msgHello     = "hello"
	msgWelcome   = "welcome"
	msgRefused   = "refused"

	bindingTLSExporter = "tls-exporter"
	bindingNone        = "none"

	reasonUnauthorized = "unauthorized"
	reasonFull         = "full"
	reasonUnavailable  = "unavailable"
	reasonShutdown     = "shutting-down"
	reasonProtocol     = "protocol"
)

// challenge is the relay's first message: a fresh nonce and the channel
// binding the gateway must sign.
type challenge struct {
	Type    string `json:"type"`
	V       int    `json:"v"`
	Nonce   []byte `json:"nonce"`
	Binding string `json:"binding"`
}

// hello is the gateway's answer: who it claims to be and its proof.
type hello struct {
	Type string `json:"type"`
	V    int    `json:"v"`
	Home string `json:"home"`
	// Host is the relay host name the gateway dialled (bound into the
	// signature so it cannot be replayed to a relay of another name).
	Host string `json:"host"`
	Key  []byte `json:"key"`
	Sig  []byte `json:"sig"`
}

// result is the relay's verdict.
type result struct {
	Type   string `json:"type"`
	V      int    `json:"v"`
	Reason string `json:"reason,omitempty"`
}

// decodeMessage decodes one handshake message of the given type into v,
// strictly: bounded size, a single JSON object, the expected type and
// version. Unknown members are ignored so later versions can add some.
func decodeMessage(data []byte, typ string, v any) error {
	if len(data) > maxHandshakeMessage {
		return fmt.Errorf("%w: %s message of %d bytes", ErrProtocol, typ, len(data))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %s message: %v", ErrProtocol, typ, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: %s message: trailing data", ErrProtocol, typ)
	}
	var gotType string
	var gotV int
	switch m := v.(type) {
	case *challenge:
		gotType, gotV = m.Type, m.V
	case *hello:
		gotType, gotV = m.Type, m.V
	case *result:
		gotType, gotV = m.Type, m.V
	}
	if typ == msgWelcome { // a result: welcome or refused
		if gotType != msgWelcome && gotType != msgRefused {
			return fmt.Errorf("%w: got %q message, want a result", ErrProtocol, gotType)
		}
	} else if gotType != typ {
		return fmt.Errorf("%w: got %q message, want %q", ErrProtocol, gotType, typ)
	}
	if gotV != protocolVersion {
		return fmt.Errorf("%w: unsupported version %d", ErrProtocol, gotV)
	}
	return nil
}

// parseChallenge parses and checks the relay's challenge.
func parseChallenge(data []byte) (challenge, error) {
	var c challenge
	if err := decodeMessage(data, msgChallenge, &c); err != nil {
		return challenge{}, err
	}
	if len(c.Nonce) != nonceLen {
		return challenge{}, fmt.Errorf("%w: nonce of %d bytes", ErrProtocol, len(c.Nonce))
	}
	if c.Binding != bindingTLSExporter && c.Binding != bindingNone {
		return challenge{}, fmt.Errorf("%w: unknown channel binding %q", ErrProtocol, c.Binding)
	}
	return c, nil
}

// parseHello parses and checks a gateway's hello (the signature itself is
// checked by verifyHello).
func parseHello(data []byte) (hello, error) {
	var h hello
	if err := decodeMessage(data, msgHello, &h); err != nil {
		return hello{}, err
	}
	if !ValidHome(h.Home) {
		return hello{}, fmt.Errorf("%w: %w", ErrProtocol, ErrInvalidHome)
	}
	if h.Host == "" || len(h.Host) > 253 || strings.ContainsAny(h.Host, "\x00/ ") {
		return hello{}, fmt.Errorf("%w: bad relay host", ErrProtocol)
	}
	if len(h.Key) != ed25519.PublicKeySize {
		return hello{}, fmt.Errorf("%w: %w: %d-byte key", ErrProtocol, ErrInvalidKey, len(h.Key))
	}
	if len(h.Sig) != ed25519.SignatureSize {
		return hello{}, fmt.Errorf("%w: %d-byte signature", ErrProtocol, len(h.Sig))
	}
	return h, nil
}

// parseResult parses the relay's verdict and maps a refusal to an error.
func parseResult(data []byte) error {
	var r result
	if err := decodeMessage(data, msgWelcome, &r); err != nil {
		return err
	}
	if r.Type == msgWelcome {
		return nil
	}
	switch r.Reason {
	case reasonUnauthorized:
		return ErrUnauthorized
	case reasonFull, reasonUnavailable, reasonShutdown, reasonProtocol:
		return fmt.Errorf("%w: %s", ErrRefused, r.Reason)
	default:
		return fmt.Errorf("%w: reason %q", ErrRefused, truncate(r.Reason, 64))
	}
}

// transcript is what a gateway signs: everything that makes this login
// unique to this relay, this connection and this home. Variable-length
// fields are length-prefixed so no two transcripts can collide.
func transcript(binding, home, host string, nonce, exporter []byte, key ed25519.PublicKey) []byte {
	b := make([]byte, 0, len(transcriptContext)+len(binding)+len(home)+len(host)+len(nonce)+len(exporter)+len(key)+12)
	b = append(b, transcriptContext...)
	for _, f := range [][]byte{[]byte(binding), []byte(home), []byte(strings.ToLower(host)), nonce, exporter, key} {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f)))
		b = append(b, f...)
	}
	return b
}

// verifyHello checks h's signature against the relay's side of the
// transcript.
func verifyHello(h hello, binding string, nonce, exporter []byte) bool {
	if len(h.Key) != ed25519.PublicKeySize || len(h.Sig) != ed25519.SignatureSize {
		return false
	}
	msg := transcript(binding, h.Home, h.Host, nonce, exporter, h.Key)
	return ed25519.Verify(h.Key, msg, h.Sig)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// keyID is a short, loggable identifier of a public key (never a secret).
func keyID(key []byte) string {
	if len(key) < 6 {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(key[:6])
}
