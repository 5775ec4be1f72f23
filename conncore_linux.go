package eddy

import (
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/buffer"
	"github.com/eddyio/eddy/internal/socket"
)

// Connection states. A connection moves only forward:
//
//	open -> closing -> lingering -> released
//	open | closing | lingering -> released (abort: an error, or a forced stop)
//
// closing: Close was asked for (or the peer sent EOF, or the idle timeout fired); inbound bytes are read and
// dropped, the output accepted before is flushed. When it is flushed the sending side is shut down and
// OnClose runs; if the peer has not closed its side yet the socket lingers, draining input, until the peer's
// FIN or lingerTimeout, so that closing with unread input does not turn our FIN into a RST that could destroy
// data the peer has not read yet. released: the descriptor is closed and the slot freed (on uring, once the
// last operation on the socket has completed; see urConn). A dialled connection starts in connConnecting
// (epoll_dial_linux.go).
const (
	connOpen uint8 = iota
	connClosing
	connLinger
	connReleased
)

// connCore is what the connections of the loop engines share: epoll's epConn and uring's urConn embed it,
// as their loops embed loopCore. It holds the state the Conn methods work on (the close state, the inbound
// and outbound buffers, the context, the timer and the rarely needed state) and the code that is the same
// on both engines: the inbound methods and the context, the output queue and its AsyncWrite accounting,
// AsyncWrite, Execute, Close, CloseWrite, SendFile's queueing and SetIdleTimeout, the close state machine
// (beginClose, lingerOrRelease, abort, notifyClose, onEOF) and the connection's timer. Each engine keeps
// its I/O: reading, flushing (finishClose included), release, and its addresses. Every field except
// closeReq is owned by the loop goroutine.
//
// Every idle connection carries a connCore, and both epConn and urConn must stay within the 144-byte size
// class, so it holds no pointer to its loop or to the connection that embeds it. The methods that need
// either take that connection as their first argument, conn (a loopConn, or a Conn where only the
// callbacks need it): through it they reach the loop's loopCore and the few steps each engine does its
// own way. Its small fields fill exactly one word (closeReq and four bytes), so that embedding it costs no
// padding; the engines keep their other flags next to their own descriptor and slot.
//
// The per-byte path makes no call through loopConn: Write and Writev stay in each engine, where they mark
// the connection dirty on their own loop directly, and the engines' reading and flushing call connCore's
// methods with plain arguments (active and wrote take the loop's clock, not the loop).
type connCore struct {
	closeReq   atomic.Bool // Close was called (from any goroutine); set before the loop acts on it
	state      uint8       // connOpen, connClosing, connLinger, connReleased (or connConnecting)
	wantShutWr bool        // CloseWrite: shut down the sending side once the output is flushed
	peerEOF    bool        // the peer's FIN was read
	notified   bool        // OnClose has run

	in  buffer.Inbound
	out buffer.Outbound // bytes up to the first file region; what follows it is in x.files
	ctx any
	tm  *connClock                // idle timeout and close deadlines; nil until one is needed
	x   atomic.Pointer[connExtra] // rarely needed state, allocated on first use
}

// loopConn is a loop engine's connection (*epConn, *urConn) as connCore's methods see it: the Conn that
// the handler's callbacks get, its connCore and its loop's loopCore, and the steps each engine does its own
// way. These are called only off the per-byte path (see connCore).
type loopConn interface {
	Conn
	core() *connCore     // the connCore it embeds
	loopCore() *loopCore // its loop's loopCore
	markDirty()          // schedule a flush at the end of the loop iteration
	drainInput()         // beginClose's engine step: back-pressure is off, input is read and dropped
	release()            // end the connection (after OnClose, or without one): close the socket, free the slot
	socket() int         // the socket's descriptor, valid until release
	cancelOps()          // the timer fired on a released connection: cancel what is still in flight (uring)
	readsInput() bool    // the engine reads input as it comes: not paused by the handler or by back-pressure
}

