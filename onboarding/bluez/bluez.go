//go:build linux

package bluez

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"tinygo.org/x/bluetooth"
)

var (
	serviceUUID = bluetooth.NewUUID(onboarding.ServiceUUID)
	rxUUID      = bluetooth.NewUUID(onboarding.RXUUID)
	txUUID      = bluetooth.NewUUID(onboarding.TXUUID)
)

// Errors. They never include a Bluetooth address.
var (
	// ErrNoService means the device does not offer the Hearth onboarding
	// service.
	ErrNoService = errors.New("bluez: device has no Hearth onboarding service")
	// ErrBusy means the Radio is already scanning or listening.
	ErrBusy = errors.New("bluez: radio busy")
	// ErrAdapter means BlueZ refused an operation; the D-Bus error is not
	// included because it can name the device.
	ErrAdapter = errors.New("bluez: adapter operation failed")
)

// inbox is the queue depth of received frames per link.
const inbox = 256

// Radio is a BlueZ adapter used for onboarding, in either role. It is safe
// for concurrent use.
type Radio struct {
	adapter *bluetooth.Adapter
	// PeripheralMTU is the frame size the device sends; 0 means 20.
	PeripheralMTU int

	mu        sync.Mutex
	scanning  bool
	links     map[bluetooth.Address]*centralLink
	service   bool
	listening *listener
	plink     *peripheralLink
	pdevice   *bluetooth.Device
	tx        bluetooth.Characteristic
}

// New enables adapter (bluetooth.DefaultAdapter when nil) and returns a
// Radio on it.
func New(adapter *bluetooth.Adapter) (*Radio, error) {
	if adapter == nil {
		adapter = bluetooth.DefaultAdapter
	}
	if err := adapter.Enable(); err != nil {
		return nil, ErrAdapter
	}
	r := &Radio{adapter: adapter, links: make(map[bluetooth.Address]*centralLink)}
	adapter.SetConnectionStateHandler(r.connectionChanged)
	return r, nil
}

func (r *Radio) connectionChanged(d bluetooth.Device, s bluetooth.ConnectionState) {
	if s.Connected {
		r.mu.Lock()
		if r.listening != nil && r.plink == nil {
			dev := d
			r.pdevice = &dev
		}
		r.mu.Unlock()
		return
	}
	r.mu.Lock()
	cl := r.links[d.Address]
	delete(r.links, d.Address)
	pl := r.plink
	if pl != nil && r.pdevice != nil && r.pdevice.Address == d.Address {
		r.plink, r.pdevice = nil, nil
	} else {
		pl = nil
	}
	r.mu.Unlock()
	if cl != nil {
		cl.remoteClosed()
	}
	if pl != nil {
		pl.remoteClosed()
	}
}

// peer is a discovered device. Its address stays unexported and
// unprinted.
type peer struct {
	addr bluetooth.Address
}

func (*peer) String() string { return "BLE device" }

// Scan reports devices advertising Hearth service data until ctx ends.
func (r *Radio) Scan(ctx context.Context, found func(onboarding.Advertisement)) error {
	r.mu.Lock()
	if r.scanning {
		r.mu.Unlock()
		return ErrBusy
	}
	r.scanning = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.scanning = false
		r.mu.Unlock()
	}()
	done := make(chan error, 1)
	go func() {
		done <- r.adapter.Scan(func(_ *bluetooth.Adapter, res bluetooth.ScanResult) {
			for _, sd := range res.ServiceData() {
				if sd.UUID == serviceUUID {
					found(onboarding.Advertisement{
						Peer:        &peer{addr: res.Address},
						ServiceData: append([]byte(nil), sd.Data...),
						RSSI:        int(res.RSSI),
					})
				}
			}
		})
	}()
	select {
	case err := <-done:
		if err != nil {
			return ErrAdapter
		}
		return nil
	case <-ctx.Done():
		r.adapter.StopScan()
		<-done
		return nil
	}
}

