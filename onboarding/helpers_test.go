package onboarding_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/onboarding/simradio"
	"github.com/hearth-wot/hearth/thing"
)

const (
	testSSID       = "holiday-home"
	testPassphrase = "correct horse battery"
	testCode       = "2020-2021"
)

// plugTD describes the simulated smart plug.
func plugTD(id string) func(context.Context) (*thing.Description, error) {
	return func(context.Context) (*thing.Description, error) {
		return thing.New(id, "Smart plug").
			Base("http://192.0.2.10/").
			Property("on", thing.Boolean().Observable()).
			Property("power", thing.Number().Unit("W").ReadOnly()).
			Build()
	}
}

// rig is one commissioner and one device on a simulated air.
type rig struct {
	t       testing.TB
	air     *simradio.Air
	dir     *onboardingtest.Directory
	station *simradio.Station
	dev     *onboarding.Device
	devCfg  onboarding.DeviceConfig
	payload onboarding.SetupPayload
	cfg     onboarding.Config

	mu       sync.Mutex
	progress []onboarding.Progress
	devState []onboarding.DeviceState

	noDevice  bool
	rogue     *simradio.Rogue
	intercept func(simradio.Frame) [][]byte

	cancel context.CancelFunc
	done   chan error
}

type rigOption func(*rig)

func newRig(t testing.TB, opts ...rigOption) *rig {
	t.Helper()
	code, err := onboarding.ParseSetupCode(testCode)
	if err != nil {
		t.Fatal(err)
	}
	ver, err := onboarding.NewVerifier(code, []byte("0123456789abcdef"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	r := &rig{
		t:       t,
		air:     simradio.New(simradio.Config{}),
		dir:     &onboardingtest.Directory{},
		station: simradio.NewStation(simradio.AccessPoint{SSID: testSSID, Passphrase: testPassphrase}),
		payload: onboarding.SetupPayload{Discriminator: 842, Code: code},
	}
	r.devCfg = onboarding.DeviceConfig{
		WiFi:          r.station,
		Verifier:      ver,
		Discriminator: 842,
		Describe:      plugTD("urn:hearth:plug:1"),
		PublicKey:     []byte("device public key"),
		OnState: func(s onboarding.DeviceState) {
			r.mu.Lock()
			r.devState = append(r.devState, s)
			r.mu.Unlock()
		},
	}
	r.cfg = onboarding.Config{
		Registrar: r.dir,
		OnProgress: func(p onboarding.Progress) {
			r.mu.Lock()
			r.progress = append(r.progress, p)
			r.mu.Unlock()
		},
	}
	for _, o := range opts {
		o(r)
	}
	if r.intercept != nil {
		r.air = simradio.New(simradio.Config{Intercept: r.intercept})
	}
	if r.devCfg.Radio == nil {
		r.devCfg.Radio = r.air.Peripheral()
	}
	if r.cfg.Radio == nil {
		r.cfg.Radio = r.air.Central()
	}
	r.dev, err = onboarding.NewDevice(r.devCfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start runs the device until stop.
func (r *rig) start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.done = make(chan error, 1)
	switch {
	case r.rogue != nil:
		go func() { r.done <- r.rogue.Run(ctx) }()
	case r.noDevice:
		r.done <- nil
	default:
		go func() { r.done <- r.dev.Run(ctx) }()
	}
}

// stop ends the device and the air, and waits.
func (r *rig) stop() {
	if r.cancel != nil {
		r.cancel()
		if err := <-r.done; err != nil {
			r.t.Errorf("device Run: %v", err)
		}
		r.cancel = nil
	}
	r.air.Close()
}

func (r *rig) session() *onboarding.Session {
	r.t.Helper()
	s, err := onboarding.NewSession(r.cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// quietSession is a Session on the rig's radio that does not report
// progress to the rig.
func (r *rig) quietSession() *onboarding.Session {
	r.t.Helper()
	s, err := onboarding.NewSession(onboarding.Config{Radio: r.cfg.Radio, Registrar: r.cfg.Registrar})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

func (r *rig) creds() onboarding.WiFiCredentials {
	return onboarding.WiFiCredentials{SSID: testSSID, Passphrase: onboarding.NewPassphrase(testPassphrase)}
}

func (r *rig) commission(s *onboarding.Session) (*onboarding.Registration, error) {
	return s.Commission(context.Background(), onboarding.UserGesture(), r.payload, r.creds())
}

func (r *rig) states() []onboarding.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []onboarding.State
	for _, p := range r.progress {
		if len(out) == 0 || out[len(out)-1] != p.State {
			out = append(out, p.State)
		}
	}
	return out
}

func (r *rig) deviceStates() []onboarding.DeviceState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]onboarding.DeviceState(nil), r.devState...)
}

// waitDevice waits (in a synctest bubble: instantly) until the device is
// in state s.
func (r *rig) waitDevice(s onboarding.DeviceState) {
	r.t.Helper()
	for range 10000 {
		if r.dev.State() == s {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.t.Fatalf("device state %v, want %v", r.dev.State(), s)
}
