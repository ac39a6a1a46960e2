// Command holiday-home runs a whole holiday resort on Hearth, in one
// process and with nothing else installed:
//
//	go run ./examples/holiday-home
//
// It starts the resort's cloud (a federated-learning server, a relay for
// remote access, the owner's dashboard and a third-party app, EnergySaver)
// and five holiday homes. Each home has a gateway with simulated devices
// (lights, thermostat, smart plug, energy meter, washing machine, door and
// window sensors), a durable consent ledger, a guest web app (a progressive
// web app with a consent centre) and a federated-learning client that
// trains an energy forecaster on the home's own meter history, only while
// its guest consents. At start a new smart plug is onboarded into home 1
// over a simulated Bluetooth LE radio. The program prints the URLs to open:
// the guest app's check-in link for each home (on this machine, and away
// from home through the relay), the owner's dashboard and EnergySaver.
//
// Flags:
//
//	-homes N            number of homes (default 5)
//	-data DIR           ledgers, keys and the model (default: a folder in the user cache directory), reused across runs
//	-addr HOST          address to listen on (default 127.0.0.1)
//	-port P             first port: the cloud uses P and P+1, EnergySaver P+2, home N P+10+N (0: free ports)
//	-cloud-only         run only the resort's cloud
//	-home N -cloud URL  run only home N, joining the cloud at URL (its https address)
//	-cloud-ca FILE      the resort's CA certificate, for -home (default: the one in -data)
//	-enroll-secret S    the resort's enrollment secret, for -home (default: the one in -data)
//	-hostname NAMES     the cloud's host names; the first is the domain of the apps' host names (default localhost)
//	-round-every D      time between federated rounds (default 15s)
//	-dp-noise Z         central differential-privacy noise multiplier (default 1; 0: off)
//	-epsilon E          privacy budget: no round may take ε beyond it (default 50; 0: no limit)
//	-mdns               advertise the homes' gateways on the local network
//	-v                  debug logs on stderr (default: warnings and errors only)
//
// Run the pieces on separate machines: start the cloud with -cloud-only
// (it prints the enrollment secret and where its CA certificate is), copy
// ca.pem to each home machine and start each home with
// -home N -cloud https://resort:8471 -cloud-ca ca.pem -enroll-secret S.
// A home's first enrollment binds its name to its gateway's own key (kept
// in its data directory); no other key can enroll under that name later.
//
// Everything binds 127.0.0.1 by default. The guest app authenticates the
// guest with the check-in code printed at start (as on a key card); the
// owner's dashboard with the owner link printed at start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// config is how run is told what to start. The flags fill it; tests build
// it directly.
type config struct {
	Homes        int
	DataDir      string
	Host         string   // address to bind
	Hostnames    []string // the cloud's host names; the first is the apps' domain
	Port         int      // first port; 0 means free ports everywhere
	CloudOnly    bool
	Home         int    // with CloudURL: run only this home
	CloudURL     string // the cloud's https URL, for -home
	CloudCA      string // the resort CA's PEM file, for -home
	EnrollSecret string // the resort's enrollment secret, for -home
	RoundEvery   time.Duration
	DPNoise      float64
	Epsilon      float64
	MDNS         bool
	Onboard      bool // onboard a smart plug into home 1 at start

	Out io.Writer    // where the URLs and round progress are printed
	Log *slog.Logger // diagnostics

	// ready, if set, is called once everything has started.
	ready func(*resort)
}

// port returns the port for slot i (0 and 1: the cloud; 2: EnergySaver;
// 10+N: home N).
func (c *config) port(i int) int {
	if c.Port == 0 {
		return 0
	}
	return c.Port + i
}

// resort is everything run started.
type resort struct {
	cloud *cloud
	homes []*home
	plug  *label // the smart plug onboarded at start
}

