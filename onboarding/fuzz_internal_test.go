package onboarding

import (
	"bytes"
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding/internal/secure"
	"github.com/hearth-wot/hearth/onboarding/internal/spake2plus"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
	"github.com/hearth-wot/hearth/thing"
)

// fakeLink records what is sent and returns scripted frames.
type fakeLink struct {
	mu     sync.Mutex
	sent   [][]byte
	script [][]byte
	closed bool
}

func (l *fakeLink) MTU() int { return 244 }

func (l *fakeLink) Send(ctx context.Context, f []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrLinkClosed
	}
	l.sent = append(l.sent, append([]byte(nil), f...))
	return nil
}

func (l *fakeLink) Recv(ctx context.Context) ([]byte, error) {
	l.mu.Lock()
	if len(l.script) > 0 {
		f := l.script[0]
		l.script = l.script[1:]
		l.mu.Unlock()
		return f, nil
	}
	l.mu.Unlock()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (l *fakeLink) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	return nil
}

type fakeRadio struct{ link *fakeLink }

func (r fakeRadio) Listen(ctx context.Context, _ []byte) (Listener, error) {
	return fakeListener{}, nil
}

func (r fakeRadio) Scan(ctx context.Context, found func(Advertisement)) error {
	found(Advertisement{Peer: fakePeer{}, ServiceData: wire.Advert{MinVersion: 1, MaxVersion: 1, Discriminator: 1}.Append(nil)})
	<-ctx.Done()
	return nil
}

func (r fakeRadio) Connect(ctx context.Context, p Peer) (Link, error) { return r.link, nil }

type fakePeer struct{}

func (fakePeer) String() string { return "fake" }

type fakeListener struct{}

