package onboarding_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/internal/secure"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

// recorder keeps every frame that crosses the air and can replay or
// alter them.
type recorder struct {
	mu     sync.Mutex
	frames []simradio.Frame
	n      messageCounter
	// act, if set, decides what to deliver for a frame that starts or
	// continues central message number msg.
	act func(f simradio.Frame, msg int) [][]byte
	msg int
}

func (rec *recorder) intercept(f simradio.Frame) [][]byte {
	rec.mu.Lock()
	rec.frames = append(rec.frames, simradio.Frame{Link: f.Link, FromCentral: f.FromCentral, Data: append([]byte(nil), f.Data...)})
	act := rec.act
	rec.mu.Unlock()
	n := rec.n.count(f)
	if act != nil && f.FromCentral {
		return act(f, n)
	}
	return [][]byte{f.Data}
}

// messages reassembles the recorded frames of one direction of one link.
func (rec *recorder) messages(link int, fromCentral bool) [][]byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var r wire.Reassembler
	var out [][]byte
	for _, f := range rec.frames {
		if f.Link == link && f.FromCentral == fromCentral {
			if m, err := r.Push(f.Data); err == nil && m != nil {
				out = append(out, m)
			}
		}
	}
	return out
}

func (rec *recorder) all() []byte {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var b []byte
	for _, f := range rec.frames {
		b = append(b, f.Data[1:]...) // frame headers split secrets across frames; skip them
	}
	return b
}

func withRecorder(rec *recorder) rigOption {
	return func(r *rig) { r.intercept = rec.intercept }
}

// secretsOf lists what must never appear on the air or in a log.
func secrets() []string {
	return []string{"20202021", "2020-2021", testPassphrase, "hunter2-typo", "1111-2222", "11112222"}
}

// TestWrongCodeRevealsNothing: a wrong code fails the same way however
// close it is to the right one, and the device's answers have the same
// shape.
func TestWrongCodeRevealsNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var errs []string
		var shapes [][]int
		for _, code := range []string{"2020-2022", "9876-1234"} {
			rec := &recorder{}
			r := newRig(t, withRecorder(rec))
			r.start()
			wrong := r.payload
			wrong.Code, _ = onboarding.ParseSetupCode(code)
			_, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), wrong, r.creds())
			if !errors.Is(err, onboarding.ErrAuthentication) {
				t.Fatalf("code %s: %v, want ErrAuthentication", code, err)
			}
			errs = append(errs, err.Error())
			var shape []int
			for _, m := range rec.messages(1, false) {
				shape = append(shape, len(m))
			}
			shapes = append(shapes, shape)
			r.stop()
		}
		if errs[0] != errs[1] {
			t.Errorf("errors differ with the code: %q vs %q", errs[0], errs[1])
		}
		if fmt.Sprint(shapes[0]) != fmt.Sprint(shapes[1]) {
			t.Errorf("device answers differ in shape: %v vs %v", shapes[0], shapes[1])
		}
		for _, s := range errs {
			if strings.ContainsAny(s, "0123456789") {
				t.Errorf("error %q contains digits", s)
			}
		}
	})
}

// TestEavesdropper: nothing secret or identifying crosses the air in the
// clear.
func TestEavesdropper(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r := newRig(t, withRecorder(rec))
		r.start()
		defer r.stop()
		if _, err := r.commission(r.session()); err != nil {
			t.Fatal(err)
		}
		air := rec.all()
		for _, s := range append(secrets(), testSSID, "urn:hearth:plug:1", "Smart plug", "device public key") {
			if bytes.Contains(air, []byte(s)) {
				t.Errorf("%q crossed the air in the clear", s)
			}
		}
	})
}

