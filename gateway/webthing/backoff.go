package webthing

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff computes reconnection delays: doubling from min to max, with
// jitter in [d/2, d).
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}

func (b *backoff) reset() { b.cur = 0 }

// sleep waits d or until ctx is done, reporting whether it waited fully.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reconnect runs connect until ctx is done, waiting with back-off between
// attempts. A connection that lasted longer than the maximum back-off
// resets it.
func (a *Adapter) reconnect(ctx context.Context, what string, thingID string, connect func(context.Context) error) {
	b := &backoff{min: a.cfg.MinBackoff, max: a.cfg.MaxBackoff}
	for {
		start := time.Now()
		err := connect(ctx)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > a.cfg.MaxBackoff {
			b.reset()
		}
		d := b.next()
		a.log.Warn("webthing: "+what+" broken, reconnecting", "thing", thingID, "err", err, "after", d)
		if !sleep(ctx, d) {
			return
		}
	}
}
