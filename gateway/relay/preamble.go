package relay

import (
	"fmt"
	"io"
	"net/netip"
)

// Every stream the relay opens to a gateway starts with a preamble:
//
//	version  1 byte  (1)
//	kind     1 byte  ('H': an HTTP/1.1 exchange follows; 'T': raw TLS
//	                 bytes from a passthrough client follow)
//	addrLen  1 byte  (0 to maxAddrLen)
//	addr     addrLen bytes: the public client's address as the relay saw
//	                 it, "ip:port", or empty
const (
	preambleVersion = 1
	kindHTTP        = 'H'
	kindTLS         = 'T'
	maxAddrLen      = 64
)

// preamble is the parsed stream header.
type preamble struct {
	kind byte
	addr netip.AddrPort // zero if the relay sent none
}

// appendPreamble appends the encoding of p to b.
func appendPreamble(b []byte, kind byte, addr string) []byte {
	if len(addr) > maxAddrLen {
		addr = ""
	}
	b = append(b, preambleVersion, kind, byte(len(addr)))
	return append(b, addr...)
}

// readPreamble reads exactly one preamble from r, and nothing more.
func readPreamble(r io.Reader) (preamble, error) {
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return preamble{}, fmt.Errorf("%w: stream preamble: %v", ErrProtocol, err)
	}
	if hdr[0] != preambleVersion {
		return preamble{}, fmt.Errorf("%w: stream preamble version %d", ErrProtocol, hdr[0])
	}
	if hdr[1] != kindHTTP && hdr[1] != kindTLS {
		return preamble{}, fmt.Errorf("%w: stream kind %#x", ErrProtocol, hdr[1])
	}
	if hdr[2] > maxAddrLen {
		return preamble{}, fmt.Errorf("%w: stream preamble address of %d bytes", ErrProtocol, hdr[2])
	}
	p := preamble{kind: hdr[1]}
	if hdr[2] == 0 {
		return p, nil
	}
	buf := make([]byte, hdr[2])
	if _, err := io.ReadFull(r, buf); err != nil {
		return preamble{}, fmt.Errorf("%w: stream preamble: %v", ErrProtocol, err)
	}
	ap, err := netip.ParseAddrPort(string(buf))
	if err != nil {
		return preamble{}, fmt.Errorf("%w: stream preamble address: %v", ErrProtocol, err)
	}
	p.addr = ap
	return p, nil
}
