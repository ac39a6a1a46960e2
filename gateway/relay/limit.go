package relay

import (
	"sync"
	"time"
)

// limiter is a token bucket of bytes per second. Callers take what they
// send (or have received) and sleep off any debt, so a transfer averages
// the rate with bursts up to the bucket size. It is safe for concurrent use.
type limiter struct {
	rate  float64 // bytes per second
	burst float64

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

// newLimiter returns a limiter of rate bytes per second, or nil (no limit)
// for rate <= 0. The bucket holds a tenth of a second of traffic, at least
// 16 KiB, so small exchanges are not slowed at all.
func newLimiter(rate int64) *limiter {
	if rate <= 0 {
		return nil
	}
	burst := max(float64(rate)/10, 16<<10)
	return &limiter{rate: float64(rate), burst: burst, tokens: burst, last: time.Now()}
}

// take charges n bytes and returns how long the caller must wait before
// going on.
func (l *limiter) take(n int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	l.tokens -= float64(n)
	if l.tokens >= 0 {
		return 0
	}
	return time.Duration(-l.tokens / l.rate * float64(time.Second))
}

// wait charges n bytes and sleeps off the debt. It returns false if done
// was closed first. A nil limiter never waits.
func (l *limiter) wait(n int, done <-chan struct{}) bool {
	if l == nil || n <= 0 {
		return true
	}
	d := l.take(n)
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-done:
		return false
	}
}

// gate is a counting semaphore with a fixed capacity; capacity <= 0 means
// unlimited (it still counts). It is safe for concurrent use.
type gate struct {
	mu  sync.Mutex
	n   int
	cap int
}

// acquire takes one slot if one is free.
func (g *gate) acquire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.cap > 0 && g.n >= g.cap {
		return false
	}
	g.n++
	return true
}

func (g *gate) release() {
	g.mu.Lock()
	g.n--
	g.mu.Unlock()
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}