func (fakeListener) Accept(ctx context.Context) (Link, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (fakeListener) Close() error { return nil }

type fakeWiFi struct{}

func (fakeWiFi) Join(ctx context.Context, c WiFiCredentials) error {
	if c.SSID == "fail" {
		return &JoinError{Reason: JoinReasonNotFound}
	}
	return nil
}
func (fakeWiFi) Commit(context.Context) error   { return nil }
func (fakeWiFi) Rollback(context.Context) error { return nil }
func (fakeWiFi) Forget(context.Context) error   { return nil }

func testVerifier(t testing.TB) *Verifier {
	code, err := ParseSetupCode("2020-2021")
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(code, []byte("0123456789abcdef"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// newFuzzLoop returns a device loop with one session on a fake link.
func newFuzzLoop(t testing.TB, v *Verifier) (*loop, *fakeLink) {
	d, err := NewDevice(DeviceConfig{
		Radio:    fakeRadio{},
		WiFi:     fakeWiFi{},
		Verifier: v,
		Describe: func(context.Context) (*thing.Description, error) {
			return thing.New("urn:fuzz", "Fuzz").Build()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &loop{d: d, cfg: &d.cfg, log: d.log, ctx: ctx, stop: cancel, events: make(chan any), extras: map[*linkConn]bool{}, windowOpen: true}
	link := &fakeLink{}
	lc := &linkConn{conn: newConn(link, d.cfg.MaxMessage, d.log), cancel: func() {}}
	l.sess = &devSession{lc: lc}
	return l, link
}

// FuzzDeviceMessages feeds arbitrary message sequences to the device's
// state machine. Mode 0 delivers the messages as they are, from the start
// of a session; mode 1 seals them first, into a session already
// authenticated, to reach the credentials, status and commit handling. The
// device must not panic, must never commit, and must never act on a
// message it could not authenticate.
func FuzzDeviceMessages(f *testing.F) {
	v := testVerifier(f)
	hello := wire.Marshal(&wire.Hello{Versions: []byte{1}, MaxMessage: 4096})
	s, _ := spake2plus.DeriveSecrets([]byte("20202021"), nil, nil, []byte("0123456789abcdef"), 1000)
	_, share, _ := spake2plus.NewProver(spake2plus.Context{}, s, rand.Reader)
	sep := []byte{0xff, 0xfe, 0xfd}
	f.Add(byte(0), bytes.Join([][]byte{hello, wire.Marshal(&wire.PakeShare{Share: share}), wire.Marshal(&wire.PakeConfirm{Confirm: make([]byte, 32)})}, sep))
	f.Add(byte(0), []byte{1, 0x10, 0, 0, 0, 0, 1, 2, 3})
	f.Add(byte(1), bytes.Join([][]byte{wire.MarshalInner(&wire.SetNetwork{SSID: []byte("home"), Passphrase: []byte("password1")}), wire.MarshalInner(&wire.GetStatus{}), wire.MarshalInner(&wire.Complete{})}, sep))
	f.Add(byte(1), bytes.Join([][]byte{wire.MarshalInner(&wire.Complete{}), wire.MarshalInner(&wire.SetNetwork{SSID: []byte("fail")})}, sep))
	f.Fuzz(func(t *testing.T, mode byte, data []byte) {
		l, _ := newFuzzLoop(t, v)
		defer func() {
			l.stop()
			l.wg.Wait()
		}()
		var seal *secure.Channel
		if mode%2 == 1 {
			key := bytes.Repeat([]byte{9}, 32)
			seal, _ = secure.New(key, secure.Commissioner)
			ch, _ := secure.New(key, secure.Device)
			l.sess.ch = ch
			l.sess.phase = phaseSecured
			l.sess.failSafe = time.NewTimer(time.Hour)
			l.setState(DeviceProvisioning)
		}
		for _, msg := range bytes.Split(data, sep) {
			if l.sess == nil {
				break
			}
			if seal != nil {
				msg, _ = seal.Seal(msg)
			}
			l.message(l.sess, msg)
			// Let a join finish, as the event loop would.
			if s := l.sess; s != nil && s.joinDone != nil && s.joinCancel != nil {
				ev := <-l.events
				l.event(ev)
			}
		}
		if l.commissioned && seal == nil {
			t.Fatal("committed without authenticating")
		}
		if l.sess != nil {
			l.endSession(true)
		}
	})
}

// FuzzHandshake plays a device that answers a Session with arbitrary
// messages. The Session must fail cleanly, with one of the package's
// errors, and never believe it onboarded the device.
//
// Each input must be cheap, or the fuzzer (and above all its minimizer)
// makes little progress in a short run. So the Session's password hash is
// precomputed: a HelloReply may ask for up to 100000 PBKDF2 iterations,
// and the real hash would take the same precomputed secrets' place after
// the same parameter checks. And each input runs in a synctest bubble, so
// the Session's response timeouts and retransmissions after the script
// runs out cost no wall time.
func FuzzHandshake(f *testing.F) {
	v := testVerifier(f)
	reply := wire.Marshal(&wire.HelloReply{Version: 1, Caps: 3, MaxMessage: 4096, Salt: v.salt, Iterations: uint64(v.iterations)})
	_, shareV, confirmV, _ := spake2plus.NewVerifier(spake2plus.Context{}, v.rec, mustShare(f), rand.Reader)
	sep := []byte{0xff, 0xfe, 0xfd}
	f.Add(bytes.Join([][]byte{reply, wire.Marshal(&wire.PakeReply{Share: shareV, Confirm: confirmV})}, sep))
	f.Add(bytes.Join([][]byte{reply, wire.Marshal(&wire.Error{Code: 2, RetryAfterMillis: 1 << 62, HasRetryAfter: true})}, sep))
	f.Add(bytes.Join([][]byte{reply, reply, wire.Marshal(&wire.PakeReply{Share: shareV, Confirm: make([]byte, 32)})}, sep))
	f.Add(wire.Marshal(&wire.Error{Code: 99}))
	f.Add(reply)
	code, _ := ParseSetupCode("2020-2021")
	// What DeriveSecrets computes for the code with the verifier's salt
	// and iteration count.
	in := spake2plus.PBKDFInput(code.password(), nil, nil)
	pbkdf, err := pbkdf2.Key(sha256.New, string(in), v.salt, v.iterations, spake2plus.PBKDFOutputSize)
	if err != nil {
		f.Fatal(err)
	}
	derive := func(_, _, _, _ []byte, _ int) (*spake2plus.Secrets, error) { return spake2plus.SecretsFromPBKDF(pbkdf) }
	f.Fuzz(func(t *testing.T, data []byte) {
		synctest.Test(t, func(t *testing.T) {
			link := &fakeLink{}
			var frag wire.Fragmenter
			for _, m := range bytes.Split(data, sep) {
				if len(m) == 0 {
					continue
				}
				frames, err := frag.Fragment(m, link.MTU())
				if err != nil {
					continue
				}
				link.script = append(link.script, frames...)
			}
			s, err := NewSession(Config{Radio: fakeRadio{link: link}, Registrar: nopRegistrar{}, Retries: 1})
			if err != nil {
				t.Fatal(err)
			}
			s.deriveSecrets = derive
			_, err = s.Commission(t.Context(), UserGesture(), SetupPayload{Discriminator: 1, Code: code},
				WiFiCredentials{SSID: "home", Passphrase: NewPassphrase("password1")})
			if err == nil {
				t.Fatal("onboarded a device that cannot know the code")
			}
			known := []error{ErrTimeout, ErrProtocol, ErrAuthentication, ErrUnsupportedVersion, ErrBusy, ErrRateLimited,
				ErrWindowClosed, ErrFailSafe, ErrRadio}
			ok := false
			for _, k := range known {
				ok = ok || errors.Is(err, k)
			}
			if !ok || s.State() != Failed {
				t.Fatalf("Commission = %v in state %v", err, s.State())
			}
		})
	})
}

// TestFuzzHandshakeDerivation checks FuzzHandshake's shortcut: the
// precomputed secrets are what the Session would derive for the
// verifier's parameters, so the seeds exercise the real handshake.
func TestFuzzHandshakeDerivation(t *testing.T) {
	v := testVerifier(t)
	code, _ := ParseSetupCode("2020-2021")
	in := spake2plus.PBKDFInput(code.password(), nil, nil)
	out, err := pbkdf2.Key(sha256.New, string(in), v.salt, v.iterations, spake2plus.PBKDFOutputSize)
	if err != nil {
		t.Fatal(err)
	}
	pre, err := spake2plus.SecretsFromPBKDF(out)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := spake2plus.DeriveSecrets(code.password(), nil, nil, v.salt, v.iterations)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pre.Record().Bytes(), derived.Record().Bytes()) || !bytes.Equal(derived.Record().Bytes(), v.rec.Bytes()) {
		t.Fatal("precomputed secrets differ from DeriveSecrets, or from the verifier's record")
	}
	s, err := NewSession(Config{Radio: fakeRadio{}, Registrar: nopRegistrar{}})
	if err != nil {
		t.Fatal(err)
	}
	if s.deriveSecrets == nil {
		t.Fatal("a Session has no password hash")
	}
}

func mustShare(t testing.TB) []byte {
	s, err := spake2plus.DeriveSecrets([]byte("20202021"), nil, nil, []byte("0123456789abcdef"), 1000)
	if err != nil {
		t.Fatal(err)
	}
	_, share, err := spake2plus.NewProver(spake2plus.Context{}, s, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return share
}

type nopRegistrar struct{}

func (nopRegistrar) Register(context.Context, *Registration) error { return nil }
