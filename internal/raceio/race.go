//go:build race && unix

package raceio

import "syscall"

// null is /dev/null, opened once when the program starts (before any test counts descriptors), or -1.
var null = func() int {
	fd, err := syscall.Open("/dev/null", syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return fd
}()

// Acquire is called after data have been read from a socket: what was done before those bytes were
// written (with Release, or with package net) happens before what the caller does next.
func Acquire() {
	syscall.Read(null, nil) // a successful read acquires syscall's ioSync
}

// Release is called before data are handed to the kernel for a socket.
func Release() {
	syscall.Write(null, nil) // a write releases syscall's ioSync first, whatever its outcome
}
