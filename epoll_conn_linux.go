package eddy

import (
	"net"
	"net/netip"
	"time"

	"golang.org/x/sys/unix"
)

// epConn is a connection on the epoll engine: the state and methods it shares with the uring engine's
// connections are in the embedded connCore (conncore_linux.go). Every field is owned by the loop goroutine.
//
// It is exactly 144 bytes, an allocator size class (a test holds the line): the engine's flags fill the
// word after fd and slot (eight of them, the word is full), connCore's fill its own first word, and the
// 32-byte peer address comes last. A flag moved into connCore, or one more here, would cost a padded word.
type epConn struct {
	l    *epLoop
	ln   *epListener
	fd   int32 // int32 with slot, so that epConn fits the 144-byte size class
	slot uint32

	writable     bool // the last write did not hit EAGAIN (or EPOLLOUT came since)
	dirty        bool // in l.dirty
	readPaused   bool // back-pressure: output above the high water mark
	held         bool // SetReadPaused(true): nothing is read until SetReadPaused(false)
	rereadQueued bool // in l.reread
	redeliver    bool // reading restarts with input buffered: offer it to OnData again (read)
	drain        bool // a short read is no proof of an empty socket (EPOLLRDHUP, EPOLLPRI): read to EAGAIN
	shutWr       bool // the sending side is shut down

	connCore
	raddr netip.AddrPort
}

// ---- the engine's side of connCore ----

// core returns the connCore that c embeds (loopConn).
func (c *epConn) core() *connCore { return &c.connCore }

// loopCore returns the loopCore of c's loop (loopConn).
func (c *epConn) loopCore() *loopCore { return &c.l.loopCore }

// socket returns the connection's descriptor (loopConn).
func (c *epConn) socket() int { return int(c.fd) }

// markDirty schedules c for a flush at the end of the iteration (loopConn; the hot path calls
// c.l.markDirty directly).
func (c *epConn) markDirty() { c.l.markDirty(c) }

// drainInput is beginClose's step on epoll: back-pressure ends; the edges that come are read, and the
// input dropped (loopConn).
func (c *epConn) drainInput() { c.readPaused, c.held = false, false }

// readsInput reports whether the loop reads the input as it comes (loopConn).
func (c *epConn) readsInput() bool { return !c.held && !c.readPaused && !c.peerEOF }

// cancelOps does nothing: nothing is in flight on an epoll socket, and release stops the timer, which
// therefore never fires on a released connection (loopConn).
func (c *epConn) cancelOps() {}

// ---- the Conn methods connCore does not provide ----

// Write queues a copy of b, sent at the end of the loop iteration (Conn.Write).
func (c *epConn) Write(b []byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	if out := c.tail(); out == &c.out {
		out.WriteStaged(c.l.stage, b) // flushed at the end of the iteration: see epLoop.stage
	} else {
		out.Write(b) // behind a file region, it may wait for many iterations
	}
	c.l.markDirty(c)
	return len(b), nil
}

// Writev queues copies of bs, in order (Conn.Writev).
func (c *epConn) Writev(bs [][]byte) (int, error) {
	if !c.writeOK() {
		return 0, ErrClosed
	}
	n := 0
	out := c.tail()
	for _, b := range bs {
		if out == &c.out {
			out.WriteStaged(c.l.stage, b)
		} else {
			out.Write(b)
		}
		n += len(b)
	}
	c.l.markDirty(c)
	return n, nil
}

// AsyncWrite queues b from any goroutine (Conn.AsyncWrite).
func (c *epConn) AsyncWrite(b []byte, cb func(Conn, error)) error { return asyncWrite(c, b, cb) }

// Flushed runs cb once the output queued so far reached the kernel (Conn.Flushed).
func (c *epConn) Flushed(cb func(Conn, error)) { flushed(c, cb) }

// Execute runs fn on the connection's loop (Conn.Execute).
func (c *epConn) Execute(fn func(Conn)) error { return execute(c, fn) }

// Close closes the connection gracefully, from any goroutine (Conn.Close).
func (c *epConn) Close() error { return c.close(c) }

// Abort closes the connection at once, with a reset (Conn.Abort).
func (c *epConn) Abort(reason error) { c.abortReq(c, reason) }

// CloseWrite shuts down the sending side once the output queued before it is sent (Conn.CloseWrite).
func (c *epConn) CloseWrite() error { return c.closeWrite(c) }

// SetIdleTimeout sets the idle timeout, 0 for none (Conn.SetIdleTimeout).
func (c *epConn) SetIdleTimeout(d time.Duration) error { return c.setIdleTimeout(c, d) }

// SetReadPaused stops or restarts reading (Conn.SetReadPaused). A paused connection's edges are
// consumed without reading, so the input (and the FIN) waits in the socket; a restart reads it again.
func (c *epConn) SetReadPaused(paused bool) {
	switch {
	case c.state != connOpen || c.closeReq.Load():
	case paused:
		c.held = true
	case c.held:
		c.held = false
		c.redeliver = c.redeliver || c.in.Len() > 0
		if !c.readPaused { // else the output's back-pressure restarts reading when it drains
			c.queueReread()
		}
	}
}

// ---- close ----

// finishClose runs once the output is flushed: it shuts down the sending side, calls OnClose and then
// releases the socket, or lets it linger until the peer's FIN (connCore.lingerOrRelease).
func (c *epConn) finishClose() {
	unix.Shutdown(int(c.fd), unix.SHUT_WR)
	c.shutWr = true
	if c.lingerOrRelease(c) {
		c.read() // the FIN may be here already
	}
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
	c.failAsync(c, ErrClosed)
	c.failFiles(c, nil)
	unix.Close(int(c.fd))
	c.l.unregister(c)
}

