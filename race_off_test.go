//go:build !race

package eddy_test

// raceEnabled is true under the race detector.
const raceEnabled = false
