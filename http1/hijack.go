package http1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
)

// Hijacking (http.Hijacker): a handler takes the connection over, for a WebSocket upgrade or a
// CONNECT tunnel. The connection stays the engine's, served by its loop; what changes is who reads
// and writes it. From the hijack on, the loop moves whatever arrives into the hijackedConn's buffer
// (pausing reading while more than hijackHoldAt bytes wait there, so TCP flow control holds back a
// peer that sends faster than the new owner reads), and the owner's writes go to the loop with
// AsyncWrite. The owner is a goroutine, as with net/http: it blocks in Read and Write, which the
// loop wakes.

// hijackHoldAt is how many bytes may wait for the hijacker's reads before the connection stops
// reading; it restarts once they are down to half of that.
const hijackHoldAt = 256 << 10

// hijackPiece bounds the bytes of one AsyncWrite of a hijacked connection: a large Write goes in
// pieces, each sent once the one before is in the kernel, so that a peer that does not read holds
// back the writer rather than the loop's memory.
const hijackPiece = 64 << 10

// hijackKeepBuffer is the largest input buffer a hijacked connection keeps once its reader has
// emptied it: an idle WebSocket holds no more than this.
const hijackKeepBuffer = 4 << 10

// errHijackChunkedBody refuses a hijack while a chunked request body is still to be read: the
// connection's bytes that follow are the rest of its chunks, whose framing the loop has decoded
// away from the part already read, and no reader could make sense of them.
var errHijackChunkedBody = errors.New("http1: Hijack: the request's chunked body has not been read to its end")

// Hijack lets the handler take over the connection (http.Hijacker, and
// http.ResponseController.Hijack): the server no longer reads requests from it nor writes
// responses to it. What the handler had written with WriteHeader (a 101 Switching Protocols, say)
// or Write goes out first. The returned net.Conn reads what arrives on the connection after the
// request (the unread rest of a Content-Length body, unless the handler closed the body, and
// anything the client sent beyond); the bufio.Reader starts empty. The connection's deadlines start cleared: the server's timeouts no
// longer apply to it.
//
// As with net/http, the response and Request.Body must not be used after Hijack, the request's
// context ends when the handler returns, and the handler may return and leave the connection to
// other goroutines. Shutdown does not wait for hijacked connections; unlike net/http, the engine
// still owns them, so Close, and Shutdown once the requests are done, close them too.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	switch {
	case w.hijacked:
		return nil, nil, http.ErrHijacked
	case w.handlerDone:
		return nil, nil, errors.New("http1: Hijack after the handler returned")
	}
	w.disableContinue()
	if w.wroteHeader {
		// The head, as net/http's flush of its chunk writer sends it, and the body bytes written
		// before (which net/http drops: doc.go).
		if err := w.flush(false); err != nil {
			return nil, nil, err
		}
	}
	w.waitInflight() // acks is the hijack's answer now
	if w.err != nil {
		return nil, nil, w.err
	}
	if w.connGone.Load() {
		return nil, nil, eddy.ErrClosed
	}
	var hc *hijackedConn
	if hk := w.sc.hooks(); hk != nil {
		hc = hk.nc // the net.Conn the hooks were given
	} else {
		hc = newHijackedConn(w.c)
	}
	sc, h := w.sc, w.sc.http
	if err := w.post(func(c eddy.Conn) { h.ackFn(c, sc.hijack(w, hc)) }); err != nil {
		return nil, nil, err
	}
	if err := <-h.acks; err != nil {
		if err != errHijackChunkedBody {
			w.fail(err)
		}
		return nil, nil, err
	}
	w.hijacked = true
	return hc, bufio.NewReadWriter(bufio.NewReader(hc), bufio.NewWriter(hc)), nil
}

// hijack hands the connection over to hc, on the loop; the request w must still be the
// connection's. The request ends for Shutdown now, as a hijacked one does for net/http.
func (sc *conn) hijack(w *response, hc *hijackedConn) error {
	if sc.ex != w || sc.state != stHandler {
		return eddy.ErrClosed
	}
	dropBody := false
	if w.pipe != nil {
		unread, closed, ok := w.pipe.takeForHijack()
		if !ok {
			return errHijackChunkedBody
		}
		if closed && sc.bodyOpen && !sc.rd.body.chunked &&
			int64(len(unread))+bodyRemaining(&sc.rd.body) > maxPostHandlerReadBytes {
			closed = false // net/http's Body.Close gives up on so much: the new owner reads it
		}
		if !closed {
			hc.in = append(hc.in, unread...)
		}
		// The handler closed the body: its rest is dropped as it arrives, as net/http's
		// Body.Close reads it, and the new owner reads what follows it.
		dropBody = closed && sc.bodyOpen
	}
	sc.state = stHijacked
	hc.serverOwned.Store(false)
	sc.setState(http.StateHijacked)
	sc.bodyOpen = dropBody
	sc.deadline = 0
	sc.setTimeout(0)
	sc.http.hj = hc
	if sc.inHeld {
		sc.inHeld = false
		if dropBody {
			sc.c.SetReadPaused(false) // the body's rest is dropped, however slow the reader
		} else {
			hc.paused = true // the hijacker's reads restart it (hijackedConn.Read)
		}
	}
	if sc.peerGone {
		hc.rerr = io.EOF
	}
	// Counted before the request ends, so that a Shutdown that its end lets go on finds it.
	sc.srv.hijackers.Add(1) // until the handler returns (response.serve)
	if atomic.SwapInt32(&w.ends, 2) < 2 {
		sc.srv.requestEnded()
	}
	sc.hijackedInput() // what arrived after the request's head (or its body)
	return nil
}

