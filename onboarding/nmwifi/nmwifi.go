// Package nmwifi joins Wi-Fi networks for an onboarding.Device through
// NetworkManager's D-Bus API: it implements onboarding.WiFi.
//
// Join adds an in-memory connection profile (persist "memory", so nothing
// reaches the disk and a reboot forgets it) and activates it on the Wi-Fi
// device, then follows the activation until it succeeds or fails, mapping
// NetworkManager's reasons to onboarding's (wrong passphrase, network not
// found, no address). Commit saves the profile to disk; Rollback deletes
// it, after which NetworkManager falls back to the networks it knew.
// Forget deletes every profile nmwifi created (their ids start with
// "hearth-").
//
// # Hardware
//
// It needs NetworkManager 1.16 or later (AddAndActivateConnection2) on the
// system D-Bus and permission to add connections (root, or a polkit rule
// for org.freedesktop.NetworkManager.settings.modify.system and
// network-control). CI has no NetworkManager: the package is built for
// linux/amd64 and linux/arm64 and its logic is tested against a fake bus;
// it has not been run against a real NetworkManager in CI, and its
// example is compiled but not run.
package nmwifi

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/hearth-wot/hearth/onboarding"
)

// D-Bus names.
const (
	nmService       = "org.freedesktop.NetworkManager"
	nmPath          = dbus.ObjectPath("/org/freedesktop/NetworkManager")
	nmSettingsPath  = dbus.ObjectPath("/org/freedesktop/NetworkManager/Settings")
	nmIface         = "org.freedesktop.NetworkManager"
	nmDeviceIface   = "org.freedesktop.NetworkManager.Device"
	nmActiveIface   = "org.freedesktop.NetworkManager.Connection.Active"
	nmSettingsIface = "org.freedesktop.NetworkManager.Settings"
	nmConnIface     = "org.freedesktop.NetworkManager.Settings.Connection"

	deviceTypeWiFi = 2

	activeActivated   = 2
	activeDeactivated = 4

	// IDPrefix starts the id of every connection profile nmwifi creates.
	IDPrefix = "hearth-"
)

// NetworkManager device state reasons (NMDeviceStateReason).
const (
	reasonIPConfigUnavailable = 5
	reasonNoSecrets           = 7
	reasonSupplicantDisc      = 8
	reasonSupplicantConfig    = 9
	reasonSupplicantFailed    = 10
	reasonSupplicantTimeout   = 11
	reasonDHCPStartFailed     = 15
	reasonDHCPError           = 16
	reasonDHCPFailed          = 17
	reasonSSIDNotFound        = 53
)

// ErrNoDevice means NetworkManager manages no matching Wi-Fi device.
var ErrNoDevice = errors.New("nmwifi: no Wi-Fi device")

// bus is the slice of D-Bus that nmwifi uses, so tests can fake it.
type bus interface {
	call(ctx context.Context, path dbus.ObjectPath, method string, args ...any) *dbus.Call
	property(path dbus.ObjectPath, name string) (dbus.Variant, error)
}

type conn struct{ c *dbus.Conn }

func (b conn) call(ctx context.Context, path dbus.ObjectPath, method string, args ...any) *dbus.Call {
	return b.c.Object(nmService, path).CallWithContext(ctx, method, 0, args...)
}

func (b conn) property(path dbus.ObjectPath, name string) (dbus.Variant, error) {
	return b.c.Object(nmService, path).GetProperty(name)
}

// WiFi drives NetworkManager. It is safe for concurrent use, though a
// Device calls it from one goroutine at a time.
type WiFi struct {
	// Interface names the Wi-Fi interface to use ("wlan0"); empty means
	// the first Wi-Fi device NetworkManager manages.
	Interface string
	// PollInterval is how often Join checks the activation; 0 means
	// 250 ms.
	PollInterval time.Duration

	bus bus

	mu     sync.Mutex
	staged dbus.ObjectPath
}

// New returns a WiFi on conn, a system-bus connection (dbus.SystemBus()).
func New(c *dbus.Conn) *WiFi { return &WiFi{bus: conn{c}} }

