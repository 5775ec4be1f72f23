package etls

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
)

const (
	// hsPauseBytes is how much input may wait for the handshake goroutine before the loop stops
	// reading (a client may send its first requests right behind its Finished); hsResumeBytes is
	// where reading resumes.
	hsPauseBytes  = 64 << 10
	hsResumeBytes = 16 << 10

	// bufSize is the size of the pooled plaintext buffers (a whole record fits), and minReadRoom the
	// free space the buffer has before each decryption.
	bufSize     = 16 << 10
	minReadRoom = 2 << 10
)

// bufPool holds plaintext buffers (and Writev's scratch) between uses: a connection holds one only
// while it has unread plaintext.
var bufPool = sync.Pool{New: func() any { return new([bufSize]byte) }}

type phase uint8

const (
	handshaking phase = iota // the handshake goroutine owns the TLS state
	established              // the loop owns it; the wrapped handler has the connection
	ended                    // the raw connection closed
)

// Conn is a TLS connection served through a Handler: an eddy.Conn whose inbound methods return
// plaintext and whose writes are encrypted. The wrapped handler gets it in every callback.
//
// The methods keep the eddy.Conn contract, with these differences:
//   - AsyncWrite, Execute and Close run on the connection's loop through the raw connection's
//     Execute, since records are encrypted on the loop in the order they are sent; their
//     callbacks run there too. As on the engines, a Close refuses the writes still queued (their
//     callbacks get ErrClosed): to send and then close from another goroutine, close in the last
//     AsyncWrite's callback.
//   - Close and CloseWrite send TLS's close_notify alert before the raw connection's FIN, and so do
//     the closes the engine starts by itself (an idle timeout, Engine.Stop).
//   - Abort resets the connection without a close_notify, so the peer cannot take the cut stream for
//     a whole one.
//   - The peer's close_notify ends the input as the peer's FIN does on a plain connection: OnData
//     gets what came before it, then OnPeerClosed (for an eddy.HalfCloseHandler) decides whether the
//     connection stays open for writing; otherwise it is closed and OnClose reports io.EOF. A FIN
//     without close_notify is reported the same way at a record boundary, as crypto/tls reports it;
//     a FIN inside a record closes the connection, and OnClose reports io.ErrUnexpectedEOF.
//   - A TLS error on the input (a forged record, an alert from the peer) closes the connection
//     gracefully (crypto/tls has queued the alert it answers with), and OnClose reports it.
//   - SendFile returns an error wrapping eddy.ErrUnsupported: the file's bytes would have to be
//     read into user space to be encrypted, which the caller can do as well as Conn can.
type Conn struct {
	raw eddy.Conn
	h   *Handler
	tc  *tls.Conn

	closeReq atomic.Bool // Close or Abort was called; writes fail from then on

	// Loop-only state.
	phase      phase
	onLoop     bool   // the handshake is over: pipe reads and writes on the loop
	rawEOF     bool   // the peer's FIN arrived: the pipe reports EOF once the input is used up
	fr         framer // the record framing of what crypto/tls was given
	tlsHolds   bool   // the last Read filled the buffer: crypto/tls may hold plaintext still
	leftover   []byte // input the handshake goroutine did not read, decrypted before the raw input
	in         []byte // plaintext; in[r:] is unread
	r          int
	pbuf       *[bufSize]byte // the pooled array under in, if it is one
	paused     bool           // SetReadPaused(true)
	inputDone  bool           // the peer's close_notify, FIN or a TLS error ended the input
	peerTold   bool           // the wrapped handler was told the peer closed (or the connection closes for it)
	keepOpen   bool           // its OnPeerClosed asked to keep writing
	wclosed    bool           // CloseWrite was called
	notified   bool           // close_notify is queued: what crypto/tls writes after it is dropped (pipe.Write)
	inCallback bool           // inside a callback of the wrapped handler
	queued     bool           // a pump is queued on the loop (SetReadPaused)
	redeliver  bool           // OnData is due for plaintext it has seen (the restart after a pause)
	reason     error
	userCtx    any

	// The idle timeout the wrapped handler set (SetIdleTimeout) counts its own traffic, plaintext read
	// or written: the raw connection's counts every byte, and bytes of a record that is never whole
	// would defer it for ever without the wrapped handler seeing any (onData shortens it then).
	idle     time.Duration // as the wrapped handler set it; 0 none
	rawIdle  time.Duration // the raw connection's now: idle, or what is left of it
	progress time.Time     // the wrapped handler's last traffic, while idle is set
	rawKept  int           // raw input left after the last pump (part of a record): more is new input
	// The output's progress, while idle is set: outAt is when the records of outWatchBytes more bytes
	// reached the kernel (watchOutput), outSince the bytes queued since the last watch.
	outAt    time.Time
	outSince int

	// AsyncWrite's requests on their way to the loop, a list that OnClose empties.
	amu    sync.Mutex
	asyncs asyncReq // sentinel of the list

	// The handshake: its bound, and the Dial waiting for it (nil for accepted connections).
	hsCtx    context.Context
	hsCancel context.CancelFunc
	dial     *dialReq

	// The handshake goroutine's input, fed by the loop.
	hsMu     sync.Mutex
	hsCond   sync.Cond
	hsBuf    []byte
	hsErr    error // the raw connection ended, or the handshake timed out
	hsPaused bool
	// hsHeld (loop-only) is whether the loop has stopped the raw connection's reading for the
	// handshake's input and not restarted it: the restart the handshake goroutine posts may come
	// after establish (post's retry on a full task queue queues it again, behind), which then
	// restarts reading itself.
	hsHeld bool
	hsOver atomic.Bool // the handshake failed: a Close of the pipe is OnHandshakeError's
	// OnHandshakeError closed the pipe: its reads and writes fail with ErrClosed from then on.
	pipeClosed atomic.Bool
	// The pipe's read deadline (pipe.SetReadDeadline), for code given it as a net.Conn (a
	// tls.RecordHeaderError in OnHandshakeError, ClientHelloInfo.Conn): its timer wakes the read.
	hsDeadline time.Time
	hsTimer    *time.Timer
	// The pipe's write deadline (pipe.SetWriteDeadline): it bounds a write of the handshake's
	// goroutine waiting for room in the loop's task queue.
	hsWDeadline time.Time
}