// TestActiveAttacker alters, truncates, reorders, forges and replays
// frames of the sealed credentials message (the commissioner's fourth
// message). The device rejects each; the commissioner's retransmission
// completes the onboarding with the right network, joined exactly once
// (a replay accepted would join twice, a forgery would join "evil").
func TestActiveAttacker(t *testing.T) {
	forged := func() [][]byte {
		ch, _ := secure.New(bytes.Repeat([]byte{7}, 32), secure.Commissioner)
		m, _ := ch.Seal(wire.MarshalInner(&wire.SetNetwork{SSID: []byte("evil"), Passphrase: []byte("evil-passphrase")}))
		var f wire.Fragmenter
		frames, _ := f.Fragment(m, 20)
		return frames
	}()
	once := func(target int, do func(f simradio.Frame) [][]byte) func(simradio.Frame, int) [][]byte {
		var mu sync.Mutex
		done := false
		return func(f simradio.Frame, msg int) [][]byte {
			mu.Lock()
			defer mu.Unlock()
			if msg == target && !done {
				if out := do(f); out != nil || f.Data[0]&0x40 != 0 {
					done = f.Data[0]&0x40 != 0 // act on the whole message once
					return out
				}
			}
			return [][]byte{f.Data}
		}
	}
	var held []byte
	tests := []struct {
		name string
		act  func(simradio.Frame, int) [][]byte
	}{
		{"tampered", once(4, func(f simradio.Frame) [][]byte {
			d := append([]byte(nil), f.Data...)
			d[len(d)-1] ^= 0x20
			return [][]byte{d}
		})},
		{"truncated", once(4, func(f simradio.Frame) [][]byte {
			if f.Data[0]&0x40 != 0 {
				return [][]byte{} // the last frame never arrives
			}
			return [][]byte{f.Data}
		})},
		{"reordered", once(4, func(f simradio.Frame) [][]byte {
			if f.Data[0]&0x80 != 0 {
				held = f.Data
				return [][]byte{}
			}
			if held != nil {
				out := [][]byte{f.Data, held}
				held = nil
				return out
			}
			return [][]byte{f.Data}
		})},
		{"forged", once(4, func(f simradio.Frame) [][]byte {
			// A message sealed under another key arrives first.
			if f.Data[0]&0x80 != 0 {
				return append(append([][]byte(nil), forged...), f.Data)
			}
			return [][]byte{f.Data}
		})},
		{"replayed", func() func(simradio.Frame, int) [][]byte {
			// The credentials message again, in front of the next one.
			var mu sync.Mutex
			var saved [][]byte
			replayed := false
			return func(f simradio.Frame, msg int) [][]byte {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case msg == 4:
					saved = append(saved, append([]byte(nil), f.Data...))
				case msg == 5 && !replayed:
					replayed = true
					return append(saved, f.Data)
				}
				return [][]byte{f.Data}
			}
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				rec := &recorder{act: tt.act}
				r := newRig(t, withRecorder(rec))
				r.start()
				defer r.stop()
				if _, err := r.commission(r.session()); err != nil {
					t.Fatalf("Commission: %v", err)
				}
				if r.station.Network() != testSSID || r.station.Joins() != 1 {
					t.Fatalf("network %q after %d joins", r.station.Network(), r.station.Joins())
				}
			})
		})
	}
}

// TestReplayedSession: an attacker who recorded a whole successful
// session replays the commissioner's messages to the factory-reset
// device. The device draws a fresh share, so the old confirmation fails.
func TestReplayedSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		r := newRig(t, withRecorder(rec))
		r.start()
		defer r.stop()
		if _, err := r.commission(r.session()); err != nil {
			t.Fatal(err)
		}
		if err := r.dev.FactoryReset(t.Context()); err != nil {
			t.Fatal(err)
		}
		msgs := rec.messages(1, true)
		link := connect(t, r)
		var f wire.Fragmenter
		for _, m := range msgs {
			frames, _ := f.Fragment(m, link.MTU())
			for _, fr := range frames {
				link.Send(t.Context(), fr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(time.Second)
		if r.station.Staged() != "" || r.station.Network() != "" || r.station.Joins() != 1 {
			t.Fatalf("replayed session had an effect: staged %q network %q joins %d", r.station.Staged(), r.station.Network(), r.station.Joins())
		}
		for _, s := range r.deviceStates()[len(r.deviceStates())-2:] {
			if s == onboarding.DeviceProvisioning {
				t.Fatal("replayed session reached Provisioning")
			}
		}
	})
}

