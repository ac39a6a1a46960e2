package relay

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestTranscriptBindsEveryField(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	nonce := bytes.Repeat([]byte{1}, nonceLen)
	exporter := bytes.Repeat([]byte{2}, exporterLen)
	h := hello{Type: msgHello, V: 1, Home: "villa", Host: "relay.example", Key: pub}
	h.Sig = ed25519.Sign(priv, transcript(bindingTLSExporter, h.Home, h.Host, nonce, exporter, pub))
	if !verifyHello(h, bindingTLSExporter, nonce, exporter) {
		t.Fatal("valid hello rejected")
	}
	otherPub, _, _ := ed25519.GenerateKey(rand.Reader)
	other := bytes.Repeat([]byte{3}, 32)
	mutations := map[string]func() (hello, string, []byte, []byte){
		"binding":  func() (hello, string, []byte, []byte) { return h, bindingNone, nonce, exporter },
		"nonce":    func() (hello, string, []byte, []byte) { return h, bindingTLSExporter, other, exporter },
		"exporter": func() (hello, string, []byte, []byte) { return h, bindingTLSExporter, nonce, other },
		"no exporter": func() (hello, string, []byte, []byte) {
			return h, bindingTLSExporter, nonce, nil
		},
		"home": func() (hello, string, []byte, []byte) {
			g := h
			g.Home = "chalet"
			return g, bindingTLSExporter, nonce, exporter
		},
		"host": func() (hello, string, []byte, []byte) {
			g := h
			g.Host = "evil.example"
			return g, bindingTLSExporter, nonce, exporter
		},
		"key": func() (hello, string, []byte, []byte) {
			g := h
			g.Key = otherPub
			return g, bindingTLSExporter, nonce, exporter
		},
	}
	for name, m := range mutations {
		g, b, n, e := m()
		if verifyHello(g, b, n, e) {
			t.Errorf("signature still verifies with a different %s", name)
		}
	}
	// Host names compare case-insensitively.
	g := h
	g.Host = "Relay.Example"
	if !verifyHello(g, bindingTLSExporter, nonce, exporter) {
		t.Error("host case changed the transcript")
	}
}

func TestParseHandshakeMessages(t *testing.T) {
	pub := make([]byte, 32)
	sig := make([]byte, 64)
	good, _ := json.Marshal(hello{Type: msgHello, V: 1, Home: "villa", Host: "relay", Key: pub, Sig: sig})
	if _, err := parseHello(good); err != nil {
		t.Fatalf("parseHello(valid) = %v", err)
	}
	bad := map[string]any{
		"wrong type":   hello{Type: msgChallenge, V: 1, Home: "villa", Host: "relay", Key: pub, Sig: sig},
		"version":      hello{Type: msgHello, V: 2, Home: "villa", Host: "relay", Key: pub, Sig: sig},
		"home":         hello{Type: msgHello, V: 1, Home: "Villa!", Host: "relay", Key: pub, Sig: sig},
		"no host":      hello{Type: msgHello, V: 1, Home: "villa", Key: pub, Sig: sig},
		"short key":    hello{Type: msgHello, V: 1, Home: "villa", Host: "relay", Key: pub[:31], Sig: sig},
		"short sig":    hello{Type: msgHello, V: 1, Home: "villa", Host: "relay", Key: pub, Sig: sig[:63]},
		"not json":     "}{",
		"two messages": string(good) + string(good),
	}
	for name, v := range bad {
		data, ok := v.(string)
		var b []byte
		if ok {
			b = []byte(data)
		} else {
			b, _ = json.Marshal(v)
		}
		if _, err := parseHello(b); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: parseHello = %v, want ErrProtocol", name, err)
		}
	}
	if _, err := parseHello(bytes.Repeat([]byte(" "), maxHandshakeMessage+1)); !errors.Is(err, ErrProtocol) {
		t.Errorf("oversized hello: %v", err)
	}

	if _, err := parseChallenge([]byte(`{"type":"challenge","v":1,"nonce":"AAAA","binding":"none"}`)); !errors.Is(err, ErrProtocol) {
		t.Errorf("short nonce: %v", err)
	}
	for data, want := range map[string]error{
		`{"type":"welcome","v":1}`:                          nil,
		`{"type":"refused","v":1,"reason":"unauthorized"}`:  ErrUnauthorized,
		`{"type":"refused","v":1,"reason":"full"}`:          ErrRefused,
		`{"type":"refused","v":1,"reason":"something new"}`: ErrRefused,
		`{"type":"hello","v":1}`:                            ErrProtocol,
		`{"type":"welcome","v":7}`:                          ErrProtocol,
	} {
		if err := parseResult([]byte(data)); !errors.Is(err, want) || (want == nil && err != nil) {
			t.Errorf("parseResult(%s) = %v, want %v", data, err, want)
		}
	}
}

