//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd && !windows

package eddy

import "net"

// stdInputPending reports that nc's socket cannot tell whether it holds input here: the idle check
// counts only what the reader has read (its read returns what came before the check's deadline).
func stdInputPending(net.Conn) bool { return false }
