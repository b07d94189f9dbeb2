//go:build race

package fanout

// raceEnabled reports whether the race detector is on.
const raceEnabled = true