// asyncReq is an AsyncWrite on its way to the loop, linked in Conn.asyncs until it runs or the
// connection closes.
type asyncReq struct {
	b          []byte
	cb         func(eddy.Conn, error)
	prev, next *asyncReq
}

// track links a to the requests in flight.
func (c *Conn) track(a *asyncReq) {
	c.amu.Lock()
	if c.asyncs.next == nil {
		c.asyncs.next, c.asyncs.prev = &c.asyncs, &c.asyncs
	}
	a.prev, a.next = c.asyncs.prev, &c.asyncs
	a.prev.next, c.asyncs.prev = a, a
	c.amu.Unlock()
}

// untrack unlinks a, and reports whether it was linked (OnClose had not taken it).
func (c *Conn) untrack(a *asyncReq) bool {
	c.amu.Lock()
	defer c.amu.Unlock()
	if a.next == nil {
		return false
	}
	a.prev.next, a.next.prev = a.next, a.prev
	a.prev, a.next = nil, nil
	return true
}

// untrackAll unlinks and returns the requests in flight.
func (c *Conn) untrackAll() []*asyncReq {
	c.amu.Lock()
	defer c.amu.Unlock()
	var all []*asyncReq
	for a := c.asyncs.next; a != nil && a != &c.asyncs; {
		next := a.next
		a.prev, a.next = nil, nil
		all = append(all, a)
		a = next
	}
	c.asyncs.prev, c.asyncs.next = nil, nil
	return all
}

// post runs fn on the connection's loop, serialised with its callbacks, as the raw connection's
// Execute does, but is not refused for a full task queue: the work etls does for itself (the end of
// a handshake, a close) must not be lost. When the queue is full it tries again from a task of the
// loop, which the queue always takes (Loop.Execute), and then from the loop's timers (repost). It
// returns ErrClosed if the connection closed.
func (c *Conn) post(fn func(eddy.Conn)) error {
	err := c.raw.Execute(fn)
	if err == eddy.ErrQueueFull {
		c.raw.Loop().Execute(func() { c.repost(fn, 0) })
		return nil
	}
	return err
}

