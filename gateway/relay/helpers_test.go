package relay_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// relayEnv is a relay served over TLS on 127.0.0.1.
type relayEnv struct {
	srv *relay.Server
	ts  *httptest.Server
	reg *relay.MemRegistry
}

func newRelay(t testing.TB, cfg relay.Config) *relayEnv {
	t.Helper()
	reg := new(relay.MemRegistry)
	if cfg.Registry == nil {
		cfg.Registry = reg
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	srv, err := relay.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.StartTLS()
	t.Cleanup(ts.Close) // after the relay: httptest waits for handlers
	t.Cleanup(func() { srv.Close() })
	return &relayEnv{srv: srv, ts: ts, reg: reg}
}

// roots trusts the relay's test certificate.
func (e *relayEnv) roots() *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(e.ts.Certificate())
	return &tls.Config{RootCAs: pool}
}

// url is the public URL of path in home.
func (e *relayEnv) url(home, path string) string {
	return e.ts.URL + relay.HomesPath + home + path
}

// guest is a public client of the relay.
func (e *relayEnv) guest(t testing.TB) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: e.roots(), MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// homeOpts adjusts a test home's ClientConfig.
type homeOpts func(*relay.ClientConfig)

// testHome is a gateway connected to a relay.
type testHome struct {
	c       *relay.Client
	key     ed25519.PrivateKey
	runErr  chan error
	connect chan struct{}
	lost    chan error
}

// startHome registers a new key for name, connects a gateway serving h
// and waits until the relay holds it (unless wait is false).
func startHome(t testing.TB, e *relayEnv, name string, h http.Handler, opts ...homeOpts) *testHome {
	t.Helper()
	th := newHome(t, e, name, h, opts...)
	if err := e.reg.Register(name, th.key.Public().(ed25519.PublicKey)); err != nil {
		t.Fatal(err)
	}
	th.run(t)
	select {
	case <-th.connect:
	case err := <-th.runErr:
		t.Fatalf("home %s: Run: %v", name, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("home %s did not connect", name)
	}
	waitFor(t, "relay holds "+name, func() bool { return e.srv.Connected(name) })
	return th
}

// newHome makes a gateway client (with a fresh key) without starting it.
func newHome(t testing.TB, e *relayEnv, name string, h http.Handler, opts ...homeOpts) *testHome {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	th := &testHome{key: key, runErr: make(chan error, 1), connect: make(chan struct{}, 16), lost: make(chan error, 16)}
	cfg := relay.ClientConfig{
		URL:               e.ts.URL,
		Home:              name,
		Key:               key,
		Handler:           h,
		TLSClientConfig:   e.roots(),
		MinBackoff:        10 * time.Millisecond,
		MaxBackoff:        100 * time.Millisecond,
		HeartbeatInterval: time.Second,
		OnConnect: func() {
			select {
			case th.connect <- struct{}{}:
			default:
			}
		},
		OnDisconnect: func(err error) {
			select {
			case th.lost <- err:
			default:
			}
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	th.c, err = relay.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return th
}

func (th *testHome) run(t testing.TB) {
	go func() { th.runErr <- th.c.Run(context.Background()) }()
	t.Cleanup(func() {
		th.c.Close()
		select {
		case err := <-th.runErr:
			th.runErr <- err
		case <-time.After(10 * time.Second):
			t.Error("Client.Run did not return after Close")
		}
	})
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// selfSigned returns a certificate for host and a pool trusting it.
func selfSigned(t testing.TB, host string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}, pool
}

// flakyProxy is a TCP proxy on 127.0.0.1 that can cut every connection
// (and refuse new ones) or freeze them (hold every byte, as a dead link
// does) on demand.
type flakyProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	down   bool
	frozen chan struct{} // non-nil while frozen; closed to thaw
}

func newFlakyProxy(t testing.TB, target string) *flakyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &flakyProxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.thaw()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *flakyProxy) addr() string { return p.ln.Addr().String() }

func (p *flakyProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.mu.Unlock()
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		go p.copy(up, c)
		go p.copy(c, up)
	}
}

func (p *flakyProxy) copy(dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		frozen := p.frozen
		p.mu.Unlock()
		if frozen != nil {
			<-frozen
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			src.Close()
			dst.Close()
			p.mu.Lock()
			delete(p.conns, src)
			delete(p.conns, dst)
			p.mu.Unlock()
			return
		}
	}
}

// cut closes every proxied connection and refuses new ones until restore.
func (p *flakyProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *flakyProxy) restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}

// freeze stops forwarding bytes (and closes) without closing anything.
func (p *flakyProxy) freeze() {
	p.mu.Lock()
	if p.frozen == nil {
		p.frozen = make(chan struct{})
	}
	p.mu.Unlock()
}

func (p *flakyProxy) thaw() {
	p.mu.Lock()
	if p.frozen != nil {
		close(p.frozen)
		p.frozen = nil
	}
	p.mu.Unlock()
}

// readAll reads a response body, failing the test on error.
func body(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// recv receives from ch, failing the test after 15 s.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(15 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}
