package relay

import "time"

// backoff returns the wait before reconnection attempt n (0 for the first
// retry): exponential from lo, capped at hi, with "equal jitter" (a random
// point in the upper half), so that gateways cut off together by a relay
// restart do not all come back in the same instant. rnd returns a value in
// [0, 1).
func backoff(n int, lo, hi time.Duration, rnd func() float64) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	d = min(d, hi)
	half := d / 2
	return half + time.Duration(rnd()*float64(d-half))
}