// Bounds of repost's wait between tries.
const (
	repostMinWait = 50 * time.Microsecond
	repostMaxWait = 10 * time.Millisecond
)

// repost tries fn again on the loop (post). On the epoll and uring engines the loop has taken the
// whole queue by the time this runs, and the try succeeds; on std a connection's queue is its own,
// and stays full until the callback that holds the connection returns, however long that takes: a
// try that finds it full waits a little longer each time (Loop.AfterFunc, never refused either),
// from repostMinWait up to repostMaxWait, rather than queueing itself again at once, which kept
// the loop's goroutine spinning all that time.
func (c *Conn) repost(fn func(eddy.Conn), wait time.Duration) {
	if c.raw.Execute(fn) != eddy.ErrQueueFull {
		return // queued, or the connection closed (ErrClosed): nothing left to do for it
	}
	wait = min(max(2*wait, repostMinWait), repostMaxWait)
	c.raw.Loop().AfterFunc(wait, func() { c.repost(fn, wait) })
}

// handshake runs on the connection's own goroutine, and hands the connection to the loop when done.
func (c *Conn) handshake() {
	defer c.setHandshakeReadDeadline(time.Time{}) // no timer outlives the goroutine
	err := c.tc.HandshakeContext(c.hsCtx)
	cut := err != nil && c.hsCtx.Err() != nil
	if cut {
		// Reset the connection before anything below closes it gracefully. crypto/tls closes the pipe
		// (pipe.Close, which resets it too) from a context.AfterFunc that HandshakeContext does not
		// wait for: that Close may have woken this goroutine and not reset the connection yet, or not
		// have run at all, and then take itself for OnHandshakeError's (hsOver) and close gracefully.
		err = c.interrupted()
		c.raw.Abort(err)
	}
	c.hsCancel()
	if err == nil {
		if c.post(c.establish) == nil {
			return
		}
		err = c.handshakeEnd() // closed meanwhile
	}
	herr := &HandshakeError{Addr: c.raw.RemoteAddr(), Err: err}
	if c.dial != nil {
		c.dial.p.Reject(herr) // before the close below, whose OnClose would reject it with less
	}
	// OnHandshakeError runs before the close, so that what it writes to a tls.RecordHeaderError's
	// Conn (the pipe) goes out: net/http's answer to plain HTTP on a TLS port.
	c.hsOver.Store(true)
	if f := c.h.OnHandshakeError; f != nil {
		f(c.raw, herr)
	}
	// Behind the alert crypto/tls queued, if any, and what OnHandshakeError wrote: a graceful close
	// sends them. After a cut the connection is reset already and this does nothing.
	c.post(closeRaw)
}

// interrupted is the reason the handshake's context ended: ErrHandshakeTimeout, or the error of the
// Dial's context.
func (c *Conn) interrupted() error {
	if cause := context.Cause(c.hsCtx); cause == ErrHandshakeTimeout {
		return cause
	}
	return c.hsCtx.Err()
}

func closeRaw(raw eddy.Conn) { raw.Close() }

// handshakeEnd is what ended the raw connection during the handshake.
func (c *Conn) handshakeEnd() error {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsErr != nil {
		return c.hsErr
	}
	return eddy.ErrClosed
}

// resumeHandshakeInput restarts reading once the handshake goroutine has taken most of its input.
func (c *Conn) resumeHandshakeInput(raw eddy.Conn) {
	c.hsMu.Lock()
	paused := c.hsPaused
	c.hsMu.Unlock()
	if !paused && c.phase == handshaking && c.hsHeld {
		c.hsHeld = false
		raw.SetReadPaused(false)
	}
}

