package nmwifi

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/godbus/dbus/v5"
	"github.com/hearth-wot/hearth/onboarding"
)

// fakeNM plays NetworkManager: one Ethernet and one Wi-Fi device, an
// access point "home" with passphrase "password1", connection profiles.
type fakeNM struct {
	mu       sync.Mutex
	calls    []string
	profiles map[dbus.ObjectPath]map[string]map[string]dbus.Variant
	saved    map[dbus.ObjectPath]bool
	active   uint32 // the activation's State after one poll
	reason   uint32
	polls    int
	n        int
}

func newFakeNM() *fakeNM {
	return &fakeNM{profiles: map[dbus.ObjectPath]map[string]map[string]dbus.Variant{
		"/s/0": {"connection": {"id": dbus.MakeVariant("Wired connection 1")}},
	}, saved: map[dbus.ObjectPath]bool{}}
}

func (f *fakeNM) call(ctx context.Context, path dbus.ObjectPath, method string, args ...any) *dbus.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, method)
	ok := func(body ...any) *dbus.Call { return &dbus.Call{Body: body} }
	switch method {
	case nmIface + ".GetDevices":
		return ok([]dbus.ObjectPath{"/d/eth0", "/d/wlan0"})
	case nmIface + ".AddAndActivateConnection2":
		s := args[0].(map[string]map[string]dbus.Variant)
		ssid := string(s["802-11-wireless"]["ssid"].Value().([]byte))
		psk, _ := s["802-11-wireless-security"]["psk"].Value().(string)
		switch {
		case ssid != "home":
			f.active, f.reason = activeDeactivated, reasonSSIDNotFound
		case psk != "password1":
			f.active, f.reason = activeDeactivated, reasonNoSecrets
		default:
			f.active = activeActivated
		}
		f.n++
		p := dbus.ObjectPath("/s/" + string(rune('0'+f.n)))
		copied := map[string]map[string]dbus.Variant{}
		for k, v := range s {
			copied[k] = map[string]dbus.Variant{}
			for kk, vv := range v {
				copied[k][kk] = vv
			}
		}
		f.profiles[p] = copied
		return ok(p, dbus.ObjectPath("/a/1"), map[string]dbus.Variant{})
	case nmConnIface + ".Save":
		f.saved[path] = true
		return ok()
	case nmConnIface + ".Delete":
		if _, found := f.profiles[path]; !found {
			return &dbus.Call{Err: dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownObject"}}
		}
		delete(f.profiles, path)
		return ok()
	case nmSettingsIface + ".ListConnections":
		var ps []dbus.ObjectPath
		for p := range f.profiles {
			ps = append(ps, p)
		}
		return ok(ps)
	case nmConnIface + ".GetSettings":
		return ok(f.profiles[path])
	}
	return &dbus.Call{Err: dbus.Error{Name: "org.freedesktop.DBus.Error.UnknownMethod"}}
}

func (f *fakeNM) property(path dbus.ObjectPath, name string) (dbus.Variant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch name {
	case nmDeviceIface + ".DeviceType":
		if path == "/d/wlan0" {
			return dbus.MakeVariant(uint32(deviceTypeWiFi)), nil
		}
		return dbus.MakeVariant(uint32(1)), nil
	case nmDeviceIface + ".Interface":
		return dbus.MakeVariant(strings.TrimPrefix(string(path), "/d/")), nil
	case nmActiveIface + ".State":
		f.polls++
		if f.polls == 1 {
			return dbus.MakeVariant(uint32(1)), nil // activating
		}
		return dbus.MakeVariant(f.active), nil
	case nmDeviceIface + ".StateReason":
		return dbus.MakeVariant([]any{uint32(120), f.reason}), nil
	}
	return dbus.Variant{}, errors.New("no such property")
}

func creds(ssid, pass string) onboarding.WiFiCredentials {
	return onboarding.WiFiCredentials{SSID: ssid, Passphrase: onboarding.NewPassphrase(pass)}
}

func TestJoinCommitRollbackForget(t *testing.T) {
	nm := newFakeNM()
	w := &WiFi{bus: nm, Interface: "wlan0", PollInterval: 1}
	ctx := t.Context()

	var je *onboarding.JoinError
	if err := w.Join(ctx, creds("home", "nope-nope")); !errors.As(err, &je) || je.Reason != onboarding.JoinReasonWrongPassphrase {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := w.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	nm.polls = 0
	if err := w.Join(ctx, creds("away", "password1")); !errors.As(err, &je) || je.Reason != onboarding.JoinReasonNotFound {
		t.Fatalf("unknown network: %v", err)
	}
	w.Rollback(ctx)
	if len(nm.profiles) != 1 {
		t.Fatalf("rollbacks left %d profiles", len(nm.profiles))
	}

	nm.polls = 0
	if err := w.Join(ctx, creds("home", "password1")); err != nil {
		t.Fatalf("join: %v", err)
	}
	if err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if len(nm.saved) != 1 {
		t.Fatalf("saved %d profiles, want 1", len(nm.saved))
	}
	if err := w.Rollback(ctx); err != nil {
		t.Fatal(err) // nothing staged after commit
	}
	if len(nm.profiles) != 2 {
		t.Fatal("rollback after commit deleted the committed profile")
	}
	if err := w.Forget(ctx); err != nil {
		t.Fatal(err)
	}
	if len(nm.profiles) != 1 || nm.profiles["/s/0"] == nil {
		t.Fatalf("forget left %v", nm.profiles)
	}
}

func TestNoWiFiDevice(t *testing.T) {
	w := &WiFi{bus: newFakeNM(), Interface: "wlan9"}
	if err := w.Join(t.Context(), creds("home", "password1")); !errors.Is(err, ErrNoDevice) {
		t.Fatalf("Join = %v, want ErrNoDevice", err)
	}
}

func TestSettings(t *testing.T) {
	s := connectionSettings(creds("home", "password1"), "0123456789abcdef")
	if id := s["connection"]["id"].Value().(string); !strings.HasPrefix(id, IDPrefix) {
		t.Errorf("id %q", id)
	}
	if s["802-11-wireless-security"]["key-mgmt"].Value() != "wpa-psk" {
		t.Error("no WPA-PSK security for a passphrase")
	}
	open := connectionSettings(creds("cafe", ""), "0123456789abcdef")
	if _, ok := open["802-11-wireless-security"]; ok {
		t.Error("security section for an open network")
	}
	for r, want := range map[uint32]onboarding.JoinReason{7: onboarding.JoinReasonWrongPassphrase, 53: onboarding.JoinReasonNotFound, 17: onboarding.JoinReasonNoAddress, 999: onboarding.JoinReasonUnknown} {
		if got := joinReason(r); got != want {
			t.Errorf("joinReason(%d) = %v, want %v", r, got, want)
		}
	}
}

func TestErrorsHideMessages(t *testing.T) {
	err := dbus.Error{Name: "org.freedesktop.NetworkManager.Settings.InvalidProperty", Body: []any{"psk: password1 is invalid"}}
	if got := dbusName(err); strings.Contains(got, "password1") {
		t.Fatalf("dbusName leaked the message: %q", got)
	}
}