// Connect connects to a device found by Scan, discovers the onboarding
// service and subscribes to its notifications.
func (r *Radio) Connect(ctx context.Context, p onboarding.Peer) (onboarding.Link, error) {
	bp, ok := p.(*peer)
	if !ok {
		return nil, errors.New("bluez: peer from another radio")
	}
	timeout := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(time.Until(dl), 40*time.Second)
	}
	type result struct {
		dev bluetooth.Device
		err error
	}
	ch := make(chan result, 1)
	go func() {
		dev, err := r.adapter.Connect(bp.addr, bluetooth.ConnectionParams{ConnectionTimeout: bluetooth.NewDuration(timeout)})
		ch <- result{dev, err}
	}()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		go func() {
			if late := <-ch; late.err == nil {
				late.dev.Disconnect()
			}
		}()
		return nil, ctx.Err()
	}
	if res.err != nil {
		return nil, ErrAdapter
	}
	dev := res.dev
	fail := func(err error) (onboarding.Link, error) {
		dev.Disconnect()
		return nil, err
	}
	svcs, err := dev.DiscoverServices([]bluetooth.UUID{serviceUUID})
	if err != nil || len(svcs) == 0 {
		return fail(ErrNoService)
	}
	chars, err := svcs[0].DiscoverCharacteristics([]bluetooth.UUID{rxUUID, txUUID})
	if err != nil || len(chars) != 2 {
		return fail(ErrNoService)
	}
	l := &centralLink{dev: dev, rx: chars[0], tx: chars[1], in: make(chan []byte, inbox), closed: make(chan struct{}), remote: make(chan struct{})}
	l.mtu = 20
	if mtu, err := l.rx.GetMTU(); err == nil && int(mtu)-3 > l.mtu {
		l.mtu = int(mtu) - 3
	}
	if err := l.tx.EnableNotifications(l.notified); err != nil {
		return fail(ErrAdapter)
	}
	r.mu.Lock()
	r.links[bp.addr] = l
	r.mu.Unlock()
	l.forget = func() {
		r.mu.Lock()
		if r.links[bp.addr] == l {
			delete(r.links, bp.addr)
		}
		r.mu.Unlock()
	}
	return l, nil
}

// centralLink is a commissioner's link to a device.
type centralLink struct {
	dev    bluetooth.Device
	rx, tx bluetooth.DeviceCharacteristic
	mtu    int
	in     chan []byte
	forget func()

	closeOnce, remoteOnce sync.Once
	closed, remote        chan struct{}
}

func (l *centralLink) notified(b []byte) {
	select {
	case l.in <- append([]byte(nil), b...):
	default: // the reader is far behind: drop; the protocol retransmits
	}
}

func (l *centralLink) remoteClosed() { l.remoteOnce.Do(func() { close(l.remote) }) }

func (l *centralLink) MTU() int { return l.mtu }

func (l *centralLink) Send(ctx context.Context, frame []byte) error {
	select {
	case <-l.closed:
		return onboarding.ErrLinkClosed
	case <-l.remote:
		return onboarding.ErrLinkClosed
	default:
	}
	if _, err := l.rx.WriteWithoutResponse(frame); err != nil {
		return ErrAdapter
	}
	return nil
}

func (l *centralLink) Recv(ctx context.Context) ([]byte, error) {
	return recv(ctx, l.in, l.closed, l.remote)
}

func (l *centralLink) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.tx.EnableNotifications(nil)
		l.dev.Disconnect()
		l.forget()
	})
	return nil
}

