package onboarding_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

func TestDeviceWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) { r.devCfg.Window = time.Minute })
		r.start()
		defer r.stop()
		r.waitDevice(onboarding.DeviceAdvertising)
		time.Sleep(time.Minute + time.Second)
		r.waitDevice(onboarding.DeviceClosed)
		if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.creds()); !errors.Is(err, onboarding.ErrNotFound) {
			t.Fatalf("with the window closed: %v, want ErrNotFound", err)
		}
		r.dev.OpenWindow() // the button
		r.waitDevice(onboarding.DeviceAdvertising)
		if _, err := r.commission(r.session()); err != nil {
			t.Fatalf("after the button: %v", err)
		}
	})
}

func TestDeviceCommissionedAtPowerUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) { r.devCfg.Commissioned = true })
		r.start()
		defer r.stop()
		time.Sleep(time.Second)
		if got := r.dev.State(); got != onboarding.DeviceCommissioned {
			t.Fatalf("state %v, want Commissioned", got)
		}
		if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.creds()); !errors.Is(err, onboarding.ErrNotFound) {
			t.Fatalf("commissioned device found: %v", err)
		}
		r.dev.OpenWindow()
		r.waitDevice(onboarding.DeviceAdvertising)
	})
}

// TestDeviceAttemptLimit: each wrong code costs an attempt, the device
// backs off longer after each, and the window closes after MaxAttempts;
// the button reopens it.
func TestDeviceAttemptLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) {
			r.devCfg.MaxAttempts = 3
			r.devCfg.BackoffBase = time.Second
			r.devCfg.BackoffMax = 3 * time.Second
		})
		r.start()
		defer r.stop()
		wrong := r.payload
		wrong.Code, _ = onboarding.ParseSetupCode("1234-9999")
		try := func(p onboarding.SetupPayload) error {
			_, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), p, r.creds())
			return err
		}
		var waits []time.Duration
		for attempt := 1; attempt <= 3; attempt++ {
			if err := try(wrong); !errors.Is(err, onboarding.ErrAuthentication) {
				t.Fatalf("attempt %d: %v, want ErrAuthentication", attempt, err)
			}
			if attempt == 3 {
				break
			}
			r.waitDevice(onboarding.DeviceAdvertising)
			err := try(r.payload) // even the right code waits out the back-off
			var rl *onboarding.RateLimitError
			if !errors.As(err, &rl) || rl.AttemptsLeft != 3-attempt {
				t.Fatalf("after %d failures: %v, want RateLimitError with %d attempts left", attempt, err, 3-attempt)
			}
			waits = append(waits, rl.RetryAfter)
			r.waitDevice(onboarding.DeviceAdvertising)
			time.Sleep(rl.RetryAfter)
		}
		if waits[1] <= waits[0] {
			t.Errorf("back-off did not grow: %v", waits)
		}
		r.waitDevice(onboarding.DeviceClosed)
		if err := try(r.payload); !errors.Is(err, onboarding.ErrNotFound) {
			t.Fatalf("after the attempt limit: %v, want ErrNotFound (window closed)", err)
		}
		r.dev.OpenWindow()
		r.waitDevice(onboarding.DeviceAdvertising)
		if _, err := r.commission(r.session()); err != nil {
			t.Fatalf("after the button: %v", err)
		}
	})
}

// TestDeviceAttemptCountedWithoutConfirm: a commissioner that takes the
// device's SPAKE2+ reply and hangs up has had its guess; it counts.
func TestDeviceAttemptCountedWithoutConfirm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) { r.devCfg.MaxAttempts = 1 })
		r.start()
		defer r.stop()
		wrong := r.payload
		wrong.Code, _ = onboarding.ParseSetupCode("1234-9999")
		// A wrong code fails at the commissioner (confirmV does not verify),
		// which hangs up without sending a confirmation.
		if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), wrong, r.creds()); !errors.Is(err, onboarding.ErrAuthentication) {
			t.Fatal(err)
		}
		r.waitDevice(onboarding.DeviceClosed)
	})
}

func TestDeviceHandshakeTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.start()
		defer r.stop()
		link := occupy(t, r) // says Hello, then nothing
		time.Sleep(31 * time.Second)
		r.waitDevice(onboarding.DeviceAdvertising)
		if _, err := link.Recv(t.Context()); err != nil {
			t.Fatalf("HelloReply: %v", err)
		}
		for {
			if _, err := link.Recv(t.Context()); errors.Is(err, onboarding.ErrLinkClosed) {
				break
			}
		}
	})
}

