// Command gwbench measures a Hearth gateway on this machine. It is a
// benchmark tool, not part of the API.
//
//	gwbench serve  [-addr 127.0.0.1:8080] [-bare 127.0.0.1:8081] [-things 100]
//	gwbench fanout [-url http://127.0.0.1:8080] [-clients 1000] [-changes 200] [-sustain 10s] [-pid N]
//
// serve runs a gateway with -things simulated devices (gateway/virtual) and
// a static-token authorizer (token "bench-token", allowed everything), plus
// a bare net/http handler on -bare that returns the same JSON as the
// property GET, as the ceiling to compare against (see run.sh, which drives
// both with wrk). fanout opens -clients WebThings WebSockets on the first
// thing, changes a property -changes times and reports the delivery
// latency percentiles, then changes it as fast as it can for -sustain and
// reports the deliveries per second, and the server's RSS (-pid).
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/gatewaytest"
	"github.com/hearth-wot/hearth/gateway/virtual"
)

const token = "bench-token"

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gwbench serve|fanout [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2:])
	case "fanout":
		fanout(os.Args[2:])
	default:
		fmt.Fprintln(os.Stderr, "usage: gwbench serve|fanout [flags]")
		os.Exit(2)
	}
}

func serve(args []string) {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "gateway address")
	bare := fs.String("bare", "127.0.0.1:8081", "bare handler address")
	n := fs.Int("things", 100, "simulated things")
	fs.Parse(args)

	devices := virtual.New(virtual.Config{})
	defer devices.Close()
	for i := range *n {
		id := fmt.Sprintf("urn:bench:%03d", i)
		var d virtual.Device
		switch i % 4 {
		case 0, 1:
			d = virtual.NewDimmableLight(id, "Light "+strconv.Itoa(i))
		case 2:
			d = virtual.NewSmartPlug(id, "Plug "+strconv.Itoa(i), virtual.SmartPlugOptions{Seed: uint64(i)})
		default:
			d = virtual.NewThermostat(id, "Thermostat "+strconv.Itoa(i), virtual.ThermostatOptions{})
		}
		if err := devices.Add(d); err != nil {
			log.Fatal(err)
		}
	}
	auth := gatewaytest.NewAuthorizer()
	auth.Add(token, gatewaytest.Grant{ID: "bench", Rules: []gatewaytest.Rule{{ThingID: gatewaytest.Any, Op: gatewaytest.Any, Name: gatewaytest.Any}}})
	gw, err := gateway.New(gateway.Config{
		Authorizer: auth,
		WebThings:  gateway.WebThings{Layout: gateway.WebThingsMulti, Path: "/webthings"},
		MaxStreams: 20000,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := gw.AddAdapter(context.Background(), devices); err != nil {
		log.Fatal(err)
	}
	srv := gateway.RecommendedHTTPServer(*addr, gw)
	srv.RegisterOnShutdown(func() { gw.Close() })

	// The ceiling: the same JSON as GET /things/urn:bench:000/properties/brightness.
	body := []byte("100")
	bareSrv := gateway.RecommendedHTTPServer(*bare, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "3")
		w.Write(body)
	}))
	go bareSrv.ListenAndServe()
	go srv.ListenAndServe()
	fmt.Printf("pid %d: gateway on %s, bare handler on %s, %d things\n", os.Getpid(), *addr, *bare, *n)

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			fmt.Printf("heap in use %d KiB, stacks %d KiB, goroutines %d, sys %d KiB\n",
				m.HeapInuse>>10, m.StackInuse>>10, runtime.NumGoroutine(), m.Sys>>10)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	gw.Shutdown(sctx)
	srv.Shutdown(sctx)
	bareSrv.Shutdown(sctx)
}

func fanout(args []string) {
	fs := flag.NewFlagSet("fanout", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8080", "gateway URL")
	clients := fs.Int("clients", 1000, "WebSocket subscribers")
	changes := fs.Int("changes", 200, "changes timed for latency")
	sustain := fs.Duration("sustain", 10*time.Second, "duration of the sustained run")
	pid := fs.Int("pid", 0, "server pid, to report its RSS")
	fs.Parse(args)

	wsURL := "ws" + strings.TrimPrefix(*base, "http") + "/webthings/0?jwt=" + token
	propURL := *base + "/things/urn:bench:000/properties/brightness"

	var (
		mu       sync.Mutex
		sentAt   = map[int]time.Time{}
		lat      []time.Duration
		received atomic.Int64
	)
	conns := make([]*websocket.Conn, *clients)
	var wg sync.WaitGroup
	for i := range conns {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			log.Fatalf("client %d: %v", i, err)
		}
		conns[i] = c
		wg.Go(func() {
			prefix := []byte(`{"messageType":"propertyStatus","data":{"brightness":`)
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now()
				if !bytes.HasPrefix(b, prefix) {
					continue
				}
				received.Add(1)
				v, err := strconv.Atoi(string(bytes.TrimSuffix(b[len(prefix):], []byte("}}"))))
				if err != nil {
					continue
				}
				mu.Lock()
				if t, ok := sentAt[v]; ok {
					lat = append(lat, now.Sub(t))
				}
				mu.Unlock()
			}
		})
	}
	fmt.Printf("%d WebSocket clients connected\n", *clients)
	time.Sleep(time.Second)
	if *pid != 0 {
		fmt.Printf("server RSS with %d WebSocket clients: %s\n", *clients, rss(*pid))
	}

	put := func(v int) {
		req, _ := http.NewRequest(http.MethodPut, propURL, strings.NewReader(strconv.Itoa(v)))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			log.Fatalf("PUT: %s", resp.Status)
		}
	}
	// Latency: one change at a time, waiting until every client has it.
	for i := range *changes {
		v := i%2 + 1 // alternate 1, 2 (the gateway notifies changes only)
		mu.Lock()
		clear(sentAt)
		sentAt[v] = time.Now()
		want := len(lat) + *clients
		mu.Unlock()
		put(v)
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := len(lat)
			mu.Unlock()
			if n >= want {
				break
			}
			if time.Now().After(deadline) {
				log.Fatalf("change %d: only %d of %d deliveries in 5s", i, n-(want-*clients), *clients)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	mu.Lock()
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("fan-out of one change to %d subscribers, %d changes: p50 %v p99 %v max %v\n",
		*clients, *changes, q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	clear(sentAt)
	mu.Unlock()

	// Sustained: change as fast as one client can.
	before := received.Load()
	start := time.Now()
	n := 0
	for time.Since(start) < *sustain {
		put(n%97 + 3)
		n++
	}
	time.Sleep(500 * time.Millisecond)
	el := time.Since(start)
	got := received.Load() - before
	fmt.Printf("sustained: %.0f changes/s, %.0f deliveries/s to %d subscribers (%.1f%% of changes delivered; the rest coalesced)\n",
		float64(n)/el.Seconds(), float64(got)/el.Seconds(), *clients, 100*float64(got)/float64(n**clients))
	if *pid != 0 {
		fmt.Printf("server RSS after the run: %s\n", rss(*pid))
	}
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
}

// rss reads a process's resident set size from /proc.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.Join(strings.Fields(strings.TrimPrefix(line, "VmRSS:")), " ")
		}
	}
	return "unknown"
}
