//go:build unix

package main

import (
	"os"
	"os/signal"
	"syscall"
)

// stopSignals returns the signals whose first arrival stops a command gracefully (main): SIGINT,
// SIGTERM, and SIGHUP unless it was ignored from the start (nohup, a script's background job), which
// signal.Notify would undo. A hangup (the terminal closed, the ssh session dropped) used to kill the
// process at once: eddy get left its FILE.<random>.part behind, which SIGINT and SIGTERM remove.
func stopSignals() []os.Signal {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) {
		sigs = append(sigs, syscall.SIGHUP)
	}
	return sigs
}