func main() {
	var cfg config
	defaultData := filepath.Join(os.TempDir(), "hearth-holiday-home")
	if d, err := os.UserCacheDir(); err == nil {
		defaultData = filepath.Join(d, "hearth-holiday-home")
	}
	var hostnames string
	verbose := flag.Bool("v", false, "verbose logs (debug level; default: warnings and errors only)")
	flag.IntVar(&cfg.Homes, "homes", 5, "number of holiday homes")
	flag.StringVar(&cfg.DataDir, "data", defaultData, "data directory (ledgers, keys, model), reused across runs")
	flag.StringVar(&cfg.Host, "addr", "127.0.0.1", "address to listen on")
	flag.StringVar(&hostnames, "hostname", "", "comma-separated host names of the cloud; the first is the domain of the apps' host names (default localhost)")
	flag.IntVar(&cfg.Port, "port", 8470, "first port: the cloud uses it and the next, EnergySaver the one after, home N port+10+N; 0 picks free ports")
	flag.BoolVar(&cfg.CloudOnly, "cloud-only", false, "run only the resort's cloud")
	flag.IntVar(&cfg.Home, "home", 0, "run only this home (with -cloud)")
	flag.StringVar(&cfg.CloudURL, "cloud", "", "the cloud's https URL, for -home")
	flag.StringVar(&cfg.CloudCA, "cloud-ca", "", "the resort CA certificate (PEM), for -home (default: the one in -data)")
	flag.StringVar(&cfg.EnrollSecret, "enroll-secret", "", "the resort's enrollment secret, for -home (default: the one in -data)")
	flag.DurationVar(&cfg.RoundEvery, "round-every", 15*time.Second, "time between federated-learning rounds")
	flag.Float64Var(&cfg.DPNoise, "dp-noise", 1.0, "central differential-privacy noise multiplier (0 turns DP off)")
	flag.Float64Var(&cfg.Epsilon, "epsilon", 50, "privacy budget ε: rounds stop before exceeding it (0: no limit)")
	flag.BoolVar(&cfg.MDNS, "mdns", false, "advertise the homes' gateways with mDNS/DNS-SD on the local network")
	flag.Parse()
	if hostnames != "" {
		cfg.Hostnames = strings.Split(hostnames, ",")
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Out = os.Stdout
	cfg.Onboard = true

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "holiday-home:", err)
		os.Exit(1)
	}
}

// domain returns the domain of the apps' host names: the first -hostname,
// or localhost. The owner's dashboard is at the domain itself
// (resort.localhost by default), EnergySaver at energysaver.<domain>, and
// home N at home-N.<domain>.
func (c *config) domain() string {
	if len(c.Hostnames) > 0 {
		return strings.ToLower(strings.TrimSuffix(c.Hostnames[0], "."))
	}
	return defaultDomain
}

func (c *config) validate() error {
	var errs []error
	for i, h := range c.Hostnames {
		if h == "" || strings.ContainsAny(h, "/:*@ ") || (i == 0 && isIPLiteral(h)) {
			errs = append(errs, fmt.Errorf("-hostname %q: host names without port; the first must be a DNS name (the apps' domain)", h))
		}
	}
	if c.Homes < 1 || c.Homes > 200 {
		errs = append(errs, errors.New("-homes must be 1 to 200"))
	}
	if c.Home != 0 && c.CloudURL == "" {
		errs = append(errs, errors.New("-home needs -cloud, the resort cloud's https URL"))
	}
	if c.CloudURL != "" {
		if u, err := url.Parse(c.CloudURL); err != nil || u.Scheme != "https" || u.Host == "" {
			errs = append(errs, errors.New("-cloud must be the cloud's https URL, such as https://127.0.0.1:8471"))
		}
		if c.Home < 1 {
			errs = append(errs, errors.New("-cloud needs -home N"))
		}
	}
	if c.CloudOnly && c.Home != 0 {
		errs = append(errs, errors.New("-cloud-only and -home exclude each other"))
	}
	if c.RoundEvery <= 0 {
		errs = append(errs, errors.New("-round-every must be positive"))
	}
	if c.DPNoise < 0 || c.Epsilon < 0 {
		errs = append(errs, errors.New("-dp-noise and -epsilon must not be negative"))
	}
	return errors.Join(errs...)
}

