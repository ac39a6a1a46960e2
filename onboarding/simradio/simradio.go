// Package simradio simulates the radios of Hearth onboarding in memory: a
// shared Air on which commissioners (Central) scan for and connect to
// devices (Peripheral), with configurable one-way latency, jitter, frame
// loss and MTU, any number of devices at once, a way to intercept frames
// in flight (to test tampering, replay and reordering), misbehaving devices
// (Rogue), and simulated Wi-Fi networks (Station, AccessPoint).
//
// The Air counts what crosses it (Stats), notably radio round trips: the
// number of times a commissioner transmits after hearing from the device,
// which is what latency multiplies.
//
// Everything runs on the time package, so tests can run it inside a
// testing/synctest bubble and simulate minutes of latency and timeouts in
// microseconds.
package simradio

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
)

// Config describes the simulated air. The zero value is a perfect radio
// with a 20-byte MTU. New copies it. It is plain data; the Air may call
// Intercept concurrently from several goroutines.
type Config struct {
	// Latency is the one-way delay of every frame and advertisement.
	Latency time.Duration
	// Jitter adds a uniformly random delay in [0, Jitter) to each frame;
	// frames on a link still arrive in order, as on BLE.
	Jitter time.Duration
	// Loss is the probability, from 0 to 1, that a frame or an
	// advertisement is lost.
	Loss float64
	// MTU is the largest frame a link carries (the ATT payload); 0 means
	// 20, the BLE minimum.
	MTU int
	// AdvertisingInterval is how often a scanner sees each advertising
	// device; 0 means 100 ms.
	AdvertisingInterval time.Duration
	// Seed seeds the random source of Loss and Jitter, so a run is
	// reproducible.
	Seed uint64
	// Intercept, if set, sees every frame that survived Loss and returns
	// what to deliver instead: the frame unchanged, altered, several frames
	// (duplicates, injections) or none. It is called from the sending
	// goroutine, so possibly from several goroutines at once.
	Intercept func(Frame) [][]byte
}

// Frame is one radio payload in flight, as Intercept sees it. It is plain
// data, owned by the Intercept call that receives it; it is not safe for
// concurrent use.
type Frame struct {
	// Link numbers the link, from 1 in connection order.
	Link int
	// FromCentral is true for commissioner-to-device frames.
	FromCentral bool
	// Data is the frame; Intercept may keep or modify it.
	Data []byte
}

// Stats counts what crossed the air. It is a snapshot (plain data, safe
// for concurrent use); Air.Stats returns a new one each time.
type Stats struct {
	// RoundTrips counts commissioner turns: frames a central sent after
	// receiving something since its previous send (its first send counts
	// too). Frames sent back to back form one turn.
	RoundTrips int
	// Frames and Bytes count frames handed to the air, both ways.
	Frames, Bytes int
	// Dropped counts frames and advertisements lost to Loss.
	Dropped int
	// Connections counts links opened.
	Connections int
}

// Errors.
var (
	// ErrUnreachable means the device stopped advertising.
	ErrUnreachable = errors.New("simradio: device not reachable")
	// ErrFrameTooLarge means a frame exceeded the MTU.
	ErrFrameTooLarge = errors.New("simradio: frame exceeds MTU")
	// ErrClosed means the Air was closed.
	ErrClosed = errors.New("simradio: air closed")
)

// Air is the shared medium. It is safe for concurrent use.
type Air struct {
	cfg Config

	mu        sync.Mutex
	rng       *rand.Rand
	listeners map[*listener]struct{}
	ends      map[*end]struct{}
	stats     Stats
	links     int
	closed    bool
}

// New returns an Air with cfg.
func New(cfg Config) *Air {
	if cfg.MTU == 0 {
		cfg.MTU = 20
	}
	if cfg.AdvertisingInterval == 0 {
		cfg.AdvertisingInterval = 100 * time.Millisecond
	}
	return &Air{
		cfg:       cfg,
		rng:       rand.New(rand.NewPCG(cfg.Seed, 0x6865617274680001)),
		listeners: make(map[*listener]struct{}),
		ends:      make(map[*end]struct{}),
	}
}

// Stats returns the counts so far.
func (a *Air) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// ResetStats zeroes the counts.
func (a *Air) ResetStats() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.stats = Stats{}
}

// Close stops every listener and closes every link, releasing the Air's
// goroutines.
func (a *Air) Close() error {
	a.mu.Lock()
	a.closed = true
	ls := make([]*listener, 0, len(a.listeners))
	for l := range a.listeners {
		ls = append(ls, l)
	}
	es := make([]*end, 0, len(a.ends))
	for e := range a.ends {
		es = append(es, e)
	}
	a.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
	for _, e := range es {
		e.Close()
	}
	return nil
}