// establish runs on the loop once the handshake has succeeded: the loop takes over the TLS state, and
// the wrapped handler gets the connection.
func (c *Conn) establish(raw eddy.Conn) {
	if c.phase != handshaking {
		return
	}
	if d := c.dial; d != nil && d.ctx.Err() != nil {
		// The Dial was cancelled (its ctx, or its future: the loser of a Race settled earlier on
		// this loop) once the handshake was over, which no context watches any more: the caller has
		// given up on the connection, which must not open for nobody. It fails as a handshake that
		// the cancellation cut, and closes (OnClose ends it without the wrapped handler).
		herr := &HandshakeError{Addr: raw.RemoteAddr(), Err: d.ctx.Err()}
		d.p.Reject(herr)
		c.hsOver.Store(true)
		if f := c.h.OnHandshakeError; f != nil {
			f(raw, herr)
		}
		raw.Close()
		return
	}
	c.hsMu.Lock()
	c.leftover, c.hsBuf = c.hsBuf, nil
	c.hsPaused = false
	c.hsMu.Unlock()
	c.onLoop = true
	c.phase = established
	if c.tc != nil { // nil only where a test drives the phases by hand
		c.fr.setVersion(c.tc.ConnectionState().Version)
	}
	if c.hsHeld {
		// Paused for the handshake's input and not restarted yet: hsPaused may have been cleared
		// already by the handshake goroutine, whose restart is still on its way (resumeHandshakeInput).
		c.hsHeld = false
		raw.SetReadPaused(false)
	}
	c.inCallback = true
	c.h.inner.OnOpen(c)
	c.inCallback = false
	if d := c.dial; d != nil {
		c.dial = nil
		if c.closeReq.Load() {
			d.p.Reject(eddy.ErrClosed) // OnOpen closed it
		} else {
			d.p.Resolve(c)
		}
	}
	c.pump()
}

// onData takes what arrived on the raw connection.
func (c *Conn) onData() {
	switch c.phase {
	case handshaking:
		b, _ := c.raw.Peek(0)
		c.hsMu.Lock()
		c.hsBuf = append(c.hsBuf, b...)
		if len(c.hsBuf) >= hsPauseBytes && !c.hsPaused {
			c.hsPaused = true
			c.hsHeld = true
			c.raw.SetReadPaused(true)
		}
		c.hsCond.Signal()
		c.hsMu.Unlock()
		c.raw.Discard(len(b))
	case established:
		arrived := c.raw.Buffered() > c.rawKept // not a redelivery of what was there (eddy.Conn.SetReadPaused)
		decrypted := c.pump()
		if arrived {
			c.idleAfterInput(decrypted)
		}
	}
}

// idleAfterInput keeps the idle timeout counting from the wrapped handler's last traffic once new raw
// input has arrived, which restarted the raw connection's timeout: plaintext restarts it too; input
// that gave none (part of a record, or a record without application data) must not, so the raw
// connection's timeout is cut to what is left of the wrapped handler's (and closes the connection at
// once if nothing is).
func (c *Conn) idleAfterInput(plaintext bool) {
	if c.idle <= 0 || c.phase != established || c.closeReq.Load() {
		return
	}
	if plaintext {
		c.idleProgress()
		return
	}
	last := c.progress
	if c.outAt.After(last) {
		last = c.outAt // the wrapped handler's output reaching the kernel is its traffic too
	}
	left := c.idle - time.Since(last)
	if left <= 0 {
		left = time.Nanosecond // due already: the engine's idle timeout closes it (with close_notify)
	}
	c.rawIdle = left
	c.raw.SetIdleTimeout(left)
}

// outWatchBytes is the granularity of watchOutput: about a record.
const outWatchBytes = 16 << 10

// watchOutput notes n bytes of records queued on the raw connection: once every outWatchBytes, a
// Flushed callback stamps the time they reach the kernel. A long download to a slow reader progresses
// long after the wrapped handler's Write, and idleAfterInput must not take it for idle.
func (c *Conn) watchOutput(n int) {
	if c.idle <= 0 {
		return
	}
	c.outSince += n
	if c.outSince < outWatchBytes {
		return
	}
	c.outSince = 0
	c.raw.Flushed(func(_ eddy.Conn, err error) {
		if err == nil {
			c.outAt = time.Now()
		}
	})
}

// idleProgress records traffic of the wrapped handler, which restarts its idle timeout.
func (c *Conn) idleProgress() {
	if c.idle <= 0 {
		return
	}
	c.progress = time.Now()
	if c.rawIdle != c.idle {
		c.rawIdle = c.idle
		c.raw.SetIdleTimeout(c.idle)
	}
}