// run starts the resort (or the part of it cfg asks for), prints the URLs
// to open, and serves until ctx ends; then it shuts everything down.
func run(ctx context.Context, cfg config) error {
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rs := &resort{}
	var opt homeOptions
	if cfg.Home == 0 {
		c, err := newCloud(ctx, &cfg)
		if err != nil {
			return fmt.Errorf("starting the resort cloud: %w", err)
		}
		rs.cloud = c
		opt = homeOptions{cloudURL: c.secureURL, pool: c.ca.pool(), secret: c.enrollSecret}
	} else {
		pool, err := loadCAPool(cmp(cfg.CloudCA, filepath.Join(cfg.DataDir, "cloud", "ca.pem")))
		if err != nil {
			return fmt.Errorf("the resort's CA certificate (-cloud-ca): %w", err)
		}
		secret := cfg.EnrollSecret
		if secret == "" {
			b, err := os.ReadFile(filepath.Join(cfg.DataDir, "cloud", "enroll-secret"))
			if err != nil {
				return fmt.Errorf("the resort's enrollment secret (-enroll-secret): %w", err)
			}
			secret = strings.TrimSpace(string(b))
		}
		opt = homeOptions{cloudURL: cfg.CloudURL, pool: pool, secret: secret}
	}

	var wg sync.WaitGroup
	errc := make(chan error, cfg.Homes+1)
	if rs.cloud != nil {
		wg.Go(func() { errc <- rs.cloud.run(ctx) })
	}
	fail := func(err error) error {
		cancel()
		wg.Wait()
		return err
	}
	var numbers []int
	switch {
	case cfg.Home != 0:
		numbers = []int{cfg.Home}
	case !cfg.CloudOnly:
		for n := 1; n <= cfg.Homes; n++ {
			numbers = append(numbers, n)
		}
	}
	for _, n := range numbers {
		h, err := newHome(ctx, &cfg, n, opt)
		if err != nil {
			return fail(fmt.Errorf("starting home %d: %w", n, err))
		}
		rs.homes = append(rs.homes, h)
		if n != 1 {
			if err := h.simulateGuestOptIn(ctx); err != nil {
				return fail(err)
			}
		}
		wg.Go(func() { errc <- h.run(ctx) })
	}
	if cfg.Onboard && len(rs.homes) > 0 && rs.homes[0].n == 1 {
		l, err := onboardAtStart(ctx, rs.homes[0])
		if err != nil {
			return fail(fmt.Errorf("onboarding the smart plug into home 1: %w", err))
		}
		rs.plug = &l
	}
	waitConnected(ctx, rs, 10*time.Second)
	printWelcome(cfg, rs)
	if cfg.ready != nil {
		cfg.ready(rs)
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	cancel()
	wg.Wait()
	close(errc)
	for e := range errc {
		if err == nil && e != nil && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	fmt.Fprintln(cfg.Out, "holiday-home: stopped")
	return err
}

// onboardAtStart plays the installer who unpacks a new smart plug in
// home 1 and adds it with the code on its label.
func onboardAtStart(ctx context.Context, h *home) (label, error) {
	l, err := h.onb.unbox(ctx, "Hallway smart plug")
	if err != nil {
		return l, err
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if _, err := h.onb.add(ctx, l.Payload, nil); err != nil {
		return l, err
	}
	return l, nil
}

// waitConnected waits, a bounded time, until every home reaches the
// resort's relay, so that the "away from home" links work when printed.
func waitConnected(ctx context.Context, rs *resort, wait time.Duration) {
	deadline := time.Now().Add(wait)
	for _, h := range rs.homes {
		for !h.relayc.Metrics().Connected && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		if !h.relayc.Metrics().Connected {
			h.log.Warn("not connected to the resort's relay yet; remote access follows when it is")
		}
	}
}

func printWelcome(cfg config, rs *resort) {
	w := cfg.Out
	fmt.Fprintf(w, "\nHearth holiday resort · data in %s\n\n", cfg.DataDir)
	if c := rs.cloud; c != nil {
		fmt.Fprintf(w, "Resort cloud\n")
		fmt.Fprintf(w, "  owner dashboard       %s/owner/login?key=%s\n", c.publicURL, c.ownerKey)
		fmt.Fprintf(w, "  EnergySaver (an app)  %s\n", c.es.base)
		fmt.Fprintf(w, "  relay and FL (TLS)    %s  (CA: %s)\n", c.secureURL, filepath.Join(c.dir, "ca.pem"))
		if cfg.CloudOnly {
			fmt.Fprintf(w, "  enrollment secret     %s\n", c.enrollSecret)
			fmt.Fprintf(w, "  start a home with     go run ./examples/holiday-home -home 1 -cloud %s -cloud-ca %s -enroll-secret %s\n",
				c.secureURL, filepath.Join(c.dir, "ca.pem"), c.enrollSecret)
		}
		fmt.Fprintln(w)
	}
	if rs.plug != nil {
		fmt.Fprintf(w, "A new smart plug was onboarded into home 1 over (simulated) Bluetooth LE. Its label:\n%s\n", printLabel(*rs.plug))
	}
	for _, h := range rs.homes {
		guest := "your guest app"
		if h.n != 1 || cfg.Home != 0 {
			guest = "guest app"
		}
		fmt.Fprintf(w, "%s · check-in code %s\n", h.title, h.checkin)
		fmt.Fprintf(w, "  %-20s %scheckin?code=%s\n", guest, h.localURL, h.checkin)
		fmt.Fprintf(w, "  %-20s %scheckin?code=%s\n", "away from home", h.enroll.RemoteURL, h.checkin)
	}
	fmt.Fprintln(w)
	if cfg.domain() == defaultDomain {
		fmt.Fprintf(w, "Every app has a host name of its own under .localhost (Chrome, Edge and Firefox resolve them to this machine).\n")
	}
	switch {
	case cfg.Home == 0 && cfg.Homes > 1 && len(rs.homes) > 0:
		fmt.Fprintf(w, "The guests of homes 2-%d agreed to the resort's energy forecast at check-in; home 1's guest decides in the app.\n", cfg.Homes)
	case cfg.Home > 1:
		fmt.Fprintf(w, "This home's guest agreed to the resort's energy forecast at check-in.\n")
	}
	if rs.cloud != nil {
		privacy := "secure aggregation and central differential privacy"
		if cfg.DPNoise <= 0 {
			privacy = "secure aggregation; differential privacy off"
		}
		fmt.Fprintf(w, "Federated rounds every %s (%s). ", cfg.RoundEvery, privacy)
	}
	fmt.Fprintf(w, "Press Ctrl-C to stop.\n\n")
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
