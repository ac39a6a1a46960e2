//go:build linux

package bluez_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"

	"github.com/godbus/dbus/v5"
	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/bluez"
	"github.com/hearth-wot/hearth/onboarding/nmwifi"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/thing"
)

// The examples need a Bluetooth LE adapter, a running bluetoothd and
// access to the system D-Bus, which the machines that run Hearth's tests
// do not have, so they are compiled but not run (they have no Output
// comment).

// A device (here, a Linux appliance with BlueZ and NetworkManager) opens
// its commissioning window at power-up and waits for a commissioner.
func Example_device() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	radio, err := bluez.New(nil) // the default adapter, hci0
	if err != nil {
		log.Fatal(err)
	}
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// The verifier was derived from the code on the label at manufacture
	// (onboarding.NewVerifier) and stored with MarshalBinary.
	stored, err := os.ReadFile("/var/lib/plug/verifier")
	if err != nil {
		log.Fatal(err)
	}
	verifier := new(onboarding.Verifier)
	if err := verifier.UnmarshalBinary(stored); err != nil {
		log.Fatal(err)
	}
	_, statErr := os.Stat("/var/lib/plug/commissioned")
	dev, err := onboarding.NewDevice(onboarding.DeviceConfig{
		Radio:         radio,
		WiFi:          nmwifi.New(conn),
		Verifier:      verifier,
		Discriminator: 842,
		Commissioned:  statErr == nil,
		Describe: func(context.Context) (*thing.Description, error) {
			return thing.New("urn:hearth:plug:kitchen", "Kitchen plug").
				Base("http://plug.local/").
				Property("on", thing.Boolean().Observable()).
				Build()
		},
		OnState: func(s onboarding.DeviceState) {
			// Persist the commissioned flag (and clear it on a factory reset).
			if s == onboarding.DeviceCommissioned {
				os.WriteFile("/var/lib/plug/commissioned", nil, 0o600)
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := dev.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// A commissioner (a gateway on a Raspberry Pi, say) onboards the device
// whose QR code the user just scanned, from the handler of their "Add
// device" action.
func Example_commissioner() {
	radio, err := bluez.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	directory := &onboardingtest.Directory{} // a gateway adapter, in a real gateway
	session, err := onboarding.NewSession(onboarding.Config{Radio: radio, Registrar: directory})
	if err != nil {
		log.Fatal(err)
	}

	gesture := onboarding.UserGesture() // in the UI handler, never in the background
	setup, err := onboarding.ParseSetupPayload("HRT1:0842:20202021")
	if err != nil {
		log.Fatal(err)
	}
	creds := onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("correct horse battery")}
	reg, err := session.Commission(context.Background(), gesture, setup, creds)
	switch {
	case errors.Is(err, onboarding.ErrNotFound):
		log.Print("no such device nearby: is its commissioning window open?")
	case err != nil:
		log.Print(err)
	default:
		log.Printf("onboarded %s", reg.ID)
	}
}
