package onboarding_test

import (
	"context"
	"fmt"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/onboarding/simradio"
	"github.com/hearth-wot/hearth/thing"
)

// Onboard a simulated smart plug so that it appears in a directory. The
// directory stands in for a gateway: a gateway adapter implements the same
// onboarding.Registrar interface.
func Example() {
	air := simradio.New(simradio.Config{})
	defer air.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The device: a smart plug whose label reads HRT1:0842:20202021. At
	// manufacture the vendor stored a verifier derived from the code.
	code, _ := onboarding.ParseSetupCode("2020-2021")
	verifier, _ := onboarding.NewVerifier(code, nil, 0)
	code.Zero()
	wifi := simradio.NewStation(simradio.AccessPoint{SSID: "holiday-home", Passphrase: "correct horse battery"})
	plug, _ := onboarding.NewDevice(onboarding.DeviceConfig{
		Radio:         air.Peripheral(),
		WiFi:          wifi,
		Verifier:      verifier,
		Discriminator: 842,
		Describe: func(context.Context) (*thing.Description, error) {
			return thing.New("urn:hearth:plug:living-room", "Smart plug").
				Base("http://192.0.2.10/").
				Property("on", thing.Boolean().Observable()).
				Build()
		},
	})
	go plug.Run(ctx) // power on: the commissioning window opens

	// The gateway: a Session that registers what it onboards.
	directory := &onboardingtest.Directory{}
	session, _ := onboarding.NewSession(onboarding.Config{
		Radio:     air.Central(),
		Registrar: directory,
		OnProgress: func(p onboarding.Progress) {
			if p.State == onboarding.Joining {
				fmt.Println(p.State, p.Join)
				return
			}
			fmt.Println(p.State)
		},
	})

	// In the handler of the "Add device" button, with the scanned QR code:
	setup, _ := onboarding.ParseSetupPayload("HRT1:0842:20202021")
	creds := onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("correct horse battery")}
	reg, err := session.Commission(ctx, onboarding.UserGesture(), setup, creds)
	if err != nil {
		fmt.Println("onboarding failed:", err)
		return
	}
	fmt.Println("registered:", reg.ID)
	for _, td := range directory.Things() {
		fmt.Printf("directory: %s %q\n", td.ID, td.Title)
	}
	fmt.Println("plug:", plug.State(), "on", wifi.Network())

	// Output:
	// Scanning
	// Discovered
	// Connecting
	// Authenticating
	// Provisioning
	// Joining connecting
	// Joining connected
	// Registering
	// Complete
	// registered: urn:hearth:plug:living-room
	// directory: urn:hearth:plug:living-room "Smart plug"
	// plug: Commissioned on holiday-home
}

// At manufacture a vendor draws a setup code, keeps only the verifier on
// the device, and prints the payload on the label and in its QR code.
func ExampleNewSetupPayload() {
	code, _ := onboarding.ParseSetupCode("2020-2021") // onboarding.GenerateSetupCode(nil) in production
	defer code.Zero()
	payload, err := onboarding.NewSetupPayload(842, code)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("QR code:", payload.Reveal())
	fmt.Println("label:  ", payload.Code.Reveal())
	fmt.Println("logged: ", payload) // a payload never prints its code

	scanned, _ := onboarding.ParseSetupPayload(payload.Reveal())
	fmt.Println("scanned:", scanned.Discriminator, scanned.Reveal() == payload.Reveal())

	// Output:
	// QR code: HRT1:0842:20202021
	// label:   2020-2021
	// logged:  [redacted]
	// scanned: 842 true
}
