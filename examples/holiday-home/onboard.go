package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway"
	"github.com/hearth-wot/hearth/gateway/virtual"
	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/simradio"
	"github.com/hearth-wot/hearth/thing"
)

// errNoSuchBox means a setup code belongs to no device waiting nearby.
var errNoSuchBox = errors.New("no new device with that code is switched on nearby")

// onboarder brings new devices into a home over a simulated Bluetooth LE
// radio: devices are "unboxed" (powered on with their commissioning window
// open, their label showing the setup code), and a person adds one by
// entering the code (the user gesture), after which the commissioner
// authenticates it with the code, hands it the home's Wi-Fi credentials
// and registers it with the home's gateway. It is safe for concurrent use.
type onboarder struct {
	home    string
	log     *slog.Logger
	devices *virtual.Adapter
	// publish brings the gateway's directory in line with devices. The
	// adapter announces a new device asynchronously; Register calls
	// publish so that a device is served when commissioning completes.
	publish func(context.Context) error
	air     *simradio.Air
	ap      simradio.AccessPoint

	mu      sync.Mutex
	boxes   map[string]*box // by thing id
	next    int
	running sync.WaitGroup
}

// box is a new device switched on and waiting to be added.
type box struct {
	label  label
	device virtual.Device
	dev    *onboarding.Device
	cancel context.CancelFunc
	state  onboarding.DeviceState
}

// label is what is printed on a device: its name and setup payload.
type label struct {
	Thing   string `json:"thing"`
	Name    string `json:"name"`
	Payload string `json:"payload"` // "HRT1:0842:20202021", as in the QR code
	Code    string `json:"code"`    // "2020-2021", as printed for typing
}

func newOnboarder(home string, devices *virtual.Adapter, publish func(context.Context) error, log *slog.Logger) *onboarder {
	return &onboarder{
		home: home, log: log, devices: devices, publish: publish, air: simradio.New(simradio.Config{}),
		ap:    simradio.AccessPoint{SSID: "holiday-" + home, Passphrase: newSecret(12)},
		boxes: map[string]*box{},
	}
}

// unbox switches on a new smart plug: its commissioning window opens and
// its label can be read. It returns the label.
func (o *onboarder) unbox(ctx context.Context, name string) (label, error) {
	code, err := onboarding.GenerateSetupCode(nil)
	if err != nil {
		return label{}, err
	}
	verifier, err := onboarding.NewVerifier(code, nil, 0)
	if err != nil {
		return label{}, err
	}
	var b [2]byte
	rand.Read(b[:])
	disc := binary.BigEndian.Uint16(b[:]) & 0x0fff
	o.mu.Lock()
	o.next++
	id := fmt.Sprintf("%splug-%d-%04d", virtual.HomeIDPrefix, o.next, disc)
	o.mu.Unlock()
	payload, err := onboarding.NewSetupPayload(disc, code)
	if err != nil {
		return label{}, err
	}
	plug := virtual.NewSmartPlug(id, name, virtual.SmartPlugOptions{Seed: uint64(disc), Load: 40})
	bx := &box{device: plug, label: label{Thing: id, Name: name, Payload: payload.Reveal(), Code: code.Reveal()}}
	code.Zero() // the payload shares it: both are erased
	dev, err := onboarding.NewDevice(onboarding.DeviceConfig{
		Radio:         o.air.Peripheral(),
		WiFi:          simradio.NewStation(o.ap),
		Verifier:      verifier,
		Discriminator: disc,
		Describe: func(context.Context) (*thing.Description, error) {
			return plug.Description(), nil
		},
		OnState: func(s onboarding.DeviceState) {
			o.mu.Lock()
			bx.state = s
			o.mu.Unlock()
		},
	})
	if err != nil {
		return label{}, err
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	bx.dev, bx.cancel = dev, cancel
	o.mu.Lock()
	o.boxes[id] = bx
	o.mu.Unlock()
	o.running.Go(func() {
		if err := dev.Run(dctx); err != nil {
			o.log.Warn("onboarding: device stopped", "err", err)
		}
	})
	return bx.label, nil
}

// add commissions the device whose setup payload the person entered. It
// must be called from the handler of a user action: it makes the
// onboarding.UserGesture that lets the radio scan.
func (o *onboarder) add(ctx context.Context, payload string, progress func(onboarding.Progress)) (string, error) {
	setup, err := onboarding.ParseSetupPayload(payload)
	if err != nil {
		return "", err
	}
	s, err := onboarding.NewSession(onboarding.Config{
		Radio: o.air.Central(), Registrar: o, Logger: o.log, OnProgress: progress,
		ScanTimeout: 5 * time.Second,
	})
	if err != nil {
		return "", err
	}
	creds := onboarding.WiFiCredentials{SSID: o.ap.SSID, Passphrase: onboarding.NewPassphrase(o.ap.Passphrase)}
	// The person pressed "Add device": this is the user gesture.
	reg, err := s.Commission(ctx, onboarding.UserGesture(), setup, creds)
	if err != nil {
		if errors.Is(err, onboarding.ErrNotFound) {
			return "", errNoSuchBox
		}
		return "", err
	}
	return reg.ID, nil
}

// Register implements onboarding.Registrar: the commissioned device joins
// the home's virtual adapter and, before Register returns, the gateway's
// directory, so that commissioning completes only once the device is
// served.
func (o *onboarder) Register(ctx context.Context, r *onboarding.Registration) error {
	o.mu.Lock()
	bx := o.boxes[r.ID]
	o.mu.Unlock()
	if bx == nil {
		return fmt.Errorf("onboarding: no device %s was switched on here", r.ID)
	}
	if _, ok := o.devices.Device(r.ID); !ok { // else onboarded again after a reset
		if err := o.devices.Add(bx.device); err != nil {
			return err
		}
	}
	if o.publish == nil {
		return nil
	}
	return o.publish(ctx)
}

// Unregister implements onboarding.Unregisterer: a device that did not
// acknowledge commissioning rolled back, so it leaves the directory.
func (o *onboarder) Unregister(ctx context.Context, id string) error {
	err := o.devices.RemoveThing(ctx, id)
	if errors.Is(err, virtual.ErrClosed) || errors.Is(err, gateway.ErrNotFound) {
		return nil
	}
	return err
}

// pending lists the devices switched on and not yet added.
func (o *onboarder) pending() []label {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []label
	for _, b := range o.boxes {
		if b.state != onboarding.DeviceCommissioned {
			out = append(out, b.label)
		}
	}
	return out
}

func (o *onboarder) close() {
	o.mu.Lock()
	for _, b := range o.boxes {
		b.cancel()
	}
	o.mu.Unlock()
	o.running.Wait()
	o.air.Close()
}

// printLabel draws a device label the way it is printed on the box.
func printLabel(l label) string {
	lines := []string{l.Name, "Setup code  " + l.Code, "QR  " + l.Payload}
	w := 0
	for _, s := range lines {
		w = max(w, len([]rune(s)))
	}
	var b strings.Builder
	b.WriteString("  ┌" + strings.Repeat("─", w+2) + "┐\n")
	for _, s := range lines {
		b.WriteString("  │ " + s + strings.Repeat(" ", w-len([]rune(s))) + " │\n")
	}
	b.WriteString("  └" + strings.Repeat("─", w+2) + "┘\n")
	return b.String()
}
