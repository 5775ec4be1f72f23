//go:build !linux

package eddy

import "net"

// sendQueuedConn reports that the size of nc's send queue is not known here: the bound on a stuck
// flush then counts only what the engine writes.
func sendQueuedConn(net.Conn) (int, bool) { return 0, false }