// pump decrypts what the raw connection has buffered and gives the plaintext to the wrapped
// handler. It reports whether it decrypted any.
func (c *Conn) pump() (decrypted bool) {
	if c.phase != established || c.inCallback || c.paused {
		return false // while paused, input waits (in the raw connection, or as plaintext) for the restart
	}
	fresh := c.redeliver
	c.redeliver = false
	for !c.inputDone {
		if !c.tlsHolds && !c.rawEOF {
			if in, _ := c.raw.Peek(0); !c.fr.ready(c.leftover, in) {
				break // no whole record: a Read could only report errWouldBlock
			}
		}
		c.makeRoom()
		room := cap(c.in) - len(c.in)
		n, err := c.tc.Read(c.in[len(c.in):cap(c.in)])
		c.in = c.in[:len(c.in)+n]
		c.tlsHolds = n == room // crypto/tls may have more of the record's plaintext
		fresh = fresh || n > 0
		decrypted = decrypted || n > 0
		if err == nil {
			continue
		}
		if err != errWouldBlock {
			c.inputDone = true
			if err != io.EOF {
				c.reason = err
			}
		}
		break
	}
	if c.inputDone {
		c.raw.Discard(-1) // nothing after close_notify (or an error) counts: it is not kept either
	}
	if fresh {
		c.deliver()
	}
	// The end of the input is acted on once OnData has had what came before it, as a FIN is, and
	// not while reading is paused.
	if c.inputDone && c.phase == established && !c.paused && !c.closeReq.Load() {
		switch {
		case c.reason != nil && c.reason != io.EOF:
			c.closeOnLoop() // a TLS error: crypto/tls queued its alert, if it had one to send
		case !c.peerClosed():
			c.closeOnLoop()
		}
	}
	if c.Buffered() == 0 {
		c.release() // an idle connection holds no plaintext buffer
	}
	c.rawKept = c.raw.Buffered()
	return decrypted
}

// makeRoom makes sure the plaintext buffer has some room after its unread bytes: a record that does
// not fit is taken in parts (crypto/tls keeps the rest for the next Read).
func (c *Conn) makeRoom() {
	if cap(c.in)-len(c.in) >= minReadRoom {
		return
	}
	if c.in == nil {
		c.pbuf = bufPool.Get().(*[bufSize]byte)
		c.in, c.r = c.pbuf[:0], 0
		return
	}
	unread := len(c.in) - c.r
	if c.r > 0 && cap(c.in)-unread >= minReadRoom {
		c.in = c.in[:copy(c.in, c.in[c.r:])]
		c.r = 0
		return
	}
	b := make([]byte, unread, max(2*cap(c.in), unread+bufSize))
	copy(b, c.in[c.r:])
	c.release()
	c.in = b
}

// release lets go of the plaintext buffer, which goes back to the pool if it came from there.
func (c *Conn) release() {
	if c.pbuf != nil {
		bufPool.Put(c.pbuf)
		c.pbuf = nil
	}
	c.in, c.r = nil, 0
}

// deliver calls the wrapped handler's OnData if it has plaintext to read and wants it.
func (c *Conn) deliver() {
	if c.phase != established || c.paused || c.closeReq.Load() || c.Buffered() == 0 {
		return
	}
	c.inCallback = true
	c.h.inner.OnData(c)
	c.inCallback = false
}

// peerClosed tells the wrapped handler, once, that the peer closed, and reports whether it keeps the
// connection open for writing.
func (c *Conn) peerClosed() bool {
	if !c.peerTold {
		c.peerTold = true
		if hc, ok := c.h.inner.(eddy.HalfCloseHandler); ok && !c.closeReq.Load() {
			c.inCallback = true
			c.keepOpen = hc.OnPeerClosed(c)
			c.inCallback = false
		}
		if !c.keepOpen && c.reason == nil {
			c.reason = io.EOF
		}
	}
	return c.keepOpen
}

