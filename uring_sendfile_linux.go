package eddy

import (
	"os"

	"golang.org/x/sys/unix"
)

// File regions on the uring engine (see sendfile.go). When the byte queue is empty and a region is at its
// head, its next piece goes file -> pipe -> socket with linked splices (uring_splice_linux.go). Where the
// file cannot be spliced (fileSend.read), or the connection cannot splice at all, the loop reads the piece
// with pread(2) into the output chunks and sends it like written bytes, so the region keeps its place in
// the output and back-pressure, AsyncWrite callbacks and the close state machine work unchanged; that read
// is synchronous on the loop (fast from the page cache; a cold file makes the loop wait for the disk).

// SendFile queues n bytes of f from offset behind the output written so far (Conn.SendFile).
func (c *urConn) SendFile(f *os.File, offset, n int64, cb func(Conn, error)) error {
	return c.sendFile(c, f, offset, n, cb)
}

// fillFromFiles runs when c.out is empty (and no send is in flight): it completes the head region if all
// of it has been sent, making the bytes written after it the new c.out, or starts its next splice step
// (uring_splice_linux.go), or, where the region or the connection cannot splice, reads its next piece
// into c.out.
func (c *urConn) fillFromFiles() {
	x := c.x.Load()
	if x == nil {
		return
	}
	defer c.closeSplice(false)
	for c.out.Len() == 0 && len(x.files) > 0 && c.state != connReleased {
		s := x.files[0]
		if s.n == 0 && c.pipeBytes() == 0 {
			x.files.complete(c, &c.out)
			continue
		}
		if !s.read && c.spliceStep(s) {
			return
		}
		switch n, err := s.preadPiece(&c.out); {
		case n > 0, err == unix.EINTR:
		case err == nil:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "", s.shortFileError()))
		default:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "pread", err))
		}
	}
}
