package eddy

import (
	"io"
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
// and any send in flight (one ASYNC_CANCEL by descriptor) and finalize then closes the descriptor, drops
// the buffers and frees the slot. Until then the kernel may still write into a receive buffer for this
// socket or read the output chunks of a send, so neither the descriptor number nor that memory may be
// reused earlier.
//
// It is kept within 144 bytes (a malloc size class, as the epoll engine's epConn; a test holds the line),
// since every idle connection holds one: the peer's port is kept apart from its address so that it packs
// with the flags, the timer is in connClock and the rarely used state (the close reason, AsyncWrite waits,
// dial state, SendFile's queue and pipe) in connExtra, each allocated when first needed.
type urConn struct {
	l    *urLoop
	ln   *urListener
	fd   int32
	slot uint32
	gen  uint32 // the slot's generation, in every token of this connection

	recvArmed       bool   // a multishot recv is in flight (its final CQE, without F_MORE, not reaped yet)
	recvCancel      bool   // an ASYNC_CANCEL of that recv was submitted (back-pressure)
	sending         bool   // a SEND/SENDMSG, or a SendFile splice step, is in flight; at most one per connection
	polling         bool   // the POLL_ADD that ends a connect is in flight
	dirty           bool   // in l.dirty
	redeliverQueued bool   // in l.redeliver
	readPaused      bool   // back-pressure: output above the high water mark
	shutWr          bool   // the sending side is shut down
	rport           uint16 // the peer's port

	connCore
	raddr netip.Addr // the peer's address (invalid for a Unix socket)
}

// clock returns c's connClock, allocating it if needed. Loop only.
func (c *urConn) clock() *connClock {
	if c.tm == nil {
		c.tm = &connClock{lastActive: c.l.now}
		c.tm.timer.Init(urConnTimer, c)
	}
	return c.tm
}

// setRemote records the peer's address. Loop only, before the connection is published.
func (c *urConn) setRemote(ap netip.AddrPort) { c.raddr, c.rport = ap.Addr(), ap.Port() }

// remote returns the peer's address recorded by setRemote.
func (c *urConn) remote() netip.AddrPort { return netip.AddrPortFrom(c.raddr, c.rport) }

// ---- outbound ----

// Write queues a copy of b, sent at the end of the loop iteration.
func (c *urConn) Write(b []byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	c.tail().Write(b)
	c.l.markDirty(c)
	return len(b), nil
}

// Writev queues copies of bs, in order.
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

type urAsyncReq struct {
	c  *urConn
	b  []byte
	cb func(Conn, error)
}

// AsyncWrite queues b from any goroutine; cb runs on the loop once the bytes reached the kernel.
func (c *urConn) AsyncWrite(b []byte, cb func(Conn, error)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	if err := c.l.submit(urAsyncWriteTask, &urAsyncReq{c, b, cb}); err != nil {
		return mapQueueErr(err)
	}
	return nil
}

func urAsyncWriteTask(arg any) {
	r := arg.(*urAsyncReq)
	c := r.c
	if !c.writeOK() {
		if r.cb != nil {
			r.cb(c, ErrClosed)
		}
		return
	}
	c.tail().Write(r.b)
	c.l.markDirty(c)
	if r.cb != nil {
		x := c.extra()
		x.waits.add(c.queued(), r.cb)
	}
}

type urExecReq struct {
	c  *urConn
	fn func(Conn)
}

// Execute runs fn on the connection's loop.
func (c *urConn) Execute(fn func(Conn)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	return mapQueueErr(c.l.submit(urExecTask, &urExecReq{c, fn}))
}

func urExecTask(arg any) {
	r := arg.(*urExecReq)
	if r.c.state == connOpen {
		r.fn(r.c)
	}
}

// ---- close ----

// Close closes the connection gracefully; it is safe from any goroutine.
func (c *urConn) Close() error {
	if !c.closeReq.CompareAndSwap(false, true) {
		return ErrClosed
	}
	c.l.tasks.push(task{urCloseTask, c}, true, c.l.wake) // a stopped loop closes the connection itself
	return nil
}

func urCloseTask(arg any) { arg.(*urConn).beginClose(nil) }

// CloseWrite shuts down the sending side once the output queued before it is sent.
func (c *urConn) CloseWrite() error {
	if !c.writeOK() {
		return ErrClosed
	}
	c.wantShutWr = true
	c.l.markDirty(c)
	return nil
}

// beginClose starts a graceful close: no more OnData, input is drained and dropped, the queued output is
// flushed, then finishClose runs.
func (c *urConn) beginClose(reason error) {
	switch c.state {
	case connOpen:
	case connLinger:
		if c.l.stopping {
			c.release()
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
	c.readPaused = false
	c.armRecv() // if back-pressure had stopped it: drain the input and watch for the peer's FIN
	tm := c.clock()
	tm.lastActive = c.l.now // the bound on a stuck flush counts from here
	c.l.wheel.Schedule(&tm.timer, c.l.now+int64(lingerTimeout))
	c.l.markDirty(c) // the flush finishes the close once the output is out
}

// finishClose runs once the output is flushed: it shuts down the sending side, calls OnClose and then
// releases the socket, or lets it linger until the peer's FIN.
func (c *urConn) finishClose() {
	c.shutdownWrite()
	c.notifyClose(c.reason())
	if c.peerEOF || c.l.stopping {
		c.release()
		return
	}
	c.state = connLinger
	c.l.wheel.Schedule(&c.clock().timer, c.l.now+int64(lingerTimeout))
}

// abort closes the connection at once: pending output is dropped.
func (c *urConn) abort(err error) {
	if c.state == connReleased {
		return
	}
	c.notifyClose(err)
	c.release()
}

func (c *urConn) notifyClose(err error) {
	if c.notified {
		return
	}
	c.notified = true
	c.failAsync(c)
	c.failFiles(c, err)
	c.l.g.e.h.OnClose(c, err)
}

// onEOF handles the peer's FIN. A half-closed connection arms no more receives (see armRecv).
func (c *urConn) onEOF() {
	c.peerEOF = true
	switch c.state {
	case connOpen:
		if hc, ok := c.l.g.e.h.(HalfCloseHandler); ok && hc.OnPeerClosed(c) {
			return // half-closed: open for writing until the handler closes it
		}
		c.beginClose(io.EOF)
	case connLinger:
		c.release()
	}
}

// urConnTimer is the connection's one timer: the idle timeout while open, the bound on a stuck flush while
// closing, the linger deadline after that, and once released a retry of the cancellation should an
// operation outlive it.
func urConnTimer(arg any) {
	c := arg.(*urConn)
	tm := c.tm
	now := c.l.clock()
	switch c.state {
	case connOpen:
		if tm.idleTimeout <= 0 {
			return
		}
		if deadline := tm.lastActive + int64(tm.idleTimeout); deadline > now {
			c.l.wheel.Schedule(&tm.timer, deadline)
			return
		}
		c.beginClose(ErrIdleTimeout)
	case connClosing:
		if deadline := tm.lastActive + int64(lingerTimeout); deadline > now {
			c.l.wheel.Schedule(&tm.timer, deadline)
			return
		}
		c.abort(c.reason()) // the peer stopped reading: give up on the rest of the output
	case connLinger:
		c.release()
	case connReleased:
		c.cancelOps()
	}
}

// SetIdleTimeout sets the idle timeout (0: none).
func (c *urConn) SetIdleTimeout(d time.Duration) error {
	if c.state != connOpen {
		return ErrClosed
	}
	if d < 0 {
		d = 0
	}
	if d == 0 {
		if c.tm != nil {
			c.tm.idleTimeout = 0
			c.l.wheel.Stop(&c.tm.timer)
		}
		return nil
	}
	tm := c.clock()
	tm.idleTimeout = d
	c.l.wheel.Schedule(&tm.timer, c.l.clock()+int64(d))
	return nil
}

// ---- addresses and context ----

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
		return &net.UnixAddr{Net: "unix"}
	}
	return net.TCPAddrFromAddrPort(c.remote())
}
