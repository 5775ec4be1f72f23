package eddy

import (
	"net"

	"golang.org/x/sys/unix"
)

// stdInputPending reports whether nc's socket holds input not read yet (SIOCINQ, FIONREAD's name
// here, whose number differs between architectures): the idle check's answer (answerIdle).
func stdInputPending(nc net.Conn) bool { return ioctlInputPending(nc, unix.SIOCINQ) }
