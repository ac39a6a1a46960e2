//go:build linux

package bluez

import (
	"strings"
	"testing"

	"tinygo.org/x/bluetooth"
)

// These run without hardware: they check the parts of the package that do
// not talk to BlueZ.

func TestUUIDs(t *testing.T) {
	for got, want := range map[bluetooth.UUID]string{
		serviceUUID: "f4b91d87-bc59-48ed-b8a2-612cd528f922",
		rxUUID:      "f4b91d88-bc59-48ed-b8a2-612cd528f922",
		txUUID:      "f4b91d89-bc59-48ed-b8a2-612cd528f922",
	} {
		if got.String() != want {
			t.Errorf("UUID %s, want %s", got, want)
		}
	}
}

func TestPeerHidesAddress(t *testing.T) {
	mac, err := bluetooth.ParseMAC("AA:BB:CC:DD:EE:FF")
	if err != nil {
		t.Fatal(err)
	}
	p := &peer{addr: bluetooth.Address{MACAddress: bluetooth.MACAddress{MAC: mac}}}
	if s := p.String(); strings.Contains(strings.ToUpper(s), "AA:BB") || strings.Contains(s, "EE") {
		t.Fatalf("peer prints its address: %q", s)
	}
}
