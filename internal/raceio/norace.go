//go:build !race || !unix

package raceio

// Acquire is called after data have been read from a socket; it does nothing without -race.
func Acquire() {}

// Release is called before data are handed to the kernel for a socket; it does nothing without -race.
func Release() {}
