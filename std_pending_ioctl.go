//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package eddy

import (
	"net"

	"golang.org/x/sys/unix"
)

// ioctlInputPending asks nc's socket, with the ioctl req, how many bytes of input it holds. A socket
// that cannot tell holds none.
func ioctlInputPending(nc net.Conn, req uint) bool {
	n := 0
	controlFD(nc, func(fd uintptr) {
		if v, err := unix.IoctlGetInt(int(fd), req); err == nil {
			n = v
		}
	})
	return n > 0
}