func TestPreambleRoundTrip(t *testing.T) {
	for _, addr := range []string{"", "127.0.0.1:443", "[2001:db8::1]:8443"} {
		b := appendPreamble(nil, kindTLS, addr)
		b = append(b, "rest"...)
		r := bytes.NewReader(b)
		p, err := readPreamble(r)
		if err != nil {
			t.Fatalf("%q: %v", addr, err)
		}
		if p.kind != kindTLS || (addr != "" && p.addr != netip.MustParseAddrPort(addr)) || r.Len() != len("rest") {
			t.Errorf("%q: got %+v with %d bytes left", addr, p, r.Len())
		}
	}
	for name, b := range map[string][]byte{
		"empty":     nil,
		"version":   {9, kindHTTP, 0},
		"kind":      {1, 'X', 0},
		"long addr": {1, kindHTTP, 200},
		"truncated": {1, kindHTTP, 5, '1'},
		"bad addr":  append([]byte{1, kindHTTP, 5}, "nope!"...),
	} {
		if _, err := readPreamble(bytes.NewReader(b)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

// clientHello returns the first flight of a crypto/tls client for
// serverName.
func clientHello(t testing.TB, serverName string) []byte {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c2.Close()
	go func() {
		tls.Client(c1, &tls.Config{ServerName: serverName, InsecureSkipVerify: serverName == ""}).Handshake()
		c1.Close()
	}()
	var buf bytes.Buffer
	// Read the first record header and body only.
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c2, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c2, body); err != nil {
		t.Fatal(err)
	}
	buf.Write(hdr)
	buf.Write(body)
	return buf.Bytes()
}

func TestReadClientHello(t *testing.T) {
	hello := clientHello(t, "Villa.Homes.Test")
	name, raw, err := readClientHello(bytes.NewReader(append(hello, "after"...)))
	if err != nil || name != "villa.homes.test" || !bytes.Equal(raw, hello) {
		t.Fatalf("readClientHello = %q, %d bytes, %v", name, len(raw), err)
	}

	// The same ClientHello fragmented over many small records.
	var split []byte
	msg := hello[5:]
	for len(msg) > 0 {
		n := min(len(msg), 100)
		split = append(split, 22, 3, 1, 0, byte(n))
		split = append(split, msg[:n]...)
		msg = msg[n:]
	}
	if name, raw, err := readClientHello(bytes.NewReader(split)); err != nil || name != "villa.homes.test" || !bytes.Equal(raw, split) {
		t.Errorf("fragmented: %q, %d bytes, %v", name, len(raw), err)
	}

	// The fuzz target's small hand-built seeds parse as they should.
	for _, frag := range []int{0, 1, 30} {
		b := minimalHello("villa.homes.test", frag)
		if name, raw, err := readClientHello(bytes.NewReader(b)); err != nil || name != "villa.homes.test" || !bytes.Equal(raw, b) {
			t.Errorf("minimal hello in records of %d: %q, %d bytes, %v", frag, name, len(raw), err)
		}
	}
	if _, _, err := readClientHello(bytes.NewReader(minimalHello("", 0))); !errors.Is(err, errNoSNI) {
		t.Errorf("minimal hello without SNI: %v, want errNoSNI", err)
	}

	// An IP address is not sent as a server name.
	if _, _, err := readClientHello(bytes.NewReader(clientHello(t, ""))); !errors.Is(err, errNoSNI) {
		t.Errorf("no SNI: %v, want errNoSNI", err)
	}
	for name, b := range map[string][]byte{
		"http":      []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"truncated": hello[:len(hello)-10],
		"huge":      {22, 3, 1, 0xff, 0xff},
		"not hello": {22, 3, 1, 0, 4, 2, 0, 0, 0},
	} {
		if _, _, err := readClientHello(bytes.NewReader(b)); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: %v, want ErrProtocol", name, err)
		}
	}
}

func TestLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const rate = 1000
		l := newLimiter(rate)
		start := time.Now()
		for range 100 {
			if !l.wait(1000, nil) {
				t.Fatal("wait failed")
			}
		}
		// 100 kB at 1 kB/s, less the initial 16 KiB bucket.
		want := time.Duration(float64(100_000-16<<10) / rate * float64(time.Second))
		if got := time.Since(start); got < want-10*time.Millisecond || got > want+10*time.Millisecond {
			t.Errorf("100 kB took %v, want %v", got, want)
		}
		done := make(chan struct{})
		close(done)
		if l.wait(1<<20, done) {
			t.Error("wait ignored done")
		}
		if newLimiter(0) != nil || !(*limiter)(nil).wait(1<<30, nil) {
			t.Error("a zero rate must not limit")
		}
	})
}

