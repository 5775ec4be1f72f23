//go:build race

package buffer

// raceOn is true under the race detector, whose sync.Pool drops some of what it is given.
const raceOn = true
