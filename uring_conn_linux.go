package eddy

import (
	"net"
	"net/netip"
	"time"
)

// urConn is a connection on the uring engine: the state and methods it shares with the epoll engine's
// connections are in the embedded connCore (conncore_linux.go). Every field is owned by the loop goroutine.
//
// It goes through the same states as an epoll connection (connOpen -> connClosing -> connLinger ->
// connReleased, or straight to connReleased on abort), with one more step at the end: connReleased means
// closed for the API (OnClose has run, calls return ErrClosed), but the descriptor and the slot are kept
// until the final CQE of every operation on the socket has been reaped. Release cancels the multishot recv
// and any send in flight (one ASYNC_CANCEL per operation, by its token: cancelOps) and finalize then closes the descriptor, drops
// the buffers and frees the slot. Until then the kernel may still write into a receive buffer for this
// socket or read the output chunks of a send, so neither the descriptor number nor that memory may be
// reused earlier.
//
// It is kept within 144 bytes (a malloc size class, as the epoll engine's epConn; a test holds the line),
// since every idle connection holds one: the peer's port is kept apart from its address so that it packs
// with the engine's flags in the word before connCore (whose own flags fill its first word), the timer is
// in connClock and the rarely used state (the close reason, AsyncWrite waits, dial state, SendFile's queue
// and pipe) in connExtra, each allocated when first needed.
type urConn struct {
	l    *urLoop
	ln   *urListener
	fd   int32
	slot uint32
	gen  uint32 // the slot's generation, in every token of this connection

	recv            uint8  // the multishot recv's state: urRecvArmed | urRecvCancel | urRecvWanted
	sending         bool   // a SEND/SENDMSG, or a SendFile splice step, is in flight; at most one per connection
	polling         bool   // a POLL_ADD is in flight: the one that ends a connect, or pollForRoom's after a send's EAGAIN
	dirty           bool   // in l.dirty
	redeliverQueued bool   // in l.redeliver
	readPaused      uint8  // why reading is paused: pausedOut | pausedHeld, 0 when reading
	shutWr          bool   // the sending side is shut down
	readingOn       bool   // a send failed: input is still delivered until it ends (connCore.readOn)
	epoch           uint8  // the loop's epoch of this connection's last receive (urLoop.waitWant)
	rport           uint16 // the peer's port

	connCore
	raddr netip.Addr // the peer's address (invalid for a Unix socket)
}

// setRemote records the peer's address. Loop only, before the connection is published.
func (c *urConn) setRemote(ap netip.AddrPort) { c.raddr, c.rport = ap.Addr(), ap.Port() }

// remote returns the peer's address recorded by setRemote.
func (c *urConn) remote() netip.AddrPort { return netip.AddrPortFrom(c.raddr, c.rport) }

// ---- the engine's side of connCore ----

// core returns the connCore that c embeds (loopConn).
func (c *urConn) core() *connCore { return &c.connCore }

// loopCore returns the loopCore of c's loop (loopConn).
func (c *urConn) loopCore() *loopCore { return &c.l.loopCore }

// markDirty schedules c for a flush at the end of the iteration (loopConn).
func (c *urConn) markDirty() { c.l.markDirty(c) }

// socket returns the connection's descriptor (loopConn).
func (c *urConn) socket() int { return int(c.fd) }

// drainInput is beginClose's step on uring: back-pressure ends, and the recv is armed again if it had
// stopped it, to drain the input (dropped) and watch for the peer's FIN (loopConn).
func (c *urConn) drainInput() {
	c.readPaused = 0
	if x := c.x.Load(); x != nil {
		x.end, x.endErr = endNone, nil // the recv re-armed here reports the end again
	}
	c.armRecv()
}

// readsInput reports whether the loop reads the input as it comes (loopConn).
func (c *urConn) readsInput() bool { return c.readPaused == 0 && !c.peerEOF }

// ---- the Conn methods connCore does not provide ----

// Write queues a copy of b, sent at the end of the loop iteration (Conn.Write).
func (c *urConn) Write(b []byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	c.tail().Write(b)
	c.l.markDirty(c)
	return len(b), nil
}

// Writev queues copies of bs, in order (Conn.Writev).
func (c *urConn) Writev(bs [][]byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	n := 0
	out := c.tail()
	for _, b := range bs {
		out.Write(b)
		n += len(b)
	}
	c.l.markDirty(c)
	return n, nil
}

// AsyncWrite queues b from any goroutine; cb runs on the loop once the bytes reached the kernel
// (Conn.AsyncWrite).
func (c *urConn) AsyncWrite(b []byte, cb func(Conn, error)) error { return asyncWrite(c, b, cb) }

// Flushed runs cb once the output queued so far reached the kernel (Conn.Flushed).
func (c *urConn) Flushed(cb func(Conn, error)) { flushed(c, cb) }

// Execute runs fn on the connection's loop (Conn.Execute).
func (c *urConn) Execute(fn func(Conn)) error { return execute(c, fn) }

// Close closes the connection gracefully; it is safe from any goroutine (Conn.Close).
func (c *urConn) Close() error { return c.close(c) }

// CloseWrite shuts down the sending side once the output queued before it is sent (Conn.CloseWrite).
func (c *urConn) CloseWrite() error { return c.closeWrite(c) }

// Abort closes the connection at once, with a reset (Conn.Abort).
func (c *urConn) Abort(reason error) { c.abortReq(c, reason) }

// SetIdleTimeout sets the idle timeout, 0 for none (Conn.SetIdleTimeout).
func (c *urConn) SetIdleTimeout(d time.Duration) error { return c.setIdleTimeout(c, d) }

// SetReadPaused stops or restarts reading (Conn.SetReadPaused): the multishot recv is cancelled, as
// for back-pressure, and re-armed when neither holds it.
func (c *urConn) SetReadPaused(paused bool) {
	switch {
	case c.state != connOpen || c.closeReq.Load():
	case paused:
		c.pause(pausedHeld)
	case c.readPaused&pausedHeld != 0:
		c.resume(pausedHeld)
	}
}

// ---- close ----

// finishClose runs once the output is flushed: it shuts down the sending side, calls OnClose and then
// releases the socket, or lets it linger until the peer's FIN (connCore.lingerOrRelease). The recv armed
// by beginClose drains the input meanwhile.
func (c *urConn) finishClose() {
	c.shutdownWrite()
	c.lingerOrRelease(c)
}

// ---- addresses ----

func (c *urConn) network() string { return c.ln.network }

// LocalAddr returns the local address.
func (c *urConn) LocalAddr() net.Addr {
	if x := c.x.Load(); x != nil && x.laddr.IsValid() {
		return net.TCPAddrFromAddrPort(x.laddr)
	}
	return c.ln.addr
}

// Loop returns the loop that serves the connection.
func (c *urConn) Loop() Loop { return c.l }

// RemoteAddr returns the peer's address.
func (c *urConn) RemoteAddr() net.Addr {
	if c.ln.network == "unix" {
		return c.unixRemote(c.ln.peer)
	}
	return net.TCPAddrFromAddrPort(c.remote())
}
