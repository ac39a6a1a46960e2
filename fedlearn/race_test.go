//go:build race

package fedlearn

// raceEnabled reports that the race detector is on, which slows the
// numeric loops of training tenfold.
const raceEnabled = true
