package nmwifi_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/nmwifi"
)

// A device joins a network with staged credentials and keeps it only once
// commissioning completes; this is what an onboarding.Device does with its
// WiFi. Normally the Device drives it: pass the WiFi as DeviceConfig.WiFi.
//
// The example needs NetworkManager on the system D-Bus and permission to
// add connections, which the machines that run Hearth's tests do not have,
// so it is compiled but not run (it has no Output comment).
func Example() {
	conn, err := dbus.ConnectSystemBus()
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	wifi := nmwifi.New(conn)
	wifi.Interface = "wlan0"

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	creds := onboarding.WiFiCredentials{SSID: "holiday-home", Passphrase: onboarding.NewPassphrase("correct horse battery")}
	defer creds.Passphrase.Zero()

	// Join stages an in-memory profile: a reboot would forget it.
	if err := wifi.Join(ctx, creds); err != nil {
		var je *onboarding.JoinError
		if errors.As(err, &je) {
			fmt.Println("could not join:", je.Reason) // wrong passphrase, network not found, ...
		}
		// Back to the networks NetworkManager knew before.
		if err := wifi.Rollback(ctx); err != nil {
			log.Print(err)
		}
		return
	}
	// Commissioning completed: save the profile to disk.
	if err := wifi.Commit(ctx); err != nil {
		log.Print(err)
	}
}