// Join implements onboarding.WiFi.
func (w *WiFi) Join(ctx context.Context, creds onboarding.WiFiCredentials) error {
	dev, err := w.device(ctx)
	if err != nil {
		return err
	}
	id, err := uuid4()
	if err != nil {
		return err
	}
	settings := connectionSettings(creds, id)
	var path, active dbus.ObjectPath
	var result map[string]dbus.Variant
	call := w.bus.call(ctx, nmPath, nmIface+".AddAndActivateConnection2", settings, dev, dbus.ObjectPath("/"),
		map[string]dbus.Variant{"persist": dbus.MakeVariant("memory")})
	clear(settings)
	if call.Err != nil {
		return fmt.Errorf("nmwifi: add connection: %s", dbusName(call.Err))
	}
	if err := call.Store(&path, &active, &result); err != nil {
		return fmt.Errorf("nmwifi: add connection: unexpected reply")
	}
	w.mu.Lock()
	w.staged = path
	w.mu.Unlock()

	every := w.PollInterval
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		v, err := w.bus.property(active, nmActiveIface+".State")
		state, _ := v.Value().(uint32)
		switch {
		case err == nil && state == activeActivated:
			return nil
		case err != nil || state == activeDeactivated:
			// The activation ended (its object is gone, or deactivated):
			// the device says why.
			return w.failure(dev)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// failure reads the device's state reason as a JoinError.
func (w *WiFi) failure(dev dbus.ObjectPath) error {
	reason := uint32(0)
	if v, err := w.bus.property(dev, nmDeviceIface+".StateReason"); err == nil {
		var sr []any
		if s, ok := v.Value().([]any); ok {
			sr = s
		}
		if len(sr) == 2 {
			reason, _ = sr[1].(uint32)
		}
	}
	return &onboarding.JoinError{Reason: joinReason(reason), AttemptsLeft: -1}
}

// joinReason maps a NetworkManager device state reason.
func joinReason(r uint32) onboarding.JoinReason {
	switch r {
	case reasonNoSecrets, reasonSupplicantDisc, reasonSupplicantFailed, reasonSupplicantConfig:
		// A wrong PSK ends the 4-way handshake: wpa_supplicant reports a
		// disconnect and NetworkManager asks for secrets it does not have.
		return onboarding.JoinReasonWrongPassphrase
	case reasonSSIDNotFound:
		return onboarding.JoinReasonNotFound
	case reasonIPConfigUnavailable, reasonDHCPStartFailed, reasonDHCPError, reasonDHCPFailed:
		return onboarding.JoinReasonNoAddress
	case reasonSupplicantTimeout:
		return onboarding.JoinReasonTimeout
	}
	return onboarding.JoinReasonUnknown
}

// device finds the Wi-Fi device to use.
func (w *WiFi) device(ctx context.Context) (dbus.ObjectPath, error) {
	var devs []dbus.ObjectPath
	if err := w.bus.call(ctx, nmPath, nmIface+".GetDevices").Store(&devs); err != nil {
		return "", fmt.Errorf("nmwifi: list devices: %s", dbusName(err))
	}
	for _, d := range devs {
		v, err := w.bus.property(d, nmDeviceIface+".DeviceType")
		if err != nil {
			continue
		}
		if t, _ := v.Value().(uint32); t != deviceTypeWiFi {
			continue
		}
		if w.Interface != "" {
			v, err := w.bus.property(d, nmDeviceIface+".Interface")
			if name, _ := v.Value().(string); err != nil || name != w.Interface {
				continue
			}
		}
		return d, nil
	}
	return "", ErrNoDevice
}

// connectionSettings builds the profile for creds. The passphrase is in
// it: the caller clears the map after use.
func connectionSettings(c onboarding.WiFiCredentials, id string) map[string]map[string]dbus.Variant {
	s := map[string]map[string]dbus.Variant{
		"connection": {
			"id":          dbus.MakeVariant(IDPrefix + id[:8]),
			"uuid":        dbus.MakeVariant(id),
			"type":        dbus.MakeVariant("802-11-wireless"),
			"autoconnect": dbus.MakeVariant(true),
		},
		"802-11-wireless": {
			"ssid": dbus.MakeVariant([]byte(c.SSID)),
			"mode": dbus.MakeVariant("infrastructure"),
		},
		"ipv4": {"method": dbus.MakeVariant("auto")},
		"ipv6": {"method": dbus.MakeVariant("auto")},
	}
	if c.Passphrase.Len() > 0 {
		s["802-11-wireless-security"] = map[string]dbus.Variant{
			"key-mgmt": dbus.MakeVariant("wpa-psk"),
			"psk":      dbus.MakeVariant(c.Passphrase.Reveal()),
		}
	}
	return s
}

// Commit implements onboarding.WiFi: it saves the staged profile to disk.
func (w *WiFi) Commit(ctx context.Context) error {
	w.mu.Lock()
	path := w.staged
	w.mu.Unlock()
	if path == "" {
		return nil
	}
	if c := w.bus.call(ctx, path, nmConnIface+".Save"); c.Err != nil {
		return fmt.Errorf("nmwifi: save connection: %s", dbusName(c.Err))
	}
	w.mu.Lock()
	w.staged = ""
	w.mu.Unlock()
	return nil
}

// Rollback implements onboarding.WiFi: it deletes the staged profile.
func (w *WiFi) Rollback(ctx context.Context) error {
	w.mu.Lock()
	path := w.staged
	w.staged = ""
	w.mu.Unlock()
	if path == "" {
		return nil
	}
	if c := w.bus.call(ctx, path, nmConnIface+".Delete"); c.Err != nil && !isUnknownObject(c.Err) {
		return fmt.Errorf("nmwifi: delete connection: %s", dbusName(c.Err))
	}
	return nil
}

// Forget implements onboarding.WiFi: it deletes every profile nmwifi
// created.
func (w *WiFi) Forget(ctx context.Context) error {
	w.Rollback(ctx)
	var paths []dbus.ObjectPath
	if err := w.bus.call(ctx, nmSettingsPath, nmSettingsIface+".ListConnections").Store(&paths); err != nil {
		return fmt.Errorf("nmwifi: list connections: %s", dbusName(err))
	}
	var errs []error
	for _, p := range paths {
		var s map[string]map[string]dbus.Variant
		if err := w.bus.call(ctx, p, nmConnIface+".GetSettings").Store(&s); err != nil {
			continue
		}
		if id, _ := s["connection"]["id"].Value().(string); strings.HasPrefix(id, IDPrefix) {
			if c := w.bus.call(ctx, p, nmConnIface+".Delete"); c.Err != nil {
				errs = append(errs, fmt.Errorf("nmwifi: delete connection: %s", dbusName(c.Err)))
			}
		}
	}
	return errors.Join(errs...)
}

// dbusName reduces a D-Bus error to its name: messages can quote
// settings.
func dbusName(err error) string {
	var de dbus.Error
	if errors.As(err, &de) {
		return de.Name
	}
	var dp *dbus.Error
	if errors.As(err, &dp) {
		return dp.Name
	}
	return "D-Bus call failed"
}

func isUnknownObject(err error) bool {
	n := dbusName(err)
	return n == "org.freedesktop.DBus.Error.UnknownObject" || n == "org.freedesktop.DBus.Error.UnknownMethod"
}

func uuid4() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]), nil
}

var _ onboarding.WiFi = (*WiFi)(nil)
