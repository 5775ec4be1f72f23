package eddy

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/eddyio/eddy/internal/buffer"
)

// File regions on the output queue (Conn.SendFile), shared by the engines.
//
// A connection's output is its byte queue followed by a FIFO of file regions, each with the bytes written
// after it and before the next region:
//
//	out | region 1 | region1.after | region 2 | region2.after | ...
//
// Writes go to the last queue in that order (tail); a flush sends out, then the head region, then makes the
// head region's after queue the new out. So a region keeps its place among the writes around it without the
// byte queue (internal/buffer.Outbound) knowing about files, and a connection that never sends a file pays
// nothing but a nil check.

// fileSend is a file region queued on a connection.
type fileSend struct {
	f     *os.File // the engine's own descriptor for the file (see dupFile); nil for an empty region
	own   bool     // f is a duplicate that the engine closes
	read  bool     // the kernel cannot send f zero-copy: the loop engines read it (preadPiece)
	off   int64    // offset of the next byte to send
	n     int64    // bytes left
	total int64    // bytes in the region, for the error that reports a short file
	cb    func(Conn, error)
	after buffer.Outbound // bytes written after the region, up to the next region
}

// fileQueue is the FIFO of a connection's file regions.
type fileQueue []*fileSend

// errShortFile is wrapped in the error reported when a file ends before the region SendFile was given.
var errShortFile = errors.New("eddy: file shorter than the region to send")

// newFileSend checks the arguments of SendFile and takes the engine's own reference to f. A region whose
// end overflows int64, like a file not open for reading (dupFile), is refused here rather than failing
// on the engine, which would abort the connection.
func newFileSend(f *os.File, offset, n int64, cb func(Conn, error)) (*fileSend, error) {
	if offset < 0 || n < 0 || offset > math.MaxInt64-n {
		return nil, fmt.Errorf("eddy: SendFile: bad region (offset %d, length %d)", offset, n)
	}
	s := &fileSend{off: offset, n: n, total: n, cb: cb}
	if n == 0 {
		return s, nil // nothing to read: the region only keeps its place for the callback
	}
	if f == nil {
		return nil, errors.New("eddy: SendFile: nil file")
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("eddy: SendFile: %s is not a regular file: %w", f.Name(), ErrUnsupported)
	}
	s.f, s.own, err = dupFile(f)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// shortFileError is the error for a region whose file ended early.
func (s *fileSend) shortFileError() error {
	return fmt.Errorf("%w: %d of %d bytes sent: %w", errShortFile, s.total-s.n, s.total, io.ErrUnexpectedEOF)
}

// release closes the engine's descriptor and drops the bytes queued after the region.
func (s *fileSend) release() {
	if s.own && s.f != nil {
		s.f.Close()
	}
	s.f = nil
	s.after.Reset()
}

// tail returns the byte queue that a write must go to: out when no file region is queued, else the queue
// after the last region.
func (q fileQueue) tail(out *buffer.Outbound) *buffer.Outbound {
	if len(q) == 0 {
		return out
	}
	return &q[len(q)-1].after
}

// bytes returns what the regions and the writes after them still hold, at most math.MaxInt64: a region
// may be as long as math.MaxInt64 ("the rest of the file"), and a sum that wrapped negative made the
// queue look empty, so that Flushed and AsyncWrite callbacks behind it ran at once (session 32). The
// count is an int64, not an int: on a 32-bit build a region past 2 GiB saturated an int, and the
// callbacks behind it ran once 2 GiB of it were out, before the rest.
func (q fileQueue) bytes() int64 {
	var n int64
	for _, s := range q {
		n = addSat(addSat(n, s.n), int64(s.after.Len()))
	}
	return n
}

// addSat returns a+b for non-negative a and b, or math.MaxInt64 where the sum would overflow.
func addSat(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// complete removes the head region, whose bytes have all been handed to the kernel: its after queue
// becomes out (which must be empty) and its callback runs with nil. The caller keeps the connection's
// state consistent for the callback, which may write or send another file.
func (q *fileQueue) complete(c Conn, out *buffer.Outbound) {
	if cb := q.pop(out); cb != nil {
		cb(c, nil)
	}
}

// pop removes the head region, makes its after queue out (which must be empty) and returns its callback
// for the caller to run.
func (q *fileQueue) pop(out *buffer.Outbound) func(Conn, error) {
	s := (*q)[0]
	(*q)[0] = nil
	*q = (*q)[1:]
	if len(*q) == 0 {
		*q = nil
	}
	*out, s.after = s.after, *out
	s.release()
	return s.cb
}

// fail removes every region, closing their descriptors, and runs their callbacks with err (ErrClosed when
// err is nil).
func (q *fileQueue) fail(c Conn, err error) {
	if len(*q) == 0 {
		return
	}
	if err == nil {
		err = ErrClosed
	}
	ss := *q
	*q = nil
	for _, s := range ss {
		s.release()
	}
	for _, s := range ss {
		if s.cb != nil {
			s.cb(c, err)
		}
	}
}