// connExtra holds what most connections never need, to keep an idle epConn or urConn small. It is
// allocated on the loop; the pointer is atomic because LocalAddr reads laddr from any goroutine (laddr is
// set before the connection is published and never changes).
type connExtra struct {
	laddr  netip.AddrPort // set only when the listener's address is a wildcard, or for a dialled socket
	rpath  string         // an accepted Unix connection's peer path, when its client bound one (notePeerPath)
	reason error          // the reason OnClose will report
	waits  asyncWaits     // AsyncWrite callbacks waiting for their bytes to reach the kernel
	dial   *dialState     // while connecting
	files  fileQueue      // SendFile regions not yet sent (epoll_sendfile_linux.go, uring_sendfile_linux.go)
	splice *urSplice      // uring: SendFile's pipe and splice state (uring_splice_linux.go); nil on epoll
	end    uint8          // uring: an end of input waiting for the delivery of the input before it (onRecv)
	endErr error          // the error of an endAbort
	// completing: wrote is running the callbacks of completed waits. A Flushed (or an empty
	// AsyncWrite) made meanwhile with nothing queued goes behind them, not ahead (flushed).
	completing bool
}

// extra returns c's connExtra, allocating it if needed. Loop only.
func (c *connCore) extra() *connExtra {
	x := c.x.Load()
	if x == nil {
		x = new(connExtra)
		c.x.Store(x)
	}
	return x
}

// queueFile is SendFile's common part on the loop engines (epoll, uring): it checks the region, takes the
// engine's reference to f and queues the region behind everything written so far. Loop only.
func (x *connExtra) queueFile(f *os.File, offset, n int64, cb func(Conn, error)) error {
	s, err := newFileSend(f, offset, n, cb)
	if err != nil {
		return err
	}
	x.files = append(x.files, s)
	return nil
}

// reason returns the close reason recorded by beginClose.
func (c *connCore) reason() error {
	if x := c.x.Load(); x != nil {
		return x.reason
	}
	return nil
}

// clock returns c's connClock, allocating it if needed; its timer runs connTimer for conn. Loop only.
func (c *connCore) clock(conn loopConn) *connClock {
	if c.tm == nil {
		c.tm = &connClock{lastActive: conn.loopCore().now}
		c.tm.timer.Init(connTimer, conn)
	}
	return c.tm
}

// active records read or write progress at now (the loop's wheel clock), which defers the idle timeout
// and the bound on a stuck flush.
func (c *connCore) active(now int64) {
	if c.tm != nil {
		c.tm.lastActive = now
	}
}

// ---- inbound ----

// Peek returns the next n buffered inbound bytes without consuming them (all of them when n <= 0).
func (c *connCore) Peek(n int) ([]byte, error) { return c.in.Peek(n) }

// Next returns and consumes the next n buffered inbound bytes.
func (c *connCore) Next(n int) ([]byte, error) { return c.in.Next(n) }

// Discard consumes up to n buffered inbound bytes (all when n < 0).
func (c *connCore) Discard(n int) (int, error) { return c.in.Discard(n), nil }

// Buffered returns the number of unconsumed inbound bytes.
func (c *connCore) Buffered() int { return c.in.Len() }

// ---- outbound ----

// writeOK reports whether the connection takes more output: it is open, and neither Close nor CloseWrite
// was called.
func (c *connCore) writeOK() bool {
	return c.state == connOpen && !c.wantShutWr && !c.closeReq.Load()
}

// tail returns the byte queue writes go to: c.out, or the queue behind the last file region.
func (c *connCore) tail() *buffer.Outbound {
	if x := c.x.Load(); x != nil {
		return x.files.tail(&c.out)
	}
	return &c.out
}

// queued returns the output bytes not yet handed to the kernel, file regions included (on uring, those
// waiting in the splice pipe too). It is an int64 on every platform: the AsyncWrite and Flushed waits
// count down from it, and a region past 2 GiB does not fit a 32-bit int (fileQueue.bytes).
func (c *connCore) queued() int64 {
	n := int64(c.out.Len())
	if x := c.x.Load(); x != nil && len(x.files) > 0 {
		n = addSat(n, x.files.bytes()) // a region may be math.MaxInt64 bytes long
		if x.splice != nil {
			n = addSat(n, int64(x.splice.inPipe))
		}
	}
	return n
}

// OutboundBuffered returns the output held (Conn.OutboundBuffered): what queued counts, until OnClose,
// from which on it is 0 as on std, whose writer has dropped what was left by then (notifyClose).
func (c *connCore) OutboundBuffered() int {
	if c.notified {
		return 0
	}
	return int(min(c.queued(), math.MaxInt))
}

