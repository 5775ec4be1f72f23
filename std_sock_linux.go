package eddy

import (
	"net"
	"syscall"
)

// sendQueuedConn returns the bytes in nc's send queue that the peer has not acknowledged (SIOCOUTQ),
// and whether the socket could tell.
func sendQueuedConn(nc net.Conn) (int, bool) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int
	ok = false
	rc.Control(func(fd uintptr) { n, ok = sendQueued(int(fd)) })
	return n, ok
}
