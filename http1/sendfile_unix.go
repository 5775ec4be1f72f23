//go:build unix

package http1

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// dupFile returns an *os.File for a duplicate of sc's descriptor, which the caller closes.
func dupFile(sc syscall.Conn, name string) (*os.File, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, err
	}
	nfd := -1
	var derr error
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	return os.NewFile(uintptr(nfd), name), nil
}