// wrote accounts n bytes handed to the kernel at now (the loop's wheel clock) and runs the AsyncWrite
// callbacks they complete. It is on the flush path: conn is the engine's own pointer as a Conn, for the
// callbacks.
func (c *connCore) wrote(conn Conn, now int64, n int) {
	c.active(now)
	a := c.x.Load()
	if a == nil || a.waits.len() == 0 {
		return
	}
	if a.completing {
		// A flush made by a completion callback (none is today): its completions run here, ahead of
		// the rest of the running batch, rather than be lost.
		a.waits.advance(n)
		for w, ok := a.waits.next(); ok; w, ok = a.waits.next() {
			w.cb(conn, nil)
		}
		return
	}
	// advance first: a callback may write and add a wait. A callback's Flushed with nothing queued
	// is added (ahead 0) behind the waits still to run, and runs after them: run at once, it came
	// before callbacks registered ahead of it.
	a.completing = true
	for ; a.waits.advance(n) > 0; n = 0 {
		for w, ok := a.waits.next(); ok; w, ok = a.waits.next() {
			w.cb(conn, nil)
		}
	}
	a.completing = false
}

// completing reports whether wrote is running completed callbacks (connExtra.completing).
func (c *connCore) completing() bool {
	x := c.x.Load()
	return x != nil && x.completing
}

// failAsync runs the waiting AsyncWrite and Flushed callbacks with err (outputErr).
func (c *connCore) failAsync(conn Conn, err error) {
	a := c.x.Load()
	if a == nil {
		return
	}
	for _, w := range a.waits.take() {
		w.cb(conn, err)
	}
}

// failFiles drops the queued file regions, running their callbacks with err (ErrClosed when nil). A file
// that an in-flight splice reads (uring) stays open until its CQE.
func (c *connCore) failFiles(conn Conn, err error) {
	if x := c.x.Load(); x != nil {
		x.holdSplicedFile()
		x.files.fail(conn, err)
	}
}

// closeWrite shuts down the sending side once the output queued before it is sent (Conn.CloseWrite): the
// engine's flush does it when the output is out.
func (c *connCore) closeWrite(conn loopConn) error {
	if !c.writeOK() {
		return ErrClosed
	}
	c.wantShutWr = true
	conn.markDirty()
	return nil
}

// sendFile queues n bytes of f from offset behind the output written so far (Conn.SendFile). Each engine
// sends the region its own way (epoll_sendfile_linux.go, uring_sendfile_linux.go).
func (c *connCore) sendFile(conn loopConn, f *os.File, offset, n int64, cb func(Conn, error)) error {
	if !c.writeOK() {
		return ErrClosed
	}
	if err := c.extra().queueFile(f, offset, n, cb); err != nil {
		return err
	}
	conn.markDirty()
	return nil
}

// ---- from any goroutine: AsyncWrite, Execute, Close ----

// asyncWrite queues b for c's loop from any goroutine; cb runs on the loop once the bytes reached the
// kernel (Conn.AsyncWrite).
func asyncWrite[C loopConn](c C, b []byte, cb func(Conn, error)) error {
	if c.core().closeReq.Load() {
		return ErrClosed
	}
	// The bytes and the callback ride in the task itself, and arg holds c's pointer: no allocation.
	if err := c.loopCore().submit(task{fn: runAsyncWrite, arg: loopConn(c), b: b, cb: cb}); err != nil {
		return mapQueueErr(err)
	}
	return nil
}

// runAsyncWrite queues an AsyncWrite's bytes on the loop, or tells its callback that the connection takes
// no more output.
func runAsyncWrite(t *task) {
	conn := t.arg.(loopConn)
	c := conn.core()
	if !c.writeOK() {
		if t.cb != nil {
			t.cb(conn, ErrClosed)
		}
		return
	}
	c.tail().Write(t.b)
	conn.markDirty()
	if t.cb != nil {
		if q := c.queued(); q > 0 || c.completing() {
			c.extra().waits.add(q, t.cb)
		} else {
			t.cb(conn, nil) // no bytes, nothing ahead: nothing will complete it later
		}
	}
}

