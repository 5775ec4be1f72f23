package eddy

import (
	"net"
	"syscall"
	"unsafe"
)

// fionread is Winsock's FIONREAD, _IOR('f', 127, u_long).
const fionread = 0x4004667f

// stdInputPending reports whether nc's socket holds input not read yet (WSAIoctl FIONREAD): the idle
// check's answer (answerIdle). The reader asks it only between reads: input that came while an
// overlapped read was pending is in that read's buffer, which the read returns, not in the socket's.
func stdInputPending(nc net.Conn) bool {
	var n, size uint32
	controlFD(nc, func(fd uintptr) {
		if syscall.WSAIoctl(syscall.Handle(fd), fionread, nil, 0, (*byte)(unsafe.Pointer(&n)), uint32(unsafe.Sizeof(n)), &size, nil, 0) != nil {
			n = 0
		}
	})
	return n > 0
}
