package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"testing/synctest"
	"time"
)

// TestGuessLimiter: one source's wrong guesses slow down that source only,
// more with every one; a cap on all sources bounds a guesser with many
// addresses.
func TestGuessLimiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var l guessLimiter
		for range 5 {
			if _, ok := l.allow("a"); !ok {
				t.Fatal("a refused within its free guesses")
			}
			l.fail("a")
		}
		wait, ok := l.allow("a")
		if ok || wait != time.Second {
			t.Fatalf("after 5 wrong guesses: allowed %v, wait %v; want a 1 s wait", ok, wait)
		}
		if _, ok := l.allow("b"); !ok {
			t.Fatal("a's wrong guesses locked out b")
		}
		time.Sleep(time.Second)
		if _, ok := l.allow("a"); !ok {
			t.Fatal("a still refused after its wait")
		}
		l.fail("a")
		if wait, _ := l.allow("a"); wait != 2*time.Second {
			t.Fatalf("after 6 wrong guesses: wait %v, want 2 s", wait)
		}
		for range 20 {
			l.fail("a")
		}
		if wait, _ := l.allow("a"); wait != 5*time.Minute {
			t.Fatalf("after 26 wrong guesses: wait %v, want the 5 min cap", wait)
		}
		// Forgotten 15 minutes after its last wrong guess; a right one
		// forgets at once.
		time.Sleep(15*time.Minute + time.Second)
		if _, ok := l.allow("a"); !ok {
			t.Fatal("a not forgotten")
		}
		l.fail("b")
		l.succeed("b")
		if len(l.sources) != 0 {
			t.Fatalf("sources remembered: %d", len(l.sources))
		}

		// The global cap: 200 wrong guesses from 200 sources within
		// 10 minutes refuse everyone until the oldest is 10 minutes old.
		time.Sleep(10 * time.Minute)
		for i := range 200 {
			l.fail(fmt.Sprint("s", i))
		}
		if _, ok := l.allow("newcomer"); ok {
			t.Fatal("the global cap did not hold")
		}
		time.Sleep(10*time.Minute + time.Second)
		if _, ok := l.allow("newcomer"); !ok {
			t.Fatal("the global cap did not pass")
		}
	})
}

// TestCheckinLimitPerClient: a client guessing check-in codes through the
// public relay is slowed down, and the guest (another address) still
// checks in with the right code, through the relay and at home.
func TestCheckinLimitPerClient(t *testing.T) {
	probe, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("this machine cannot use 127.0.0.2 as a second client address: %v", err)
	}
	probe.Close()
	rs := startResort(t, config{Homes: 1})
	h := rs.homes[0]
	from := func(ip string) *browser {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		jar, _ := cookiejar.New(nil)
		return &browser{t: t, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				_, port, _ := net.SplitHostPort(addr)
				return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
			},
		}}}
	}
	attacker, guest := from("127.0.0.2"), from("127.0.0.1")
	limited := false
	for i := range 12 {
		resp, _ := attacker.postForm(h.enroll.RemoteURL+"checkin", url.Values{"code": {fmt.Sprintf("0000-%04d", i)}})
		switch resp.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited = true
			if resp.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		default:
			t.Fatalf("a wrong code: %s", resp.Status)
		}
	}
	if !limited {
		t.Fatal("12 wrong codes in a row from one client were never slowed down")
	}
	guest.checkIn(h.enroll.RemoteURL, h.checkin)
	guest.checkIn(h.localURL, h.checkin)
}