// onPeerClosed handles the raw connection's FIN: crypto/tls sees the end of its input (a close_notify
// may have come before it), and the wrapped handler hears of it as of a close_notify.
func (c *Conn) onPeerClosed() bool {
	c.rawEOF = true
	switch c.phase {
	case handshaking:
		// The handshake may still succeed with what arrived before the FIN (a client may send its
		// request and shut down its side at once): the connection stays open for the answer, and
		// the end of the input reaches the wrapped handler once it is established.
		c.endHandshakeInput(io.EOF)
		return true
	case established:
		c.pump() // takes the records before the FIN, and learns of the end
		switch {
		case c.paused:
			return true // acted on at the restart
		case c.reason != nil && c.reason != io.EOF:
			return false // closing already
		}
		keep := c.peerClosed()
		if !keep && c.closeReq.Load() {
			// A Close queued its closeOnLoop: run it now, since the raw connection starts closing
			// when this returns and would refuse the close_notify then.
			c.closeOnLoop()
		}
		return keep
	}
	return false
}

// endHandshakeInput wakes the handshake goroutine with the end of its input.
func (c *Conn) endHandshakeInput(err error) {
	c.hsMu.Lock()
	if c.hsErr == nil {
		c.hsErr = err
	}
	c.hsCond.Broadcast()
	c.hsMu.Unlock()
}

// onClose ends the connection: the handshake goroutine's input, or the wrapped handler's connection.
func (c *Conn) onClose(err error) {
	switch c.phase {
	case handshaking:
		c.phase = ended
		if err == nil {
			err = eddy.ErrClosed
		}
		c.endHandshakeInput(err)
		if c.dial != nil {
			// Its goroutine rejects it too, unless it had handed the connection to the loop.
			c.dial.p.Reject(&HandshakeError{Addr: c.raw.RemoteAddr(), Err: err})
		}
	case established:
		c.phase = ended
		c.closeReq.Store(true)
		if c.reason != nil && (err == nil || err == io.EOF) {
			err = c.reason
		}
		for _, a := range c.untrackAll() {
			if a.cb != nil {
				a.cb(c, eddy.ErrClosed)
			}
		}
		c.inCallback = true
		c.h.inner.OnClose(c, err)
		c.inCallback = false
		c.release()
		c.leftover = nil
	}
}

// onClosing has the wrapped handler's last word (ClosingHandler) and queues close_notify, for the
// close the engine begins when this returns (which then refuses writes, and skips a Close's queued
// closeOnLoop). A handshake in progress ends with the raw connection, as on any close.
func (c *Conn) onClosing(reason error) {
	if c.phase != established {
		return
	}
	if ch, ok := c.h.inner.(eddy.ClosingHandler); ok && !c.closeReq.Load() {
		c.inCallback = true
		ch.OnClosing(c, reason)
		c.inCallback = false
	}
	c.closeReq.Store(true)
	if !c.wclosed && (c.reason == nil || c.reason == io.EOF) {
		c.closeNotify() // an error means the output failed: the engine's close reports it
	}
}

// closeOnLoop sends close_notify and closes the raw connection gracefully.
func (c *Conn) closeOnLoop() {
	c.closeReq.Store(true)
	if c.phase != established {
		return
	}
	// close_notify marks a clean end: not after a TLS error, when the peer must not take what it
	// received for the whole stream.
	if !c.wclosed && (c.reason == nil || c.reason == io.EOF) {
		c.closeNotify() // an error means the output failed
	}
	c.wclosed = true
	c.raw.Close()
}

// closeNotify queues close_notify in the raw output. Nothing may follow it: crypto/tls still writes
// after it to answer a KeyUpdate that asks for one (RFC 8446 section 4.6.3 wants the answer before
// the next application data, which will not come), and pipe.Write drops that, since a write that
// failed (the raw connection shut down for writing) would keep crypto/tls from taking the peer's
// new key, and fail the input.
func (c *Conn) closeNotify() error {
	c.wclosed = true
	err := c.tc.CloseWrite()
	c.notified = true
	return err
}

// ---- eddy.Conn ----

// Peek returns the next n bytes of plaintext without consuming them, or all of them when n <= 0 (see
// eddy.Conn).
func (c *Conn) Peek(n int) ([]byte, error) {
	b := c.in[c.r:]
	if n <= 0 {
		return b, nil
	}
	if n > len(b) {
		return b, io.ErrShortBuffer
	}
	return b[:n:n], nil
}

// Next returns the next n bytes of plaintext and consumes them (see eddy.Conn). The slice is valid
// until the callback returns.
func (c *Conn) Next(n int) ([]byte, error) {
	b, err := c.Peek(n)
	c.r += len(b)
	return b, err
}