// hijackedInput moves what has arrived on a hijacked connection to its reader, after dropping the
// rest of a request body the handler closed (up to maxPostHandlerReadBytes of a chunked one, as
// net/http's Body.Close reads). Called by the loop.
func (sc *conn) hijackedInput() {
	if sc.bodyOpen {
		if !sc.pumpBody() && sc.drained <= maxPostHandlerReadBytes {
			return // the body's rest is still to come
		}
		sc.bodyOpen = false
	}
	sc.releaseReader()
	sc.http.hj.push(sc.c)
}

// takeForHijack returns the body bytes the handler has not read, and whether the handler had
// closed the body, and ends the pipe: reads fail as after Close, a read blocked in another
// goroutine too. It reports false, leaving the pipe as it is, when those bytes and the
// connection's that follow would not be the bytes the client sent: a chunked body neither read to
// its end nor closed. Called by the loop.
func (p *bodyPipe) takeForHijack() (unread []byte, closed, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	closed = p.closed
	unread = p.buf[p.r:]
	if !closed && p.contentLength < 0 && (len(unread) > 0 || p.err != io.EOF) {
		return nil, false, false
	}
	unread = bytes.Clone(unread)
	p.buf, p.r = p.buf[:0], 0
	p.closed = true
	p.signal() // a read blocked in another goroutine returns
	return unread, closed, true
}

// hijackedConn is the net.Conn of a hijacked connection. Reads take what the loop has moved into
// in; writes go to the loop with AsyncWrite, one piece in flight at a time.
type hijackedConn struct {
	c          eddy.Conn
	local, rem net.Addr

	mu       sync.Mutex
	in       []byte // arrived and unread: in[r:]
	r        int
	rerr     error // what reads return once in is empty: io.EOF after the peer's FIN, or the close's error
	paused   bool  // the loop paused reading (hold); changed on the loop only
	resuming bool  // a restart is on its way to the loop

	readable chan struct{} // signalled when bytes or rerr arrive
	done     chan struct{} // closed by Close or when the connection closes
	doneOnce sync.Once
	closed   atomic.Bool // Close was called
	// serverOwned: the connection is still the server's (the net.Conn that ConnContext and
	// ConnState are given, before a hijack): everything but Close, LocalAddr and RemoteAddr fails.
	serverOwned atomic.Bool
	lost        atomic.Pointer[error]

	rmu, wmu sync.Mutex // one Read, one Write at a time, as package net's
	rdl, wdl deadline
	pending  bool   // a piece is in flight (wmu)
	wbuf     []byte // its bytes, reused once it is in the kernel (wmu)
	acked    bool   // its outcome has come (mu)
	ackErr   error
	ack      chan struct{} // signalled when it comes
	ackFn    func(eddy.Conn, error)
	resumeFn func(eddy.Conn)
}

