package onboarding

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hearth-wot/hearth/onboarding/internal/secure"
	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
	"github.com/hearth-wot/hearth/thing"
)

// DeviceState is the state of a Device. See the package documentation for
// its transitions. It is a plain value, safe for concurrent use.
type DeviceState uint8

// Device states.
const (
	// DeviceClosed: the commissioning window is closed; the device does
	// not advertise. It has not been commissioned (or was reset).
	DeviceClosed DeviceState = iota
	// DeviceAdvertising: the window is open and the device waits for a
	// commissioner.
	DeviceAdvertising
	// DeviceAuthenticating: a commissioner is connected and the
	// handshake (Hello, SPAKE2+) is under way.
	DeviceAuthenticating
	// DeviceProvisioning: the secure session is up and the fail-safe
	// armed; the device waits for credentials.
	DeviceProvisioning
	// DeviceJoining: the device is joining the network with staged
	// credentials.
	DeviceJoining
	// DeviceJoined: the device joined and waits for Complete before the
	// fail-safe expires.
	DeviceJoined
	// DeviceCommissioned: the device committed its network and the window
	// is closed.
	DeviceCommissioned
)

var deviceStateNames = [...]string{"Closed", "Advertising", "Authenticating", "Provisioning", "Joining", "Joined", "Commissioned"}

// String returns the state's name.
func (s DeviceState) String() string {
	if int(s) < len(deviceStateNames) {
		return deviceStateNames[s]
	}
	return "DeviceState(?)"
}

// DeviceConfig configures a Device. Radio, WiFi, Verifier and Describe are
// required; every other field's zero value picks a sensible default.
// NewDevice copies it; later changes have no effect.
//
// A DeviceConfig is plain data, not safe for concurrent use while it is
// being modified; NewDevice reads it once. The Device calls OnState from
// the goroutine running Run and Describe from a goroutine of its own, each
// one call at a time.
type DeviceConfig struct {
	// Radio advertises and accepts links.
	Radio Peripheral
	// WiFi joins, commits and rolls back networks.
	WiFi WiFi
	// Verifier authenticates commissioners; derive it from the setup code
	// with NewVerifier at manufacture.
	Verifier *Verifier
	// Discriminator is the 12-bit value from the setup payload, advertised
	// so a commissioner finds this device among others.
	Discriminator uint16
	// Describe returns the device's Thing Description. It is called after
	// the device joined the network, so the description can carry the
	// device's address.
	Describe func(ctx context.Context) (*thing.Description, error)
	// PublicKey is the device's long-term public key, handed to the
	// commissioner over the secure session (see Registration.PublicKey).
	// Optional; at most 512 bytes.
	PublicKey []byte
	// Commissioned says the device was commissioned before (the vendor
	// persists this when OnState reports DeviceCommissioned and clears it
	// on factory reset). A commissioned device does not open its window at
	// power-up.
	Commissioned bool
	// Logger receives the device's log records; nil means no logging.
	Logger *slog.Logger
	// OnState, if set, is called on every state change, from the goroutine
	// running Run. It must not block for long.
	OnState func(DeviceState)

	// Window is how long the commissioning window stays open; 0 means
	// 15 minutes.
	Window time.Duration
	// FailSafe is how long the device waits for the commissioner's next
	// step before staged changes roll back and the session ends; 0 means
	// 2 minutes. It is armed when the secure session is up and re-armed
	// (to FailSafe from then) when the device accepts credentials and
	// when a join fails, so each join attempt, and each retyping of a
	// passphrase, gets a full FailSafe.
	FailSafe time.Duration
	// FailSafeMax caps the fail-safe however often it is re-armed: staged
	// changes roll back at the latest FailSafeMax after the secure session
	// is up. 0 means 15 minutes (Matter's maximum cumulative fail-safe),
	// or FailSafe if that is longer. It must not be below FailSafe.
	FailSafeMax time.Duration
	// HandshakeTimeout bounds a connected commissioner's handshake; 0
	// means 30 s.
	HandshakeTimeout time.Duration
	// MaxAttempts is how many failed authentication attempts close the
	// window (until the button opens it again); 0 means 20.
	MaxAttempts int
	// BackoffBase is the pause after the first failed attempt; it doubles
	// after each further failure up to BackoffMax. 0 means 1 s; BackoffMax
	// 0 means 1 minute.
	BackoffBase, BackoffMax time.Duration
	// MaxJoinAttempts is how many sets of credentials one session may try;
	// 0 means 3.
	MaxJoinAttempts int
	// MaxMessage bounds the messages the device accepts; 0 means 16 KiB.
	MaxMessage int
}

