package eddy

import "net"

// sendQueuedConn returns the bytes in nc's send queue that the peer has not acknowledged (SIOCOUTQ),
// and whether the socket could tell.
func sendQueuedConn(nc net.Conn) (n int, ok bool) {
	controlFD(nc, func(fd uintptr) { n, ok = sendQueued(int(fd)) })
	return n, ok
}
