//go:build unix

package eddy

import (
	"os"

	"golang.org/x/sys/unix"
)

// dupFile returns the engine's own descriptor for f: a close-on-exec duplicate, so that the caller may
// close f as soon as SendFile returns. The duplicate shares f's open file description (and so its file
// offset, which the epoll and uring engines do not use).
func dupFile(f *os.File) (*os.File, bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	var nfd int
	var derr error
	if err := rc.Control(func(fd uintptr) {
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, false, err
	}
	if derr != nil {
		return nil, false, os.NewSyscallError("fcntl", derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), true, nil
}
