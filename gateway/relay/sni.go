package relay

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
)

// TLS record and handshake constants (RFC 8446 section 5.1, 4, 4.2; RFC
// 6066 section 3).
const (
	recordHeaderLen        = 5
	recordTypeHandshake    = 22
	maxRecordPayload       = 1<<14 + 256 // TLSPlaintext limit, with slack for old clients
	handshakeTypeHello     = 1
	extServerName          = 0
	serverNameTypeHostName = 0

	// maxClientHello bounds the ClientHello the relay buffers while it
	// looks for the server name. Real ones, post-quantum key shares
	// included, are a few KiB.
	maxClientHello = 1 << 14
)

var errNoSNI = errors.New("relay: ClientHello has no server name")

// readClientHello reads TLS records from r until it holds a whole
// ClientHello handshake message, and returns its server name (lower case)
// and every byte it read, to be replayed to the home verbatim. It never
// reads past the last record of the ClientHello.
func readClientHello(r io.Reader) (serverName string, raw []byte, err error) {
	var msg []byte // handshake bytes, reassembled across records
	for {
		var hdr [recordHeaderLen]byte
		if got, err := io.ReadFull(r, hdr[:]); err != nil {
			return "", append(raw, hdr[:got]...), fmt.Errorf("%w: TLS record header: %v", ErrProtocol, err)
		}
		raw = append(raw, hdr[:]...)
		if hdr[0] != recordTypeHandshake {
			return "", raw, fmt.Errorf("%w: TLS record type %d, want handshake", ErrProtocol, hdr[0])
		}
		if hdr[1] != 3 {
			return "", raw, fmt.Errorf("%w: TLS record version %#x%02x", ErrProtocol, hdr[1], hdr[2])
		}
		n := int(binary.BigEndian.Uint16(hdr[3:]))
		if n == 0 || n > maxRecordPayload {
			return "", raw, fmt.Errorf("%w: TLS record of %d bytes", ErrProtocol, n)
		}
		if len(msg)+n > maxClientHello+4 {
			return "", raw, fmt.Errorf("%w: ClientHello over %d bytes", ErrProtocol, maxClientHello)
		}
		start := len(raw)
		raw = append(raw, make([]byte, n)...)
		if got, err := io.ReadFull(r, raw[start:]); err != nil {
			return "", raw[:start+got], fmt.Errorf("%w: TLS record: %v", ErrProtocol, err)
		}
		msg = append(msg, raw[start:]...)
		if len(msg) < 4 {
			continue
		}
		if msg[0] != handshakeTypeHello {
			return "", raw, fmt.Errorf("%w: handshake type %d, want ClientHello", ErrProtocol, msg[0])
		}
		bodyLen := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
		if bodyLen > maxClientHello {
			return "", raw, fmt.Errorf("%w: ClientHello of %d bytes", ErrProtocol, bodyLen)
		}
		if len(msg) < 4+bodyLen {
			continue
		}
		if len(msg) > 4+bodyLen {
			// Another handshake message shares the record: not something
			// a client sends before the server's first flight.
			return "", raw, fmt.Errorf("%w: data after ClientHello", ErrProtocol)
		}
		name, err := parseClientHello(msg[4:])
		return name, raw, err
	}
}

// parseClientHello extracts the host_name server name from a ClientHello
// body (without its 4-byte handshake header).
func parseClientHello(b []byte) (string, error) {
	s := cursor{b: b}
	s.skip(2 + 32)           // legacy_version, random
	s.skip(int(s.u8()))      // legacy_session_id
	cs := int(s.u16())       // cipher_suites
	if cs < 2 || cs%2 != 0 { // at least one suite, two bytes each
		return "", fmt.Errorf("%w: ClientHello cipher suites of %d bytes", ErrProtocol, cs)
	}
	s.skip(cs)
	s.skip(int(s.u8())) // legacy_compression_methods
	if s.err {
		return "", fmt.Errorf("%w: truncated ClientHello", ErrProtocol)
	}
	if len(s.b) == 0 {
		return "", errNoSNI // no extensions at all
	}
	exts := cursor{b: s.bytes(int(s.u16()))}
	if s.err || len(s.b) != 0 {
		return "", fmt.Errorf("%w: malformed ClientHello extensions", ErrProtocol)
	}
	for len(exts.b) > 0 {
		typ := exts.u16()
		data := exts.bytes(int(exts.u16()))
		if exts.err {
			return "", fmt.Errorf("%w: malformed ClientHello extension", ErrProtocol)
		}
		if typ != extServerName {
			continue
		}
		return parseServerName(data)
	}
	return "", errNoSNI
}

// parseServerName parses a server_name extension (RFC 6066 section 3) and
// returns its host_name.
func parseServerName(b []byte) (string, error) {
	s := cursor{b: b}
	list := cursor{b: s.bytes(int(s.u16()))}
	if s.err || len(s.b) != 0 {
		return "", fmt.Errorf("%w: malformed server_name extension", ErrProtocol)
	}
	for len(list.b) > 0 {
		typ := list.u8()
		name := list.bytes(int(list.u16()))
		if list.err {
			return "", fmt.Errorf("%w: malformed server_name entry", ErrProtocol)
		}
		if typ != serverNameTypeHostName {
			continue
		}
		host := strings.ToLower(strings.TrimSuffix(string(name), "."))
		if !validHostName(host) {
			return "", fmt.Errorf("%w: invalid server name", ErrProtocol)
		}
		return host, nil
	}
	return "", errNoSNI
}

// validHostName reports whether s is a plausible DNS host name (ASCII
// letters, digits, '-', '_' and dots; labels of 1 to 63 bytes).
func validHostName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// cursor reads big-endian fields from a byte slice, remembering (instead
// of panicking on) the first out-of-bounds read.
type cursor struct {
	b   []byte
	err bool
}

func (c *cursor) bytes(n int) []byte {
	if c.err || n < 0 || n > len(c.b) {
		c.err = true
		return nil
	}
	v := c.b[:n:n]
	c.b = c.b[n:]
	return v
}

func (c *cursor) skip(n int) { c.bytes(n) }

func (c *cursor) u8() uint8 {
	v := c.bytes(1)
	if v == nil {
		return 0
	}
	return v[0]
}

func (c *cursor) u16() uint16 {
	v := c.bytes(2)
	if v == nil {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}