// Device is the device side of onboarding: the peripheral state machine a
// vendor embeds. It opens a commissioning window at power-up (Run) or on a
// button press (OpenWindow), lets one commissioner at a time authenticate
// with the setup code (with attempt limiting and back-off), stages the
// Wi-Fi credentials it receives, and commits them only when Complete
// arrives before the fail-safe expires.
//
// A Device is safe for concurrent use: Run drives it from one goroutine;
// OpenWindow, FactoryReset and State may be called from any goroutine.
type Device struct {
	cfg     DeviceConfig
	log     *slog.Logger
	cmds    chan deviceCmd
	state   atomic.Uint32
	running atomic.Bool
}

type deviceCmd struct {
	reset bool
	done  chan error
}

// NewDevice validates cfg and returns a Device; Run starts it.
func NewDevice(cfg DeviceConfig) (*Device, error) {
	if cfg.Radio == nil || cfg.WiFi == nil || cfg.Verifier == nil || cfg.Verifier.rec == nil || cfg.Describe == nil {
		return nil, fmt.Errorf("%w: Radio, WiFi, Verifier and Describe are required", ErrInvalidConfig)
	}
	if cfg.Discriminator > MaxDiscriminator || len(cfg.PublicKey) > wire.MaxPublicKey {
		return nil, fmt.Errorf("%w: discriminator above 4095 or public key above 512 bytes", ErrInvalidConfig)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&cfg.Window, 15*time.Minute)
	def(&cfg.FailSafe, 2*time.Minute)
	def(&cfg.FailSafeMax, max(15*time.Minute, cfg.FailSafe))
	def(&cfg.HandshakeTimeout, 30*time.Second)
	def(&cfg.BackoffBase, time.Second)
	def(&cfg.BackoffMax, time.Minute)
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.MaxJoinAttempts == 0 {
		cfg.MaxJoinAttempts = 3
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = defaultMaxMessage
	}
	if cfg.FailSafeMax < cfg.FailSafe {
		return nil, fmt.Errorf("%w: FailSafeMax below FailSafe", ErrInvalidConfig)
	}
	if cfg.Window < 0 || cfg.FailSafe < 0 || cfg.HandshakeTimeout < 0 || cfg.BackoffBase < 0 || cfg.BackoffMax < 0 ||
		cfg.MaxAttempts < 0 || cfg.MaxJoinAttempts < 0 || cfg.MaxMessage < minMaxMessage || cfg.MaxMessage > wire.MaxMessage {
		return nil, fmt.Errorf("%w: negative duration or count, or MaxMessage out of range", ErrInvalidConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Device{cfg: cfg, log: log, cmds: make(chan deviceCmd, 4)}
	if cfg.Commissioned {
		d.state.Store(uint32(DeviceCommissioned))
	}
	return d, nil
}

// State returns the device's current state.
func (d *Device) State() DeviceState { return DeviceState(d.state.Load()) }

// OpenWindow is the button: it opens (or extends) the commissioning window
// and resets the failed-attempt count, since pressing it proves physical
// presence. A commissioned device can be commissioned again this way; its
// network changes only if the new commissioning completes. If Run is not
// running, the press takes effect when it starts.
func (d *Device) OpenWindow() {
	select {
	case d.cmds <- deviceCmd{}:
	default: // a press is already pending
	}
}

// FactoryReset ends any session (rolling back what it staged), forgets
// every network, clears the attempt count and the commissioned flag, and
// opens the window as at first power-up. It needs Run to be running and
// returns the WiFi's Forget error, if any.
func (d *Device) FactoryReset(ctx context.Context) error {
	if !d.running.Load() {
		return ErrNotRunning
	}
	done := make(chan error, 1)
	select {
	case d.cmds <- deviceCmd{reset: true, done: done}:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run powers the device up and serves commissioners until ctx is done,
// then rolls back anything staged and returns nil. It returns an error if
// the radio fails, or ErrBusy if Run is already running.
func (d *Device) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return ErrBusy
	}
	defer d.running.Store(false)
	ctx, cancel := context.WithCancel(ctx)
	l := &loop{
		d:            d,
		cfg:          &d.cfg,
		log:          d.log,
		ctx:          ctx,
		stop:         cancel,
		events:       make(chan any),
		commissioned: d.cfg.Commissioned,
		state:        d.State(),
	}
	return l.run()
}

// Events the loop receives from its goroutines.
type (
	evLink struct {
		lc *linkConn
	}
	evMsg struct {
		lc  *linkConn
		msg []byte
	}
	evClosed struct {
		lc *linkConn
	}
	evAcceptErr struct {
		gen int
		err error
	}
	evJoined struct {
		s   *devSession
		err error
		td  []byte
	}
)

// linkConn is one accepted link with its reader goroutine.
type linkConn struct {
	conn   *conn
	cancel context.CancelFunc
	once   sync.Once
	timer  *time.Timer // closes a link that is not the session's
}

func (lc *linkConn) close() {
	lc.once.Do(func() {
		lc.cancel()
		lc.conn.link.Close()
		if lc.timer != nil {
			lc.timer.Stop()
		}
	})
}

// Session phases on the device.
const (
	phaseHello = iota
	phasePake
	phaseConfirm
	phaseSecured
	phaseDone
)

// maxBadFrames is how many sealed messages failing authentication or
// order a session tolerates before the device drops it.
const maxBadFrames = 16

// maxExtraLinks bounds the links kept open besides the session's, waiting
// to be told the device is busy.
const maxExtraLinks = 4

// devSession is the device's side of one commissioner's session.
type devSession struct {
	lc         *linkConn
	phase      int
	hello      []byte // the Hello accepted, and the reply sent
	helloReply []byte
	pakeReq    []byte // the PakeShare accepted, and the reply sent
	pakeResp   []byte
	confirmReq []byte
	verifier   *spake2plus.Verifier
	attempt    bool // a SPAKE2+ reply went out and is not yet confirmed
	ch         *secure.Channel
	lastResp   []byte // the last sealed answer, resent for a duplicate request
	badFrames  int
	status     wire.Status
	holding    bool // a GetStatus waits for the join result
	joinCancel context.CancelFunc
	joinDone   chan struct{}
	staged     bool // WiFi.Join was called and not rolled back
	joinTries  int
	handshake  *time.Timer // handshake timeout, then linger after Complete
	failSafe   *time.Timer
	failSafeAt time.Time // FailSafeMax after the secure session: no re-arming past it
	hold       *time.Timer
}

// loop is the Device's event loop; all its fields belong to the Run
// goroutine.
type loop struct {
	d    *Device
	cfg  *DeviceConfig
	log  *slog.Logger
	ctx  context.Context
	stop context.CancelFunc // ends ctx, releasing the loop's goroutines

	events       chan any
	state        DeviceState
	commissioned bool
	windowOpen   bool
	window       *time.Timer
	listener     Listener
	listenStop   context.CancelFunc
	listenGen    int
	sess         *devSession
	extras       map[*linkConn]bool
	failures     int
	lastFailure  time.Time
	wg           sync.WaitGroup
}

func timerC(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

func stopTimer(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}

// post delivers an event to the loop unless Run is ending; it reports
// whether it did.
func (l *loop) post(ev any) bool {
	select {
	case l.events <- ev:
		return true
	case <-l.ctx.Done():
		return false
	}
}

func (l *loop) setState(s DeviceState) {
	if l.state == s {
		return
	}
	l.state = s
	l.d.state.Store(uint32(s))
	l.log.Info("onboarding: device", "state", s.String())
	if l.cfg.OnState != nil {
		l.cfg.OnState(s)
	}
}

// idleState is the state with no session.
func (l *loop) idleState() DeviceState {
	switch {
	case l.windowOpen:
		return DeviceAdvertising
	case l.commissioned:
		return DeviceCommissioned
	}
	return DeviceClosed
}

func (l *loop) run() error {
	l.extras = make(map[*linkConn]bool)
	defer l.wg.Wait()
	defer l.shutdown()
	if !l.commissioned {
		if err := l.openWindow(); err != nil {
			return err
		}
	}
	for {
		var sh, fs, hold <-chan time.Time
		if s := l.sess; s != nil {
			sh, fs, hold = timerC(s.handshake), timerC(s.failSafe), timerC(s.hold)
		}
		select {
		case <-l.ctx.Done():
			return nil
		case cmd := <-l.d.cmds:
			if err := l.command(cmd); err != nil {
				return err
			}
		case <-timerC(l.window):
			l.window = nil
			l.log.Info("onboarding: commissioning window expired")
			l.closeWindow()
		case <-sh:
			l.sess.handshake = nil
			if l.sess.phase == phaseDone {
				l.endSession(false)
			} else {
				l.log.Info("onboarding: handshake timed out")
				l.endSession(true)
			}
		case <-fs:
			l.sess.failSafe = nil
			l.log.Warn("onboarding: fail-safe expired, rolling back")
			l.sendSealedError(l.sess, codeFailSafe)
			l.endSession(true)
		case <-hold:
			l.sess.hold = nil
			l.answerStatus(l.sess)
		case ev := <-l.events:
			if err := l.event(ev); err != nil {
				return err
			}
		}
	}
}

// shutdown ends the session (rolling back) and stops advertising.
func (l *loop) shutdown() {
	if l.sess != nil {
		l.endSession(true)
	}
	for lc := range l.extras {
		lc.close()
	}
	l.stopListening()
	stopTimer(&l.window)
	l.stop()
}

func (l *loop) command(cmd deviceCmd) error {
	if !cmd.reset {
		l.failures = 0
		return l.openWindow()
	}
	l.log.Info("onboarding: factory reset")
	if l.sess != nil {
		l.endSession(true)
	}
	err := l.cfg.WiFi.Forget(context.WithoutCancel(l.ctx))
	l.commissioned = false
	l.failures = 0
	if werr := l.openWindow(); werr != nil && err == nil {
		err = werr
	}
	cmd.done <- err
	return nil
}

// openWindow opens or extends the commissioning window.
func (l *loop) openWindow() error {
	stopTimer(&l.window)
	l.window = time.NewTimer(l.cfg.Window)
	l.windowOpen = true
	if l.sess == nil || l.sess.phase < phaseSecured {
		if err := l.startListening(); err != nil {
			return err
		}
	}
	if l.sess == nil {
		l.setState(DeviceAdvertising)
	}
	return nil
}

// closeWindow stops advertising and ends a handshake in progress; an
// established session continues under its fail-safe.
func (l *loop) closeWindow() {
	l.windowOpen = false
	stopTimer(&l.window)
	l.stopListening()
	if l.sess != nil && l.sess.phase < phaseSecured {
		l.endSession(true)
	}
	if l.sess == nil {
		l.setState(l.idleState())
	}
}

func (l *loop) startListening() error {
	if l.listener != nil {
		return nil
	}
	ctx, cancel := context.WithCancel(l.ctx)
	advert := wire.Advert{MinVersion: ProtocolVersion, MaxVersion: ProtocolVersion, Discriminator: l.cfg.Discriminator}
	ln, err := l.cfg.Radio.Listen(ctx, advert.Append(nil))
	if err != nil {
		cancel()
		return radioError{err}
	}
	l.listener, l.listenStop = ln, cancel
	l.listenGen++
	gen := l.listenGen
	l.wg.Go(func() {
		for {
			link, err := ln.Accept(ctx)
			if err != nil {
				if ctx.Err() == nil {
					l.post(evAcceptErr{gen: gen, err: err})
				}
				return
			}
			lctx, lcancel := context.WithCancel(l.ctx)
			lc := &linkConn{conn: newConn(link, l.cfg.MaxMessage, l.log), cancel: lcancel}
			if !l.post(evLink{lc}) {
				lc.close()
				return
			}
			l.wg.Go(func() { l.read(lctx, lc) })
		}
	})
	return nil
}

func (l *loop) stopListening() {
	if l.listener == nil {
		return
	}
	l.listenStop()
	l.listener.Close()
	l.listener, l.listenStop = nil, nil
}

// read delivers lc's messages to the loop until the link closes.
func (l *loop) read(ctx context.Context, lc *linkConn) {
	for {
		msg, err := lc.conn.recv(ctx)
		if err != nil {
			l.post(evClosed{lc})
			return
		}
		l.post(evMsg{lc, msg})
	}
}

func (l *loop) event(ev any) error {
	switch ev := ev.(type) {
	case evLink:
		switch {
		case l.sess == nil && l.windowOpen:
			l.sess = &devSession{lc: ev.lc, handshake: time.NewTimer(l.cfg.HandshakeTimeout)}
			l.setState(DeviceAuthenticating)
		case len(l.extras) >= maxExtraLinks:
			ev.lc.close()
		default:
			// Told it is busy (or that the window closed) when it speaks.
			l.extras[ev.lc] = true
			ev.lc.timer = time.AfterFunc(l.cfg.HandshakeTimeout, ev.lc.close)
		}
	case evMsg:
		if s := l.sess; s != nil && s.lc == ev.lc {
			l.message(s, ev.msg)
			return nil
		}
		if l.extras[ev.lc] {
			if l.sess == nil && l.windowOpen {
				// The session it waited behind has ended: it is next.
				delete(l.extras, ev.lc)
				ev.lc.timer.Stop()
				l.sess = &devSession{lc: ev.lc, handshake: time.NewTimer(l.cfg.HandshakeTimeout)}
				l.setState(DeviceAuthenticating)
				l.message(l.sess, ev.msg)
				return nil
			}
			code := uint64(codeBusy)
			if l.sess == nil {
				code = codeWindowClosed
			}
			ev.lc.conn.send(l.ctx, wire.Marshal(&wire.Error{Code: code}))
			delete(l.extras, ev.lc)
			ev.lc.close()
		}
	case evClosed:
		if s := l.sess; s != nil && s.lc == ev.lc {
			l.log.Info("onboarding: commissioner disconnected")
			l.endSession(s.phase != phaseDone)
			return nil
		}
		delete(l.extras, ev.lc)
		ev.lc.close()
	case evAcceptErr:
		if ev.gen == l.listenGen && l.listener != nil {
			return radioError{ev.err}
		}
	case evJoined:
		if ev.s == l.sess {
			l.joined(ev.s, ev.err, ev.td)
		}
	}
	return nil
}

// backoff returns how long the device still refuses attempts.
func (l *loop) backoff() time.Duration {
	if l.failures == 0 {
		return 0
	}
	wait := l.cfg.BackoffBase
	for i := 1; i < l.failures && wait < l.cfg.BackoffMax; i++ {
		wait *= 2
	}
	wait = min(wait, l.cfg.BackoffMax)
	return max(0, wait-time.Since(l.lastFailure))
}

func (l *loop) attemptsLeft() uint64 {
	return uint64(max(0, l.cfg.MaxAttempts-l.failures))
}

// reply sends a clear message on the session's link.
func (l *loop) reply(s *devSession, msg []byte) {
	if err := s.lc.conn.send(l.ctx, msg); err != nil {
		l.log.Debug("onboarding: send failed", "err", err)
	}
}

// refuse answers with an Error and ends the session.
func (l *loop) refuse(s *devSession, e *wire.Error) {
	l.reply(s, wire.Marshal(e))
	l.endSession(true)
}

// message handles one message from the session's commissioner.
func (l *loop) message(s *devSession, msg []byte) {
	t, err := wire.Peek(msg)
	if err != nil {
		if errors.Is(err, wire.ErrVersion) && s.phase == phaseHello {
			l.refuse(s, &wire.Error{Code: codeVersion})
			return
		}
		l.log.Debug("onboarding: message dropped", "err", err)
		return
	}
	// Retransmissions of handshake messages get the same answer again:
	// the device never draws a second SPAKE2+ share for the same request.
	switch {
	case bytes.Equal(msg, s.hello):
		l.reply(s, s.helloReply)
		return
	case bytes.Equal(msg, s.pakeReq):
		l.reply(s, s.pakeResp)
		return
	case bytes.Equal(msg, s.confirmReq):
		return
	}
	if s.phase >= phaseSecured {
		if t == wire.TypeSealed {
			l.sealed(s, msg)
		} else {
			l.log.Debug("onboarding: clear message in secure session dropped")
		}
		return
	}
	m, err := wire.Unmarshal(msg)
	if err != nil {
		l.log.Info("onboarding: malformed handshake message", "err", err)
		l.refuse(s, &wire.Error{Code: codeProtocol})
		return
	}
	switch s.phase {
	case phaseHello:
		hello, ok := m.(*wire.Hello)
		if !ok {
			l.refuse(s, &wire.Error{Code: codeProtocol})
			return
		}
		l.hello(s, msg, hello)
	case phasePake:
		share, ok := m.(*wire.PakeShare)
		if !ok {
			l.refuse(s, &wire.Error{Code: codeProtocol})
			return
		}
		l.pake(s, msg, share)
	case phaseConfirm:
		confirm, ok := m.(*wire.PakeConfirm)
		if !ok {
			l.refuse(s, &wire.Error{Code: codeProtocol})
			return
		}
		l.confirm(s, msg, confirm)
	}
}

func (l *loop) rateLimited(s *devSession) bool {
	wait := l.backoff()
	if wait == 0 {
		return false
	}
	l.log.Info("onboarding: attempt refused during back-off", "retry_after", wait)
	l.refuse(s, &wire.Error{
		Code:             codeRateLimited,
		RetryAfterMillis: uint64((wait + time.Millisecond - 1) / time.Millisecond), HasRetryAfter: true,
		AttemptsLeft: l.attemptsLeft(), HasAttemptsLeft: true,
	})
	return true
}

func (l *loop) hello(s *devSession, raw []byte, m *wire.Hello) {
	if l.rateLimited(s) {
		return
	}
	if !bytes.Contains(m.Versions, []byte{ProtocolVersion}) {
		l.refuse(s, &wire.Error{Code: codeVersion})
		return
	}
	v := l.cfg.Verifier
	reply := wire.Marshal(&wire.HelloReply{
		Version:    ProtocolVersion,
		Caps:       capWiFi | capThing,
		MaxMessage: uint64(l.cfg.MaxMessage),
		Salt:       v.salt,
		Iterations: uint64(v.iterations),
	})
	s.hello, s.helloReply = raw, reply
	s.phase = phasePake
	l.reply(s, reply)
}

func (l *loop) pake(s *devSession, raw []byte, m *wire.PakeShare) {
	if l.rateLimited(s) {
		return
	}
	ver, shareV, confirmV, err := spake2plus.NewVerifier(pakeContext(s.hello, s.helloReply), l.cfg.Verifier.rec, m.Share, rand.Reader)
	if err != nil {
		l.log.Info("onboarding: invalid SPAKE2+ share")
		l.refuse(s, &wire.Error{Code: codeProtocol})
		return
	}
	// The reply lets the commissioner test one guess of the code, so it
	// counts as a failed attempt until the confirmation proves otherwise.
	l.failures++
	l.lastFailure = time.Now()
	s.attempt = true
	s.verifier = ver
	s.pakeReq = raw
	s.pakeResp = wire.Marshal(&wire.PakeReply{Share: shareV, Confirm: confirmV})
	s.phase = phaseConfirm
	l.reply(s, s.pakeResp)
}

func (l *loop) confirm(s *devSession, raw []byte, m *wire.PakeConfirm) {
	shared, err := s.verifier.Finish(m.Confirm)
	s.verifier = nil
	if err != nil {
		l.log.Warn("onboarding: authentication failed", "attempts_left", l.attemptsLeft())
		l.refuse(s, &wire.Error{Code: codeAuthentication, AttemptsLeft: l.attemptsLeft(), HasAttemptsLeft: true})
		return
	}
	ch, err := secure.New(shared, secure.Device)
	clear(shared)
	if err != nil {
		l.refuse(s, &wire.Error{Code: codeInternal})
		return
	}
	l.failures = 0
	s.attempt = false
	s.ch = ch
	s.confirmReq = raw
	s.phase = phaseSecured
	stopTimer(&s.handshake)
	s.failSafeAt = time.Now().Add(l.cfg.FailSafeMax)
	l.armFailSafe(s)
	// One commissioner at a time, and no advertising while it works.
	l.stopListening()
	l.setState(DeviceProvisioning)
}

// armFailSafe (re-)arms the session's fail-safe to expire FailSafe from
// now, but not after the cap set when the secure session came up. It is
// called whenever the device starts waiting on the commissioner anew: the
// secure session is up, credentials were accepted, a join failed. As in
// Matter, where the commissioner re-arms the fail-safe before each step up
// to a maximum cumulative time, every re-arming follows an authenticated
// step, and the cap bounds how long a commissioner can hold the device.
func (l *loop) armFailSafe(s *devSession) {
	stopTimer(&s.failSafe)
	s.failSafe = time.NewTimer(min(l.cfg.FailSafe, time.Until(s.failSafeAt)))
}

// sendSealed seals an inner message as the answer to the last request.
func (l *loop) sendSealed(s *devSession, m wire.Message) {
	pt := wire.MarshalInner(m)
	msg, err := s.ch.Seal(pt)
	clear(pt)
	if err != nil {
		l.log.Warn("onboarding: seal failed", "err", err)
		return
	}
	s.lastResp = msg
	l.reply(s, msg)
}

func (l *loop) sendSealedError(s *devSession, code uint64) {
	if s.ch != nil && s.phase >= phaseSecured {
		l.sendSealed(s, &wire.Error{Code: code})
	}
}

func (l *loop) sealed(s *devSession, msg []byte) {
	pt, err := s.ch.Open(msg)
	switch {
	case errors.Is(err, secure.ErrDuplicate):
		// The commissioner missed our answer: send it again, unless the
		// request is a GetStatus still being held.
		if !s.holding && s.lastResp != nil {
			l.reply(s, s.lastResp)
		}
		return
	case err != nil:
		s.badFrames++
		l.log.Info("onboarding: sealed message rejected", "err", err)
		if s.badFrames > maxBadFrames {
			l.endSession(true)
		}
		return
	}
	m, err := wire.UnmarshalInner(pt)
	defer clear(pt)
	if err != nil {
		l.log.Warn("onboarding: malformed sealed message", "err", err)
		l.sendSealedError(s, codeProtocol)
		l.endSession(true)
		return
	}
	if s.phase == phaseDone {
		l.sendSealedError(s, codeProtocol)
		return
	}
	switch m := m.(type) {
	case *wire.SetNetwork:
		if l.state != DeviceProvisioning || s.joinTries >= l.cfg.MaxJoinAttempts {
			l.sendSealedError(s, codeProtocol)
			return
		}
		l.armFailSafe(s)
		l.startJoin(s, m)
		l.sendSealed(s, &wire.NetworkAck{})
	case *wire.GetStatus:
		if l.state == DeviceJoining {
			s.holding = true
			stopTimer(&s.hold)
			s.hold = time.NewTimer(statusHold)
			return
		}
		l.answerStatus(s)
	case *wire.Complete:
		if l.state != DeviceJoined {
			l.sendSealedError(s, codeProtocol)
			return
		}
		l.complete(s)
	default:
		l.sendSealedError(s, codeProtocol)
	}
}

func (l *loop) answerStatus(s *devSession) {
	s.holding = false
	stopTimer(&s.hold)
	st := s.status
	if l.state == DeviceJoining {
		st = wire.Status{JoinState: uint64(JoinConnecting)}
	}
	l.sendSealed(s, &st)
}

func (l *loop) startJoin(s *devSession, m *wire.SetNetwork) {
	s.joinTries++
	creds := WiFiCredentials{SSID: string(m.SSID), Passphrase: PassphraseFromBytes(append([]byte(nil), m.Passphrase...))}
	ctx, cancel := context.WithCancel(l.ctx)
	s.joinCancel = cancel
	s.joinDone = make(chan struct{})
	s.staged = true
	done := s.joinDone
	l.setState(DeviceJoining)
	l.wg.Go(func() {
		defer close(done)
		err := l.cfg.WiFi.Join(ctx, creds)
		creds.Passphrase.Zero()
		var td []byte
		if err == nil {
			var desc *thing.Description
			if desc, err = l.cfg.Describe(ctx); err == nil {
				td, err = json.Marshal(desc)
			}
		}
		// endSession cancels ctx and waits for this goroutine, so do not
		// block on a loop that is busy doing that.
		select {
		case l.events <- evJoined{s: s, err: err, td: td}:
		case <-ctx.Done():
		}
	})
}

func (l *loop) joined(s *devSession, err error, td []byte) {
	s.joinCancel()
	s.joinCancel = nil
	if err == nil {
		s.status = wire.Status{JoinState: uint64(JoinConnected), TD: td, PublicKey: l.cfg.PublicKey}
		l.setState(DeviceJoined)
	} else {
		reason := JoinReasonUnknown
		var je *JoinError
		if errors.As(err, &je) {
			reason = je.Reason
		}
		l.log.Info("onboarding: join failed", "reason", reason.String())
		if rerr := l.cfg.WiFi.Rollback(context.WithoutCancel(l.ctx)); rerr != nil {
			l.log.Warn("onboarding: rollback failed", "err", rerr)
		}
		s.staged = false
		left := max(0, l.cfg.MaxJoinAttempts-s.joinTries)
		s.status = wire.Status{JoinState: uint64(JoinFailed), Reason: uint64(reason), AttemptsLeft: uint64(left), HasAttemptsLeft: true}
		if left > 0 {
			// The person may retype the passphrase: give them a full
			// fail-safe (within the cap) for it.
			l.armFailSafe(s)
		}
		l.setState(DeviceProvisioning)
	}
	if s.holding {
		l.answerStatus(s)
	}
}

func (l *loop) complete(s *devSession) {
	if err := l.cfg.WiFi.Commit(context.WithoutCancel(l.ctx)); err != nil {
		l.log.Warn("onboarding: commit failed", "err", err)
		l.sendSealedError(s, codeInternal)
		l.endSession(true)
		return
	}
	s.staged = false
	l.commissioned = true
	stopTimer(&s.failSafe)
	// Linger so a lost acknowledgement can be resent, then hang up.
	s.phase = phaseDone
	s.handshake = time.NewTimer(l.cfg.HandshakeTimeout)
	l.windowOpen = false
	stopTimer(&l.window)
	l.stopListening()
	l.setState(DeviceCommissioned)
	l.sendSealed(s, &wire.CompleteAck{})
}

// endSession closes the session's link and, if rollback, undoes what it
// staged. A SPAKE2+ attempt left unconfirmed stays counted; too many close
// the window.
func (l *loop) endSession(rollback bool) {
	s := l.sess
	l.sess = nil
	stopTimer(&s.handshake)
	stopTimer(&s.failSafe)
	stopTimer(&s.hold)
	if s.joinCancel != nil {
		s.joinCancel()
		<-s.joinDone
	}
	if rollback && s.staged {
		if err := l.cfg.WiFi.Rollback(context.WithoutCancel(l.ctx)); err != nil {
			l.log.Warn("onboarding: rollback failed", "err", err)
		}
	}
	if s.verifier != nil {
		s.verifier.Zero()
	}
	if s.ch != nil {
		s.ch.Close()
	}
	s.lc.close()
	if s.attempt && l.failures >= l.cfg.MaxAttempts {
		l.log.Warn("onboarding: too many failed attempts, closing the commissioning window")
		l.windowOpen = false
		stopTimer(&l.window)
		l.stopListening()
	}
	if l.windowOpen {
		if err := l.startListening(); err != nil {
			l.log.Warn("onboarding: cannot advertise", "err", err)
		}
	}
	l.setState(l.idleState())
}