// flushed runs cb once the output queued so far reached the kernel (Conn.Flushed): the registration
// runAsyncWrite makes, with nothing to write.
func flushed[C loopConn](c C, cb func(Conn, error)) {
	if cb == nil {
		return
	}
	core := c.core()
	switch {
	case !core.writeOK():
		cb(c, ErrClosed)
	case core.queued() > 0 || core.completing():
		core.extra().waits.add(core.queued(), cb)
	default:
		cb(c, nil)
	}
}

// execute runs fn on c's loop (Conn.Execute). The function rides in the task: no allocation.
func execute[C loopConn](c C, fn func(Conn)) error {
	if fn == nil {
		return errNilExecute
	}
	if c.core().closeReq.Load() {
		return ErrClosed
	}
	return mapQueueErr(c.loopCore().submit(task{fn: runExecute, arg: loopConn(c), do: fn}))
}

// runExecute calls an Execute's function on the loop if the connection is still open.
func runExecute(t *task) {
	conn := t.arg.(loopConn)
	if c := conn.core(); c.state == connOpen {
		t.do(conn)
		c.in.Keep() // fn is a callback too: a chunk a Next slice held is released now
	}
}

// mapQueueErr reports a stopped loop as a closed connection.
func mapQueueErr(err error) error {
	if err == ErrEngineStopped {
		return ErrClosed
	}
	return err
}

// close closes the connection gracefully from any goroutine (Conn.Close): closeReq makes writes fail at
// once, and the loop starts the close (beginClose) in a task.
func (c *connCore) close(conn loopConn) error {
	if !c.closeReq.CompareAndSwap(false, true) {
		return ErrClosed
	}
	l := conn.loopCore()
	l.tasks.push(task{fn: closeTask, arg: conn}, true, l.wake) // a stopped loop has closed the connection itself
	return nil
}

// abortReq closes the connection at once (Conn.Abort), from any goroutine: the loop does it.
func (c *connCore) abortReq(conn loopConn, reason error) {
	if reason == nil {
		reason = ErrClosed
	}
	c.closeReq.Store(true)
	l := conn.loopCore()
	if l.inHook.Load() == c {
		l.hookAbort.Store(true) // engineClose leaves the close to the abort
	}
	l.noteAbort(c, reason) // what ends the connection before the task reports reason (notifyClose)
	if l.tasks.push(task{fn: abortTask, arg: &abortArgs{conn, reason}}, true, l.wake) != nil {
		l.dropAbort(c) // a stopped loop has closed it
	}
}

// abortArgs are abortTask's.
type abortArgs struct {
	conn   loopConn
	reason error
}

// abortTask resets and releases the connection that Abort asked for, on the loop.
func abortTask(t *task) {
	a := t.arg.(*abortArgs)
	c := a.conn.core()
	a.conn.loopCore().dropAbort(c)
	switch c.state {
	case connOpen, connClosing, connLinger:
		c.resetAbort(a.conn, a.reason)
	}
}

// resetAbort ends the connection at once with a reset (on TCP), so that the peer cannot take the
// output cut short for a whole one: Abort, and a flush given up on (connTimer).
func (c *connCore) resetAbort(conn loopConn, err error) {
	resetOnClose(conn.socket())
	c.abort(conn, err)
}

// closeTask starts, on the loop, the close that Close asked for.
func closeTask(t *task) {
	conn := t.arg.(loopConn)
	conn.core().beginClose(conn, nil)
}

// ---- the close state machine, on the loop ----

// beginClose starts a graceful close: no more OnData, input is read and dropped, the queued output is
// flushed, then the engine's finishClose runs. On a lingering connection it only ends the linger, when the
// loop is stopping.
func (c *connCore) beginClose(conn loopConn, reason error) {
	l := conn.loopCore()
	switch c.state {
	case connOpen:
		if _, ok := l.pendingAbort(c); ok {
			// An Abort's task is queued (Stop or an idle timeout came first): it ends the connection,
			// dropping the output that this close's flush would send.
			return
		}
	case connLinger:
		if l.stopping {
			conn.release()
		}
		return
	default:
		return
	}
	c.closeReq.Store(true)
	c.state = connClosing
	if reason != nil {
		c.extra().reason = reason
	}
	c.in.Reset()
	conn.drainInput()
	tm := c.clock(conn)
	tm.lastActive = l.now // the bound on a stuck flush counts from here
	l.wheel.Schedule(&tm.timer, l.now+flushLook(l.flushTimeout))
	conn.markDirty() // the flush finishes the close once the output is out
}

