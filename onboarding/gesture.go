package onboarding

import (
	"sync/atomic"
	"time"
)

// GestureLifetime is how long a Gesture stays usable after UserGesture
// made it.
const GestureLifetime = 10 * time.Second

// Gesture is the proof that a person asked to look for a device. Scanning
// for devices needs one, so an application cannot scan in the background:
//
//   - the only way to get a Gesture is UserGesture (the zero value is
//     refused, and the fields are unexported);
//   - it works once: the scan it starts consumes it, copies included;
//   - it expires GestureLifetime after it was made, so it cannot be kept
//     for later.
//
// Call UserGesture only from the handler of a user action (a button press,
// a tap on "Add device") and pass the result straight to
// Session.Commission. A library cannot tell a tap from a timer, so a review
// can search the code for UserGesture: each call must sit in a UI handler.
//
// A Gesture is safe for concurrent use: if several goroutines try to spend
// it, exactly one scan starts.
type Gesture struct {
	g *gesture
}

type gesture struct {
	made time.Time
	used atomic.Bool
}

// UserGesture returns a Gesture. Call it only from a user-action handler;
// see Gesture.
func UserGesture() Gesture {
	return Gesture{g: &gesture{made: time.Now()}}
}

// consume uses the gesture up. It reports false for the zero Gesture, a
// used one or an expired one.
func (g Gesture) consume() bool {
	if g.g == nil || time.Since(g.g.made) > GestureLifetime {
		return false
	}
	return g.g.used.CompareAndSwap(false, true)
}
