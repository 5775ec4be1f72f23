//go:build unix

package eddy

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// dupFile returns the engine's own descriptor for f: a close-on-exec duplicate, so that the caller may
// close f as soon as SendFile returns. The duplicate shares f's open file description (and so its file
// offset, which the epoll and uring engines do not use). A file opened write-only is refused: every
// engine would fail its first read (EBADF) and abort the connection, where SendFile promises an error.
// A file opened with O_DIRECT is opened again without it where the system allows (reopenBuffered): a
// direct read of a region whose ends are not aligned to the device's blocks fails with EINVAL (sendfile,
// splice and pread alike), and a duplicate cannot drop the flag without dropping it from f too.
func dupFile(f *os.File) (*os.File, bool, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false, err
	}
	var nfd, flags int
	var derr, ferr error
	if err := rc.Control(func(fd uintptr) {
		if flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0); ferr != nil || flags&unix.O_ACCMODE == unix.O_WRONLY {
			return
		}
		if nfd, derr = reopenBuffered(fd, flags); derr == nil {
			return
		}
		nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return nil, false, err
	}
	switch {
	case ferr != nil:
		return nil, false, os.NewSyscallError("fcntl", ferr)
	case flags&unix.O_ACCMODE == unix.O_WRONLY:
		return nil, false, fmt.Errorf("eddy: SendFile: %s is not open for reading: %w", f.Name(), unix.EBADF)
	case derr != nil:
		return nil, false, os.NewSyscallError("fcntl", derr)
	}
	return os.NewFile(uintptr(nfd), f.Name()), true, nil
}