// TestDeviceRollbackOnLinkLoss: a commissioner that vanishes after the
// device joined leaves nothing behind.
func TestDeviceRollbackOnLinkLoss(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.cfg.OnProgress = func(p onboarding.Progress) {}
		r.start()
		defer r.stop()
		ctx, cancel := context.WithCancel(t.Context())
		r.cfg.Registrar = registrarFunc(func(context.Context, *onboarding.Registration) error {
			cancel() // the commissioner dies while registering
			return errors.New("unreachable")
		})
		s := r.session()
		if _, err := s.Commission(ctx, onboarding.UserGesture(), r.payload, r.creds()); !errors.Is(err, onboarding.ErrCancelled) {
			t.Fatalf("Commission = %v", err)
		}
		r.waitDevice(onboarding.DeviceAdvertising)
		if r.station.Network() != "" || r.station.Staged() != "" || r.station.Rollbacks() == 0 {
			t.Fatalf("network %q staged %q rollbacks %d", r.station.Network(), r.station.Staged(), r.station.Rollbacks())
		}
	})
}

type registrarFunc func(context.Context, *onboarding.Registration) error

func (f registrarFunc) Register(ctx context.Context, r *onboarding.Registration) error {
	return f(ctx, r)
}

func TestDeviceFactoryReset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.start()
		defer r.stop()
		if _, err := r.commission(r.session()); err != nil {
			t.Fatal(err)
		}
		r.waitDevice(onboarding.DeviceCommissioned)
		if err := r.dev.FactoryReset(t.Context()); err != nil {
			t.Fatal(err)
		}
		if r.dev.State() != onboarding.DeviceAdvertising || r.station.Network() != "" {
			t.Fatalf("after reset: state %v, network %q", r.dev.State(), r.station.Network())
		}
		if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.creds()); err != nil {
			t.Fatalf("recommissioning: %v", err)
		}
	})
}

// TestSecondCommissioner: while a session is established the device does
// not advertise, so a second commissioner cannot even find it, and the
// first session completes untouched. (A second commissioner that connects
// during the handshake is told the device is busy: see the
// "connecting/busy" transition case.)
func TestSecondCommissioner(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		registering := make(chan struct{})
		release := make(chan struct{})
		r.cfg.Registrar = registrarFunc(func(ctx context.Context, reg *onboarding.Registration) error {
			close(registering)
			<-release
			return r.dir.Register(ctx, reg)
		})
		r.start()
		defer r.stop()
		late := make(chan error, 1)
		s := r.session()
		go func() {
			_, err := r.commission(s)
			late <- err
		}()
		<-registering
		if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.creds()); !errors.Is(err, onboarding.ErrNotFound) {
			t.Errorf("second commissioner during the session: %v, want ErrNotFound", err)
		}
		close(release)
		if err := <-late; err != nil {
			t.Fatalf("first commissioner: %v", err)
		}
	})
}

func TestDeviceConfigValidation(t *testing.T) {
	code, _ := onboarding.ParseSetupCode(testCode)
	ver, _ := onboarding.NewVerifier(code, nil, 1000)
	air := simradio.New(simradio.Config{})
	good := onboarding.DeviceConfig{Radio: air.Peripheral(), WiFi: simradio.NewStation(), Verifier: ver, Describe: plugTD("urn:x")}
	if _, err := onboarding.NewDevice(good); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*onboarding.DeviceConfig){
		"no radio":      func(c *onboarding.DeviceConfig) { c.Radio = nil },
		"no verifier":   func(c *onboarding.DeviceConfig) { c.Verifier = nil },
		"discriminator": func(c *onboarding.DeviceConfig) { c.Discriminator = 5000 },
		"negative":      func(c *onboarding.DeviceConfig) { c.FailSafe = -1 },
		"public key":    func(c *onboarding.DeviceConfig) { c.PublicKey = make([]byte, 600) },
	} {
		c := good
		mut(&c)
		if _, err := onboarding.NewDevice(c); !errors.Is(err, onboarding.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
	if _, err := onboarding.NewSession(onboarding.Config{}); !errors.Is(err, onboarding.ErrInvalidConfig) {
		t.Errorf("empty session config: %v", err)
	}
}