// engineClose starts a close the engine decided on by itself (an idle timeout, Stop): a ClosingHandler
// has its last word first (ClosingHandler), then the graceful close begins with reason, which a Close
// from OnClosing does not change (its task finds the close begun).
func (c *connCore) engineClose(conn loopConn, reason error) {
	if c.state == connOpen && c.closeReq.Load() && c.reason() == nil {
		// Close was called and its task, queued, has not run: that close is the handler's, and
		// OnClose reports nil, as std reports it and as connTimer and onEOF leave it (Stop's
		// beginStop runs at the top of an iteration, ahead of the tasks: a Close made by a timer or
		// by another goroutine just before Stop was reported as ErrEngineStopped;
		// TestStopDefersToQueuedClose). An Abort's task, queued too, still ends the connection
		// with its reason (beginClose).
		reason = nil
	}
	if c.state == connOpen && !c.closeReq.Load() {
		l := conn.loopCore()
		if ch, ok := l.h.(ClosingHandler); ok {
			l.hookAbort.Store(false)
			l.inHook.Store(c)
			ch.OnClosing(conn, reason)
			l.inHook.Store(nil)
			if l.hookAbort.Load() {
				return // Abort was called: its task, queued, resets the connection with its reason
			}
			if err := c.reason(); c.state == connOpen && err != nil {
				c.abort(conn, err) // a write of OnClosing's failed (readOn): the peer is gone
				return
			}
		}
	}
	c.beginClose(conn, reason)
}

// lingerOrRelease ends a graceful close once the output is flushed and the engine's finishClose has shut
// down the sending side: OnClose runs, then the connection is released if the peer has closed its side too
// (or the loop is stopping); otherwise it lingers, draining input, until the peer's FIN or lingerTimeout.
// It reports whether the connection lingers.
func (c *connCore) lingerOrRelease(conn loopConn) bool {
	c.notifyClose(conn, c.reason())
	l := conn.loopCore()
	if c.peerEOF || l.stopping {
		conn.release()
		return false
	}
	c.state = connLinger
	l.wheel.Schedule(&c.clock(conn).timer, l.now+int64(lingerTimeout))
	return true
}

// stopAbort ends the connection when a Stop runs out of time (ErrEngineStopped). One still closing has
// output the peer never got: it is reset, as for Abort, so that the peer cannot take what it read for the
// whole; one lingering for its peer's FIN sent everything, and closes as usual.
func (c *connCore) stopAbort(conn loopConn) {
	if c.state == connClosing {
		c.resetAbort(conn, ErrEngineStopped)
		return
	}
	c.abort(conn, ErrEngineStopped)
}

// abort closes the connection at once: pending output is dropped, OnClose runs with err.
func (c *connCore) abort(conn loopConn, err error) {
	if c.state == connReleased {
		return
	}
	c.notifyClose(conn, err)
	conn.release()
}

// readOn handles a send that failed on an open connection, the peer's reset as a rule. The bytes the peer
// sent before its reset may still be in the socket's receive queue (Linux returns queued input before it
// reports a reset), unread because they came in the same iteration or because back-pressure paused
// reading; the handler must get them, as a program on package net would with a Read after its Write
// failed. (An HTTP client meets this when a server answers "Connection: close" and closes with pipelined
// requests unread: the server's RST may come before the client has read the answer.) So the sending side
// is given up on: Write, AsyncWrite and Close fail from here, the output and its callbacks are dropped,
// and err is the reason OnClose will report. readOn reports whether the engine is to read on to the end of
// the input and then abort with c.reason(); when the connection is already closing, half-closed by the
// peer or asked to close, it aborts at once and reports false.
func (c *connCore) readOn(conn loopConn, err error) bool {
	if c.state != connOpen || c.peerEOF || c.closeReq.Load() {
		c.abort(conn, err)
		return false
	}
	c.closeReq.Store(true)
	c.extra().reason = err
	c.out.Reset()
	c.failAsync(conn, err)
	c.failFiles(conn, err)
	return true
}