func newHijackedConn(c eddy.Conn) *hijackedConn {
	hc := &hijackedConn{
		c: c, local: c.LocalAddr(), rem: c.RemoteAddr(),
		readable: make(chan struct{}, 1), done: make(chan struct{}),
		ack: make(chan struct{}, 1),
	}
	hc.rdl.moved, hc.wdl.moved = make(chan struct{}, 1), make(chan struct{}, 1)
	hc.ackFn = hc.acknowledge
	hc.resumeFn = hc.resume
	return hc
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// push moves what c has buffered into the reader's buffer, pausing reading past hijackHoldAt.
// Called by the loop.
func (hc *hijackedConn) push(c eddy.Conn) {
	b, _ := c.Peek(-1)
	if len(b) == 0 {
		return
	}
	hc.mu.Lock()
	if hc.r > 0 {
		n := copy(hc.in, hc.in[hc.r:])
		hc.in, hc.r = hc.in[:n], 0
	}
	hc.in = append(hc.in, b...)
	pause := !hc.paused && len(hc.in) > hijackHoldAt
	if pause {
		hc.paused = true
	}
	hc.mu.Unlock()
	c.Discard(len(b))
	if pause {
		c.SetReadPaused(true)
	}
	signal(hc.readable)
}

// resume restarts reading once the reader has taken the buffer down to half of hijackHoldAt.
// Called by the loop.
func (hc *hijackedConn) resume(c eddy.Conn) {
	hc.mu.Lock()
	hc.resuming = false
	restart := hc.paused && len(hc.in)-hc.r <= hijackHoldAt/2
	if restart {
		hc.paused = false
	}
	hc.mu.Unlock()
	if restart {
		c.SetReadPaused(false)
	}
}

// peerClosed records the peer's FIN: reads return io.EOF once the buffer is empty. Called by the
// loop.
func (hc *hijackedConn) peerClosed() {
	hc.mu.Lock()
	if hc.rerr == nil {
		hc.rerr = io.EOF
	}
	hc.mu.Unlock()
	signal(hc.readable)
}

// connClosed records the end of the connection: reads return what is buffered, then io.EOF (or
// the error that closed it); writes fail. Called by the loop, from OnClose.
func (hc *hijackedConn) connClosed(err error) {
	switch {
	case err == nil || errors.Is(err, eddy.ErrClosed):
		err = io.EOF
	case errors.Is(err, eddy.ErrEngineStopped):
		err = asNetClosed(err) // by the server's Close or Shutdown
	}
	hc.mu.Lock()
	if hc.rerr == nil {
		hc.rerr = err
	}
	hc.mu.Unlock()
	werr := asNetClosed(eddy.ErrClosed)
	if err != io.EOF {
		werr = err
	}
	hc.lost.CompareAndSwap(nil, &werr)
	hc.end()
	signal(hc.readable)
}

// asNetClosed makes err, a close on this side (ErrClosed, ErrEngineStopped), a net.ErrClosed too,
// which code that owns a connection takes for its end rather than a failure, as it does with
// package net's.
func asNetClosed(err error) error {
	if errors.Is(err, eddy.ErrClosed) || errors.Is(err, eddy.ErrEngineStopped) {
		return fmt.Errorf("%w (%w)", net.ErrClosed, err)
	}
	return err
}

func (hc *hijackedConn) end() { hc.doneOnce.Do(func() { close(hc.done) }) }

// opError wraps err as package net does, so that errors.Is(err, net.ErrClosed) and the Timeout
// method work as they do on a *net.TCPConn.
func (hc *hijackedConn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: hc.local.Network(), Source: hc.local, Addr: hc.rem, Err: err}
}

// Read reads what has arrived on the connection, waiting for it until the read deadline.
func (hc *hijackedConn) Read(b []byte) (int, error) {
	hc.rmu.Lock()
	defer hc.rmu.Unlock()
	for {
		if hc.closed.Load() {
			return 0, hc.opError("read", net.ErrClosed)
		}
		if hc.serverOwned.Load() {
			return 0, hc.opError("read", errNotHijacked)
		}
		if hc.rdl.passed() {
			return 0, hc.opError("read", os.ErrDeadlineExceeded)
		}
		hc.mu.Lock()
		if hc.r < len(hc.in) {
			n := copy(b, hc.in[hc.r:])
			hc.r += n
			if hc.r == len(hc.in) {
				hc.in, hc.r = hc.in[:0], 0
				if cap(hc.in) > hijackKeepBuffer {
					hc.in = nil
				}
			}
			resume := hc.paused && !hc.resuming && len(hc.in)-hc.r <= hijackHoldAt/2
			if resume {
				hc.resuming = true
			}
			hc.mu.Unlock()
			if resume {
				executeRetrying(hc.c, hc.resumeFn) // a closed connection has nothing to restart
			}
			return n, nil
		}
		err := hc.rerr
		hc.mu.Unlock()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, hc.opError("read", err)
		}
		if len(b) == 0 {
			return 0, nil
		}
		if _, ok := awaitDeadline(&hc.rdl, hc.readable, hc.done); !ok {
			return 0, hc.opError("read", os.ErrDeadlineExceeded)
		}
	}
}

