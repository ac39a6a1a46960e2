package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway"
)

// discard is a ResponseWriter that keeps nothing, so benchmarks measure the
// handler.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkHandler measures the handler alone (no network): an
// authenticated property GET and TD GET, and a bare handler writing the
// same JSON.
func BenchmarkHandler(b *testing.B) {
	h := newHarness(b, gateway.Config{})
	for _, bc := range []struct{ name, path string }{
		{"bare", ""},
		{"property", lamp + "/properties/brightness"},
		{"td", lamp},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var handler http.Handler = h.gw
			path := bc.path
			if path == "" {
				handler, path = bareHandler(), lamp+"/properties/brightness"
			}
			req := httptest.NewRequest("GET", "http://localhost"+path, nil)
			req.Header.Set("Authorization", "Bearer "+tokFull)
			w := &discard{h: make(http.Header)}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				handler.ServeHTTP(w, req)
				if w.code != 0 && w.code != 200 {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}

func bareHandler() http.Handler {
	body := []byte("50")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		w.Write(body)
	})
}

// BenchmarkHTTP measures an authenticated property GET over loopback HTTP
// with keep-alive, and a bare net/http handler returning the same JSON in
// the same run; it reports the gateway's throughput as a fraction of the
// bare handler's (x-bare).
func BenchmarkHTTP(b *testing.B) {
	h := newHarness(b, gateway.Config{})
	bare := httptest.NewServer(bareHandler())
	defer bare.Close()
	get := func(b *testing.B, url string) {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+tokFull)
		resp, err := h.ts.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	var bareNs, gwNs float64
	b.Run("bare", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(b, bare.URL+lamp+"/properties/brightness")
		}
		bareNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("property", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			get(b, h.ts.URL+lamp+"/properties/brightness")
		}
		gwNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if bareNs > 0 {
			b.ReportMetric(bareNs/gwNs, "x-bare")
		}
	})
}

// BenchmarkFanOut measures one property change delivered to every one of
// n WebThings WebSocket subscribers: ns/op is the time until the last one
// has it.
func BenchmarkFanOut(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h := newHarness(b, gateway.Config{WebThings: gateway.WebThings{Layout: gateway.WebThingsMulti}, MaxStreams: 2 * n})
			var wg sync.WaitGroup
			got := make(chan int, n)
			conns := make([]*websocket.Conn, n)
			u := "ws" + strings.TrimPrefix(h.ts.URL, "http") + "/0?jwt=" + tokFull
			for i := range conns {
				c, _, err := websocket.DefaultDialer.Dial(u, nil)
				if err != nil {
					b.Fatal(err)
				}
				conns[i] = c
				wg.Go(func() {
					for {
						if _, _, err := c.ReadMessage(); err != nil {
							return
						}
						got <- 1
					}
				})
			}
			time.Sleep(100 * time.Millisecond)
			v := 0
			b.ReportAllocs()
			for b.Loop() {
				v = 1 - v
				h.ad.Set("urn:test:lamp", "brightness", v)
				for range n {
					<-got
				}
			}
			for _, c := range conns {
				c.Close()
			}
			wg.Wait()
		})
	}
}
