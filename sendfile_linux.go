package eddy

import (
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/buffer"
)

// What the engines that send file regions with sendfile(2) or splice share on Linux (epoll, uring, and
// std's copyFileRegion).

// filePreadPiece is how much of a file region a loop engine reads into the output at a time where the
// kernel cannot send the file (fileSend.read).
const filePreadPiece = 256 << 10

// zeroCopyUnsupported reports whether err, from sendfile(2) or a splice out of a file before any byte of
// the region moved, means that the kernel cannot send this file without reading it: a procfs file has no
// splice_read (EINVAL), and some file systems none at all. The region then falls back to pread, as
// pread reads such files. Once bytes of the region moved, the same errors are the file's failure.
func zeroCopyUnsupported(err error) bool {
	return err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP
}

// sendfileFileError reports whether an error of sendfile(2) to a socket is the file's (its read failed,
// or it cannot be read there) rather than the socket's. A failing file aborts the connection at once: the
// peer is fine and should see the connection end. A failing socket (the peer's reset) reads on first, to
// deliver what the peer sent before it (docs/engine.md, "A failed send reads on").
func sendfileFileError(err error) bool {
	switch err {
	case unix.EBADF, unix.EIO, unix.ENOMEM, unix.EOVERFLOW, unix.ESPIPE:
		return true
	}
	return zeroCopyUnsupported(err)
}

// preadPiece reads the next piece of region s, at most filePreadPiece bytes, into out with pread(2) (which
// leaves the file's offset alone) and advances the region: the fallback of the loop engines for a file
// that the kernel cannot send (fileSend.read). It returns 0 and no error at the end of the file; EINTR is
// returned for the caller to read again.
func (s *fileSend) preadPiece(out *buffer.Outbound) (int, error) {
	k := int(min(s.n, filePreadPiece))
	b := buffer.Get(k)
	n, err := unix.Pread(int(s.f.Fd()), b.B[:k], s.off)
	if n > 0 {
		out.Write(b.B[:n])
		s.off += int64(n)
		s.n -= int64(n)
	}
	buffer.Put(b)
	return max(n, 0), err
}

// reopenBuffered opens the file of descriptor fd, whose status flags are flags, again for reading through
// /proc/self/fd when it was opened with O_DIRECT, so that the engine reads it through the page cache: the
// kernel reads an O_DIRECT file for sendfile(2) and splice with direct I/O, which fails with EINVAL for a
// region whose offset or end is not aligned to the device's blocks (an HTTP file's last bytes, as a rule),
// after the aligned part went out; pread fails the same way. The new open file description has its own
// offset, which the engines do not use. It returns an error when fd is not O_DIRECT or the reopen fails
// (no /proc, or permissions that changed since f was opened): the caller duplicates fd instead.
func reopenBuffered(fd uintptr, flags int) (int, error) {
	if flags&unix.O_DIRECT == 0 {
		return -1, unix.EINVAL
	}
	return unix.Open("/proc/self/fd/"+strconv.Itoa(int(fd)), unix.O_RDONLY|unix.O_CLOEXEC, 0)
}
