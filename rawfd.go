package eddy

import "syscall"

// controlFD runs fn with the descriptor (socket handle on Windows) of v, a net.Conn or another
// syscall.Conn, which stays open meanwhile (syscall.RawConn.Control), and reports whether fn ran:
// false for a value without one, or one already closed.
func controlFD(v any, fn func(fd uintptr)) bool {
	sc, ok := v.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	return rc.Control(fn) == nil
}
