package relay

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/yamux"
)

// Everything a relay or a gateway parses from the network has a fuzz
// target here: the login messages, the stream preamble, the ClientHello a
// passthrough client sends, public request paths, and the tunnel's yamux
// frames.

func FuzzParseHello(f *testing.F) {
	key := make([]byte, 32)
	good, _ := json.Marshal(hello{Type: msgHello, V: 1, Home: "villa", Host: "relay.example", Key: key, Sig: make([]byte, 64)})
	f.Add(good)
	f.Add([]byte(`{"type":"hello","v":1,"home":"x","host":"h","key":"","sig":""}`))
	f.Add([]byte(`{"type":"hello","v":1,"home":"villa","home":"chalet"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := parseHello(data)
		if err != nil {
			return
		}
		if !ValidHome(h.Home) || len(h.Key) != ed25519.PublicKeySize || len(h.Sig) != ed25519.SignatureSize || h.Host == "" {
			t.Fatalf("parseHello accepted %+v", h)
		}
		// Verifying never panics, whatever the relay's side holds.
		verifyHello(h, bindingTLSExporter, make([]byte, nonceLen), make([]byte, exporterLen))
	})
}

func FuzzParseChallenge(f *testing.F) {
	good, _ := json.Marshal(challenge{Type: msgChallenge, V: 1, Nonce: make([]byte, nonceLen), Binding: bindingTLSExporter})
	f.Add(good)
	f.Add([]byte(`{"type":"challenge","v":1,"nonce":null,"binding":"none"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseChallenge(data)
		if err == nil && (len(c.Nonce) != nonceLen || (c.Binding != bindingTLSExporter && c.Binding != bindingNone)) {
			t.Fatalf("parseChallenge accepted %+v", c)
		}
	})
}

func FuzzParseResult(f *testing.F) {
	f.Add([]byte(`{"type":"welcome","v":1}`))
	f.Add([]byte(`{"type":"refused","v":1,"reason":"full"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := parseResult(data); err != nil && len(err.Error()) > 200 {
			t.Fatalf("unbounded error message: %d bytes", len(err.Error()))
		}
	})
}

func FuzzReadPreamble(f *testing.F) {
	f.Add(appendPreamble(nil, kindHTTP, "127.0.0.1:1234"))
	f.Add(appendPreamble(nil, kindTLS, "[::1]:443"))
	f.Add(appendPreamble(nil, kindHTTP, ""))
	f.Add([]byte{1, 'H', 64})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		p, err := readPreamble(r)
		if err != nil {
			return
		}
		used := len(data) - r.Len()
		addr := ""
		if p.addr.IsValid() {
			addr = p.addr.String()
		}
		// A parsed preamble re-encodes to something that parses the same.
		again, err := readPreamble(bytes.NewReader(appendPreamble(nil, p.kind, addr)))
		if err != nil || again != p {
			t.Fatalf("round trip of %q: %+v, %v", data[:used], again, err)
		}
	})
}

// minimalHello is a small hand-built ClientHello record (with a
// server_name extension unless serverName is empty, and a
// supported_versions one), split over records of at most frag handshake
// bytes (0: one record). Small seeds keep the fuzzer fast: it minimizes
// every new input it finds, which costs time quadratic in its size, and a
// real ClientHello with post-quantum key shares is nearly 2 KiB.
func minimalHello(serverName string, frag int) []byte {
	u16 := func(n int) []byte { return []byte{byte(n >> 8), byte(n)} }
	body := []byte{3, 3}                     // legacy_version
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // legacy_session_id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher_suites: TLS_AES_128_GCM_SHA256
	body = append(body, 1, 0)                // legacy_compression_methods: null
	var exts []byte
	if serverName != "" {
		entry := append([]byte{serverNameTypeHostName}, u16(len(serverName))...)
		entry = append(entry, serverName...)
		list := append(u16(len(entry)), entry...)
		exts = append(append(append(exts, u16(extServerName)...), u16(len(list))...), list...)
	}
	exts = append(exts, 0, 43, 0, 3, 2, 3, 4) // supported_versions: TLS 1.3
	body = append(append(body, u16(len(exts))...), exts...)
	msg := append([]byte{handshakeTypeHello, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	if frag <= 0 {
		frag = len(msg)
	}
	var rec []byte
	for len(msg) > 0 {
		n := min(len(msg), frag)
		rec = append(append(append(rec, recordTypeHandshake, 3, 1), u16(n)...), msg[:n]...)
		msg = msg[n:]
	}
	return rec
}

func FuzzReadClientHello(f *testing.F) {
	f.Add(minimalHello("villa.homes.test", 0))
	f.Add(minimalHello("villa.homes.test", 30))
	f.Add(minimalHello("", 0))
	f.Add([]byte{22, 3, 1, 0, 4, 1, 0, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		name, raw, err := readClientHello(bytes.NewReader(data))
		if !bytes.HasPrefix(data, raw) {
			t.Fatalf("raw is not what was read")
		}
		if err == nil && (!validHostName(name) || name != strings.ToLower(name)) {
			t.Fatalf("accepted server name %q", name)
		}
	})
}

func FuzzParseHomePath(f *testing.F) {
	f.Add("/homes/villa/things/lamp", "")
	f.Add("/homes/villa/a/b", "/homes/villa/a%2Fb")
	f.Add("/homes/villa", "")
	f.Add("/homes//x", "")
	f.Add("/homes/villa/things", "/homes/villa%2Fthings")
	f.Fuzz(func(t *testing.T, path, raw string) {
		rt, err := parseHomePath(path, raw)
		if err != nil {
			if !errors.Is(err, errNotHome) && !errors.Is(err, errMalformedPath) {
				t.Fatalf("parseHomePath(%q, %q): unexpected error %v", path, raw, err)
			}
			return
		}
		if !ValidHome(rt.home) || rt.prefix+rt.path != path {
			t.Fatalf("parseHomePath(%q) = %+v", path, rt)
		}
		if rt.rawPath != "" && rt.prefix+rt.rawPath != raw {
			t.Fatalf("raw path %q from %q", rt.rawPath, raw)
		}
		// What the gateway gets is a path: empty (redirected) or absolute.
		for _, p := range []string{rt.path, rt.rawPath} {
			if p != "" && p[0] != '/' {
				t.Fatalf("parseHomePath(%q, %q) gives the gateway %q", path, raw, p)
			}
		}
	})
}

// FuzzTunnelFrames feeds arbitrary bytes, as a hostile gateway could send
// them, to the relay's end of a tunnel: the session must end cleanly,
// never panic or hang.
func FuzzTunnelFrames(f *testing.F) {
	hdr := func(typ, flags byte, id, length uint32) []byte {
		return []byte{0, typ, 0, flags, byte(id >> 24), byte(id >> 16), byte(id >> 8), byte(id), byte(length >> 24), byte(length >> 16), byte(length >> 8), byte(length)}
	}
	f.Add(hdr(2, 1, 0, 7)) // ping
	f.Add(append(hdr(0, 1, 2, 3), "abc"...))
	f.Add(hdr(1, 1, 2, 1<<30)) // huge window update
	f.Add(hdr(3, 0, 0, 1))     // go away
	f.Add([]byte{9, 9, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		relaySide, gw := net.Pipe()
		cfg := yamuxConfig(time.Second, nil)
		cfg.Logger = nil
		cfg.LogOutput = io.Discard
		sess, err := yamux.Client(relaySide, cfg)
		if err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, gw) // whatever the relay answers
		gw.SetWriteDeadline(time.Now().Add(time.Second))
		gw.Write(data)
		gw.Close()
		select {
		case <-sess.CloseChan():
		case <-time.After(5 * time.Second):
			t.Fatal("session did not end after its peer went away")
		}
		sess.Close()
	})
}