// notifyClose runs OnClose with err, once; the AsyncWrite and SendFile callbacks still waiting learn of
// the close first.
func (c *connCore) notifyClose(conn loopConn, err error) {
	if c.notified {
		return
	}
	c.notified = true
	if r, ok := conn.loopCore().pendingAbort(c); ok {
		// Abort was called before, and its task has not run: whatever ended the connection first
		// (its graceful close finishing, the peer's reset), OnClose reports the Abort's reason.
		err = r
	}
	// From OnClose on, the connection takes no more output or tasks, whatever the path here
	// (an abort reaches it with the connection still open), and its input is gone: a graceful close
	// dropped it when it began, and an abort drops it here, so that OnClose sees the same (nothing)
	// whichever way the connection ended, as on std.
	c.closeReq.Store(true)
	c.in.Reset()
	// OnClose comes after the callbacks of the writes and files the close fails, and runs even when
	// one of those ends the loop's goroutine (runtime.Goexit): the loop then stops, and its stop
	// finds the connection notified already.
	defer conn.loopCore().h.OnClose(conn, err)
	c.failAsync(conn, outputErr(err))
	c.failFiles(conn, err)
}

// onEOF handles the peer's FIN: a HalfCloseHandler may keep the connection open for writing; otherwise it
// closes, or a lingering one is released. A half-closed uring connection arms no more receives (see
// armRecv).
func (c *connCore) onEOF(conn loopConn) {
	c.peerEOF = true
	switch c.state {
	case connOpen:
		if c.closeReq.Load() {
			// Close or Abort was called, and its task, queued, ends the connection (a Close's with a nil
			// reason, a close the handler asked for); the FIN only lets the close release it at once. It
			// is not acted on here: a FIN reaped in the iteration before the task ran made uring call
			// OnPeerClosed after Close had returned, and close with io.EOF (found by the model test of
			// session 28, TestConnModel; TestCloseThenPeerFIN). epoll reads nothing once Close was called.
			return
		}
		if hc, ok := conn.loopCore().h.(HalfCloseHandler); ok {
			if hc.OnPeerClosed(conn) {
				return // half-closed: open for writing until the handler closes it
			}
			if c.closeReq.Load() {
				// OnPeerClosed closed (or aborted) the connection itself before it returned false: that
				// close is the handler's, and its task, queued, ends the connection with its own reason
				// (nil for a Close), as std reports it and as above. Beginning the engine's close here
				// reported io.EOF (session 31, TestCloseInOnPeerClosedReportsNil).
				return
			}
		}
		c.beginClose(conn, io.EOF)
	case connLinger:
		conn.release()
	}
}

// ---- the timer ----

