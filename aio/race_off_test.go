//go:build !race

package aio_test

// raceEnabled is true under the race detector.
const raceEnabled = false
