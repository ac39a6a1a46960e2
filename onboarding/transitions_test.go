package onboarding_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/internal/wire"
	"github.com/hearth-wot/hearth/onboarding/simradio"
	"github.com/hearth-wot/hearth/thing"
)

// faultyCentral wraps a Central to fail scans or connections.
type faultyCentral struct {
	onboarding.Central
	scanErr      error
	connectErr   error
	connectBlock bool
}

func (c *faultyCentral) Scan(ctx context.Context, found func(onboarding.Advertisement)) error {
	if c.scanErr != nil {
		return c.scanErr
	}
	return c.Central.Scan(ctx, found)
}

func (c *faultyCentral) Connect(ctx context.Context, p onboarding.Peer) (onboarding.Link, error) {
	if c.connectBlock {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if c.connectErr != nil {
		return nil, c.connectErr
	}
	return c.Central.Connect(ctx, p)
}

// slowRegistrar registers after a delay.
type slowRegistrar struct {
	onboarding.Registrar
	delay time.Duration
}

func (s *slowRegistrar) Register(ctx context.Context, r *onboarding.Registration) error {
	select {
	case <-time.After(s.delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Registrar.Register(ctx, r)
}

func (s *slowRegistrar) Unregister(ctx context.Context, id string) error {
	return s.Registrar.(onboarding.Unregisterer).Unregister(ctx, id)
}

// messageCounter counts the messages (start frames) crossing the air in
// each direction, for interceptors that act on the n-th message.
type messageCounter struct {
	mu              sync.Mutex
	central, device int
}

func (m *messageCounter) count(f simradio.Frame) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := &m.device
	if f.FromCentral {
		n = &m.central
	}
	if f.Data[0]&0x80 != 0 {
		*n++
	}
	return *n
}

// occupy connects a raw commissioner to the device and sends Hello, so the
// device is busy with it.
func occupy(t *testing.T, r *rig) onboarding.Link {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	found := make(chan onboarding.Peer, 1)
	c := r.air.Central()
	go c.Scan(ctx, func(ad onboarding.Advertisement) {
		select {
		case found <- ad.Peer:
		default:
		}
	})
	p := <-found
	cancel()
	link, err := c.Connect(t.Context(), p)
	if err != nil {
		t.Fatal(err)
	}
	var f wire.Fragmenter
	frames, _ := f.Fragment(wire.Marshal(&wire.Hello{Versions: []byte{1}, MaxMessage: 4096}), link.MTU())
	for _, fr := range frames {
		link.Send(t.Context(), fr)
	}
	r.waitDevice(onboarding.DeviceAuthenticating)
	return link
}

type transitionCase struct {
	name     string
	setup    func(r *rig)
	prepare  func(t *testing.T, r *rig, s *onboarding.Session) // after the device starts
	run      func(t *testing.T, r *rig, s *onboarding.Session) error
	cancelAt onboarding.State // cancel the Session on entering this state
	from, to onboarding.State // the last transition
	want     error
	check    func(t *testing.T, r *rig, err error)
}

func withRogue(b simradio.Behavior) func(*rig) {
	return func(r *rig) { r.rogue = &simradio.Rogue{Radio: r.air.Peripheral(), Discriminator: 842, Behavior: b} }
}

func transitionCases() []transitionCase {
	S := onboarding.Scanning
	const (
		idle = onboarding.Idle
		disc = onboarding.Discovered
		conn = onboarding.Connecting
		auth = onboarding.Authenticating
		prov = onboarding.Provisioning
		join = onboarding.Joining
		regi = onboarding.Registering
		done = onboarding.Complete
		fail = onboarding.Failed
		canc = onboarding.Cancelled
	)
	commissionWith := func(g onboarding.Gesture, p onboarding.SetupPayload, c onboarding.WiFiCredentials) func(*testing.T, *rig, *onboarding.Session) error {
		return func(t *testing.T, r *rig, s *onboarding.Session) error {
			_, err := s.Commission(t.Context(), g, p, c)
			return err
		}
	}
	var cases []transitionCase
	add := func(c transitionCase) { cases = append(cases, c) }

	// The happy path: Idle → … → Complete, and Reset from Complete.
	add(transitionCase{name: "complete", from: regi, to: done, check: func(t *testing.T, r *rig, err error) {
		if _, ok := r.dir.Lookup("urn:hearth:plug:1"); !ok {
			t.Error("not registered")
		}
	}})

	// Idle.
	add(transitionCase{name: "idle/no gesture", from: idle, to: fail, want: onboarding.ErrNoGesture,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			return commissionWith(onboarding.Gesture{}, r.payload, r.creds())(t, r, s)
		}})
	add(transitionCase{name: "idle/used gesture", from: idle, to: fail, want: onboarding.ErrNoGesture,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			g := onboarding.UserGesture()
			s2 := r.quietSession()
			s2.Cancel() // uses nothing
			if _, err := s2.Commission(t.Context(), onboarding.Gesture{}, r.payload, r.creds()); !errors.Is(err, onboarding.ErrBusy) {
				t.Errorf("Commission on a Cancelled session = %v, want ErrBusy", err)
			}
			// Spend g on a scan that finds nothing, then reuse a copy.
			other := r.payload
			other.Discriminator = 7
			s3 := r.quietSession()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			s3.Commission(ctx, g, other, r.creds())
			copied := g
			return commissionWith(copied, r.payload, r.creds())(t, r, s)
		}})
	add(transitionCase{name: "idle/expired gesture", from: idle, to: fail, want: onboarding.ErrNoGesture,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			g := onboarding.UserGesture()
			time.Sleep(onboarding.GestureLifetime + time.Second)
			return commissionWith(g, r.payload, r.creds())(t, r, s)
		}})
	add(transitionCase{name: "idle/invalid setup code", from: idle, to: fail, want: onboarding.ErrInvalidSetupCode,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			return commissionWith(onboarding.UserGesture(), onboarding.SetupPayload{Discriminator: 842}, r.creds())(t, r, s)
		}})
	add(transitionCase{name: "idle/invalid credentials", from: idle, to: fail, want: onboarding.ErrInvalidConfig,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			return commissionWith(onboarding.UserGesture(), r.payload, onboarding.WiFiCredentials{SSID: "x", Passphrase: onboarding.NewPassphrase("short")})(t, r, s)
		}})
	add(transitionCase{name: "idle/cancel", from: idle, to: canc, want: onboarding.ErrCancelled,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			s.Cancel()
			return s.Err()
		}})

	// Scanning.
	add(transitionCase{name: "scanning/not found", from: S, to: fail, want: onboarding.ErrNotFound,
		setup: func(r *rig) { r.noDevice = true }})
	add(transitionCase{name: "scanning/radio error", from: S, to: fail, want: onboarding.ErrRadio,
		setup: func(r *rig) {
			r.cfg.Radio = &faultyCentral{Central: r.air.Central(), scanErr: errors.New("adapter powered off")}
		}})
	add(transitionCase{name: "scanning/cancel", from: S, to: canc, want: onboarding.ErrCancelled, cancelAt: S,
		setup: func(r *rig) { r.noDevice = true }})
	add(transitionCase{name: "scanning/context ends", from: S, to: canc, want: onboarding.ErrCancelled,
		setup: func(r *rig) { r.noDevice = true },
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			_, err := s.Commission(ctx, onboarding.UserGesture(), r.payload, r.creds())
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want it to wrap the context's error", err)
			}
			return err
		}})

	// Discovered.
	add(transitionCase{name: "discovered/future version", from: disc, to: fail, want: onboarding.ErrUnsupportedVersion,
		setup: withRogue(simradio.FutureVersion)})
	add(transitionCase{name: "discovered/cancel", from: disc, to: canc, want: onboarding.ErrCancelled, cancelAt: disc})

	// Connecting.
	add(transitionCase{name: "connecting/connect error", from: conn, to: fail, want: onboarding.ErrRadio,
		setup: func(r *rig) {
			r.cfg.Radio = &faultyCentral{Central: r.air.Central(), connectErr: errors.New("le-connection-abort-by-local")}
		}})
	add(transitionCase{name: "connecting/connect timeout", from: conn, to: fail, want: onboarding.ErrTimeout,
		setup: func(r *rig) { r.cfg.Radio = &faultyCentral{Central: r.air.Central(), connectBlock: true} }})
	add(transitionCase{name: "connecting/busy", from: conn, to: fail, want: onboarding.ErrBusy,
		prepare: func(t *testing.T, r *rig, s *onboarding.Session) { occupy(t, r) }})
	add(transitionCase{name: "connecting/rate limited", from: conn, to: fail, want: onboarding.ErrRateLimited,
		prepare: func(t *testing.T, r *rig, s *onboarding.Session) {
			wrong := r.payload
			wrong.Code, _ = onboarding.ParseSetupCode("1111-2222")
			if _, err := r.quietSession().Commission(t.Context(), onboarding.UserGesture(), wrong, r.creds()); !errors.Is(err, onboarding.ErrAuthentication) {
				t.Fatalf("wrong code: %v", err)
			}
			r.waitDevice(onboarding.DeviceAdvertising)
		},
		check: func(t *testing.T, r *rig, err error) {
			var rl *onboarding.RateLimitError
			if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.AttemptsLeft != 19 {
				t.Errorf("err = %#v, want a RateLimitError with a delay and 19 attempts left", err)
			}
		}})
	for _, b := range []struct {
		name string
		b    simradio.Behavior
		want error
	}{
		{"silent", simradio.Silent, onboarding.ErrTimeout},
		{"garbage", simradio.Garbage, onboarding.ErrProtocol},
		{"bad frames", simradio.BadFrames, onboarding.ErrTimeout},
		{"wrong version", simradio.WrongVersion, onboarding.ErrUnsupportedVersion},
		{"huge iterations", simradio.HugeIterations, onboarding.ErrProtocol},
		{"oversized", simradio.Oversized, onboarding.ErrTimeout},
	} {
		add(transitionCase{name: "connecting/rogue " + b.name, from: conn, to: fail, want: b.want, setup: withRogue(b.b)})
	}
	add(transitionCase{name: "connecting/cancel", from: conn, to: canc, want: onboarding.ErrCancelled, cancelAt: conn})

	// Authenticating.
	add(transitionCase{name: "authenticating/wrong code", from: auth, to: fail, want: onboarding.ErrAuthentication,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			wrong := r.payload
			wrong.Code, _ = onboarding.ParseSetupCode("2020-2022")
			return commissionWith(onboarding.UserGesture(), wrong, r.creds())(t, r, s)
		}})
	add(transitionCase{name: "authenticating/impostor", from: auth, to: fail, want: onboarding.ErrAuthentication, setup: withRogue(simradio.Impostor)})
	add(transitionCase{name: "authenticating/invalid share", from: auth, to: fail, want: onboarding.ErrProtocol, setup: withRogue(simradio.InvalidShare)})
	add(transitionCase{name: "authenticating/hang up", from: auth, to: fail, want: onboarding.ErrRadio, setup: withRogue(simradio.Disconnect)})
	add(transitionCase{name: "authenticating/cancel", from: auth, to: canc, want: onboarding.ErrCancelled, cancelAt: auth})

	// Provisioning.
	add(transitionCase{name: "provisioning/tampered confirmation", from: prov, to: fail, want: onboarding.ErrAuthentication,
		setup: func(r *rig) {
			var n messageCounter
			r.intercept = func(f simradio.Frame) [][]byte {
				if f.FromCentral && n.count(f) == 3 && f.Data[0]&0x80 != 0 {
					f.Data[len(f.Data)-1] ^= 1
				}
				return [][]byte{f.Data}
			}
		}})
	add(transitionCase{name: "provisioning/no acknowledgement", from: prov, to: fail, want: onboarding.ErrTimeout,
		setup: func(r *rig) {
			var n messageCounter
			r.intercept = func(f simradio.Frame) [][]byte {
				if !f.FromCentral && n.count(f) > 2 {
					return nil
				}
				return [][]byte{f.Data}
			}
		}})
	add(transitionCase{name: "provisioning/cancel", from: prov, to: canc, want: onboarding.ErrCancelled, cancelAt: prov})

	// Joining.
	add(transitionCase{name: "joining/retry with new credentials", from: regi, to: done,
		setup: func(r *rig) {
			r.cfg.RetryJoin = func(ctx context.Context, err *onboarding.JoinError) (onboarding.WiFiCredentials, bool) {
				if err.Reason != onboarding.JoinReasonWrongPassphrase || err.AttemptsLeft != 2 {
					r.t.Errorf("RetryJoin got %v", err)
				}
				return r.creds(), true
			}
		},
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			c := r.creds()
			c.Passphrase = onboarding.NewPassphrase("hunter2-typo")
			return commissionWith(onboarding.UserGesture(), r.payload, c)(t, r, s)
		},
		check: func(t *testing.T, r *rig, err error) {
			if r.station.Network() != testSSID {
				t.Errorf("network %q after retry", r.station.Network())
			}
		}})
	add(transitionCase{name: "joining/wrong passphrase", from: join, to: fail, want: onboarding.ErrJoinFailed,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			c := r.creds()
			c.Passphrase = onboarding.NewPassphrase("hunter2-typo")
			return commissionWith(onboarding.UserGesture(), r.payload, c)(t, r, s)
		},
		check: func(t *testing.T, r *rig, err error) {
			var je *onboarding.JoinError
			if !errors.As(err, &je) || je.Reason != onboarding.JoinReasonWrongPassphrase || je.AttemptsLeft != 2 {
				t.Errorf("err = %v, want wrong passphrase with 2 attempts left", err)
			}
		}})
	add(transitionCase{name: "joining/network not found", from: join, to: fail, want: onboarding.ErrJoinFailed,
		run: func(t *testing.T, r *rig, s *onboarding.Session) error {
			c := r.creds()
			c.SSID = "neighbours"
			return commissionWith(onboarding.UserGesture(), r.payload, c)(t, r, s)
		},
		check: func(t *testing.T, r *rig, err error) {
			var je *onboarding.JoinError
			if !errors.As(err, &je) || je.Reason != onboarding.JoinReasonNotFound {
				t.Errorf("err = %v, want network not found", err)
			}
		}})
	add(transitionCase{name: "joining/join timeout", from: join, to: fail, want: onboarding.ErrJoinFailed,
		setup: func(r *rig) {
			r.station.JoinTime = time.Hour
			r.cfg.JoinTimeout = 30 * time.Second
			r.devCfg.FailSafe = time.Hour
		},
		check: func(t *testing.T, r *rig, err error) {
			var je *onboarding.JoinError
			if !errors.As(err, &je) || je.Reason != onboarding.JoinReasonTimeout {
				t.Errorf("err = %v, want join timeout", err)
			}
		}})
	add(transitionCase{name: "joining/fail-safe expires", from: join, to: fail, want: onboarding.ErrFailSafe,
		setup: func(r *rig) {
			r.air = simradio.New(simradio.Config{Latency: 10 * time.Millisecond})
			r.station.JoinTime = 10 * time.Second
			r.devCfg.FailSafe = 5 * time.Second
		},
		check: func(t *testing.T, r *rig, err error) {
			r.waitDevice(onboarding.DeviceAdvertising)
			if r.station.Staged() != "" || r.station.Network() != "" {
				t.Errorf("after fail-safe: staged %q, network %q", r.station.Staged(), r.station.Network())
			}
		}})
	add(transitionCase{name: "joining/invalid thing description", from: join, to: fail, want: onboarding.ErrInvalidThing,
		setup: func(r *rig) {
			r.devCfg.Describe = func(context.Context) (*thing.Description, error) { return &thing.Description{Title: "no context"}, nil }
		}})
	add(transitionCase{name: "joining/cancel", from: join, to: canc, want: onboarding.ErrCancelled, cancelAt: join,
		setup: func(r *rig) { r.station.JoinTime = time.Second }})

	// Registering.
	add(transitionCase{name: "registering/registrar refuses", from: regi, to: fail, want: onboarding.ErrRegistration,
		setup: func(r *rig) { r.dir.Err = errors.New("directory full") },
		check: func(t *testing.T, r *rig, err error) {
			r.waitDevice(onboarding.DeviceAdvertising)
			if r.station.Network() != "" {
				t.Error("device committed although registration failed")
			}
		}})
	add(transitionCase{name: "registering/fail-safe expires", from: regi, to: fail, want: onboarding.ErrFailSafe,
		setup: func(r *rig) {
			r.air = simradio.New(simradio.Config{Latency: 10 * time.Millisecond})
			r.devCfg.FailSafe = 5 * time.Second
			r.cfg.Registrar = &slowRegistrar{Registrar: r.dir, delay: 10 * time.Second}
		},
		check: func(t *testing.T, r *rig, err error) {
			if _, ok := r.dir.Lookup("urn:hearth:plug:1"); ok {
				t.Error("still registered after the device rolled back")
			}
			if r.station.Network() != "" {
				t.Error("device committed after its fail-safe expired")
			}
		}})
	add(transitionCase{name: "registering/cancel", from: regi, to: canc, want: onboarding.ErrCancelled, cancelAt: regi})
	return cases
}

