package eddy

import (
	"io"
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// epConn is a connection on the epoll engine: the state and methods it shares with the uring engine's
// connections are in the embedded connCore (conncore_linux.go). Every field is owned by the loop goroutine.
type epConn struct {
	l    *epLoop
	ln   *epListener
	fd   int32 // int32 with slot, so that epConn fits the 144-byte size class
	slot uint32

	writable     bool // the last write did not hit EAGAIN (or EPOLLOUT came since)
	dirty        bool // in l.dirty
	readPaused   bool // back-pressure: output above the high water mark
	rereadQueued bool // in l.reread
	rdhup        bool // the peer's FIN was signalled (EPOLLRDHUP): read on to EOF, past short reads
	shutWr       bool // the sending side is shut down

	connCore
	raddr netip.AddrPort
}

// clock returns c's connClock, allocating it if needed. Loop only.
func (c *epConn) clock() *connClock {
	if c.tm == nil {
		c.tm = &connClock{lastActive: c.l.now}
		c.tm.timer.Init(connTimer, c)
	}
	return c.tm
}

// ---- outbound ----

func (c *epConn) Write(b []byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	c.tail().Write(b)
	c.l.markDirty(c)
	return len(b), nil
}

func (c *epConn) Writev(bs [][]byte) (int, error) {
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

type asyncReq struct {
	c  *epConn
	b  []byte
	cb func(Conn, error)
}

func (c *epConn) AsyncWrite(b []byte, cb func(Conn, error)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	if err := c.l.submit(asyncWriteTask, &asyncReq{c, b, cb}); err != nil {
		return mapQueueErr(err)
	}
	return nil
}

func asyncWriteTask(arg any) {
	r := arg.(*asyncReq)
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

type execReq struct {
	c  *epConn
	fn func(Conn)
}

func (c *epConn) Execute(fn func(Conn)) error {
	if c.closeReq.Load() {
		return ErrClosed
	}
	return mapQueueErr(c.l.submit(execTask, &execReq{c, fn}))
}

func execTask(arg any) {
	r := arg.(*execReq)
	if r.c.state == connOpen {
		r.fn(r.c)
	}
}

// ---- close ----

func (c *epConn) Close() error {
	if !c.closeReq.CompareAndSwap(false, true) {
		return ErrClosed
	}
	c.l.tasks.push(task{closeTask, c}, true, c.l.wake) // a stopped loop has closed the connection itself
	return nil
}

func closeTask(arg any) { arg.(*epConn).beginClose(nil) }

func (c *epConn) CloseWrite() error {
	if !c.writeOK() {
		return ErrClosed
	}
	c.wantShutWr = true
	c.l.markDirty(c)
	return nil
}

// beginClose starts a graceful close: no more OnData, the queued output is flushed, then finishClose runs.
func (c *epConn) beginClose(reason error) {
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
	tm := c.clock()
	tm.lastActive = c.l.now // the bound on a stuck flush counts from here
	c.l.wheel.Schedule(&tm.timer, c.l.now+int64(lingerTimeout))
	c.l.markDirty(c) // the flush finishes the close once the output is out
}

// finishClose runs once the output is flushed: it shuts down the sending side, calls OnClose and then
// releases the socket, or lets it linger until the peer's FIN.
func (c *epConn) finishClose() {
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
	c.shutWr = true
	c.notifyClose(c.reason())
	if c.peerEOF || c.l.stopping {
		c.release()
		return
	}
	c.state = connLinger
	c.l.wheel.Schedule(&c.clock().timer, c.l.now+int64(lingerTimeout))
	c.read() // the FIN may be here already
}

// abort closes the connection at once: pending output is dropped.
func (c *epConn) abort(err error) {
	if c.state == connReleased {
		return
	}
	c.notifyClose(err)
	c.release()
}

func (c *epConn) notifyClose(err error) {
	if c.notified {
		return
	}
	c.notified = true
	c.failAsync(c)
	c.failFiles(c, err)
	c.l.g.e.h.OnClose(c, err)
}

// release closes the descriptor and frees the slot. The descriptor is closed only here, after OnClose and
// after every operation on it, so a reused descriptor number can never receive this connection's events.
func (c *epConn) release() {
	if c.state == connReleased {
		return
	}
	c.state = connReleased
	c.closeReq.Store(true)
	if c.tm != nil {
		c.l.wheel.Stop(&c.tm.timer)
	}
	c.in.Reset()
	c.out.Reset()
	c.failAsync(c)
	c.failFiles(c, nil)
	unix.Close(int(c.fd))
	c.l.unregister(c)
}

// onEOF handles the peer's FIN.
func (c *epConn) onEOF() {
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

// connTimer is the connection's one timer: the idle timeout while open, the bound on a stuck flush while
// closing, the linger deadline after that.
func connTimer(arg any) {
	c := arg.(*epConn)
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
	}
}

func (c *epConn) SetIdleTimeout(d time.Duration) error {
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

// ---- reading and flushing, on the loop ----

// read reads until the socket is drained (a short read or EAGAIN), calling OnData for each chunk, at most
// readsPerEvent times; a connection that still has input then waits for the next iteration, so one busy
// peer cannot starve the others.
func (c *epConn) read() {
	l := c.l
	for i := 0; i < readsPerEvent; i++ {
		if c.state == connReleased {
			return
		}
		if c.state == connOpen {
			if c.closeReq.Load() || c.peerEOF { // closing, or half-closed: nothing more to read
				return
			}
			if c.queued() > l.g.e.opts.highWater {
				c.readPaused = true
				return
			}
		}
		n, err := rawRead(int(c.fd), l.readBuf)
		switch {
		case n > 0:
			c.active(l.now)
			if c.state != connOpen {
				if n < len(l.readBuf) && !c.rdhup {
					return
				}
				continue // closing or lingering: drop the input, wait for the FIN
			}
			c.in.Add(&l.borrow, l.readBuf[:n])
			l.g.e.h.OnData(c)
			c.inCallbackDone()
			if n < len(l.readBuf) && !c.rdhup {
				// A short read from a stream socket means it is drained, and new data will raise a new
				// edge. After EPOLLRDHUP no edge will come for the FIN, so then we read on to EOF.
				return
			}
		case n == 0 && err == nil:
			c.onEOF()
			return
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			i--
		default:
			c.abort(opError("read", c.network(), c.RemoteAddr(), "read", err))
			return
		}
	}
	c.queueReread()
}

// inCallbackDone runs after each callback: bytes left in the loop's read buffer are copied out.
func (c *epConn) inCallbackDone() { c.in.Keep() }

func (c *epConn) queueReread() {
	if !c.rereadQueued {
		c.rereadQueued = true
		c.l.reread = append(c.l.reread, c)
	}
}

// flush writes the queued output with one writev (sendmsg) per attempt, and the file regions between with sendfile,
// until it is all out or the socket is full, and advances the close state machine.
func (l *epLoop) flush(c *epConn) {
	if c.state == connReleased || c.state == connLinger {
		return
	}
	for c.out.Len() > 0 && c.writable {
		vecs := c.out.Vectors(l.vecs[:0], maxIovecs)
		n, err := writev(int(c.fd), vecs, l.iovecs)
		if n > 0 {
			c.out.Consume(n)
			c.wrote(c, l.now, n)
			if c.state == connReleased { // a callback closed it
				return
			}
		}
		switch err {
		case nil:
		case unix.EAGAIN:
			c.writable = false
		case unix.EINTR:
		default:
			c.abort(opError("write", c.network(), c.RemoteAddr(), "sendmsg", err))
			return
		}
	}
	if c.out.Len() == 0 && c.writable && c.sendFiles() {
		l.flush(c) // a file region is out: now the bytes written after it, and the next region
		return
	}
	if c.state == connReleased {
		return
	}
	if c.readPaused && c.queued() <= l.g.e.opts.lowWater {
		c.readPaused = false
		c.queueReread()
	}
	if c.hasOutput() {
		return
	}
	switch {
	case c.state == connClosing:
		c.finishClose()
	case c.wantShutWr && !c.shutWr:
		c.shutWr = true
		if err := unix.Shutdown(int(c.fd), unix.SHUT_WR); err != nil {
			c.abort(opError("shutdown", c.network(), c.RemoteAddr(), "shutdown", err))
		}
	}
}

// ---- addresses and context ----

func (c *epConn) network() string { return c.ln.network }

func (c *epConn) Loop() Loop { return c.l }

func (c *epConn) LocalAddr() net.Addr {
	if x := c.x.Load(); x != nil && x.laddr.IsValid() {
		return net.TCPAddrFromAddrPort(x.laddr)
	}
	return c.ln.addr
}

func (c *epConn) RemoteAddr() net.Addr {
	if c.ln.network == "unix" {
		return &net.UnixAddr{Net: "unix"}
	}
	return net.TCPAddrFromAddrPort(c.raddr)
}
