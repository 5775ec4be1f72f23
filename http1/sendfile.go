package http1

import (
	"io"
	"io/fs"
	"net/http"
	"os"
	"sync/atomic"
	"syscall"

	"github.com/eddyio/eddy"
)

// Response bodies from files: a handler that copies an *os.File into the ResponseWriter (io.Copy,
// io.CopyN, http.ServeContent and so http.FileServer over http.Dir) sends it with the engine's
// Conn.SendFile, from the page cache to the socket, when the response has a Content-Length.

// sendFileMin is the smallest region ReadFrom sends with SendFile: below it, copying into the batch that
// carries the head costs less than the extra system calls.
const sendFileMin = 16 << 10

// sniffLen is how much of the body http.DetectContentType looks at.
const sniffLen = 512

// sendFileCount counts the regions handed to SendFile, for tests (export_test.go).
var sendFileCount atomic.Int64

var _ io.ReaderFrom = (*response)(nil)

// writerOnly hides ReadFrom from io.Copy, for the copying fallback.
type writerOnly struct{ io.Writer }

// ReadFrom copies src into the response body (io.ReaderFrom). When src is an *os.File or an
// *io.LimitedReader of one (what io.CopyN passes; http.ServeContent uses it with the http.File that
// http.Dir opens) and the response has a Content-Length that the file's bytes fit in, the region goes
// to the socket with the engine's Conn.SendFile, without passing through user space; src's offset (and
// the LimitedReader's N) advance as if it had been read. Otherwise the bytes are copied as by Write.
func (w *response) ReadFrom(src io.Reader) (int64, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if w.sc.http.tls != nil {
		return io.Copy(writerOnly{w}, src) // the bytes must be encrypted: no SendFile under TLS
	}
	f, n, lr, closeF := fileRegion(src)
	if f == nil {
		return io.Copy(writerOnly{w}, src)
	}
	if closeF {
		defer f.Close()
	}
	if n < sendFileMin {
		return io.Copy(writerOnly{w}, src)
	}
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	var sniffed int64
	if !w.headSent && w.snap.has&exContentType == 0 {
		// Let the head's Content-Type be sniffed from the first bytes, as Write would.
		k, err := io.CopyN(writerOnly{w}, src, sniffLen)
		sniffed, n = k, n-k
		if err != nil {
			return sniffed, err
		}
	}
	if w.isHEAD || !bodyAllowedForStatus(w.status) || w.contentLength < 0 || w.written+n > w.contentLength || w.err != nil {
		k, err := io.Copy(writerOnly{w}, src)
		return sniffed + k, err
	}
	if err := w.flush(false); err != nil { // the head and the buffered body go first
		return sniffed, err
	}
	w.waitInflight()
	if w.err != nil {
		return sniffed, w.err
	}
	if w.chunked || w.bodyless {
		k, err := io.Copy(writerOnly{w}, src)
		return sniffed + k, err
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		k, err := io.Copy(writerOnly{w}, src)
		return sniffed + k, err
	}
	sendFileCount.Add(1)
	if err := w.sendFile(f, off, n); err != nil {
		return sniffed, err
	}
	w.written += n
	f.Seek(off+n, io.SeekStart) // not SeekCurrent: on some engines the send moved the shared offset already
	if lr != nil {
		lr.N -= n
	}
	return sniffed + n, nil
}

// osFile is what an *os.File offers, and what wraps one without hiding it: io.Copy(w, f) reaches
// ReadFrom with such a wrapper, as (*os.File).WriteTo hides its own WriteTo from io.Copy.
type osFile interface {
	io.Reader
	io.Seeker
	syscall.Conn
	Stat() (fs.FileInfo, error)
}

// fileRegion returns the regular file src reads from and how many bytes it would read (to the end of
// the file, or the LimitedReader's N), or a nil file. A file that wraps an *os.File is a duplicate of
// its descriptor that the caller closes (closeF).
func fileRegion(src io.Reader) (f *os.File, n int64, lr *io.LimitedReader, closeF bool) {
	n = -1
	if l, ok := src.(*io.LimitedReader); ok {
		if l.N <= 0 {
			// It reads nothing (io.CopyN with a negative count passes such a limit): n must not
			// take it for the -1 that means no limit.
			return nil, 0, nil, false
		}
		lr, n, src = l, l.N, l.R
	}
	of, ok := src.(osFile)
	if !ok {
		return nil, 0, nil, false
	}
	fi, err := of.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil, 0, nil, false
	}
	pos, err := of.Seek(0, io.SeekCurrent)
	if err != nil || pos >= fi.Size() {
		return nil, 0, nil, false
	}
	if left := fi.Size() - pos; n < 0 || n > left {
		n = left // the file ends first: sendfile would stop there too
	}
	if f, ok = of.(*os.File); !ok {
		if f, err = dupFile(of, fi.Name()); err != nil {
			return nil, 0, nil, false
		}
		closeF = true
	}
	return f, n, lr, closeF
}

// sendFile queues the region on the connection's loop behind the batches already handed to it and waits
// until the kernel has it all, the connection fails or closes, or the write deadline passes. The outcome
// arrives on acks, as an AsyncWrite's does: from SendFile's callback, from the task if SendFile refuses
// the region, or from connClosed if the connection closed before the loop ran the task (which is then
// dropped). Not the request's context: the client's half-close cancels it, and the answer is still sent.
func (w *response) sendFile(f *os.File, off, n int64) error {
	if w.connGone.Load() { // closed already: connClosed's signal may have gone to an earlier wait
		w.fail(eddy.ErrClosed)
		return w.err
	}
	h := w.sc.http
	if err := w.post(func(c eddy.Conn) {
		if err := c.SendFile(f, off, n, h.ackFn); err != nil {
			h.ackFn(c, err)
		}
	}); err != nil {
		return err
	}
	ok, err := w.awaitAck()
	switch {
	case !ok:
		// As in waitInflight: the loop ends the connection, gracefully if the region has reached
		// the kernel; the late outcome is dropped or left on acks of a closed connection.
		w.fail(os.ErrDeadlineExceeded)
		w.endAtDeadline()
	case err != nil:
		w.fail(err)
	}
	return w.err
}