// TestTransitions walks every transition of the Session's table: each
// failure and cancellation from each state, and Reset from each terminal
// state. It checks that together the cases cover the whole table.
func TestTransitions(t *testing.T) {
	seen := map[[2]onboarding.State]bool{}
	var mu sync.Mutex
	for _, tc := range transitionCases() {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, func(r *rig) {
					if tc.setup != nil {
						tc.setup(r)
					}
				})
				var s *onboarding.Session
				if tc.cancelAt != onboarding.Idle {
					prev := r.cfg.OnProgress
					r.cfg.OnProgress = func(p onboarding.Progress) {
						prev(p)
						if p.State == tc.cancelAt && p.Join != onboarding.JoinConnected {
							s.Cancel()
						}
					}
				}
				r.start()
				defer r.stop()
				s = r.session()
				if tc.prepare != nil {
					tc.prepare(t, r, s)
				}
				run := tc.run
				if run == nil {
					run = func(t *testing.T, r *rig, s *onboarding.Session) error {
						_, err := r.commission(s)
						return err
					}
				}
				err := run(t, r, s)
				if tc.want == nil && err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				if !errors.Is(err, tc.want) {
					t.Fatalf("err = %v, want %v", err, tc.want)
				}
				if got := s.State(); got != tc.to {
					t.Fatalf("state %v, want %v", got, tc.to)
				}
				states := append([]onboarding.State{onboarding.Idle}, r.states()...)
				if n := len(states); n < 2 || states[n-2] != tc.from || states[n-1] != tc.to {
					t.Fatalf("path %v, want it to end %v → %v", states, tc.from, tc.to)
				}
				if tc.check != nil {
					tc.check(t, r, err)
				}
				if err := s.Reset(); err != nil || s.State() != onboarding.Idle || s.Err() != nil {
					t.Fatalf("Reset: %v, state %v, err %v", err, s.State(), s.Err())
				}
				states = append(states, onboarding.Idle)
				mu.Lock()
				for i := 1; i < len(states); i++ {
					if states[i] != states[i-1] {
						seen[[2]onboarding.State{states[i-1], states[i]}] = true
					}
				}
				mu.Unlock()
			})
		})
	}
	for from := onboarding.Idle; from <= onboarding.Cancelled; from++ {
		for to := onboarding.Idle; to <= onboarding.Cancelled; to++ {
			if onboarding.CanTransition(from, to) && !seen[[2]onboarding.State{from, to}] {
				t.Errorf("transition %v → %v is in the table but no case walks it", from, to)
			}
			if !onboarding.CanTransition(from, to) && seen[[2]onboarding.State{from, to}] {
				t.Errorf("transition %v → %v happened but is not in the table", from, to)
			}
		}
	}
}