func TestBackoff(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	for n, want := range []time.Duration{100, 200, 400, 800, 1600, 2000, 2000} {
		want *= time.Millisecond
		if got := backoff(n, lo, hi, func() float64 { return 0 }); got != want/2 {
			t.Errorf("backoff(%d) low = %v, want %v", n, got, want/2)
		}
		if got := backoff(n, lo, hi, func() float64 { return 0.999999 }); got > want || got < want*99/100 {
			t.Errorf("backoff(%d) high = %v, want about %v", n, got, want)
		}
	}
	if got := backoff(1<<30, lo, hi, func() float64 { return 0.5 }); got > hi {
		t.Errorf("backoff(huge) = %v", got)
	}
}

func TestParseHomePath(t *testing.T) {
	for _, c := range []struct {
		path, raw      string
		home, rest, rr string
		err            error
	}{
		{"/homes/villa/things", "", "villa", "/things", "", nil},
		{"/homes/villa/", "", "villa", "/", "", nil},
		{"/homes/villa", "", "villa", "", "", nil},
		{"/homes/villa/a/b", "/homes/villa/a%2Fb", "villa", "/a/b", "/a%2Fb", nil},
		{"/homes/", "", "", "", "", errNotHome},
		{"/homes/-x/", "", "", "", "", errNotHome},
		{"/home/villa/", "", "", "", "", errNotHome},
		{"/homes/villa/things", "/homes/villa%2Fthings", "", "", "", errMalformedPath},
		{"/homes/villa/", "/homes/villa%2F", "", "", "", errMalformedPath},
		{"/homes/villa/x", "/homes/vill%61/x", "", "", "", errMalformedPath},
	} {
		rt, err := parseHomePath(c.path, c.raw)
		if !errors.Is(err, c.err) || err == nil && (rt.home != c.home || rt.path != c.rest || rt.rawPath != c.rr) {
			t.Errorf("parseHomePath(%q, %q) = %+v, %v", c.path, c.raw, rt, err)
		}
	}
}

func jsonMarshalHello(h hello) ([]byte, error) { return json.Marshal(h) }
