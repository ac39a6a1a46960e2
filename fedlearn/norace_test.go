//go:build !race

package fedlearn

// raceEnabled reports that the race detector is on.
const raceEnabled = false
