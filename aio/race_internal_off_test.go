//go:build !race

package aio

// raceOn is true under the race detector, whose sync.Pool drops some of what it is given (the
// external tests have raceEnabled).
const raceOn = false
