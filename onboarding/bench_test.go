package onboarding_test

import (
	"context"
	"testing"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

// The radio of the benchmarks: 20 ms one way, the BLE minimum MTU.
var benchAir = simradio.Config{Latency: 20 * time.Millisecond, MTU: 20}

// BenchmarkOnboarding runs a full onboarding (scan, connect, SPAKE2+,
// credentials, join, registration, commit) over the simulated radio with
// 20 ms one-way latency and a 20-byte MTU, with the default PBKDF cost.
// It reports the radio round trips from connect to credentials delivered,
// in total, and the time from connect to credentials delivered.
func BenchmarkOnboarding(b *testing.B) {
	code, _ := onboarding.ParseSetupCode(testCode)
	ver, err := onboarding.NewVerifier(code, nil, onboarding.DefaultIterations)
	if err != nil {
		b.Fatal(err)
	}
	payload := onboarding.SetupPayload{Discriminator: 842, Code: code}
	var rtCreds, rtTotal, frames int
	var toCreds time.Duration
	b.ReportAllocs()
	for b.Loop() {
		air := simradio.New(benchAir)
		station := simradio.NewStation(simradio.AccessPoint{SSID: testSSID, Passphrase: testPassphrase})
		dev, err := onboarding.NewDevice(onboarding.DeviceConfig{
			Radio: air.Peripheral(), WiFi: station, Verifier: ver, Discriminator: 842, Describe: plugTD("urn:hearth:plug:1"),
		})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- dev.Run(ctx) }()
		var connected time.Time
		s, err := onboarding.NewSession(onboarding.Config{
			Radio:     air.Central(),
			Registrar: &onboardingtest.Directory{},
			OnProgress: func(p onboarding.Progress) {
				switch {
				case p.State == onboarding.Connecting:
					connected = time.Now()
				case p.State == onboarding.Joining && p.Join == onboarding.JoinConnecting:
					rtCreds = air.Stats().RoundTrips
					toCreds = time.Since(connected)
				}
			},
		})
		if err != nil {
			b.Fatal(err)
		}
		creds := onboarding.WiFiCredentials{SSID: testSSID, Passphrase: onboarding.NewPassphrase(testPassphrase)}
		if _, err := s.Commission(ctx, onboarding.UserGesture(), payload, creds); err != nil {
			b.Fatal(err)
		}
		rtTotal, frames = air.Stats().RoundTrips, air.Stats().Frames
		cancel()
		<-done
		air.Close()
	}
	b.ReportMetric(float64(rtCreds), "rt-to-credentials")
	b.ReportMetric(float64(rtTotal), "rt-total")
	b.ReportMetric(float64(frames), "frames")
	b.ReportMetric(float64(toCreds.Milliseconds()), "ms-to-credentials")
}

// sec2Exchanges are the request/response exchanges of an Espressif
// unified-provisioning run with Security 2 (esp_prov's order: proto-ver,
// the two-step SRP6a session, set-config, apply-config, get-status), with
// the sizes of their encoded messages in bytes. The SRP6a public keys are
// 384 bytes (the 3072-bit group), the proofs 64 (SHA-512); config
// messages carry a 16-byte AES-GCM tag. The sizes are our estimates from
// the protobuf definitions with this benchmark's credentials, not
// captures.
var sec2Exchanges = []struct {
	name      string
	req, resp int
}{
	{"proto-ver", 4, 75},
	{"SessionCmd0/Resp0", 407, 417},
	{"SessionCmd1/Resp1", 76, 90},
	{"CmdSetConfig", 59, 22},
	{"CmdApplyConfig", 20, 22},
	{"CmdGetStatus", 20, 56},
}

// sec2CredsExchange is the exchange after which the credentials are
// delivered (CmdSetConfig).
const sec2CredsExchange = 3

// attTrips returns the ATT request/response round trips protocomm_ble
// needs for one exchange at ATT_MTU 23 (a 20-byte MTU): the client writes
// the request (a Write Request, or Prepare Write Requests of 18 bytes plus
// an Execute Write when it does not fit) and then reads the response (a
// Read Request of 22 bytes, then Read Blob Requests of 22).
func attTrips(req, resp int) int {
	n := 1
	if req > 20 {
		n = (req+17)/18 + 1
	}
	n++
	if resp > 22 {
		n += (resp - 22 + 21) / 22
	}
	return n
}

