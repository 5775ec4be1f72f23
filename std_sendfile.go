package eddy

import (
	"io"
	"os"

	"github.com/eddyio/eddy/internal/buffer"
)

// File regions on the portable engine (see sendfile.go): the writer goroutine copies each region to the
// socket in pieces (copyFileRegion): with sendfile(2) at an explicit offset on Linux, and through
// ReadAt elsewhere. Never from the file's offset: the engine's duplicate descriptor shares it with the
// caller's file and with every other region of that file, which other connections' writers send at once.

// stdFilePiece bounds one copy, so that AsyncWrite callbacks, back-pressure and the idle clock advance
// during a large region.
const stdFilePiece = 4 << 20

// SendFile queues n bytes of f from offset behind the output written so far (Conn.SendFile).
func (c *stdConn) SendFile(f *os.File, offset, n int64, cb func(Conn, error)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	s, err := newFileSend(f, offset, n, cb)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	if c.closing || c.wantShutWr || c.aborted { // aborted: the writer has dropped the regions for the last time
		c.wmu.Unlock()
		s.release()
		return ErrClosed
	}
	c.files = append(c.files, s)
	c.wcond.Signal()
	c.wmu.Unlock()
	return nil
}

// queued returns the output not yet handed to the kernel, file regions included. wmu must be held.
// An int64 on every platform, as connCore.queued.
func (c *stdConn) queued() int64 {
	n := int64(c.wq.Len())
	if len(c.files) > 0 {
		n = addSat(n, c.files.bytes()) // a region may be math.MaxInt64 bytes long
	}
	return n
}

// sendFilePiece runs on the writer with wmu held, the byte queue empty and a region at the head of
// c.files: it completes the region if it is all out, or copies its next piece to the socket without the
// lock. It returns with wmu unlocked.
func (c *stdConn) sendFilePiece() {
	s := c.files[0]
	if s.n == 0 {
		cb := c.files.pop(&c.wq)
		if cb != nil {
			c.queueDoneOne(cb) // under wmu, in order (queueDone)
		}
		c.wmu.Unlock()
		if cb != nil {
			c.runQueued()
		}
		return
	}
	f, off, k := s.f, s.off, min(s.n, stdFilePiece)
	c.writing = true // a Stop out of time cuts the copy short and leaves the close to this goroutine (stopCut)
	c.wmu.Unlock()
	n, fileErr, err := copyFileRegion(c.nc, f, off, k, c.noteFlush)
	short := err == nil && n < k
	fileErr = fileErr && err != nil || short // the file failed: abort at once, the peer is fine
	c.wmu.Lock()
	c.writing = false
	s.off += n
	s.n -= n
	if c.stopCut { // with the piece's bytes counted out: a reset only if output is left
		c.stopCut = false
		c.stopAbortLocked() // a copy the deadline cut short fails with the connection's reason, below
	}
	if short {
		err = s.shortFileError() // now that s.n counts this piece's bytes as sent
	}
	if err != nil {
		err = &OpError{Op: "write", Net: c.network, Addr: c.nc.RemoteAddr(), Err: unwrapNetOp(err)}
	}
	aborted := err != nil && c.aborted
	if aborted {
		// The copy failed because the connection was aborted under it (Abort, a stuck flush, Stop):
		// the region learns the connection's reason, as the regions queued behind it do.
		err = c.reason
		if err == nil {
			err = ErrClosed
		}
	}
	c.progress(int(n))
	var failed func(Conn, error)
	if err != nil { // the region fails with its own error, whatever the reason the connection reports
		c.files[0] = &fileSend{}
		s.release()
		failed = s.cb
	}
	done := c.queueDone(int(n))
	sendErr := err != nil && !aborted && !fileErr // the socket failed
	var abort bool
	if sendErr {
		abort = c.failSendLocked(err) // before the reader may go on (see failSendLocked)
	}
	if c.queued() <= int64(c.g.e.opts.lowWater) {
		c.rcond.Broadcast()
	}
	c.wmu.Unlock()
	// Callbacks are posted only now: post may run them at once, on this goroutine, and one that
	// closes the connection takes wmu (a post under wmu deadlocked the writer).
	if failed != nil {
		c.post(func() { failed(c, err) })
	}
	if n > 0 {
		c.lastActive.Store(stdNow())
	}
	if done {
		c.runQueued()
	}
	switch {
	case fileErr:
		c.closeWith(err, true)
	case sendErr:
		c.afterSendFailed(err, abort) // what the peer sent first is still delivered
	}
}

// copyFileRegionRead copies n bytes of f from offset to w through a pooled buffer, with ReadAt (pread),
// which leaves the file's offset alone, and reports each write to progress when it returns. It returns
// fewer than n bytes and no error when the file ends first; fileErr reports that err is the read's, not
// the write's (io.Copy, used until session 18, could not tell them apart).
func copyFileRegionRead(w io.Writer, f *os.File, offset, n int64, progress func(int)) (sent int64, fileErr bool, err error) {
	b := buffer.Get(int(min(n, copyReadPiece)))
	defer buffer.Put(b)
	buf := b.B[:min(int64(len(b.B)), n)]
	for sent < n {
		k, rerr := f.ReadAt(buf[:min(int64(len(buf)), n-sent)], offset+sent)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			sent += int64(m)
			progress(m)
			if werr == nil && m < k {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return sent, false, werr
			}
		}
		switch {
		case rerr == io.EOF:
			return sent, false, nil // the file ended
		case rerr != nil:
			return sent, true, rerr
		}
	}
	return sent, false, nil
}

// copyReadPiece is the size of the reads of copyFileRegionRead, io.Copy's.
const copyReadPiece = 32 << 10

// watchedPiece is the size of the writes of writeInPieces.
const watchedPiece = 16 << 10

// writeInPieces writes vecs to w in writes of at most watchedPiece bytes, and reports each to progress
// when it returns: writeWatched where the socket's descriptor is out of reach.
func writeInPieces(w io.Writer, vecs [][]byte, progress func(int)) (int, error) {
	total := 0
	for _, b := range vecs {
		for len(b) > 0 {
			n, err := w.Write(b[:min(len(b), watchedPiece)])
			total += n
			progress(n)
			b = b[n:]
			if err != nil {
				return total, err
			}
		}
	}
	return total, nil
}
