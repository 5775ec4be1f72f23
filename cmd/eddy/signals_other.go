//go:build !unix

package main

import (
	"os"
	"syscall"
)

// stopSignals returns the signals whose first arrival stops a command gracefully (main).
func stopSignals() []os.Signal { return []os.Signal{os.Interrupt, syscall.SIGTERM} }