// Discard consumes up to n bytes of plaintext (all of them when n < 0) and returns how many.
func (c *Conn) Discard(n int) (int, error) {
	if left := len(c.in) - c.r; n < 0 || n > left {
		n = left
	}
	c.r += n
	return n, nil
}

// Buffered returns the number of plaintext bytes buffered and not yet consumed.
func (c *Conn) Buffered() int { return len(c.in) - c.r }

// Write encrypts b into records queued on the raw connection (see eddy.Conn.Write).
func (c *Conn) Write(b []byte) (int, error) {
	if c.closeReq.Load() || c.wclosed || c.phase != established {
		return 0, eddy.ErrClosed
	}
	if len(b) == 0 {
		return 0, nil
	}
	n, err := c.tc.Write(b)
	if n > 0 {
		c.idleProgress()
	}
	return n, c.writeErr(err)
}

// writeErr maps what crypto/tls returns for a raw output that failed to what eddy.Conn.Write does.
func (c *Conn) writeErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, eddy.ErrClosed) || c.closeReq.Load() {
		return eddy.ErrClosed
	}
	return err
}

// Writev encrypts the slices in order, small ones together, so that they share records: they are
// gathered in a scratch buffer of 16 KiB (a record's payload), encrypted each time it is full, and a slice of that
// size or more is encrypted on its own.
func (c *Conn) Writev(bs [][]byte) (int, error) {
	scratch := bufPool.Get().(*[bufSize]byte)
	defer bufPool.Put(scratch)
	buf := scratch[:0]
	written := 0
	for _, b := range bs {
		if len(buf) > 0 && len(buf)+len(b) > bufSize {
			n, err := c.Write(buf)
			written += n
			if err != nil {
				return written, err
			}
			buf = buf[:0]
		}
		if len(b) >= bufSize {
			n, err := c.Write(b)
			written += n
			if err != nil {
				return written, err
			}
			continue
		}
		buf = append(buf, b...)
	}
	if len(buf) > 0 {
		n, err := c.Write(buf)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// AsyncWrite queues b from any goroutine (see eddy.Conn.AsyncWrite): b is encrypted on the loop, in
// the order of the calls, and callback runs there once its records have been handed to the kernel.
func (c *Conn) AsyncWrite(b []byte, callback func(c eddy.Conn, err error)) error {
	if c.closeReq.Load() {
		return eddy.ErrClosed
	}
	a := &asyncReq{b: b, cb: callback}
	c.track(a) // before the task, which may run at once
	if err := c.raw.Execute(func(eddy.Conn) { c.runAsync(a) }); err != nil {
		if !c.untrack(a) {
			return nil // OnClose has taken it, and ran its callback
		}
		return err
	}
	return nil
}

// runAsync encrypts an AsyncWrite's bytes on the loop.
func (c *Conn) runAsync(a *asyncReq) {
	if !c.untrack(a) {
		return // OnClose took it
	}
	var err error
	if c.wclosed || c.phase != established || c.closeReq.Load() {
		err = eddy.ErrClosed // as on the engines: a Close before the task refuses what was queued
	} else if len(a.b) > 0 {
		var n int
		n, err = c.tc.Write(a.b)
		if n > 0 {
			c.idleProgress()
		}
		err = c.writeErr(err)
	}
	switch {
	case a.cb == nil:
	case err != nil:
		a.cb(c, err)
	default:
		cb := a.cb
		c.raw.Flushed(func(_ eddy.Conn, err error) { cb(c, err) }) // registered now, behind its records
	}
}

// Flushed runs callback on the loop once the records written so far have been handed to the kernel
// (see eddy.Conn.Flushed).
func (c *Conn) Flushed(callback func(c eddy.Conn, err error)) {
	if callback == nil {
		return
	}
	if c.closeReq.Load() || c.wclosed || c.phase != established {
		callback(c, eddy.ErrClosed)
		return
	}
	c.raw.Flushed(func(_ eddy.Conn, err error) { callback(c, err) })
}

// OutboundBuffered returns the bytes of the records the underlying connection has not handed to the
// kernel yet (see eddy.Conn.OutboundBuffered): what was written is encrypted at once.
func (c *Conn) OutboundBuffered() int { return c.raw.OutboundBuffered() }

// SendFile is not supported on a TLS connection: it returns an error wrapping eddy.ErrUnsupported
// (which matches errors.ErrUnsupported too).
func (c *Conn) SendFile(f *os.File, offset, n int64, callback func(c eddy.Conn, err error)) error {
	return fmt.Errorf("etls: SendFile on a TLS connection: %w", eddy.ErrUnsupported)
}

// Execute runs fn on the connection's loop (see eddy.Conn.Execute); fn gets this Conn.
func (c *Conn) Execute(fn func(c eddy.Conn)) error {
	if fn == nil {
		return c.raw.Execute(nil) // the engine's error for it
	}
	if c.closeReq.Load() {
		return eddy.ErrClosed
	}
	return c.raw.Execute(func(eddy.Conn) {
		if c.phase == established { // queued before a Close, it runs before the close, as on the engines
			c.inCallback = true
			fn(c)
			c.inCallback = false
		}
	})
}

// Close sends close_notify behind the output accepted before it and closes the connection
// gracefully (see eddy.Conn.Close). It is safe from any goroutine; the close runs on the loop.
func (c *Conn) Close() error {
	if c.closeReq.Swap(true) {
		return eddy.ErrClosed
	}
	if c.post(func(eddy.Conn) { c.closeOnLoop() }) != nil {
		c.raw.Close() // closing already
	}
	return nil
}

// Abort resets the connection at once, without close_notify (see eddy.Conn.Abort).
func (c *Conn) Abort(reason error) {
	c.closeReq.Store(true)
	c.raw.Abort(reason)
}

// CloseWrite sends close_notify and then shuts down the raw connection's sending side (see
// eddy.Conn.CloseWrite).
func (c *Conn) CloseWrite() error {
	if c.closeReq.Load() || c.wclosed || c.phase != established {
		return eddy.ErrClosed
	}
	if err := c.writeErr(c.closeNotify()); err != nil {
		return err
	}
	return c.raw.CloseWrite()
}

// SetIdleTimeout sets the idle timeout (see eddy.Conn.SetIdleTimeout). It counts the traffic the
// wrapped handler sees, plaintext read or written: bytes of a record that is not yet whole, or records
// without application data, do not defer it (a peer could otherwise hold the connection open for ever
// by trickling one record, a byte at a time, and never send a byte of plaintext).
func (c *Conn) SetIdleTimeout(d time.Duration) error {
	d = max(d, 0)
	c.idle, c.rawIdle = d, d
	if d > 0 {
		c.progress = time.Now()
	}
	return c.raw.SetIdleTimeout(d)
}

// SetReadPaused stops or restarts reading (see eddy.Conn.SetReadPaused). Plaintext decrypted before
// a pause stays buffered, and OnData gets it after the restart.
func (c *Conn) SetReadPaused(paused bool) {
	if c.phase != established || c.closeReq.Load() || c.paused == paused {
		return
	}
	c.paused = paused
	c.raw.SetReadPaused(paused)
	if !paused {
		// What was held (plaintext, records in the raw input, the end of the input) is taken up
		// in a task, outside the callback that restarted reading.
		c.redeliver = c.redeliver || c.Buffered() > 0
		if !c.queued {
			c.queued = true
			c.post(func(eddy.Conn) {
				c.queued = false
				c.pump()
			})
		}
	}
}

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.userCtx }

// SetContext attaches a value to the connection (the raw connection's context holds the Conn).
func (c *Conn) SetContext(v any) { c.userCtx = v }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// Loop returns the loop that serves the connection.
func (c *Conn) Loop() eddy.Loop { return c.raw.Loop() }

// ConnectionState returns the state of the TLS connection: version, cipher suite, negotiated
// protocol, peer certificates. It is safe from any goroutine.
func (c *Conn) ConnectionState() tls.ConnectionState { return c.tc.ConnectionState() }

// NetConn returns the raw eddy connection under the TLS layer. Writing to it or reading from it
// corrupts the TLS stream; it is there for its addresses, its loop and its idle timeout.
func (c *Conn) NetConn() eddy.Conn { return c.raw }

var _ eddy.Conn = (*Conn)(nil)
