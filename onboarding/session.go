package onboarding

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/onboarding/internal/secure"
	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
	"github.com/hearth-wot/hearth/thing"
)

// Config configures a Session. Radio and Registrar are required; every
// other field's zero value picks a sensible default. NewSession copies it;
// later changes have no effect.
//
// A Config is plain data, not safe for concurrent use while it is being
// modified; NewSession reads it once. Its fields say from which goroutine
// the Session calls its functions.
type Config struct {
	// Radio scans for and connects to devices.
	Radio Central
	// Registrar receives the onboarded device.
	Registrar Registrar
	// Logger receives the Session's log records: state changes,
	// retransmissions, failures. Never a secret, SSID or radio address.
	// Nil means no logging.
	Logger *slog.Logger
	// OnProgress, if set, is called on every state change and join update,
	// in order, from the goroutine running Commission (or calling Cancel or
	// Reset). It must not block for long or call Commission.
	OnProgress func(Progress)

	// ScanTimeout bounds the scan; 0 means 30 s.
	ScanTimeout time.Duration
	// ConnectTimeout bounds opening the link; 0 means 15 s.
	ConnectTimeout time.Duration
	// ResponseTimeout is how long to wait for an answer before
	// retransmitting; 0 means 2 s.
	ResponseTimeout time.Duration
	// Retries is how many times a request is retransmitted before the
	// Session fails with ErrTimeout; 0 means 4, negative means none.
	Retries int
	// JoinTimeout bounds the device's network join; 0 means 90 s. Keep
	// it below the device's fail-safe (DeviceConfig.FailSafe, 2 min by
	// default), which is re-armed for each join attempt.
	JoinTimeout time.Duration
	// RetryJoin, if set, is asked for new credentials when the device
	// could not join (a mistyped passphrase) and allows more attempts,
	// from the goroutine running Commission. It returns false to give up.
	// Without it a failed join fails the Session.
	RetryJoin func(ctx context.Context, err *JoinError) (WiFiCredentials, bool)
	// MaxMessage bounds the messages the Session accepts; 0 means 16 KiB.
	// The device's Thing Description must fit.
	MaxMessage int
}

// Session commissions one device at a time: it scans (only after a user
// gesture), connects, authenticates with the setup code, provisions Wi-Fi,
// waits for the join and registers the device. See the package
// documentation for the state machine.
//
// A Session is safe for concurrent use: Commission runs one flow at a time
// (a concurrent call gets ErrBusy), and Cancel, Reset and State may be
// called from any goroutine.
type Session struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	state   State
	err     error
	running bool
	cancel  context.CancelCauseFunc

	// deriveSecrets is spake2plus.DeriveSecrets; the handshake fuzz target
	// replaces it with a precomputed result, since a password hash of up
	// to 100000 iterations per input would starve the fuzzer.
	deriveSecrets func(password, proverID, verifierID, salt []byte, iterations int) (*spake2plus.Secrets, error)
}

// NewSession validates cfg and returns an Idle Session.
func NewSession(cfg Config) (*Session, error) {
	if cfg.Radio == nil || cfg.Registrar == nil {
		return nil, fmt.Errorf("%w: Radio and Registrar are required", ErrInvalidConfig)
	}
	if cfg.ScanTimeout == 0 {
		cfg.ScanTimeout = 30 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = 2 * time.Second
	}
	if cfg.Retries == 0 {
		cfg.Retries = 4
	} else if cfg.Retries < 0 {
		cfg.Retries = 0
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 90 * time.Second
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = defaultMaxMessage
	}
	if cfg.ScanTimeout < 0 || cfg.ConnectTimeout < 0 || cfg.ResponseTimeout < 0 || cfg.JoinTimeout < 0 ||
		cfg.MaxMessage < minMaxMessage || cfg.MaxMessage > wire.MaxMessage {
		return nil, fmt.Errorf("%w: negative timeout or MaxMessage out of range", ErrInvalidConfig)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Session{cfg: cfg, log: log, deriveSecrets: spake2plus.DeriveSecrets}, nil
}

// State returns the Session's current state.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Err returns why the Session failed or was cancelled, or nil.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Cancel stops a running Commission, which then returns ErrCancelled and
// leaves the Session Cancelled. On an Idle Session it moves straight to
// Cancelled; on a terminal one it does nothing.
func (s *Session) Cancel() {
	s.mu.Lock()
	if s.running {
		cancel := s.cancel
		s.mu.Unlock()
		cancel(ErrCancelled)
		return
	}
	if !s.swap(Idle, Progress{State: Cancelled, Err: ErrCancelled}) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.report(Idle, Progress{State: Cancelled, Err: ErrCancelled})
}

// Reset returns a Complete, Failed or Cancelled Session to Idle, ready for
// another Commission (a retry). It returns ErrBusy while Commission runs.
func (s *Session) Reset() error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return ErrBusy
	}
	from := s.state
	if !from.Terminal() || !s.swap(from, Progress{State: Idle}) {
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	s.report(from, Progress{State: Idle})
	return nil
}