func recv(ctx context.Context, in chan []byte, closed, remote chan struct{}) ([]byte, error) {
	select {
	case f := <-in:
		return f, nil
	case <-closed:
		return nil, onboarding.ErrLinkClosed
	case <-remote:
		select {
		case f := <-in:
			return f, nil
		default:
			return nil, onboarding.ErrLinkClosed
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Listen registers the onboarding GATT service (once per Radio) and
// advertises serviceData until the Listener closes or ctx ends.
func (r *Radio) Listen(ctx context.Context, serviceData []byte) (onboarding.Listener, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.listening != nil {
		return nil, ErrBusy
	}
	if !r.service {
		err := r.adapter.AddService(&bluetooth.Service{
			UUID: serviceUUID,
			Characteristics: []bluetooth.CharacteristicConfig{
				{
					UUID:       rxUUID,
					Flags:      bluetooth.CharacteristicWritePermission | bluetooth.CharacteristicWriteWithoutResponsePermission,
					WriteEvent: r.written,
				},
				{
					Handle: &r.tx,
					UUID:   txUUID,
					Flags:  bluetooth.CharacteristicReadPermission | bluetooth.CharacteristicNotifyPermission,
				},
			},
		})
		if err != nil {
			return nil, ErrAdapter
		}
		r.service = true
	}
	adv := r.adapter.DefaultAdvertisement()
	err := adv.Configure(bluetooth.AdvertisementOptions{
		ServiceData: []bluetooth.ServiceDataElement{{UUID: serviceUUID, Data: append([]byte(nil), serviceData...)}},
	})
	if err != nil {
		return nil, ErrAdapter
	}
	if err := adv.Start(); err != nil {
		return nil, ErrAdapter
	}
	l := &listener{r: r, adv: adv, accept: make(chan *peripheralLink, 1), done: make(chan struct{})}
	r.listening = l
	l.stop = context.AfterFunc(ctx, func() { l.Close() })
	return l, nil
}

// written receives the RX writes of whichever central is connected; the
// first write after no link opens one.
func (r *Radio) written(_ bluetooth.Connection, offset int, value []byte) {
	if offset != 0 {
		return // frames are single writes; long writes are not part of the protocol
	}
	r.mu.Lock()
	pl := r.plink
	if pl == nil {
		if r.listening == nil {
			r.mu.Unlock()
			return
		}
		pl = &peripheralLink{r: r, mtu: r.PeripheralMTU, in: make(chan []byte, inbox), closed: make(chan struct{}), remote: make(chan struct{})}
		if pl.mtu < 20 {
			pl.mtu = 20
		}
		if r.pdevice != nil {
			pl.dev = r.pdevice
		}
		select {
		case r.listening.accept <- pl:
			r.plink = pl
		default:
			r.mu.Unlock()
			return
		}
	}
	r.mu.Unlock()
	select {
	case pl.in <- append([]byte(nil), value...):
	default:
	}
}

type listener struct {
	r      *Radio
	adv    *bluetooth.Advertisement
	accept chan *peripheralLink
	done   chan struct{}
	once   sync.Once
	stop   func() bool
}

func (l *listener) Accept(ctx context.Context) (onboarding.Link, error) {
	select {
	case pl := <-l.accept:
		return pl, nil
	case <-l.done:
		return nil, onboarding.ErrLinkClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops advertising. The GATT service stays registered, so a link
// already open keeps working.
func (l *listener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.adv.Stop()
		l.r.mu.Lock()
		if l.r.listening == l {
			l.r.listening = nil
		}
		l.r.mu.Unlock()
	})
	return nil
}

// peripheralLink is the device's link to the connected commissioner.
type peripheralLink struct {
	r   *Radio
	dev *bluetooth.Device
	mtu int
	in  chan []byte

	closeOnce, remoteOnce sync.Once
	closed, remote        chan struct{}
}

func (l *peripheralLink) remoteClosed() { l.remoteOnce.Do(func() { close(l.remote) }) }

func (l *peripheralLink) MTU() int { return l.mtu }

func (l *peripheralLink) Send(ctx context.Context, frame []byte) error {
	select {
	case <-l.closed:
		return onboarding.ErrLinkClosed
	case <-l.remote:
		return onboarding.ErrLinkClosed
	default:
	}
	if _, err := l.r.tx.Write(frame); err != nil {
		return ErrAdapter
	}
	return nil
}

func (l *peripheralLink) Recv(ctx context.Context) ([]byte, error) {
	return recv(ctx, l.in, l.closed, l.remote)
}

// Close forgets the link and asks BlueZ to disconnect the central.
func (l *peripheralLink) Close() error {
	l.closeOnce.Do(func() {
		close(l.closed)
		l.r.mu.Lock()
		if l.r.plink == l {
			l.r.plink = nil
		}
		l.r.mu.Unlock()
		if l.dev != nil {
			l.dev.Disconnect()
		}
	})
	return nil
}

var (
	_ onboarding.Central    = (*Radio)(nil)
	_ onboarding.Peripheral = (*Radio)(nil)
)
