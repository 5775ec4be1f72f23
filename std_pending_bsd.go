//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package eddy

import "net"

// fionread is FIONREAD on the BSDs and macOS, _IOR('f', 127, int), which golang.org/x/sys/unix does
// not name there.
const fionread = 0x4004667f

// stdInputPending reports whether nc's socket holds input not read yet (FIONREAD): the idle check's
// answer (answerIdle).
func stdInputPending(nc net.Conn) bool { return ioctlInputPending(nc, fionread) }