// connTimer is the connection's one timer (its argument is the connection, a loopConn): the idle timeout
// while open, the bound on a stuck flush while closing, the linger deadline after that, and once released
// (uring) a retry of the cancellation should an operation outlive it.
func connTimer(arg any) {
	conn := arg.(loopConn)
	c, l := conn.core(), conn.loopCore()
	tm := c.tm
	now := l.clock()
	switch c.state {
	case connOpen:
		if c.closeReq.Load() {
			if c.reason() != nil { // reading on after a failed send (readOn): its bound
				if deadline := tm.lastActive + int64(lingerTimeout); deadline > now {
					l.wheel.Schedule(&tm.timer, deadline)
					return
				}
				c.abort(conn, c.reason())
			}
			// Otherwise Close or Abort was called and its task, queued, ends the connection, with its
			// own reason (nil for a Close), as in onEOF and as std's idle check does: an idle timeout
			// due in the same pass of the timers (Close called by an earlier timer of the pass, or by
			// another goroutine after the iteration's tasks ran) closed it with ErrIdleTimeout ahead of
			// the task, although Close had returned nil (TestIdleTimeoutDefersToQueuedClose).
			return
		}
		if tm.idleTimeout <= 0 {
			return
		}
		if deadline := after(tm.lastActive, tm.idleTimeout); deadline > now {
			l.wheel.Schedule(&tm.timer, deadline)
			return
		}
		if conn.readsInput() && inputQueued(conn.socket()) {
			// The peer's input waits in the socket, and the engine reads it next: the iteration took no
			// more than one wait returns (epoll_wait's maxEvents events; on uring, a recv that ran out of
			// provided buffers is armed again later), so a loop held up past the timeout (a slow
			// callback, a paused VM) closed the connections beyond as idle with their input unread.
			// As std's reader answers its idle check, input the socket holds is activity
			// (TestIdleTimeoutSparesUnreadInput).
			tm.lastActive = now
			l.wheel.Schedule(&tm.timer, after(now, tm.idleTimeout))
			return
		}
		c.engineClose(conn, ErrIdleTimeout)
	case connClosing:
		if l.forced { // a send that a forced stop waits for (stopAfterSend) is late (not stopRq: see loopCore.forced)
			c.stopAbort(conn)
			return
		}
		if deadline := tm.lastActive + flushLook(l.flushTimeout); deadline > now {
			l.wheel.Schedule(&tm.timer, deadline)
			return
		}
		// Nothing was written for a while: a peer reading slowly, or one reading nothing?
		q, ok := sendQueued(conn.socket())
		if next, reading := tm.flush.check(q, ok, tm.lastActive, now, l.flushTimeout); next != 0 {
			if reading {
				tm.lastActive = now
			}
			l.wheel.Schedule(&tm.timer, next)
			return
		}
		// The peer reads nothing: give up on the rest of the output.
		err := c.reason()
		if err == nil {
			err = ErrFlushTimeout
		}
		c.resetAbort(conn, err)
	case connLinger:
		conn.release()
	case connReleased:
		conn.cancelOps()
	}
}

// setIdleTimeout sets the idle timeout, 0 for none (Conn.SetIdleTimeout).
func (c *connCore) setIdleTimeout(conn loopConn, d time.Duration) error {
	if c.state != connOpen || c.closeReq.Load() { // a Close earlier in this callback: as on std
		return ErrClosed
	}
	if d < 0 {
		d = 0
	}
	l := conn.loopCore()
	if d == 0 {
		if c.tm != nil {
			c.tm.idleTimeout = 0
			l.wheel.Stop(&c.tm.timer)
		}
		return nil
	}
	tm := c.clock(conn)
	tm.idleTimeout = d
	l.wheel.Schedule(&tm.timer, after(l.clock(), d))
	return nil
}

// ---- context ----

// Context returns the value set by SetContext.
func (c *connCore) Context() any { return c.ctx }

// SetContext attaches v to the connection.
func (c *connCore) SetContext(v any) { c.ctx = v }

// inputQueued reports whether fd's receive queue holds input not read yet (SIOCINQ).
func inputQueued(fd int) bool {
	n, err := unix.IoctlGetInt(fd, unix.SIOCINQ)
	return err == nil && n > 0
}

// sendQueued returns the bytes in fd's send queue, sent or not, that the peer has not acknowledged
// (SIOCOUTQ), and whether the socket could tell.
func sendQueued(fd int) (int, bool) {
	n, err := unix.IoctlGetInt(fd, unix.SIOCOUTQ)
	return n, err == nil
}

// resetOnClose makes the close of fd reset a TCP connection (SO_LINGER with a zero timeout) instead of
// sending the rest of its send queue and a FIN. Errors are ignored: a Unix socket has no reset.
func resetOnClose(fd int) {
	unix.SetsockoptLinger(fd, unix.SOL_SOCKET, unix.SO_LINGER, &unix.Linger{Onoff: 1, Linger: 0})
}

// notePeerPath records the path of an accepted Unix connection's peer, when its client bound its socket
// to one before connecting (getpeername(2); package net reports it too). Loop only.
func (c *connCore) notePeerPath(fd int) {
	if p := socket.PeerUnixPath(fd); p != "" {
		c.extra().rpath = p
	}
}

// unixRemote is RemoteAddr for a Unix connection: the peer path noted at its accept, or unixPeer's.
func (c *connCore) unixRemote(peer *net.UnixAddr) net.Addr {
	if x := c.x.Load(); x != nil && x.rpath != "" {
		return &net.UnixAddr{Name: x.rpath, Net: "unix"}
	}
	return unixPeer(peer)
}
