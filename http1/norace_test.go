//go:build !race

package http1_test

// raceEnabled is true under the race detector, which makes sync.Pool drop items at random and so
// allocations uncountable.
const raceEnabled = false
