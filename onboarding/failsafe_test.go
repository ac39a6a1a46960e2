package onboarding_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

// retype returns a RetryJoin that takes think (the person retyping the
// passphrase) and then hands over creds, for at most max calls.
func retype(r *rig, think time.Duration, max int, creds func() onboarding.WiFiCredentials) func(context.Context, *onboarding.JoinError) (onboarding.WiFiCredentials, bool) {
	calls := 0
	return func(ctx context.Context, _ *onboarding.JoinError) (onboarding.WiFiCredentials, bool) {
		calls++
		if calls > max {
			return onboarding.WiFiCredentials{}, false
		}
		select {
		case <-time.After(think):
		case <-ctx.Done():
			return onboarding.WiFiCredentials{}, false
		}
		return creds(), true
	}
}

func (r *rig) typo() onboarding.WiFiCredentials {
	c := r.creds()
	c.Passphrase = onboarding.NewPassphrase("hunter2-typo")
	return c
}

// TestFailSafeJoinRetries: at the default timeouts, a person who mistypes
// the passphrase can use the join attempts the device allows. Each
// accepted set of credentials and each failed join re-arms the fail-safe.
func TestFailSafeJoinRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		join     time.Duration // each join takes this long
		think    time.Duration // each retype takes this long
		failures int           // mistyped attempts before the right one
	}{
		// The reviewer's case: a 40 s join, a 45 s retype, a second 40 s join.
		{name: "one retry", join: 40 * time.Second, think: 45 * time.Second, failures: 1},
		// The worst the defaults allow: three attempts (MaxJoinAttempts),
		// each join just under JoinTimeout (90 s), each retype just under
		// the fail-safe (2 min).
		{name: "every attempt, slowly", join: 85 * time.Second, think: 110 * time.Second, failures: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, func(r *rig) {
					r.station.JoinTime = tc.join
					left := tc.failures - 1
					r.cfg.RetryJoin = retype(r, tc.think, tc.failures, func() onboarding.WiFiCredentials {
						if left > 0 {
							left--
							return r.typo()
						}
						return r.creds()
					})
				})
				r.start()
				defer r.stop()
				start := time.Now()
				reg, err := r.session().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.typo())
				if err != nil {
					t.Fatalf("Commission after %v: %v, want success", time.Since(start), err)
				}
				if reg.ID != "urn:hearth:plug:1" || r.station.Network() != testSSID {
					t.Fatalf("registered %q, network %q", reg.ID, r.station.Network())
				}
				if got, want := r.station.Joins(), tc.failures+1; got != want {
					t.Errorf("%d joins, want %d", got, want)
				}
			})
		})
	}
}

// TestFailSafeCap: re-arming never takes the fail-safe past FailSafeMax
// after the secure session, so an authenticated commissioner cannot hold
// the device (not advertising, changes staged) for longer.
func TestFailSafeCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) {
			r.air = simradio.New(simradio.Config{Latency: 10 * time.Millisecond})
			r.devCfg.FailSafe = 2 * time.Minute
			r.devCfg.FailSafeMax = 4 * time.Minute
			r.station.JoinTime = 100 * time.Second
			r.cfg.JoinTimeout = 10 * time.Minute
			// Join 1 fails at ~100 s; the retype ends at ~200 s and join 2
			// would end at ~300 s, past the 240 s cap.
			r.cfg.RetryJoin = retype(r, 100*time.Second, 1, r.creds)
		})
		r.start()
		defer r.stop()
		start := time.Now()
		_, err := r.session().Commission(t.Context(), onboarding.UserGesture(), r.payload, r.typo())
		if !errors.Is(err, onboarding.ErrFailSafe) {
			t.Fatalf("err = %v, want ErrFailSafe", err)
		}
		if d := time.Since(start); d < 4*time.Minute || d > 4*time.Minute+10*time.Second {
			t.Errorf("fail-safe expired after %v, want the 4 min cap", d)
		}
		r.waitDevice(onboarding.DeviceAdvertising)
		if r.station.Staged() != "" || r.station.Network() != "" {
			t.Errorf("after the fail-safe: staged %q, network %q", r.station.Staged(), r.station.Network())
		}
	})
}

// TestFailSafeAfterFailedJoin: a commissioner that goes quiet after a
// failed join gets one fail-safe period (re-armed by the failure), not
// more: the device then drops the session and advertises again.
func TestFailSafeAfterFailedJoin(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) {
			r.station.JoinTime = 30 * time.Second
			r.cfg.RetryJoin = func(ctx context.Context, _ *onboarding.JoinError) (onboarding.WiFiCredentials, bool) {
				<-ctx.Done() // the person walked away
				return onboarding.WiFiCredentials{}, false
			}
		})
		var (
			mu       sync.Mutex
			failedAt time.Time
		)
		r.cfg.OnProgress = func(p onboarding.Progress) {
			if p.Join == onboarding.JoinFailed {
				mu.Lock()
				failedAt = time.Now()
				mu.Unlock()
			}
		}
		since := func() time.Duration {
			mu.Lock()
			defer mu.Unlock()
			return time.Since(failedAt)
		}
		r.start()
		defer r.stop()
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		done := make(chan error, 1)
		go func() {
			_, err := r.session().Commission(ctx, onboarding.UserGesture(), r.payload, r.typo())
			done <- err
		}()
		r.waitDevice(onboarding.DeviceJoining)
		r.waitDevice(onboarding.DeviceProvisioning)
		time.Sleep(2*time.Minute - time.Second)
		synctest.Wait()
		if got := r.dev.State(); got != onboarding.DeviceProvisioning {
			t.Fatalf("%v after the failed join: %v, want Provisioning", since(), got)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got := r.dev.State(); got != onboarding.DeviceAdvertising {
			t.Fatalf("%v after the failed join: %v, want Advertising", since(), got)
		}
		cancel()
		if err := <-done; !errors.Is(err, onboarding.ErrCancelled) {
			t.Errorf("Commission: %v, want ErrCancelled", err)
		}
	})
}

func TestFailSafeConfig(t *testing.T) {
	code, _ := onboarding.ParseSetupCode(testCode)
	ver, _ := onboarding.NewVerifier(code, nil, 1000)
	air := simradio.New(simradio.Config{})
	defer air.Close()
	base := onboarding.DeviceConfig{Radio: air.Peripheral(), WiFi: simradio.NewStation(), Verifier: ver, Describe: plugTD("urn:x")}
	for _, tc := range []struct {
		name          string
		failSafe, max time.Duration
		ok            bool
	}{
		{"defaults", 0, 0, true},
		{"cap only", 0, 5 * time.Minute, true},
		{"long fail-safe, default cap", time.Hour, 0, true},
		{"cap equals fail-safe", time.Minute, time.Minute, true},
		{"cap below fail-safe", 10 * time.Minute, 5 * time.Minute, false},
		{"cap below default fail-safe", 0, time.Minute, false},
		{"negative cap", 0, -1, false},
	} {
		c := base
		c.FailSafe, c.FailSafeMax = tc.failSafe, tc.max
		_, err := onboarding.NewDevice(c)
		if tc.ok && err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if !tc.ok && !errors.Is(err, onboarding.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", tc.name, err)
		}
	}
}