// connect opens a raw link to the rig's device.
func connect(t *testing.T, r *rig) onboarding.Link {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	found := make(chan onboarding.Peer, 1)
	c := r.air.Central()
	go c.Scan(ctx, func(ad onboarding.Advertisement) {
		select {
		case found <- ad.Peer:
		default:
		}
	})
	p := <-found
	cancel()
	link, err := c.Connect(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	return link
}

// TestLossyRadio: with frames lost and delayed at random, retransmission
// still completes onboarding, and the device joins once.
func TestLossyRadio(t *testing.T) {
	dropped := 0
	for seed := range uint64(6) {
		synctest.Test(t, func(t *testing.T) {
			r := newRig(t, func(r *rig) {
				r.air = simradio.New(simradio.Config{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Loss: 0.08, Seed: seed})
				r.cfg.Retries = 40
				r.cfg.JoinTimeout = 10 * time.Minute
				r.devCfg.FailSafe = 10 * time.Minute
			})
			r.start()
			defer r.stop()
			if _, err := r.commission(r.session()); err != nil {
				t.Fatalf("seed %d: Commission: %v (stats %+v)", seed, err, r.air.Stats())
			}
			if r.station.Network() != testSSID || r.station.Joins() != 1 {
				t.Fatalf("seed %d: network %q after %d joins", seed, r.station.Network(), r.station.Joins())
			}
			dropped += r.air.Stats().Dropped
		})
	}
	if dropped == 0 {
		t.Fatal("nothing was lost: the test tests nothing")
	}
}

// logCapture collects JSON log records.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// TestNoSecretsInLogs runs successful and failing onboardings with debug
// logging on both sides and checks that no secret reaches the log.
func TestNoSecretsInLogs(t *testing.T) {
	var logs logCapture
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	synctest.Test(t, func(t *testing.T) {
		scenarios := []func(r *rig) error{
			func(r *rig) error { _, err := r.commission(r.session()); return err },
			func(r *rig) error {
				p := r.payload
				p.Code, _ = onboarding.ParseSetupCode("1111-2222")
				_, err := r.session().Commission(t.Context(), onboarding.UserGesture(), p, r.creds())
				return err
			},
			func(r *rig) error {
				c := r.creds()
				c.Passphrase = onboarding.NewPassphrase("hunter2-typo")
				_, err := r.session().Commission(t.Context(), onboarding.UserGesture(), r.payload, c)
				return err
			},
		}
		for i, sc := range scenarios {
			rec := &recorder{act: func(f simradio.Frame, msg int) [][]byte {
				if msg == 4 && f.Data[0]&0x80 != 0 {
					d := append([]byte(nil), f.Data...)
					d[len(d)-1] ^= 1 // provoke a rejected sealed message
					return [][]byte{d}
				}
				return [][]byte{f.Data}
			}}
			r := newRig(t, withRecorder(rec), func(r *rig) {
				r.devCfg.Logger = logger
				r.cfg.Logger = logger
			})
			r.start()
			err := sc(r)
			logger.Info("scenario done", "n", i, "err", err, "creds", r.creds(), "code", r.payload.Code, "payload", r.payload)
			r.stop()
		}
	})
	out := logs.String()
	if !strings.Contains(out, "sealed message rejected") || !strings.Contains(out, "authentication failed") {
		t.Fatalf("the scenarios did not log what they should have:\n%s", out)
	}
	for _, s := range append(secrets(), testSSID) {
		if strings.Contains(out, s) {
			t.Errorf("log contains %q", s)
		}
	}
}

func TestSecretsRedact(t *testing.T) {
	code, err := onboarding.ParseSetupCode("2020-2021")
	if err != nil {
		t.Fatal(err)
	}
	pp := onboarding.NewPassphrase(testPassphrase)
	payload := onboarding.SetupPayload{Discriminator: 842, Code: code}
	creds := onboarding.WiFiCredentials{SSID: testSSID, Passphrase: pp}
	ver, err := onboarding.NewVerifier(code, nil, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, v := range []any{code, pp, payload, creds, ver, &code, &pp} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			fmt.Fprintf(&out, verb+"\n", v)
		}
		b, _ := json.Marshal(v)
		out.Write(b)
		slog.New(slog.NewTextHandler(&out, nil)).Info("x", "v", v)
	}
	s := out.String()
	for _, secret := range []string{"2020", "2021", testPassphrase, testSSID, fmt.Sprintf("%x", testPassphrase)} {
		if strings.Contains(s, secret) {
			t.Errorf("printed secrets contain %q:\n%s", secret, s)
		}
	}
	if got := code.Reveal(); got != "2020-2021" {
		t.Errorf("Reveal = %q", got)
	}
	if got := payload.Reveal(); got != "HRT1:0842:20202021" {
		t.Errorf("payload Reveal = %q", got)
	}
	copied := code
	code.Zero()
	if copied.Valid() || copied.Reveal() != "" {
		t.Error("Zero did not erase a copy of the code")
	}
	pp.Zero()
	if creds.Passphrase.Reveal() != strings.Repeat("\x00", len(testPassphrase)) {
		t.Error("Zero did not erase the passphrase in a copy")
	}
}