// swap moves from the state from to p.State if the Session is in from;
// s.mu is held. Cancel and Reset use it so that they never race a
// Commission that starts at the same moment.
func (s *Session) swap(from State, p Progress) bool {
	if s.state != from || !CanTransition(from, p.State) {
		return false
	}
	s.state = p.State
	s.err = p.Err
	return true
}

// enter moves to p.State, which the transition table must allow, and
// reports it. Join updates (same state) are reported without a
// transition. Only the goroutine running Commission calls it, while no
// other goroutine may change the state, so an illegal transition is a bug
// in this package.
func (s *Session) enter(p Progress) {
	s.mu.Lock()
	from := s.state
	if from != p.State || p.State != Joining {
		if !CanTransition(from, p.State) {
			s.mu.Unlock()
			panic(fmt.Sprintf("onboarding: illegal transition %v → %v", from, p.State))
		}
	}
	s.state = p.State
	switch p.State {
	case Failed, Cancelled:
		s.err = p.Err
	case Idle:
		s.err = nil
	}
	s.mu.Unlock()
	s.report(from, p)
}

// report logs a step and hands it to OnProgress.
func (s *Session) report(from State, p Progress) {
	if from != p.State {
		if p.Err != nil {
			s.log.Info("onboarding: session", "state", p.State.String(), "err", p.Err)
		} else {
			s.log.Info("onboarding: session", "state", p.State.String())
		}
	}
	if s.cfg.OnProgress != nil {
		s.cfg.OnProgress(p)
	}
}

// Commission onboards the device whose label is setup: it scans for it,
// authenticates with its setup code, gives it creds, waits for it to join
// and registers it with the Registrar. g must come from UserGesture in the
// handler of the user's request, moments ago; otherwise Commission fails
// with ErrNoGesture without touching the radio.
//
// Commission blocks until the device is registered (it returns the
// Registration), or the Session failed or was cancelled (it returns the
// reason, matching one of the package's Err values). The Session must be
// Idle: after a run, call Reset to try again. Commission does not keep or
// erase setup or creds; the caller may Zero them when it returns.
func (s *Session) Commission(ctx context.Context, g Gesture, setup SetupPayload, creds WiFiCredentials) (*Registration, error) {
	s.mu.Lock()
	if s.running || s.state != Idle {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	ctx, cancel := context.WithCancelCause(ctx)
	s.running = true
	s.cancel = cancel
	s.mu.Unlock()
	defer func() {
		cancel(nil)
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()

	r := &run{s: s}
	reg, err := r.commission(ctx, g, setup, creds)
	if err == nil {
		return reg, nil
	}
	if ctx.Err() != nil {
		if cause := context.Cause(ctx); !errors.Is(cause, ErrCancelled) {
			err = fmt.Errorf("%w: %w", ErrCancelled, cause)
		} else {
			err = ErrCancelled
		}
		s.enter(Progress{State: Cancelled, Err: err})
		return nil, err
	}
	s.enter(Progress{State: Failed, Err: err})
	return nil, err
}

// run is the state of one Commission call.
type run struct {
	s  *Session
	c  *conn
	ch *secure.Channel
}

func (r *run) commission(ctx context.Context, g Gesture, setup SetupPayload, creds WiFiCredentials) (*Registration, error) {
	s := r.s
	if !g.consume() {
		return nil, ErrNoGesture
	}
	if !setup.Code.Valid() || setup.Discriminator > MaxDiscriminator {
		return nil, ErrInvalidSetupCode
	}
	if err := checkCredentials(creds); err != nil {
		return nil, err
	}

	if err := r.step(ctx, Progress{State: Scanning}); err != nil {
		return nil, err
	}
	ad, err := r.scan(ctx, setup.Discriminator)
	if err != nil {
		return nil, err
	}

	if err := r.step(ctx, Progress{State: Discovered}); err != nil {
		return nil, err
	}
	if a, _ := wire.ParseAdvert(ad.ServiceData); a.MinVersion > ProtocolVersion || a.MaxVersion < ProtocolVersion {
		return nil, ErrUnsupportedVersion
	}

	if err := r.step(ctx, Progress{State: Connecting}); err != nil {
		return nil, err
	}
	cctx, ccancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	link, err := s.cfg.Radio.Connect(cctx, ad.Peer)
	timedOut := errors.Is(cctx.Err(), context.DeadlineExceeded)
	ccancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if timedOut {
			return nil, ErrTimeout
		}
		return nil, radioError{err}
	}
	defer link.Close()
	if link.MTU() < wire.MinMTU {
		return nil, fmt.Errorf("%w: link MTU below %d bytes", ErrRadio, wire.MinMTU)
	}
	r.c = newConn(link, s.cfg.MaxMessage, s.log)
	hello, reply, replyRaw, err := r.hello(ctx)
	if err != nil {
		return nil, err
	}

	if err := r.step(ctx, Progress{State: Authenticating}); err != nil {
		return nil, err
	}
	confirm, err := r.authenticate(ctx, setup.Code, hello, reply, replyRaw)
	if err != nil {
		return nil, err
	}
	defer r.ch.Close()

	st, err := r.provision(ctx, confirm, creds)
	if err != nil {
		return nil, err
	}

	reg, err := registration(st)
	if err != nil {
		return nil, err
	}
	if err := r.step(ctx, Progress{State: Registering, ThingID: reg.ID}); err != nil {
		return nil, err
	}
	if err := s.cfg.Registrar.Register(ctx, reg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRegistration, err)
	}
	err = r.sealedRoundTrip(ctx, &wire.Complete{}, s.cfg.ResponseTimeout, func(m wire.Message) error {
		if _, ok := m.(*wire.CompleteAck); !ok {
			return ErrProtocol
		}
		return nil
	})
	if err != nil {
		if u, ok := s.cfg.Registrar.(Unregisterer); ok {
			uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if uerr := u.Unregister(uctx, reg.ID); uerr != nil {
				s.log.Warn("onboarding: unregister after failed commit", "err", uerr)
			}
			ucancel()
		}
		return nil, err
	}
	s.enter(Progress{State: Complete, ThingID: reg.ID})
	return reg, nil
}