// lost rolls the dice for one frame or advertisement.
func (a *Air) lost() bool {
	if a.cfg.Loss <= 0 {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rng.Float64() < a.cfg.Loss {
		a.stats.Dropped++
		return true
	}
	return false
}

func (a *Air) delay() time.Duration {
	d := a.cfg.Latency
	if a.cfg.Jitter > 0 {
		a.mu.Lock()
		d += time.Duration(a.rng.Int64N(int64(a.cfg.Jitter)))
		a.mu.Unlock()
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Central is a commissioner's radio on the Air. It implements
// onboarding.Central and is safe for concurrent use.
type Central struct {
	air *Air
}

// Central returns a new commissioner radio.
func (a *Air) Central() *Central { return &Central{air: a} }

// peer is the opaque handle of an advertising device.
type peer struct {
	l *listener
}

func (p *peer) String() string { return "simulated device" }

// Scan reports every advertising device once per AdvertisingInterval
// (minus losses) until ctx is done.
func (c *Central) Scan(ctx context.Context, found func(onboarding.Advertisement)) error {
	a := c.air
	if err := sleep(ctx, a.cfg.Latency); err != nil {
		return nil
	}
	t := time.NewTicker(a.cfg.AdvertisingInterval)
	defer t.Stop()
	for {
		a.mu.Lock()
		if a.closed {
			a.mu.Unlock()
			return ErrClosed
		}
		ls := make([]*listener, 0, len(a.listeners))
		for l := range a.listeners {
			ls = append(ls, l)
		}
		a.mu.Unlock()
		for _, l := range ls {
			if a.lost() {
				continue
			}
			found(onboarding.Advertisement{Peer: &peer{l}, ServiceData: append([]byte(nil), l.data...), RSSI: -50})
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil
		}
	}
}

// Connect opens a link to the device behind p, taking two one-way
// latencies.
func (c *Central) Connect(ctx context.Context, p onboarding.Peer) (onboarding.Link, error) {
	a := c.air
	sp, ok := p.(*peer)
	if !ok {
		return nil, fmt.Errorf("simradio: peer from another radio")
	}
	if err := sleep(ctx, 2*a.cfg.Latency); err != nil {
		return nil, err
	}
	a.mu.Lock()
	if _, ok := a.listeners[sp.l]; !ok || a.closed {
		a.mu.Unlock()
		return nil, ErrUnreachable
	}
	a.links++
	a.stats.Connections++
	id := a.links
	cen, per := newEnds(a, id)
	a.ends[cen] = struct{}{}
	a.ends[per] = struct{}{}
	a.mu.Unlock()
	select {
	case sp.l.accept <- per:
		return cen, nil
	default:
		cen.Close()
		per.Close()
		return nil, ErrUnreachable
	}
}

// Peripheral is a device's radio on the Air. It implements
// onboarding.Peripheral and is safe for concurrent use.
type Peripheral struct {
	air *Air
}

// Peripheral returns a new device radio.
func (a *Air) Peripheral() *Peripheral { return &Peripheral{air: a} }

// Listen advertises serviceData until the Listener closes or ctx ends.
func (p *Peripheral) Listen(ctx context.Context, serviceData []byte) (onboarding.Listener, error) {
	a := p.air
	l := &listener{air: a, data: append([]byte(nil), serviceData...), accept: make(chan *end, 16), done: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	a.listeners[l] = struct{}{}
	a.mu.Unlock()
	if ctx.Done() != nil {
		l.mu.Lock()
		l.stop = context.AfterFunc(ctx, func() { l.Close() })
		l.mu.Unlock()
	}
	return l, nil
}

type listener struct {
	air    *Air
	data   []byte
	accept chan *end
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	stop   func() bool
}

func (l *listener) Accept(ctx context.Context) (onboarding.Link, error) {
	select {
	case e := <-l.accept:
		return e, nil
	case <-l.done:
		return nil, onboarding.ErrLinkClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (l *listener) Close() error {
	l.once.Do(func() {
		l.air.mu.Lock()
		delete(l.air.listeners, l)
		l.air.mu.Unlock()
		close(l.done)
		l.mu.Lock()
		stop := l.stop
		l.mu.Unlock()
		if stop != nil {
			stop()
		}
	})
	return nil
}

// end is one side of a link. Frames it sends go through its pipe to the
// other end, in order, each after its delay.
type end struct {
	air     *Air
	id      int
	central bool
	in      chan []byte
	out     *pipe
	other   *end

	closed     chan struct{} // closed locally
	closeOnce  sync.Once
	remote     chan struct{} // the other end's close arrived
	remoteOnce sync.Once

	mu      sync.Mutex
	sentAny bool
	heard   bool // received since the last send (central only)
}

type pipe struct {
	mu    sync.Mutex
	q     []item
	wake  chan struct{}
	last  time.Time
	to    *end
	ended bool
}

type item struct {
	at   time.Time
	data []byte
	fin  bool
}

func newEnds(a *Air, id int) (*end, *end) {
	mk := func(central bool) *end {
		return &end{air: a, id: id, central: central, in: make(chan []byte, 4096), closed: make(chan struct{}), remote: make(chan struct{})}
	}
	c, p := mk(true), mk(false)
	c.other, p.other = p, c
	c.out = &pipe{wake: make(chan struct{}, 1), to: p}
	p.out = &pipe{wake: make(chan struct{}, 1), to: c}
	go c.out.run()
	go p.out.run()
	return c, p
}

func (e *end) MTU() int { return e.air.cfg.MTU }

func (e *end) Send(ctx context.Context, frame []byte) error {
	a := e.air
	if len(frame) > a.cfg.MTU {
		return ErrFrameTooLarge
	}
	select {
	case <-e.closed:
		return onboarding.ErrLinkClosed
	case <-e.remote:
		return onboarding.ErrLinkClosed
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	a.mu.Lock()
	a.stats.Frames++
	a.stats.Bytes += len(frame)
	a.mu.Unlock()
	if e.central {
		e.mu.Lock()
		turn := !e.sentAny || e.heard
		e.sentAny, e.heard = true, false
		e.mu.Unlock()
		if turn {
			a.mu.Lock()
			a.stats.RoundTrips++
			a.mu.Unlock()
		}
	}
	if a.lost() {
		return nil
	}
	frames := [][]byte{append([]byte(nil), frame...)}
	if a.cfg.Intercept != nil {
		frames = a.cfg.Intercept(Frame{Link: e.id, FromCentral: e.central, Data: frames[0]})
	}
	for _, f := range frames {
		e.out.push(item{data: f}, a.delay())
	}
	return nil
}

func (e *end) Recv(ctx context.Context) ([]byte, error) {
	select {
	case f := <-e.in:
		return f, nil
	default:
	}
	select {
	case f := <-e.in:
		return f, nil
	case <-e.closed:
		return nil, onboarding.ErrLinkClosed
	case <-e.remote:
		// Deliver what arrived before the close.
		select {
		case f := <-e.in:
			return f, nil
		default:
			return nil, onboarding.ErrLinkClosed
		}
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes this end at once; the other end learns of it after the
// frames already in flight, one latency later.
func (e *end) Close() error {
	e.closeOnce.Do(func() {
		close(e.closed)
		e.out.push(item{fin: true}, e.air.cfg.Latency)
		e.air.mu.Lock()
		delete(e.air.ends, e)
		e.air.mu.Unlock()
	})
	return nil
}

func (p *pipe) push(it item, d time.Duration) {
	p.mu.Lock()
	if p.ended {
		p.mu.Unlock()
		return
	}
	it.at = time.Now().Add(d)
	if it.at.Before(p.last) {
		it.at = p.last
	}
	p.last = it.at
	p.q = append(p.q, it)
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run delivers the pipe's frames in order, each at its time, until the
// sending end's close has been delivered or the receiving end closed.
func (p *pipe) run() {
	for {
		p.mu.Lock()
		if len(p.q) == 0 {
			p.mu.Unlock()
			select {
			case <-p.wake:
				continue
			case <-p.to.closed:
				p.finish()
				return
			}
		}
		it := p.q[0]
		p.q = p.q[1:]
		p.mu.Unlock()
		if d := time.Until(it.at); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-p.to.closed:
				t.Stop()
				p.finish()
				return
			}
		}
		if it.fin {
			p.to.remoteOnce.Do(func() { close(p.to.remote) })
			p.finish()
			return
		}
		select {
		case <-p.to.closed:
			continue
		default:
		}
		if p.to.central {
			// Before the frame is visible, so a reply sent the moment it is
			// read counts as a new turn.
			p.to.mu.Lock()
			p.to.heard = true
			p.to.mu.Unlock()
		}
		select {
		case p.to.in <- it.data:
		default:
			// The receiver is 4096 frames behind: drop, as a full buffer
			// would.
			p.to.air.mu.Lock()
			p.to.air.stats.Dropped++
			p.to.air.mu.Unlock()
		}
	}
}

func (p *pipe) finish() {
	p.mu.Lock()
	p.ended = true
	p.q = nil
	p.mu.Unlock()
}
