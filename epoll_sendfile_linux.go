package eddy

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// File regions on the epoll engine: sendfile(2) from the page cache to the non-blocking socket, in the
// order of the output queue (see sendfile.go). Like writev, sendfile runs on the loop; it takes what the
// socket's send buffer has room for and returns, and EPOLLOUT resumes it. A file that is not in the page
// cache makes the loop wait for the disk, as with a read(2) of it. A file that sendfile cannot read (a
// procfs file: EINVAL at the region's first byte) is read with pread(2) into c.out instead and sent like
// written bytes (fileSend.read), as uring does with a file that cannot splice and std with ReadAt.

// epSendfileMax bounds one sendfile call, so that AsyncWrite callbacks behind a large region run as soon
// as their bytes are out rather than at the end of the region.
const epSendfileMax = 4 << 20

// SendFile queues n bytes of f from offset behind the output written so far (Conn.SendFile).
func (c *epConn) SendFile(f *os.File, offset, n int64, cb func(Conn, error)) error {
	return c.sendFile(c, f, offset, n, cb)
}

// hasOutput reports whether anything is queued to send: bytes or a file region (even an empty one).
func (c *epConn) hasOutput() bool {
	if c.out.Len() > 0 {
		return true
	}
	x := c.x.Load()
	return x != nil && len(x.files) > 0
}

// sendFiles runs when c.out is empty and the socket writable: it sends the head file region until the
// socket is full or the region is done; a finished region's callback runs and the bytes written after it
// become c.out. A region that sendfile cannot send is read into c.out a piece at a time instead. It
// reports whether the flush should go on.
func (c *epConn) sendFiles() bool {
	x := c.x.Load()
	if x == nil || len(x.files) == 0 {
		return false
	}
	s := x.files[0]
	for s.n > 0 {
		if s.read {
			return c.readFilePiece(s)
		}
		n, err := syscall.Sendfile(int(c.fd), int(s.f.Fd()), &s.off, int(min(s.n, epSendfileMax))) // syscall's: see raceio
		switch {
		case n > 0:
			s.n -= int64(n)
			c.wrote(c, c.l.now, n)
			if c.state == connReleased { // a callback closed it
				return false
			}
		case err == unix.EAGAIN:
			c.writable = false
			return false
		case err == unix.EINTR:
		case err == nil, err == unix.EOVERFLOW: // end of file before the end of the region
			// EOVERFLOW: the offset is at or past the largest file the file system can hold (ext4:
			// 16 TiB), so past the end of this one too; splice and pread read nothing there (session 32).
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "", s.shortFileError()))
			return false
		case s.n == s.total && zeroCopyUnsupported(err):
			s.read = true // nothing of the region went out: sendfile cannot read this file, pread can
		case sendfileFileError(err):
			// The file failed, not the socket: the peer is fine and sees the connection end at once.
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "sendfile", err))
			return false
		default:
			c.sendFailed(opError("write", c.network(), c.RemoteAddr(), "sendfile", err))
			return false
		}
	}
	x.files.complete(c, &c.out)
	return c.state != connReleased
}

// readFilePiece reads the next piece of region s, which sendfile cannot send, into c.out (empty), for the
// flush to write like any output. It reports whether the flush should go on; a read error or the end of
// the file aborts the connection.
func (c *epConn) readFilePiece(s *fileSend) bool {
	for {
		n, err := s.preadPiece(&c.out)
		switch {
		case n > 0:
			return true
		case err == unix.EINTR:
		case err == nil:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "", s.shortFileError()))
			return false
		default:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "pread", err))
			return false
		}
	}
}