// step enters a state and reports whether the run may go on: a Cancel
// from a progress callback stops it right there.
func (r *run) step(ctx context.Context, p Progress) error {
	r.s.enter(p)
	return ctx.Err()
}

func checkCredentials(c WiFiCredentials) error {
	n := c.Passphrase.Len()
	if len(c.SSID) == 0 || len(c.SSID) > wire.MaxSSID || (n > 0 && n < 8) || n > wire.MaxPassphrase {
		return fmt.Errorf("%w: SSID must be 1-32 bytes and a passphrase empty or 8-64 bytes", ErrInvalidConfig)
	}
	return nil
}

// scan looks for a Hearth device advertising discriminator.
func (r *run) scan(ctx context.Context, discriminator uint16) (Advertisement, error) {
	s := r.s
	sctx, scancel := context.WithTimeout(ctx, s.cfg.ScanTimeout)
	defer scancel()
	found := make(chan Advertisement, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.cfg.Radio.Scan(sctx, func(ad Advertisement) {
			a, ok := wire.ParseAdvert(ad.ServiceData)
			if !ok || a.Discriminator != discriminator {
				return
			}
			select {
			case found <- ad:
				scancel()
			default:
			}
		})
	}()
	select {
	case ad := <-found:
		scancel()
		<-done
		return ad, nil
	case err := <-done:
		select {
		case ad := <-found:
			return ad, nil
		default:
		}
		switch {
		case ctx.Err() != nil:
			return Advertisement{}, ctx.Err()
		case err != nil:
			return Advertisement{}, radioError{err}
		}
		return Advertisement{}, ErrNotFound
	}
}

// roundTrip sends flight and waits up to wait for a message handle accepts
// (done), retransmitting the flight up to Retries times. handle returns an
// error to fail the exchange.
func (r *run) roundTrip(ctx context.Context, flight [][]byte, wait time.Duration, handle func([]byte) (bool, error)) error {
	for try := 0; try <= r.s.cfg.Retries; try++ {
		if try > 0 {
			r.s.log.Debug("onboarding: retransmitting", "try", try)
		}
		if err := r.c.send(ctx, flight...); err != nil {
			if ctx.Err() == nil {
				// The peer hung up: it may have said why first.
				if settled, derr := r.drain(ctx, handle); settled {
					return derr
				}
			}
			return err
		}
		tctx, cancel := context.WithTimeout(ctx, wait)
		for {
			msg, err := r.c.recv(tctx)
			if err != nil {
				cancel()
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if tctx.Err() != nil {
					break
				}
				return err
			}
			done, err := handle(msg)
			if err != nil || done {
				cancel()
				return err
			}
		}
	}
	return ErrTimeout
}

