package onboarding_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
)

func TestCommissionHappyPath(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t)
		r.start()
		defer r.stop()
		s := r.session()
		reg, err := r.commission(s)
		if err != nil {
			t.Fatalf("Commission: %v", err)
		}
		if reg.ID != "urn:hearth:plug:1" || reg.Description.Title != "Smart plug" || string(reg.PublicKey) != "device public key" {
			t.Fatalf("registration = %+v", reg)
		}
		if _, ok := r.dir.Lookup(reg.ID); !ok {
			t.Fatal("device not in the directory")
		}
		want := []onboarding.State{onboarding.Scanning, onboarding.Discovered, onboarding.Connecting, onboarding.Authenticating,
			onboarding.Provisioning, onboarding.Joining, onboarding.Registering, onboarding.Complete}
		if got := r.states(); !slices.Equal(got, want) {
			t.Fatalf("states = %v, want %v", got, want)
		}
		r.waitDevice(onboarding.DeviceCommissioned)
		if r.station.Network() != testSSID || r.station.Staged() != "" {
			t.Fatalf("station network %q staged %q", r.station.Network(), r.station.Staged())
		}
	})
}

// TestSessionConcurrency races Cancel, Reset, State and a second
// Commission against a running Commission.
func TestSessionConcurrency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, func(r *rig) { r.noDevice = true })
		r.cfg.OnProgress = nil
		r.start()
		defer r.stop()
		s := r.session()
		done := make(chan error, 1)
		go func() {
			_, err := r.commission(s)
			done <- err
		}()
		time.Sleep(time.Second) // scanning
		if _, err := r.commission(s); !errors.Is(err, onboarding.ErrBusy) {
			t.Errorf("second Commission = %v, want ErrBusy", err)
		}
		if err := s.Reset(); !errors.Is(err, onboarding.ErrBusy) {
			t.Errorf("Reset while running = %v, want ErrBusy", err)
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				s.Cancel()
				s.Reset()
				s.State()
				s.Err()
			})
		}
		wg.Wait()
		if err := <-done; !errors.Is(err, onboarding.ErrCancelled) {
			t.Fatalf("Commission = %v, want ErrCancelled", err)
		}
		for range 8 {
			wg.Go(func() {
				s.Reset()
				s.Cancel()
			})
		}
		wg.Wait()
		if st := s.State(); st != onboarding.Idle && st != onboarding.Cancelled {
			t.Fatalf("state %v", st)
		}
	})
}
