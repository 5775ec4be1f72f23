//go:build unix && !linux

package eddy

import "golang.org/x/sys/unix"

// reopenBuffered is Linux's (sendfile_linux.go): elsewhere the caller duplicates the descriptor.
func reopenBuffered(fd uintptr, flags int) (int, error) { return -1, unix.ENOTSUP }