func TestParseSetupCode(t *testing.T) {
	for _, s := range []string{"20202021", "2020-2021", "2020 2021"} {
		if c, err := onboarding.ParseSetupCode(s); err != nil || c.Reveal() != "2020-2021" {
			t.Errorf("ParseSetupCode(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"", "1234567", "123456789", "2020-202a", "00000000", "11111111", "12345678", "87654321"} {
		_, err := onboarding.ParseSetupCode(s)
		if !errors.Is(err, onboarding.ErrInvalidSetupCode) {
			t.Errorf("ParseSetupCode(%q) = %v, want ErrInvalidSetupCode", s, err)
		}
		if err != nil && s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error repeats the input: %v", err)
		}
	}
	p, err := onboarding.ParseSetupPayload(" HRT1:0842:20202021 ")
	if err != nil || p.Discriminator != 842 || p.Code.Reveal() != "2020-2021" {
		t.Fatalf("ParseSetupPayload = %v", err)
	}
	for _, s := range []string{"HRT2:0842:20202021", "HRT1:842:20202021", "HRT1:4096:20202021", "HRT1:0842", "HRT1:08x2:20202021"} {
		if _, err := onboarding.ParseSetupPayload(s); !errors.Is(err, onboarding.ErrInvalidSetupCode) {
			t.Errorf("ParseSetupPayload(%q) = %v", s, err)
		}
	}
	g, err := onboarding.GenerateSetupCode(nil)
	if err != nil || !g.Valid() {
		t.Fatalf("GenerateSetupCode: %v", err)
	}
	if _, err := onboarding.ParseSetupCode(g.Reveal()); err != nil {
		t.Fatalf("generated code does not parse: %v", err)
	}
}

func TestVerifierEncoding(t *testing.T) {
	code, _ := onboarding.ParseSetupCode(testCode)
	v, err := onboarding.NewVerifier(code, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := v.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var got onboarding.Verifier
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	again, _ := got.MarshalBinary()
	if !bytes.Equal(b, again) {
		t.Fatal("verifier changed in a round trip")
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append([]byte{2}, b[1:]...)} {
		if err := got.UnmarshalBinary(bad); !errors.Is(err, onboarding.ErrInvalidConfig) {
			t.Errorf("UnmarshalBinary(bad) = %v", err)
		}
	}
	if _, err := onboarding.NewVerifier(onboarding.SetupCode{}, nil, 0); !errors.Is(err, onboarding.ErrInvalidSetupCode) {
		t.Errorf("NewVerifier(zero code) = %v", err)
	}
	if _, err := onboarding.NewVerifier(code, []byte("short"), 0); !errors.Is(err, onboarding.ErrInvalidConfig) {
		t.Errorf("NewVerifier(short salt) = %v", err)
	}
}
