//go:build !race

package progtest

// raceEnabled reports whether the test binary, and so the program that Build compiles, has the
// race detector.
const raceEnabled = false
