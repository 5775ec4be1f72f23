package eddy

import (
	"net/netip"
	"os"
	"sync/atomic"

	"github.com/eddyio/eddy/internal/buffer"
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
// and outbound buffers, the context, the timer and the rarely needed state), with the methods that need
// nothing of the engine. Every field except closeReq is owned by the loop goroutine.
//
// Every idle connection carries a connCore, and both epConn and urConn must stay within the 144-byte size
// class, so it holds no pointer to its loop or to the connection that embeds it: the methods that call
// back into the connection take it as an argument. Its small fields fill exactly one word (closeReq and
// four bytes), so that embedding it costs no padding; the engines keep their other flags next to their
// own descriptor and slot.
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

// connExtra holds what most connections never need, to keep an idle epConn or urConn small. It is
// allocated on the loop; the pointer is atomic because LocalAddr reads laddr from any goroutine (laddr is
// set before the connection is published and never changes).
type connExtra struct {
	laddr  netip.AddrPort // set only when the listener's address is a wildcard, or for a dialled socket
	reason error          // the reason OnClose will report
	waits  asyncWaits     // AsyncWrite callbacks waiting for their bytes to reach the kernel
	dial   *dialState     // while connecting
	files  fileQueue      // SendFile regions not yet sent (epoll_sendfile_linux.go, uring_sendfile_linux.go)
	splice *urSplice      // uring: SendFile's pipe and splice state (uring_splice_linux.go); nil on epoll
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
// waiting in the splice pipe too).
func (c *connCore) queued() int {
	n := c.out.Len()
	if x := c.x.Load(); x != nil && len(x.files) > 0 {
		n += x.files.bytes()
		if x.splice != nil {
			n += x.splice.inPipe
		}
	}
	return n
}

// wrote accounts n bytes handed to the kernel at now (the loop's wheel clock) and runs the AsyncWrite
// callbacks they complete, with conn, the connection that embeds c.
func (c *connCore) wrote(conn Conn, now int64, n int) {
	c.active(now)
	a := c.x.Load()
	if a == nil || len(a.waits) == 0 {
		return
	}
	for _, w := range a.waits.advance(n) { // advance first: a callback may write and add a wait
		w.cb(conn, nil)
	}
}

// failAsync runs the waiting AsyncWrite callbacks with conn (the connection that embeds c) and ErrClosed.
func (c *connCore) failAsync(conn Conn) {
	a := c.x.Load()
	if a == nil {
		return
	}
	for _, w := range a.waits.take() {
		w.cb(conn, ErrClosed)
	}
}

// failFiles drops the queued file regions, running their callbacks with conn (the connection that embeds
// c) and err (ErrClosed when nil). A file that an in-flight splice reads (uring) stays open until its CQE.
func (c *connCore) failFiles(conn Conn, err error) {
	if x := c.x.Load(); x != nil {
		x.holdSplicedFile()
		x.files.fail(conn, err)
	}
}

// mapQueueErr reports a stopped loop as a closed connection.
func mapQueueErr(err error) error {
	if err == ErrEngineStopped {
		return ErrClosed
	}
	return err
}

// ---- context ----

// Context returns the value set by SetContext.
func (c *connCore) Context() any { return c.ctx }

// SetContext attaches v to the connection.
func (c *connCore) SetContext(v any) { c.ctx = v }
