package simradio_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hearth-wot/hearth/onboarding"
	"github.com/hearth-wot/hearth/onboarding/simradio"
)

func pair(t *testing.T, air *simradio.Air) (central, device onboarding.Link) {
	t.Helper()
	ln, err := air.Peripheral().Listen(t.Context(), []byte("adv"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ctx, cancel := context.WithCancel(t.Context())
	found := make(chan onboarding.Advertisement, 1)
	go air.Central().Scan(ctx, func(a onboarding.Advertisement) {
		select {
		case found <- a:
		default:
		}
	})
	ad := <-found
	cancel()
	if string(ad.ServiceData) != "adv" || ad.Peer.String() != "simulated device" {
		t.Fatalf("advertisement %+v", ad)
	}
	c, err := air.Central().Connect(t.Context(), ad.Peer)
	if err != nil {
		t.Fatal(err)
	}
	d, err := ln.Accept(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return c, d
}

func TestLatencyOrderAndRoundTrips(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := simradio.New(simradio.Config{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond, Seed: 1})
		defer air.Close()
		c, d := pair(t, air)
		start := time.Now()
		for i := range 10 {
			if err := c.Send(t.Context(), []byte{byte(i)}); err != nil {
				t.Fatal(err)
			}
		}
		for i := range 10 {
			f, err := d.Recv(t.Context())
			if err != nil || f[0] != byte(i) {
				t.Fatalf("frame %d: %v %v (reordered?)", i, f, err)
			}
		}
		if el := time.Since(start); el < 20*time.Millisecond || el >= 30*time.Millisecond+time.Millisecond {
			t.Errorf("one-way trip took %v", el)
		}
		d.Send(t.Context(), []byte("reply"))
		c.Recv(t.Context())
		c.Send(t.Context(), []byte("again"))
		if st := air.Stats(); st.RoundTrips != 2 || st.Frames != 12 || st.Connections != 1 {
			t.Fatalf("stats %+v, want 2 round trips, 12 frames", st)
		}
		if err := c.Send(t.Context(), make([]byte, 21)); !errors.Is(err, simradio.ErrFrameTooLarge) {
			t.Fatalf("oversized frame: %v", err)
		}
	})
}

func TestCloseDeliversInFlightFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := simradio.New(simradio.Config{Latency: time.Millisecond})
		defer air.Close()
		c, d := pair(t, air)
		d.Send(t.Context(), []byte("last words"))
		d.Close()
		if f, err := c.Recv(t.Context()); err != nil || string(f) != "last words" {
			t.Fatalf("Recv = %q, %v", f, err)
		}
		if _, err := c.Recv(t.Context()); !errors.Is(err, onboarding.ErrLinkClosed) {
			t.Fatalf("after close: %v", err)
		}
		if err := c.Send(t.Context(), []byte("x")); !errors.Is(err, onboarding.ErrLinkClosed) {
			t.Fatalf("Send after peer closed: %v", err)
		}
		c.Close()
	})
}

func TestLossAndIntercept(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		air := simradio.New(simradio.Config{Loss: 0.5, Seed: 3, Intercept: func(f simradio.Frame) [][]byte {
			return [][]byte{f.Data, f.Data} // duplicate everything
		}})
		defer air.Close()
		ln, _ := air.Peripheral().Listen(t.Context(), nil)
		defer ln.Close()
		var c, d onboarding.Link
		for c == nil {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			air.Central().Scan(ctx, func(a onboarding.Advertisement) {
				if c == nil {
					c, _ = air.Central().Connect(t.Context(), a.Peer)
				}
			})
			cancel()
		}
		d, _ = ln.Accept(t.Context())
		for range 100 {
			c.Send(t.Context(), []byte{1})
		}
		got := 0
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		for {
			if _, err := d.Recv(ctx); err != nil {
				break
			}
			got++
		}
		// Every frame that survived the loss arrives twice.
		if got == 0 || got >= 200 || got%2 != 0 || air.Stats().Dropped == 0 {
			t.Fatalf("got %d of 200 duplicated frames with 50%% loss (%+v)", got, air.Stats())
		}
	})
}

func TestStation(t *testing.T) {
	s := simradio.NewStation(simradio.AccessPoint{SSID: "home", Passphrase: "password1"})
	ctx := context.Background()
	join := func(ssid, pass string) error {
		return s.Join(ctx, onboarding.WiFiCredentials{SSID: ssid, Passphrase: onboarding.NewPassphrase(pass)})
	}
	var je *onboarding.JoinError
	if err := join("home", "nope-nope"); !errors.As(err, &je) || je.Reason != onboarding.JoinReasonWrongPassphrase {
		t.Fatalf("wrong passphrase: %v", err)
	}
	if err := join("away", "password1"); !errors.As(err, &je) || je.Reason != onboarding.JoinReasonNotFound {
		t.Fatalf("unknown SSID: %v", err)
	}
	if err := join("home", "password1"); err != nil || s.Staged() != "home" || s.Network() != "" {
		t.Fatalf("join: %v staged %q", err, s.Staged())
	}
	s.Rollback(ctx)
	if s.Staged() != "" {
		t.Fatal("rollback kept the staged network")
	}
	join("home", "password1")
	s.Commit(ctx)
	if s.Network() != "home" {
		t.Fatal("commit lost the network")
	}
	s.Forget(ctx)
	if s.Network() != "" {
		t.Fatal("forget kept the network")
	}
}