// ---- reading and flushing, on the loop ----

// read reads until the socket is drained (a short read or EAGAIN), calling OnData for each chunk, at most
// readsPerEvent times; a connection that still has input then waits for the next iteration, so one busy
// peer cannot starve the others.
func (c *epConn) read() {
	l := c.l
	if c.redeliver && c.state == connOpen && !c.held && !c.readPaused {
		// Reading restarts after a pause with input the handler left buffered: it is offered again
		// at once, as on the other engines, since the peer may send nothing more until it is answered.
		// Not after the peer's FIN: OnPeerClosed kept the connection for writing, and there is no more
		// OnData then (HalfCloseHandler), whatever a pause and restart after it left buffered.
		c.redeliver = false
		if !c.closeReq.Load() && !c.peerEOF && c.in.Len() > 0 {
			l.g.e.h.OnData(c)
			c.inCallbackDone()
		}
	}
	for i := 0; i < readsPerEvent; i++ {
		if c.state == connReleased {
			return
		}
		if c.state == connOpen {
			if c.closeReq.Load() || c.peerEOF || c.held { // closing, half-closed, or paused: nothing to read
				return
			}
			if c.queued() > int64(l.g.e.opts.highWater) {
				c.readPaused = true
				return
			}
		}
		n, err := rawRead(int(c.fd), l.readBuf)
		switch {
		case n > 0:
			if c.state != connOpen {
				if n < len(l.readBuf) && !c.drain {
					return
				}
				continue // closing or lingering: drop the input, wait for the FIN (no progress of a flush)
			}
			c.active(l.now)
			c.in.Add(&l.borrow, l.readBuf[:n])
			l.g.e.h.OnData(c)
			c.inCallbackDone()
			if n < len(l.readBuf) && !c.drain {
				// A short read from a stream socket means it is drained, and new data will raise a new
				// edge. Not always (c.drain): after EPOLLRDHUP no edge will come for the FIN, so then we
				// read on to EOF; and a read stops short at TCP urgent data (EPOLLPRI), however many
				// bytes follow it.
				return
			}
		case n == 0 && err == nil:
			c.onEOF(c)
			return
		case err == unix.EAGAIN:
			return
		case err == unix.EINTR:
			i--
		default:
			c.abort(c, opError("read", c.network(), c.RemoteAddr(), "read", err))
			return
		}
	}
	c.queueReread()
}

// sendFailed ends the connection after a send failed with err: what the peer sent before is read and
// offered to OnData first (connCore.readOn). The peer's reset is in by then, so the socket yields its
// queued input and then end of file; the reads are bounded all the same.
func (c *epConn) sendFailed(err error) {
	if !c.readOn(c, err) {
		return
	}
	// To the end of what the socket holds, not readsPerEvent reads: the rest was lost (found by a review
	// in session 18: a 4 KiB read buffer gave 64 KiB of the peer's last words). Bounded all the same, in
	// bytes: a send also fails with EPIPE after the handler's own CloseWrite, with the peer alive and
	// maybe sending as fast as this reads, and reading to EAGAIN then held the loop (CI, the same day).
	l := c.l
	for left := sendFailedReadOn; left > 0; {
		if _, ok := l.pendingAbort(&c.connCore); ok {
			resetOnClose(int(c.fd)) // Abort (made in an OnData here, say) ends the reading on at once
			break
		}
		n, rerr := rawRead(int(c.fd), l.readBuf[:min(len(l.readBuf), left)])
		if n <= 0 {
			if rerr == unix.EINTR {
				continue
			}
			break
		}
		left -= n
		c.in.Add(&l.borrow, l.readBuf[:n])
		l.g.e.h.OnData(c)
		c.inCallbackDone()
	}
	c.abort(c, err)
}

// sendFailedReadOn bounds what sendFailed reads of the input the peer sent before a send failed: more
// than a socket's receive queue holds by default (tcp_rmem's 6 MiB).
const sendFailedReadOn = 8 << 20

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
	if c.state == connOpen && c.closeReq.Load() {
		// An Abort (or a Close) waits in the task queue: an Abort drops the output not yet sent,
		// which a flush now would send first (the task of one made in an Execute or a timer runs only
		// in the next iteration). A Close's task marks the connection dirty again; a failed send
		// (readOn) has dropped the output already.
		return
	}
	for {
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
				c.sendFailed(opError("write", c.network(), c.RemoteAddr(), "sendmsg", err))
				return
			}
		}
		// A file region is out, or a piece of one was read into c.out (fileSend.read): now those bytes
		// (the ones written after the region), and the next region. A loop, not a recursion: a region read
		// in pieces would nest one flush per piece.
		if c.out.Len() > 0 || !c.writable || !c.sendFiles() {
			break
		}
	}
	if c.state == connReleased {
		return
	}
	if c.readPaused && c.queued() <= int64(l.g.e.opts.lowWater) {
		c.readPaused = false
		c.redeliver = c.redeliver || c.in.Len() > 0
		c.queueReread()
	}
	if c.hasOutput() {
		return
	}
	switch {
	case c.state == connClosing:
		c.finishClose()
	case c.wantShutWr && !c.shutWr:
		// A socket the peer has reset refuses the shutdown (ENOTCONN). That is no reason to drop
		// what the peer sent before its reset: the connection stays open for reading, as CloseWrite
		// promises, and the read reports the reset after that input (as on std, and as finishClose
		// ignores the same error).
		c.shutWr = true
		unix.Shutdown(int(c.fd), unix.SHUT_WR)
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
		return c.unixRemote(c.ln.peer)
	}
	return net.TCPAddrFromAddrPort(c.raddr)
}