// BenchmarkEspressifSec2 replays the radio pattern of Espressif's Security
// 2 flow over the same simulated radio: each ATT round trip is one frame
// each way. It runs none of Security 2's cryptography (SRP6a over a
// 3072-bit group would add tens of milliseconds per side), so it flatters
// Security 2; the point is the round-trip count, which latency multiplies.
func BenchmarkEspressifSec2(b *testing.B) {
	var rtCreds, rtTotal int
	var toCreds time.Duration
	for b.Loop() {
		air := simradio.New(benchAir)
		ctx, cancel := context.WithCancel(context.Background())
		ln, err := air.Peripheral().Listen(ctx, []byte("esp"))
		if err != nil {
			b.Fatal(err)
		}
		// The device answers every ATT request with one frame.
		go func() {
			link, err := ln.Accept(ctx)
			if err != nil {
				return
			}
			for {
				if _, err := link.Recv(ctx); err != nil {
					return
				}
				link.Send(ctx, make([]byte, 20))
			}
		}()
		found := make(chan onboarding.Peer, 1)
		sctx, scancel := context.WithCancel(ctx)
		go air.Central().Scan(sctx, func(a onboarding.Advertisement) {
			select {
			case found <- a.Peer:
			default:
			}
		})
		p := <-found
		scancel()
		start := time.Now() // as for Hearth: from the start of the connection
		link, err := air.Central().Connect(ctx, p)
		if err != nil {
			b.Fatal(err)
		}
		for i, ex := range sec2Exchanges {
			for range attTrips(ex.req, ex.resp) {
				if err := link.Send(ctx, make([]byte, 20)); err != nil {
					b.Fatal(err)
				}
				if _, err := link.Recv(ctx); err != nil {
					b.Fatal(err)
				}
			}
			if i == sec2CredsExchange {
				rtCreds = air.Stats().RoundTrips
				toCreds = time.Since(start)
			}
		}
		rtTotal = air.Stats().RoundTrips
		link.Close()
		cancel()
		air.Close()
	}
	b.ReportMetric(float64(rtCreds), "rt-to-credentials")
	b.ReportMetric(float64(rtTotal), "rt-total")
	b.ReportMetric(float64(sec2CredsExchange+1), "exchanges-to-credentials")
	b.ReportMetric(float64(toCreds.Milliseconds()), "ms-to-credentials")
}

// TestRoundTripBudget checks the protocol's round-trip count, which the
// benchmark reports: at most 4 from connect to credentials delivered.
// Counting is exact (the radio counts turns), so this is not a timing
// assertion.
func TestRoundTripBudget(t *testing.T) {
	r := newRig(t, func(r *rig) { r.air = simradio.New(simradio.Config{MTU: 20}) })
	var rtCreds int
	r.cfg.OnProgress = func(p onboarding.Progress) {
		if p.State == onboarding.Joining && p.Join == onboarding.JoinConnecting {
			rtCreds = r.air.Stats().RoundTrips
		}
	}
	r.start()
	defer r.stop()
	if _, err := r.commission(r.session()); err != nil {
		t.Fatal(err)
	}
	if rtCreds > 4 {
		t.Errorf("%d radio round trips from connect to credentials delivered, want at most 4", rtCreds)
	}
	if total := r.air.Stats().RoundTrips; total != 5 {
		t.Errorf("%d round trips in total, want 5 (hello, SPAKE2+, confirm+credentials, status, complete)", total)
	}
	t.Logf("round trips: %d to credentials, %d total; Espressif Security 2 at the same MTU: %d and %d",
		rtCreds, r.air.Stats().RoundTrips, sec2Trips(sec2CredsExchange+1), sec2Trips(len(sec2Exchanges)))
}

func sec2Trips(exchanges int) int {
	n := 0
	for _, ex := range sec2Exchanges[:exchanges] {
		n += attTrips(ex.req, ex.resp)
	}
	return n
}
