package simradio_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/onboardingtest"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

// The Air is a radio: a device (Peripheral) advertises, a commissioner
// (Central) scans for it, connects, and they exchange frames of at most
// the MTU. Stats counts what crossed the air.
func Example() {
	air := simradio.New(simradio.Config{MTU: 20})
	defer air.Close()
	ctx := context.Background()

	// The device advertises its service data while it listens.
	ln, err := air.Peripheral().Listen(ctx, []byte("service data"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	// The commissioner scans until it sees the device.
	scanCtx, stopScan := context.WithCancel(ctx)
	found := make(chan onboarding.Advertisement, 1)
	go air.Central().Scan(scanCtx, func(a onboarding.Advertisement) {
		select {
		case found <- a:
		default:
		}
	})
	adv := <-found
	stopScan()
	fmt.Printf("found %v advertising %q\n", adv.Peer, adv.ServiceData)

	central, err := air.Central().Connect(ctx, adv.Peer)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer central.Close()
	device, err := ln.Accept(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer device.Close()

	central.Send(ctx, []byte("hello"))
	frame, _ := device.Recv(ctx)
	fmt.Printf("device got %q\n", frame)
	device.Send(ctx, []byte("hi"))
	frame, _ = central.Recv(ctx)
	fmt.Printf("commissioner got %q\n", frame)
	if err := central.Send(ctx, make([]byte, 21)); errors.Is(err, simradio.ErrFrameTooLarge) {
		fmt.Println("a 21-byte frame does not fit the MTU of", central.MTU())
	}

	st := air.Stats()
	fmt.Printf("connections %d, frames %d, bytes %d, round trips %d\n", st.Connections, st.Frames, st.Bytes, st.RoundTrips)

	// Output:
	// found simulated device advertising "service data"
	// device got "hello"
	// commissioner got "hi"
	// a 21-byte frame does not fit the MTU of 20
	// connections 1, frames 2, bytes 7, round trips 1
}

// A Station is a device's simulated Wi-Fi: Join checks the credentials
// against its access points and stages the network, which becomes the
// device's network only on Commit. Rollback drops what was staged.
func ExampleStation() {
	ctx := context.Background()
	wifi := simradio.NewStation(simradio.AccessPoint{SSID: "holiday-home", Passphrase: "correct horse battery"})

	err := wifi.Join(ctx, onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("hunter2")})
	var je *onboarding.JoinError
	if errors.As(err, &je) {
		fmt.Println("join failed:", je.Reason)
	}
	wifi.Rollback(ctx)

	err = wifi.Join(ctx, onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("correct horse battery")})
	fmt.Printf("joined: %v, staged %q, network %q\n", err == nil, wifi.Staged(), wifi.Network())
	wifi.Commit(ctx)
	fmt.Printf("committed: staged %q, network %q\n", wifi.Staged(), wifi.Network())
	fmt.Println("joins:", wifi.Joins(), "rollbacks:", wifi.Rollbacks())

	// Output:
	// join failed: wrong passphrase
	// joined: true, staged "holiday-home", network ""
	// committed: staged "", network "holiday-home"
	// joins: 2 rollbacks: 1
}

// A Rogue device that guessed a setup code runs the handshake properly,
// but the Session notices that it does not know the code on the label
// and hands it nothing.
func ExampleRogue() {
	air := simradio.New(simradio.Config{})
	defer air.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	impostor := &simradio.Rogue{Radio: air.Peripheral(), Discriminator: 842, Behavior: simradio.Impostor}
	go impostor.Run(ctx)

	directory := &onboardingtest.Directory{}
	session, _ := onboarding.NewSession(onboarding.Config{Radio: air.Central(), Registrar: directory})
	setup, _ := onboarding.ParseSetupPayload("HRT1:0842:20202021")
	creds := onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("correct horse battery")}
	_, err := session.Commission(ctx, onboarding.UserGesture(), setup, creds)
	fmt.Println("authentication failed:", errors.Is(err, onboarding.ErrAuthentication))
	fmt.Println("session:", session.State())
	fmt.Println("registered:", len(directory.Things()))

	// Output:
	// authentication failed: true
	// session: Failed
	// registered: 0
}
