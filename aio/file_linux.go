package aio

import (
	"os"

	"golang.org/x/sys/unix"
)

// init reads the descriptor the io_uring backend names in its SQEs (the File keeps osf, and so the
// descriptor, open until Close) and whether the file appends (WriteAt is refused then, as os.File
// refuses it for the files it opened with O_APPEND).
func (f *File) init() error {
	rc, err := f.osf.SyscallConn()
	if err != nil {
		return err
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		f.fd = int(fd)
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
	}); err != nil {
		return err
	}
	if ferr != nil {
		return &os.PathError{Op: "fcntl", Path: f.name, Err: ferr}
	}
	f.app = flags&unix.O_APPEND != 0
	return nil
}
