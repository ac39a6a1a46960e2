package onboarding_test

import (
	"slices"
	"testing"
	"testing/synctest"

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
