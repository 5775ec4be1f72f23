//go:build unix && !linux

package aio

import "golang.org/x/sys/unix"

// pwriteRefused reports whether pwrite(2) on fd fails with ESPIPE, probed only on a file open
// read-only, where a pwrite(2) of nothing fails before it writes; on a writable file it could call
// the file's write of nothing. Only the pool serves files here, and its pwrite(2) says ESPIPE
// itself.
func pwriteRefused(fd, flags int) bool {
	if flags&unix.O_ACCMODE != unix.O_RDONLY {
		return false
	}
	_, err := unix.Pwrite(fd, nil, 0)
	return err == unix.ESPIPE
}
