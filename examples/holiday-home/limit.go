package main

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hearth-wot/hearth/gateway/relay"
)

// guessLimiter limits wrong guesses of a secret (a check-in code, the
// owner's key) per client source, so that one client guessing cannot lock
// out everyone else: each source has a few free wrong guesses, then waits
// before each further one, twice as long every time. A generous cap on the
// wrong guesses of all sources together bounds a guesser with many
// addresses; reaching it does refuse everyone, until the window passes.
// The zero value uses the defaults below. A guessLimiter is safe for
// concurrent use.
type guessLimiter struct {
	Free        int           // wrong guesses a source may make before waiting; 0 means 5
	Backoff     time.Duration // first wait; 0 means 1 s, doubled per further wrong guess
	MaxBackoff  time.Duration // longest wait; 0 means 5 minutes
	Forget      time.Duration // a source is forgotten this long after its last wrong guess; 0 means 15 minutes
	GlobalMax   int           // wrong guesses of all sources within GlobalEvery; 0 means 200
	GlobalEvery time.Duration // 0 means 10 minutes

	mu      sync.Mutex
	sources map[string]*guessSource
	global  []time.Time // wrong guesses within GlobalEvery, oldest first
}

type guessSource struct {
	fails int
	last  time.Time
}

// maxGuessSources bounds the sources remembered; beyond it the one whose
// last wrong guess is oldest is forgotten first.
const maxGuessSources = 4096

func (l *guessLimiter) defaults() {
	if l.Free == 0 {
		l.Free = 5
	}
	if l.Backoff == 0 {
		l.Backoff = time.Second
	}
	if l.MaxBackoff == 0 {
		l.MaxBackoff = 5 * time.Minute
	}
	if l.Forget == 0 {
		l.Forget = 15 * time.Minute
	}
	if l.GlobalMax == 0 {
		l.GlobalMax = 200
	}
	if l.GlobalEvery == 0 {
		l.GlobalEvery = 10 * time.Minute
	}
	if l.sources == nil {
		l.sources = map[string]*guessSource{}
	}
}

// allow reports whether src may guess now; if not, it says how long to
// wait.
func (l *guessLimiter) allow(src string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.defaults()
	now := time.Now()
	l.expireLocked(now)
	if len(l.global) >= l.GlobalMax {
		return l.global[0].Add(l.GlobalEvery).Sub(now), false
	}
	s := l.sources[src]
	if s == nil || s.fails < l.Free {
		return 0, true
	}
	wait := l.Backoff << min(s.fails-l.Free, 30)
	if wait <= 0 || wait > l.MaxBackoff {
		wait = l.MaxBackoff
	}
	if d := s.last.Add(wait).Sub(now); d > 0 {
		return d, false
	}
	return 0, true
}

// fail records a wrong guess of src.
func (l *guessLimiter) fail(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.defaults()
	now := time.Now()
	l.expireLocked(now)
	l.global = append(l.global, now)
	s := l.sources[src]
	if s == nil {
		if len(l.sources) >= maxGuessSources {
			l.evictOldestLocked()
		}
		s = &guessSource{}
		l.sources[src] = s
	}
	s.fails++
	s.last = now
}

// succeed forgets src's wrong guesses.
func (l *guessLimiter) succeed(src string) {
	l.mu.Lock()
	delete(l.sources, src)
	l.mu.Unlock()
}

func (l *guessLimiter) expireLocked(now time.Time) {
	cut := now.Add(-l.GlobalEvery)
	i := 0
	for i < len(l.global) && !l.global[i].After(cut) {
		i++
	}
	l.global = l.global[i:]
	for k, s := range l.sources {
		if now.Sub(s.last) > l.Forget {
			delete(l.sources, k)
		}
	}
}

func (l *guessLimiter) evictOldestLocked() {
	var oldest string
	var at time.Time
	for k, s := range l.sources {
		if oldest == "" || s.last.Before(at) {
			oldest, at = k, s.last
		}
	}
	delete(l.sources, oldest)
}

// clientSource names where a request comes from, for guessLimiter: its
// peer's address or, for a request the resort's relay forwarded over the
// home's own tunnel (relay.Relayed: nothing a client sends can fake it),
// the public client's address the relay put in X-Forwarded-For. An IPv6
// address counts as its /64, which one client usually holds whole.
func clientSource(r *http.Request) string {
	addr := r.RemoteAddr
	if relay.Relayed(r) {
		xff := r.Header.Values("X-Forwarded-For")
		if len(xff) > 0 {
			parts := strings.Split(xff[len(xff)-1], ",")
			addr = strings.TrimSpace(parts[len(parts)-1])
		}
	}
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return "?" + addr
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

// retryAfter sets the Retry-After header to wait, in whole seconds.
func retryAfter(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconvSeconds(wait))
}

func strconvSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