// drain hands handle the messages that arrived before the link closed,
// reporting handle's verdict if one settles the exchange.
func (r *run) drain(ctx context.Context, handle func([]byte) (bool, error)) (settled bool, err error) {
	for {
		msg, err := r.c.recv(ctx)
		if err != nil {
			return false, nil
		}
		if done, err := handle(msg); done || err != nil {
			return true, err
		}
	}
}

// hello exchanges versions and capabilities.
func (r *run) hello(ctx context.Context) (hello []byte, reply *wire.HelloReply, replyRaw []byte, err error) {
	hello = wire.Marshal(&wire.Hello{Versions: []byte{ProtocolVersion}, Caps: capWiFi | capThing, MaxMessage: uint64(r.s.cfg.MaxMessage)})
	err = r.roundTrip(ctx, [][]byte{hello}, r.s.cfg.ResponseTimeout, func(msg []byte) (bool, error) {
		m, err := wire.Unmarshal(msg)
		if err != nil {
			return true, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch m := m.(type) {
		case *wire.HelloReply:
			if m.Version != ProtocolVersion {
				return true, ErrUnsupportedVersion
			}
			if m.Iterations < minIterations || m.Iterations > maxIterations || m.Caps&capWiFi == 0 || m.MaxMessage < minMaxMessage {
				return true, fmt.Errorf("%w: unacceptable session parameters", ErrProtocol)
			}
			reply, replyRaw = m, msg
			return true, nil
		case *wire.Error:
			return true, wireError(m)
		}
		return true, fmt.Errorf("%w: unexpected message", ErrProtocol)
	})
	return hello, reply, replyRaw, err
}

// wireError turns an Error message into the error a Session reports.
func wireError(m *wire.Error) error {
	err := codeError(m.Code)
	if err == ErrRateLimited {
		e := &RateLimitError{RetryAfter: time.Duration(min(m.RetryAfterMillis, 1<<40)) * time.Millisecond, AttemptsLeft: -1}
		if m.HasAttemptsLeft {
			e.AttemptsLeft = int(min(m.AttemptsLeft, 1<<20))
		}
		return e
	}
	return err
}

// authenticate runs SPAKE2+ as the prover. It returns the PakeConfirm
// message to send (with the credentials) and leaves r.ch keyed.
func (r *run) authenticate(ctx context.Context, code SetupCode, hello []byte, reply *wire.HelloReply, replyRaw []byte) ([]byte, error) {
	pw := code.password()
	secrets, err := r.s.deriveSecrets(pw, nil, nil, reply.Salt, int(reply.Iterations))
	clear(pw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
	}
	prover, shareP, err := spake2plus.NewProver(pakeContext(hello, replyRaw), secrets, rand.Reader)
	secrets.Zero()
	if err != nil {
		return nil, err
	}
	var confirmP, shared []byte
	err = r.roundTrip(ctx, [][]byte{wire.Marshal(&wire.PakeShare{Share: shareP})}, r.s.cfg.ResponseTimeout, func(msg []byte) (bool, error) {
		m, err := wire.Unmarshal(msg)
		if err != nil {
			return true, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		switch m := m.(type) {
		case *wire.HelloReply:
			return false, nil // a late copy of the reply to a retransmitted Hello
		case *wire.PakeReply:
			confirmP, shared, err = prover.Finish(m.Share, m.Confirm)
			switch {
			case errors.Is(err, spake2plus.ErrConfirmation):
				return true, ErrAuthentication
			case err != nil:
				return true, fmt.Errorf("%w: invalid share", ErrProtocol)
			}
			return true, nil
		case *wire.Error:
			return true, wireError(m)
		}
		return true, fmt.Errorf("%w: unexpected message", ErrProtocol)
	})
	if err != nil {
		return nil, err
	}
	r.ch, err = secure.New(shared, secure.Commissioner)
	clear(shared)
	if err != nil {
		return nil, err
	}
	return wire.Marshal(&wire.PakeConfirm{Confirm: confirmP}), nil
}

// sealedRoundTrip seals req (after the optional clear prefix messages) and
// waits for a sealed answer, which handle checks. Sealed messages that fail
// authentication or arrive out of order are dropped, as are clear messages
// other than Error.
func (r *run) sealedRoundTrip(ctx context.Context, req wire.Message, wait time.Duration, handle func(wire.Message) error, prefix ...[]byte) error {
	pt := wire.MarshalInner(req)
	sealed, err := r.ch.Seal(pt)
	clear(pt)
	if err != nil {
		return err
	}
	flight := append(append([][]byte(nil), prefix...), sealed)
	return r.roundTrip(ctx, flight, wait, func(msg []byte) (bool, error) {
		t, err := wire.Peek(msg)
		if err != nil {
			r.s.log.Debug("onboarding: message dropped", "err", err)
			return false, nil
		}
		if t != wire.TypeSealed {
			if m, err := wire.Unmarshal(msg); err == nil {
				if e, ok := m.(*wire.Error); ok {
					return true, wireError(e)
				}
			}
			return false, nil
		}
		pt, err := r.ch.Open(msg)
		if err != nil {
			r.s.log.Debug("onboarding: sealed message dropped", "err", err)
			return false, nil
		}
		m, err := wire.UnmarshalInner(pt)
		if err != nil {
			return true, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		if e, ok := m.(*wire.Error); ok {
			return true, wireError(e)
		}
		return true, handle(m)
	})
}

// provision sends the credentials (with the key confirmation the first
// time), follows the join and returns the joined device's status.
func (r *run) provision(ctx context.Context, confirm []byte, creds WiFiCredentials) (*wire.Status, error) {
	s := r.s
	prefix := [][]byte{confirm}
	for {
		if err := r.step(ctx, Progress{State: Provisioning}); err != nil {
			return nil, err
		}
		err := r.sealedRoundTrip(ctx, &wire.SetNetwork{SSID: []byte(creds.SSID), Passphrase: creds.Passphrase.bytes()}, s.cfg.ResponseTimeout, func(m wire.Message) error {
			if _, ok := m.(*wire.NetworkAck); !ok {
				return fmt.Errorf("%w: unexpected message", ErrProtocol)
			}
			return nil
		}, prefix...)
		if err != nil {
			return nil, err
		}
		prefix = nil
		if err := r.step(ctx, Progress{State: Joining, Join: JoinConnecting}); err != nil {
			return nil, err
		}

		st, err := r.awaitJoin(ctx)
		if err != nil {
			return nil, err
		}
		if JoinState(st.JoinState) == JoinConnected {
			s.enter(Progress{State: Joining, Join: JoinConnected})
			return st, nil
		}
		jerr := &JoinError{Reason: JoinReason(min(st.Reason, 255)), AttemptsLeft: -1}
		if st.HasAttemptsLeft {
			jerr.AttemptsLeft = int(min(st.AttemptsLeft, 1<<20))
		}
		s.enter(Progress{State: Joining, Join: JoinFailed, Err: jerr})
		if s.cfg.RetryJoin == nil || jerr.AttemptsLeft == 0 {
			return nil, jerr
		}
		next, ok := s.cfg.RetryJoin(ctx, jerr)
		if !ok {
			return nil, jerr
		}
		if err := checkCredentials(next); err != nil {
			return nil, err
		}
		creds = next
	}
}

// awaitJoin long-polls the device until it reports connected or failed.
func (r *run) awaitJoin(ctx context.Context) (*wire.Status, error) {
	s := r.s
	jctx, cancel := context.WithTimeout(ctx, s.cfg.JoinTimeout)
	defer cancel()
	for {
		var st *wire.Status
		err := r.sealedRoundTrip(jctx, &wire.GetStatus{}, statusHold+s.cfg.ResponseTimeout, func(m wire.Message) error {
			var ok bool
			if st, ok = m.(*wire.Status); !ok {
				return fmt.Errorf("%w: unexpected message", ErrProtocol)
			}
			return nil
		})
		if err != nil {
			if ctx.Err() == nil && jctx.Err() != nil {
				return nil, &JoinError{Reason: JoinReasonTimeout, AttemptsLeft: -1}
			}
			return nil, err
		}
		switch JoinState(st.JoinState) {
		case JoinConnected, JoinFailed:
			return st, nil
		case JoinConnecting:
			continue
		}
		return nil, fmt.Errorf("%w: unknown join state", ErrProtocol)
	}
}

// registration builds the Registration from a joined device's status.
func registration(st *wire.Status) (*Registration, error) {
	if len(st.TD) == 0 {
		return nil, fmt.Errorf("%w: none sent", ErrInvalidThing)
	}
	td, err := thing.Parse(st.TD)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidThing, err)
	}
	if td.ID == "" {
		return nil, fmt.Errorf("%w: no id", ErrInvalidThing)
	}
	return &Registration{
		ID:          td.ID,
		Description: td,
		TD:          append([]byte(nil), st.TD...),
		PublicKey:   append([]byte(nil), st.PublicKey...),
	}, nil
}
