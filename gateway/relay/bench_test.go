package relay_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// propertyHandler answers like a gateway reading a property.
var propertyHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"on":true}`)
})

// loadResult is one bounded load run.
type loadResult struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
}

// load sends count GET requests to url from workers goroutines sharing
// one keep-alive client, stopping early after limit.
func load(b *testing.B, c *http.Client, url string, workers, count int, limit time.Duration) loadResult {
	b.Helper()
	var mu sync.Mutex
	res := loadResult{lat: make([]time.Duration, 0, count)}
	next := make(chan struct{}, count)
	for range count {
		next <- struct{}{}
	}
	close(next)
	stop := time.Now().Add(limit)
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			lat := make([]time.Duration, 0, count/workers+1)
			for range next {
				if time.Now().After(stop) {
					break
				}
				t0 := time.Now()
				resp, err := c.Get(url)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.lat = append(res.lat, lat...)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.n = len(res.lat)
	return res
}

func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

func keepAliveClient(b *testing.B, cfg *tls.Config, conns int) *http.Client {
	tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// BenchmarkLoad runs the same bounded load (16 concurrent clients, 2,000
// property reads per round, 30 s at most) directly against a gateway over
// TLS and through the relay, on loopback, and reports requests per second,
// p50 and p99 latencies of both and their ratios.
func BenchmarkLoad(b *testing.B) {
	const workers, count, limit = 16, 2000, 30 * time.Second
	direct := httptest.NewUnstartedServer(propertyHandler)
	direct.StartTLS()
	defer direct.Close()
	env := newRelay(b, relay.Config{MaxStreamsPerHome: -1})
	startHome(b, env, "villa", propertyHandler)

	directClient := keepAliveClient(b, direct.Client().Transport.(*http.Transport).TLSClientConfig, workers)
	relayClient := keepAliveClient(b, env.roots(), workers)
	directURL := direct.URL + "/things/lamp/properties/on"
	relayURL := env.url("villa", "/things/lamp/properties/on")
	// Warm up connections on both paths.
	load(b, directClient, directURL, workers, 4*workers, limit)
	load(b, relayClient, relayURL, workers, 4*workers, limit)

	var d, r loadResult
	for b.Loop() {
		dr := load(b, directClient, directURL, workers, count, limit)
		rr := load(b, relayClient, relayURL, workers, count, limit)
		d.n, d.elapsed, d.lat = d.n+dr.n, d.elapsed+dr.elapsed, append(d.lat, dr.lat...)
		r.n, r.elapsed, r.lat = r.n+rr.n, r.elapsed+rr.elapsed, append(r.lat, rr.lat...)
	}
	dRPS := float64(d.n) / d.elapsed.Seconds()
	rRPS := float64(r.n) / r.elapsed.Seconds()
	dP99, rP99 := percentile(d.lat, 0.99), percentile(r.lat, 0.99)
	b.ReportMetric(dRPS, "direct-req/s")
	b.ReportMetric(rRPS, "relay-req/s")
	b.ReportMetric(float64(percentile(d.lat, 0.5).Microseconds()), "direct-p50-µs")
	b.ReportMetric(float64(percentile(r.lat, 0.5).Microseconds()), "relay-p50-µs")
	b.ReportMetric(float64(dP99.Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(rP99.Microseconds()), "relay-p99-µs")
	b.ReportMetric(float64(rP99)/float64(dP99), "p99-ratio")
	b.ReportMetric(dRPS/rRPS, "rps-ratio")
}

// BenchmarkRoundTrip is one property read at a time, directly and
// through the relay.
func BenchmarkRoundTrip(b *testing.B) {
	b.Run("direct", func(b *testing.B) {
		direct := httptest.NewUnstartedServer(propertyHandler)
		direct.StartTLS()
		defer direct.Close()
		c := keepAliveClient(b, direct.Client().Transport.(*http.Transport).TLSClientConfig, 1)
		roundTrips(b, c, direct.URL+"/things/lamp/properties/on")
	})
	b.Run("relay", func(b *testing.B) {
		env := newRelay(b, relay.Config{})
		startHome(b, env, "villa", propertyHandler)
		roundTrips(b, keepAliveClient(b, env.roots(), 1), env.url("villa", "/things/lamp/properties/on"))
	})
}

func roundTrips(b *testing.B, c *http.Client, url string) {
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// Environment of the gateway fleet helper process.
const (
	fleetURL  = "HEARTH_RELAY_FLEET_URL"
	fleetCA   = "HEARTH_RELAY_FLEET_CA"
	fleetSize = "HEARTH_RELAY_FLEET_SIZE"
)

// fleetKey is gateway i's key, derived so that the relay process can
// register the public halves without talking to the fleet.
func fleetKey(i int) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("hearth relay fleet " + strconv.Itoa(i)))
	return ed25519.NewKeyFromSeed(seed[:])
}

func fleetHome(i int) string { return fmt.Sprintf("home-%04d", i) }

// BenchmarkGateways holds 1,000 connected gateways on one relay and
// reports the relay's memory and goroutines per gateway. The gateways run
// in a child process, so the figures are the relay's alone.
func BenchmarkGateways(b *testing.B) {
	if testing.Short() {
		b.Skip("1,000 gateways: not in -short mode")
	}
	const n = 1000
	raiseFDLimit(b, 4*n)
	env := newRelay(b, relay.Config{})
	for i := range n {
		env.reg.Register(fleetHome(i), fleetKey(i).Public().(ed25519.PublicKey))
	}
	caFile := filepath.Join(b.TempDir(), "relay.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: env.ts.Certificate().Raw})
	if err := os.WriteFile(caFile, pemBytes, 0o600); err != nil {
		b.Fatal(err)
	}

	var heap, rss, goroutines float64
	var connectTime time.Duration
	for b.Loop() {
		heap0, rss0, g0 := memory()
		cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayFleetHelper$", "-test.v")
		cmd.Env = append(os.Environ(), fleetURL+"="+env.ts.URL, fleetCA+"="+caFile, fleetSize+"="+strconv.Itoa(n))
		stdin, _ := cmd.StdinPipe()
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Minute)
		for env.srv.Metrics().Homes < n {
			if time.Now().After(deadline) {
				b.Fatalf("only %d of %d gateways connected", env.srv.Metrics().Homes, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		connectTime = time.Since(start)
		time.Sleep(time.Second) // let the last handshakes' garbage become collectable
		heap1, rss1, g1 := memory()
		heap = float64(heap1-heap0) / n
		rss = float64(rss1-rss0) / n
		goroutines = float64(g1-g0) / n
		stdin.Close() // the fleet closes its clients and exits
		cmd.Wait()
		for env.srv.Metrics().Homes > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	b.ReportMetric(heap, "heap-B/gateway")
	b.ReportMetric(rss, "rss-B/gateway")
	b.ReportMetric(goroutines, "goroutines/gateway")
	b.ReportMetric(connectTime.Seconds(), "s-to-connect-1000")
}

// TestGatewayFleetHelper is BenchmarkGateways' child process: it connects
// the fleet and holds it until its standard input closes.
func TestGatewayFleetHelper(t *testing.T) {
	url := os.Getenv(fleetURL)
	if url == "" {
		t.Skip("helper process for BenchmarkGateways")
	}
	n, _ := strconv.Atoi(os.Getenv(fleetSize))
	raiseFDLimit(t, uint64(4*n))
	pemBytes, err := os.ReadFile(os.Getenv(fleetCA))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // connect 64 at a time
	for i := range n {
		connected := make(chan struct{})
		var once sync.Once
		c, err := relay.NewClient(relay.ClientConfig{
			URL: url, Home: fleetHome(i), Key: fleetKey(i), Handler: propertyHandler,
			TLSClientConfig: &tls.Config{RootCAs: pool},
			MinBackoff:      100 * time.Millisecond, MaxBackoff: time.Second,
			OnConnect: func() { once.Do(func() { close(connected) }) },
		})
		if err != nil {
			t.Fatal(err)
		}
		sem <- struct{}{}
		wg.Go(func() { c.Run(ctx) })
		go func() {
			select {
			case <-connected:
			case <-ctx.Done():
			}
			<-sem
		}()
	}
	io.Copy(io.Discard, bufio.NewReader(os.Stdin))
	cancel()
	wg.Wait()
}

// memory returns the live heap after a GC, the resident set size and the
// goroutine count.
func memory() (heap, rss uint64, goroutines int) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		for line := range strings.Lines(string(b)) {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseUint(f[1], 10, 64)
				rss = kb << 10
			}
		}
	}
	return ms.HeapAlloc, rss, runtime.NumGoroutine()
}

// raiseFDLimit raises the soft limit on open files to at least n, if the
// hard limit allows.
func raiseFDLimit(tb testing.TB, n uint64) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Logf("getrlimit: %v", err)
		return
	}
	if lim.Cur >= n {
		return
	}
	lim.Cur = min(max(n, lim.Cur), lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Logf("setrlimit: %v", err)
	}
	if lim.Cur < n {
		tb.Skipf("open-file limit %d below the %d needed", lim.Cur, n)
	}
}
