package eddy

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/buffer"
)

// File regions on the uring engine (see sendfile.go). When the byte queue is empty and a region is at its
// head, its next piece goes file -> pipe -> socket with linked splices (uring_splice_linux.go). Where the
// file cannot be spliced, the loop reads the piece with pread(2) into the output chunks and sends it like
// written bytes, so the region keeps its place in the output and back-pressure, AsyncWrite callbacks and
// the close state machine work unchanged; that read is synchronous on the loop (fast from the page cache;
// a cold file makes the loop wait for the disk).

// urFileChunk is how much of a file region the loop reads ahead of the socket at a time.
const urFileChunk = 256 << 10

// SendFile queues n bytes of f from offset behind the output written so far (Conn.SendFile).
func (c *urConn) SendFile(f *os.File, offset, n int64, cb func(Conn, error)) error {
	return c.sendFile(c, f, offset, n, cb)
}

// fillFromFiles runs when c.out is empty (and no send is in flight): it completes the head region if all
// of it has been sent, making the bytes written after it the new c.out, or starts its next splice step
// (uring_splice_linux.go), or, where splicing is off, reads its next piece into c.out.
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
		if c.spliceStep(s) {
			return
		}
		k := int(min(s.n, urFileChunk))
		b := buffer.Get(k)
		n, err := unix.Pread(int(s.f.Fd()), b.B[:k], s.off)
		if n > 0 {
			c.out.Write(b.B[:n])
			s.off += int64(n)
			s.n -= int64(n)
		}
		buffer.Put(b)
		switch {
		case n > 0, err == unix.EINTR:
		case err == nil:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "", s.shortFileError()))
		default:
			c.abort(c, opError("write", c.network(), c.RemoteAddr(), "pread", err))
		}
	}
}