// Write sends b, in pieces of at most hijackPiece bytes, each handed to the loop once the one
// before is in the kernel: it returns once the last piece is in the kernel too (or the write
// deadline passed while it waited), so that an error of a piece (the peer reset the connection)
// is reported by this Write, and its buffer is free for the next one.
func (hc *hijackedConn) Write(b []byte) (int, error) {
	hc.wmu.Lock()
	defer hc.wmu.Unlock()
	if hc.serverOwned.Load() && !hc.closed.Load() {
		return 0, hc.opError("write", errNotHijacked)
	}
	n := 0
	for {
		if err := hc.writable(); err != nil {
			return n, err
		}
		if n == len(b) {
			return n, nil
		}
		k := min(len(b)-n, hijackPiece)
		// The piece before is in the kernel (writable): its buffer is free for this one.
		if cap(hc.wbuf) < k {
			hc.wbuf = make([]byte, 0, max(k, 512))
		}
		hc.wbuf = append(hc.wbuf[:0], b[n:n+k]...)
		hc.pending = true
		if err := asyncWriteRetrying(hc.c, hc.wbuf, hc.ackFn); err != nil {
			hc.pending = false
			return n, hc.opError("write", asNetClosed(err))
		}
		n += k
	}
}

// writable waits for the piece in flight, and reports why no more can be written: Close, the
// connection's end, the write deadline, or the piece's error.
func (hc *hijackedConn) writable() error {
	for {
		if hc.closed.Load() {
			return hc.opError("write", net.ErrClosed)
		}
		if !hc.pending {
			break
		}
		hc.mu.Lock()
		acked, err := hc.acked, hc.ackErr
		hc.acked, hc.ackErr = false, nil
		hc.mu.Unlock()
		if acked {
			hc.pending = false
			if cap(hc.wbuf) > hijackKeepBuffer {
				hc.wbuf = nil // a large write's buffer is not kept by an idle connection
			}
			if err != nil {
				return hc.opError("write", asNetClosed(err))
			}
			break
		}
		if hc.lost.Load() != nil {
			break // the piece's outcome will not come
		}
		if _, ok := awaitDeadline(&hc.wdl, hc.ack, hc.done); !ok {
			return hc.opError("write", os.ErrDeadlineExceeded)
		}
	}
	if p := hc.lost.Load(); p != nil {
		return hc.opError("write", *p)
	}
	if hc.wdl.passed() {
		return hc.opError("write", os.ErrDeadlineExceeded)
	}
	return nil
}

// acked records the outcome of the piece in flight. Called by the loop.
func (hc *hijackedConn) acknowledge(_ eddy.Conn, err error) {
	hc.mu.Lock()
	hc.acked, hc.ackErr = true, err
	hc.mu.Unlock()
	signal(hc.ack)
}

// Close closes the connection gracefully, after the bytes written before it: blocked reads and
// writes return net.ErrClosed at once.
func (hc *hijackedConn) Close() error {
	if !hc.closed.CompareAndSwap(false, true) {
		return hc.opError("close", net.ErrClosed)
	}
	hc.end()
	// Through the loop's queue, behind the pieces written before: a Close from this goroutine
	// would refuse those whose turn on the loop has not come.
	if err := executeRetrying(hc.c, closeConn); err != nil && !errors.Is(err, eddy.ErrClosed) {
		return hc.opError("close", err)
	}
	return nil
}

func closeConn(c eddy.Conn) { c.Close() }

// CloseWrite shuts down the sending side once the bytes written before it are out; the peer reads
// EOF, and reading goes on (as *net.TCPConn's, for a tunnel that relays a half-close).
func (hc *hijackedConn) CloseWrite() error {
	if hc.closed.Load() {
		return hc.opError("close", net.ErrClosed)
	}
	if hc.serverOwned.Load() {
		return hc.opError("close", errNotHijacked)
	}
	if err := executeRetrying(hc.c, closeWrite); err != nil {
		return hc.opError("close", err)
	}
	return nil
}

func closeWrite(c eddy.Conn) { c.CloseWrite() }

// LocalAddr returns the local address of the connection.
func (hc *hijackedConn) LocalAddr() net.Addr { return hc.local }

// RemoteAddr returns the client's address.
func (hc *hijackedConn) RemoteAddr() net.Addr { return hc.rem }

// SetDeadline sets the read and write deadlines.
func (hc *hijackedConn) SetDeadline(t time.Time) error {
	if err := hc.SetReadDeadline(t); err != nil {
		return err
	}
	return hc.SetWriteDeadline(t)
}

// SetReadDeadline sets when reads stop waiting and fail with os.ErrDeadlineExceeded; the zero time
// removes it. A read waiting in another goroutine looks at the new deadline.
func (hc *hijackedConn) SetReadDeadline(t time.Time) error {
	if hc.serverOwned.Load() {
		return hc.opError("set", errNotHijacked)
	}
	hc.rdl.set(t)
	return nil
}

// SetWriteDeadline sets when writes stop waiting for the client and fail with
// os.ErrDeadlineExceeded; the zero time removes it. The bytes of a Write that timed out may still
// be sent.
func (hc *hijackedConn) SetWriteDeadline(t time.Time) error {
	if hc.serverOwned.Load() {
		return hc.opError("set", errNotHijacked)
	}
	hc.wdl.set(t)
	return nil
}
