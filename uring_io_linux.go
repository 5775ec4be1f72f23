package eddy

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/raceio"
	"github.com/eddyio/eddy/internal/uring"
)

// I/O of a uring connection: the multishot recv into the loop's buffer ring, the one send in flight, and
// the cancellation that must complete before the descriptor is closed.

const (
	// urMaxSendVecs bounds the slices of one SENDMSG; the rest of the queue goes in the next send.
	// Outbound chunks hold up to 32 KiB each, so one send carries up to 2 MiB.
	urMaxSendVecs = 64
	// urCancelRetry is how long a released connection waits for the final CQEs of its cancelled
	// operations before it cancels again. Cancellation normally completes in the next io_uring_enter;
	// this only guards against an operation the kernel could not cancel at the first attempt (EALREADY).
	urCancelRetry = time.Second
)

// urSendMsg is the msghdr and iovec array of a SENDMSG in flight. The kernel reads both through
// addresses in the SQE, so they live in a heap object (which Go never moves) that the loop keeps in
// l.sendMsgs, by the connection's slot, until the send's CQE (its token says urOpSendmsg); the iovecs'
// Base pointers keep the output chunks visible to the GC. The loop recycles them through a free list.
// They are not a field of urConn because few connections ever have one in flight, and every idle
// connection would pay for the pointer.
type urSendMsg struct {
	hdr unix.Msghdr
	iov [urMaxSendVecs]unix.Iovec
}

func (l *urLoop) getMsg() *urSendMsg {
	if n := len(l.msgs); n > 0 {
		m := l.msgs[n-1]
		l.msgs = l.msgs[:n-1]
		return m
	}
	return new(urSendMsg)
}

func (l *urLoop) putMsg(m *urSendMsg) {
	clear(m.iov[:m.hdr.Iovlen])
	m.hdr = unix.Msghdr{}
	l.msgs = append(l.msgs, m)
}

// ---- receiving ----

// States of a connection's multishot recv (urConn.recv).
const (
	urRecvArmed  uint8 = 1 << iota // a recv is in flight (its final CQE, without F_MORE, not reaped yet)
	urRecvCancel                   // an ASYNC_CANCEL of that recv was submitted (a pause)
	urRecvWanted                   // in l.recvWant: armRecvs arms it just before the submission if still wanted
)

// recvInFlight reports whether a multishot recv is in flight on the socket.
func (c *urConn) recvInFlight() bool { return c.recv&urRecvArmed != 0 }

// armRecv asks for the connection's multishot recv, unless one is in flight or reading is not wanted
// (wantsRecv). The recv is not armed here but by the loop's armRecvs, just before the submission, if it
// is still wanted then: a pause made later in the iteration (in a task, a timer, a flush) would
// otherwise put its cancel in the same submission behind the recv, and the recv, which the kernel runs
// first, would take a read's worth past the pause that no OnData sees (a restart in a task and a pause in
// a timer; a pause in a task after the reap re-armed a recv; a restart and a pause in one callback).
// Only one recv is ever in flight on a socket: a new one is armed only after the final CQE of the
// previous one, so data cannot be delivered out of order.
func (c *urConn) armRecv() {
	if c.recv&urRecvWanted != 0 || !c.wantsRecv() {
		return
	}
	c.recv |= urRecvWanted
	c.l.recvWant = append(c.l.recvWant, c)
}

// wantsRecv reports whether a recv should be armed now: none is in flight, and reading is wanted (the
// peer has not closed, the connection is not released, no pause holds it, no end of input waits).
//
// Nor is it armed on an open connection while the input left in c.in waits for its redelivery
// (queueRedeliver): the handler may pause again when it sees that input, and a recv armed before would
// take up to a receive window past the pause, at each restart (a handler that restarts reading from an
// Execute'd function and takes less than a window per OnData saw the input pile up without bound, as
// epoll, which offers that input before it reads, never does). deliver has it armed afterwards.
func (c *urConn) wantsRecv() bool {
	if c.recv&urRecvArmed != 0 || c.peerEOF || c.state == connReleased || c.state == connOpen && c.readPaused != 0 || c.endPending() {
		return false
	}
	return c.state != connOpen || !c.redeliverQueued || c.readingOn
}

// submitRecv arms the recv that armRecv asked for, if it is still wanted (armRecvs).
func (c *urConn) submitRecv() {
	c.recv &^= urRecvWanted
	if !c.wantsRecv() { // paused, released, or waiting for a redelivery since armRecv
		return
	}
	sqe := c.l.getSQE()
	sqe.PrepRecvMultishot(int(c.fd), urRecvGroup, 0)
	if c.l.recvLimit != 0 {
		sqe.SetRecvLimit(c.l.recvLimit)
	}
	sqe.UserData = urToken(urOpRecv, c.slot, c.gen)
	c.recv |= urRecvArmed
}

// onRecv handles a CQE of the multishot recv. The data is in a provided buffer that goes back to the
// kernel as soon as OnData has returned (what the handler left is copied into c.in first). A CQE without
// F_MORE ends the recv: end of file (Res 0), the ring ran dry (ENOBUFS), our cancel (ECANCELED), data
// without F_MORE (the recv's byte limit, urLoop.recvLimit, or a CQ overflow) or a socket error; the recv
// is re-armed unless reading is over.
//
// The recv's end is recorded before OnData runs: a handler that ends the loop's goroutine there
// (runtime.Goexit) makes the loop drop the rest of this CQE's handling (reap), and a recv left marked
// in flight would have kept its connection from being finalized, and the loop from exiting, for ever.
func (c *urConn) onRecv(cqe *uring.CQE) {
	l := c.l
	more := cqe.More()
	if !more {
		c.recv &^= urRecvArmed | urRecvCancel
	}
	if b := l.recvData(cqe); b != nil {
		raceio.Acquire() // as a read on epoll (rawRead)
		l.countActive(c)
		c.received(b)
	}
	l.doneWithBuffer(cqe)
	if more {
		return
	}
	err := cqe.Err()
	var end uint8
	var endErr error
	switch {
	case c.state == connReleased:
		c.maybeFinalize()
		return
	case c.readingOn && (cqe.Res == 0 || err != nil && err != unix.ENOBUFS && err != unix.ECANCELED && err != unix.EINTR):
		end, endErr = endAbort, c.reason() // the input after a failed send has ended
	case cqe.Res == 0:
		end = endEOF
	case err == unix.ENOBUFS:
		l.stats.recvENOBUFS++
		if c.readPaused == 0 { // a paused connection's recv, being cancelled, is no sign of demand
			l.bufsRanDry()
		}
	case err == nil, err == unix.EINTR:
		// Data without F_MORE: the recv's limit or a CQ overflow. EINTR: a signal ended the wait (see
		// onSend). Nothing was lost.
		l.stats.recvRearm++
	case err == unix.ECANCELED:
	default:
		end, endErr = endAbort, opError("read", c.network(), c.RemoteAddr(), "recv", err)
	}
	if end == endNone {
		c.armRecv()
		return
	}
	// The input ended. Input that came before the end but has not been offered to OnData yet (held by
	// back-pressure or SetReadPaused, or waiting for its redelivery) is offered first, as on epoll,
	// where it waits in the socket before the FIN: the end waits for deliver. So does an end that
	// comes while the handler has paused reading.
	if c.state == connOpen && (c.readPaused&pausedHeld != 0 || c.in.Len() > 0 && (c.readPaused != 0 || c.redeliverQueued)) {
		x := c.extra()
		x.end, x.endErr = end, endErr
		return
	}
	c.endInput(end, endErr)
}

// Kinds of end of input (connExtra.end): the peer's FIN, or an error that aborts the connection.
const (
	endNone uint8 = iota
	endEOF
	endAbort
)

// endPending reports whether an end of input waits for the delivery of the input before it.
func (c *urConn) endPending() bool {
	x := c.x.Load()
	return x != nil && x.end != endNone
}

// endInput acts on the end of the input: the peer's FIN (onEOF), or an abort with err; a connection
// reading on after a failed send aborts with its reason either way.
//
// On an open connection whose Close or Abort was asked for, the end is not acted on: that close's task,
// queued, ends the connection, and reading stopped when Close was called (received drops what comes
// meanwhile), as on epoll, which reads nothing more once Close was called. A FIN only lets the close
// release the connection at once (onEOF). A reset met before the Close's task ran (reaped in the batch
// before it, or kept behind input the handler had paused at and closed on its redelivery) made OnClose
// report the recv's error after Close had returned nil, on a connection whose close lost nothing
// (TestCloseThenPeerReset, TestPausedInputThenPeerResetThenClose). The close's drain re-arms the recv,
// which reports the end again (end of file, after a reset), and a send that the reset fails reports the
// loss of output the close was sending.
func (c *urConn) endInput(end uint8, err error) {
	switch {
	case c.readingOn:
		c.abort(c, c.reason())
	case c.state == connOpen && c.closeReq.Load():
		if end == endEOF {
			c.peerEOF = true
		}
	case end == endEOF:
		c.onEOF(c)
	default:
		c.abort(c, err)
	}
}

// received hands b, bytes in a provided buffer, to the handler. While reading is paused (back-pressure,
// or SetReadPaused), it only appends them to c.in (the recv is being cancelled; these were received
// before the cancel took effect); they are offered to OnData when reading resumes.
func (c *urConn) received(b []byte) {
	if c.state != connOpen || c.closeReq.Load() && !c.readingOn || c.readingOn && c.abortPending() {
		return // closing, lingering or released: input is dropped (and is no progress of a flush)
	}
	c.active(c.l.now)
	switch {
	case c.readPaused != 0:
		c.in.Append(b)
		return
	case c.queued() > int64(c.l.g.e.opts.highWater):
		c.pause(pausedOut)
		c.in.Append(b)
		return
	}
	c.in.Add(&c.l.borrow, b)
	c.l.g.e.h.OnData(c)
	c.in.Keep() // before the buffer goes back to the kernel
}

// deliver offers the buffered input to OnData again once reading has resumed, then acts on an end of
// input that waited for it.
func (c *urConn) deliver() {
	if c.state != connOpen || c.closeReq.Load() && !c.readingOn || c.readPaused != 0 || c.readingOn && c.abortPending() {
		return
	}
	if c.in.Len() > 0 && !c.peerEOF { // after OnPeerClosed, no more OnData (HalfCloseHandler), as on epoll
		c.l.g.e.h.OnData(c)
		c.in.Keep()
	}
	if x := c.x.Load(); x != nil && x.end != endNone && c.state == connOpen && c.readPaused == 0 {
		end, err := x.end, x.endErr
		x.end, x.endErr = endNone, nil
		c.endInput(end, err)
	}
	if c.state == connOpen && c.readPaused == 0 {
		c.armRecv() // the recv that armRecv held back for this delivery
	}
}

// abortPending reports whether Abort was called and its task has not run yet: a connection reading on
// after a failed send offers no more input (Conn.Abort ends the reading on at once).
func (c *urConn) abortPending() bool {
	_, ok := c.l.pendingAbort(&c.connCore)
	return ok
}

// Reasons reading is paused (urConn.readPaused).
const (
	pausedOut  uint8 = 1 << iota // back-pressure: the output queue passed the high water mark
	pausedHeld                   // the handler called SetReadPaused(true)
)

// pause stops reading for why: the multishot recv is cancelled (it would keep receiving otherwise) and
// not re-armed until every reason is gone (resume).
func (c *urConn) pause(why uint8) {
	c.readPaused |= why
	if c.recv&(urRecvArmed|urRecvCancel) == urRecvArmed { // a recv only asked for (armRecv) is not armed
		sqe := c.l.getSQE()
		sqe.PrepCancel(urToken(urOpRecv, c.slot, c.gen), 0)
		sqe.UserData = urToken(urOpCancel, c.slot, c.gen)
		sqe.Flags |= uring.SQECQESkipSuccess
		c.recv |= urRecvCancel
	}
}

// resume lifts the pause for why (the output queue drained to the low water mark, or the handler
// resumed reading), and restarts reading when no other reason holds it.
func (c *urConn) resume(why uint8) {
	c.readPaused &^= why
	if c.readPaused != 0 {
		return
	}
	// The input left in c.in is offered first: armRecv does not ask for the recv while it waits for
	// its redelivery, and deliver asks afterwards. The recv asked for is armed just before the
	// submission, not here (armRecv): a handler that restarts reading and pauses it again in one
	// callback (http1 does, between pipelined requests) would otherwise put a recv and its cancel in
	// the same submission, and the recv, which the kernel runs first, would take a read's worth past
	// the pause each time.
	if c.in.Len() > 0 || c.endPending() {
		c.l.queueRedeliver(c)
	}
	c.armRecv()
}

// ---- sending ----

// flush runs at the end of an iteration for a connection that was written to, or whose send completed.
// It sends the queued output (one SEND or SENDMSG at a time), applies back-pressure, and advances the
// close state machine once everything is out.
func (c *urConn) flush() {
	if c.state == connReleased || c.state == connLinger || c.sending {
		return // a send in flight marks the connection dirty again when it completes
	}
	if c.state == connOpen && c.closeReq.Load() {
		return // an Abort or a Close waits in the task queue (see epLoop.flush)
	}
	if c.out.Len() == 0 {
		c.fillFromFiles()
		if c.state == connReleased {
			return
		}
	}
	o := &c.l.g.e.opts
	if c.readPaused&pausedOut != 0 && c.queued() <= int64(o.lowWater) {
		c.resume(pausedOut)
	}
	if c.sending { // a file region is being spliced
		return
	}
	if c.out.Len() > 0 {
		if c.state == connOpen && c.queued() > int64(o.highWater) {
			c.pause(pausedOut)
		}
		c.send()
		return
	}
	switch {
	case c.state == connClosing:
		c.finishClose()
	case c.wantShutWr && !c.shutWr:
		// A socket the peer has reset refuses the shutdown (ENOTCONN): the recv reports the reset,
		// after the input that came before it (see epLoop.flush).
		c.shutdownWrite()
	}
}

// send submits the head of the output queue: a SEND for one slice, a SENDMSG for several. The queue is
// consumed only at the CQE, so the chunks stay referenced (and unmodified: writes only append after
// them) for as long as the kernel may read them.
func (c *urConn) send() {
	l := c.l
	vecs := c.out.Vectors(l.vecs[:0], urMaxSendVecs)
	sqe := l.getSQE()
	op := uint8(urOpSend)
	if len(vecs) == 1 {
		sqe.PrepSend(int(c.fd), vecs[0], unix.MSG_NOSIGNAL)
	} else {
		m := l.getMsg()
		for i, b := range vecs {
			m.iov[i].Base = &b[0]
			m.iov[i].SetLen(len(b))
		}
		m.hdr.Iov = &m.iov[0]
		m.hdr.SetIovlen(len(vecs))
		sqe.PrepSendmsg(int(c.fd), &m.hdr, unix.MSG_NOSIGNAL)
		l.sendMsgs[c.slot] = m
		op = urOpSendmsg
	}
	clear(vecs)
	raceio.Release() // as a write on epoll (rawWrite)
	sqe.UserData = urToken(op, c.slot, c.gen)
	c.sending = true
	// Handing bytes to the kernel is progress now, as a write is on epoll: the CQE comes after this
	// iteration's timers, which must not see the connection idle behind its reply. A send the peer does
	// not drain stays in flight and stamps nothing more, so the idle timeout still ends it.
	c.active(l.now)
}

// onSend handles the CQE of the send in flight: the bytes sent leave the queue, AsyncWrite callbacks
// they complete run, and the connection is flushed again at the end of the iteration.
func (c *urConn) onSend(cqe *uring.CQE) {
	c.sending = false
	call := "send"
	if urTokenOp(cqe.UserData) == urOpSendmsg {
		call = "sendmsg"
		c.l.putMsg(c.l.sendMsgs[c.slot])
		delete(c.l.sendMsgs, c.slot)
	}
	if c.state == connReleased {
		c.maybeFinalize()
		return
	}
	if c.l.forced && c.state == connClosing { // stopAfterSend: the send tells whether output is left
		if cqe.Res > 0 {
			n := int(cqe.Res)
			c.out.Consume(n)
			c.wrote(c, c.l.now, n)
		}
		if c.queued() > 0 {
			c.stopAbort(c) // a reset: the peer did not get it all
			return
		}
		c.l.markDirty(c) // the close finishes (finishClose): the peer reads EOF
		return
	}
	if cqe.Res < 0 {
		// EINTR: a send that the kernel handed to an io-wq worker (one on a full socket whose peer
		// has sent its FIN, for one) was interrupted by a signal to the process, as a SIGSTOP and
		// SIGCONT (Ctrl-Z, fg) or a debugger's attach make: nothing was sent, and the connection is
		// fine. It used to close the connection (found by stopping a test process repeatedly).
		if err := cqe.Err(); err == unix.EAGAIN || err == unix.EINTR {
			c.pollForRoom()
		} else {
			c.sendFailed(opError("write", c.network(), c.RemoteAddr(), call, err))
		}
		return
	}
	n := int(cqe.Res)
	c.out.Consume(n)
	c.wrote(c, c.l.now, n)
	c.l.markDirty(c)
}

// stopAfterSend is a forced stop's step for a closing connection whose output, all in its send queue,
// is in a send in flight: the send is cancelled (one the socket took completes anyway) and its CQE
// decides (onSend): a reset if output is left, else the close finishes, the peer reading EOF. Its bytes
// leave the queue only at the CQE, which the forced stop, in the iteration that submitted them, comes
// before: an idle connection's goodbye from OnClosing, sent by the graceful part of a stop whose
// context was done from the start, was taken for output dropped and reset. The connection's timer
// bounds the wait (connTimer). It reports false, leaving the connection to stopAbort, otherwise.
func (c *urConn) stopAfterSend() bool {
	if c.state != connClosing || !c.sending || c.polling || c.queued() != int64(c.out.Len()) {
		return false
	}
	if x := c.x.Load(); x != nil && x.splice != nil && (x.splice.in || x.splice.out || x.splice.poll) {
		return false
	}
	op := uint8(urOpSend)
	if _, ok := c.l.sendMsgs[c.slot]; ok {
		op = urOpSendmsg
	}
	c.cancelOp(op)
	c.l.wheel.Schedule(&c.clock(c).timer, c.l.clock()+int64(urCancelRetry))
	return true
}

// urOpSendPoll is the POLL_ADD for room on the socket after a send's EAGAIN (pollForRoom).
const urOpSendPoll = urOpSplicePoll + 1

// pollForRoom waits for room on the socket, after a send that found it full ended with EAGAIN: the
// kernel returns that instead of waiting in some states (once the peer's FIN is in, for one), and it
// is no failure. The send is made again when the poll ends (onSendPoll); until then the connection
// counts as sending, and polling, so that nothing else is sent and release cancels it.
func (c *urConn) pollForRoom() {
	c.pollRoom(urOpSendPoll)
	c.sending, c.polling = true, true
	c.l.stats.sendPolls++
}

// pollRoom submits the poll for room on the socket of a send (urOpSendPoll) or a splice
// (urOpSplicePoll). It is multishot because io_uring adds POLLRDHUP to the events of every poll: once
// the peer's FIN is in, a one-shot poll for POLLOUT completed at once with POLLRDHUP alone, again and
// again, and the loop spun for as long as the peer did not read. A multishot poll posts that once and
// then only when the socket wakes its waiters again (room freed, an error); roomPolled ends it when the
// mask has room.
func (c *urConn) pollRoom(op uint8) {
	sqe := c.l.getSQE()
	sqe.PrepPollMultishot(int(c.fd), unix.POLLOUT)
	sqe.UserData = urToken(op, c.slot, c.gen)
}

// roomPolled handles a CQE of pollRoom's poll and reports whether the poll is still armed. A mask
// with room or an error cancels it; its last CQE (without F_MORE: cancelled, or ended by the kernel)
// is the one the caller acts on, by sending again. A repeated cancel finds nothing, harmlessly.
func (c *urConn) roomPolled(cqe *uring.CQE, op uint8) bool {
	c.l.stats.roomPolls++
	if !cqe.More() {
		return false
	}
	if cqe.Res < 0 || uint32(cqe.Res)&(unix.POLLOUT|unix.POLLERR|unix.POLLHUP) != 0 {
		c.cancelOp(op)
	}
	return true
}

// onSendPoll handles a CQE of pollForRoom's poll: once the poll has ended, the flush sends again (an
// error of the socket shows in that send).
func (c *urConn) onSendPoll(cqe *uring.CQE) {
	if c.roomPolled(cqe, urOpSendPoll) {
		return
	}
	c.sending, c.polling = false, false
	if c.state == connReleased {
		c.maybeFinalize()
		return
	}
	c.l.markDirty(c)
}

// sendFailed ends the connection after a send failed with err: what the peer sent before is delivered
// first (connCore.readOn). Reading resumes if back-pressure had paused it, and the end of the recv (end of
// file, or the socket's error) aborts the connection with err; the connection's timer bounds the wait.
func (c *urConn) sendFailed(err error) {
	if !c.readOn(c, err) {
		return
	}
	c.readingOn = true
	c.readPaused = 0
	c.armRecv()
	if c.in.Len() > 0 || c.endPending() {
		c.l.queueRedeliver(c)
	}
	tm := c.clock(c)
	tm.lastActive = c.l.now
	c.l.wheel.Schedule(&tm.timer, c.l.now+int64(lingerTimeout))
}

// shutdownWrite shuts down the sending side once.
func (c *urConn) shutdownWrite() error {
	if c.shutWr {
		return nil
	}
	c.shutWr = true
	return unix.Shutdown(int(c.fd), unix.SHUT_WR)
}

// ---- release ----

// release closes the connection for the API and cancels every operation on the socket; the descriptor
// is closed and the slot freed by maybeFinalize once their final CQEs have been reaped.
func (c *urConn) release() {
	if c.state == connReleased {
		return
	}
	c.state = connReleased
	c.closeReq.Store(true)
	if c.tm != nil {
		c.l.wheel.Stop(&c.tm.timer)
	}
	c.in.Reset()
	c.failAsync(c, ErrClosed)
	c.failFiles(c, nil)
	c.cancelOps()
	c.maybeFinalize()
}

// cancelOps cancels the recv, the send and the connect poll in flight, if any, and arms a retry in case
// one of them outlives it.
//
// Each operation is cancelled by its token, not all of them by descriptor: the kernel finds a token in
// its cancellation hash table, but matches a descriptor by walking every armed request of the ring, so
// closing n connections at once by descriptor cost O(n²) (measured: 9,000 dialled connections took 23 s
// of kernel time to close, 91% in io_cancel_req_match; by token, a fraction of a second).
func (c *urConn) cancelOps() {
	if !c.recvInFlight() && !c.sending && !c.polling {
		return
	}
	if c.recvInFlight() {
		c.cancelOp(urOpRecv)
	}
	if c.sending {
		// What is in flight is a send, or the steps of a SendFile splice: cancel those that are (a
		// cancel of a send would find nothing, and the poll for room would wait for a peer that may
		// never read).
		if x := c.x.Load(); x != nil && x.splice != nil && (x.splice.in || x.splice.out || x.splice.poll) {
			sp := x.splice
			if sp.in {
				c.cancelOp(urOpSpliceIn)
			}
			if sp.out {
				c.cancelOp(urOpSpliceOut)
			}
			if sp.poll {
				c.cancelOp(urOpSplicePoll)
			}
		} else {
			op := uint8(urOpSend)
			if _, ok := c.l.sendMsgs[c.slot]; ok {
				op = urOpSendmsg
			}
			c.cancelOp(op)
		}
	}
	if c.polling { // a connect's poll, or pollForRoom's
		c.cancelOp(urOpConnect)
		c.cancelOp(urOpSendPoll)
	}
	c.l.wheel.Schedule(&c.clock(c).timer, c.l.clock()+int64(urCancelRetry))
}

// cancelOp submits the cancellation of c's operation op. A success posts no CQE; ENOENT (the operation
// completed meanwhile, its CQE not reaped yet) is ignored by the urOpCancel handler.
func (c *urConn) cancelOp(op uint8) {
	sqe := c.l.getSQE()
	sqe.PrepCancel(urToken(op, c.slot, c.gen), 0)
	sqe.UserData = urToken(urOpCancel, c.slot, c.gen)
	sqe.Flags |= uring.SQECQESkipSuccess
}

// maybeFinalize closes the descriptor, drops the buffers and frees the slot of a released connection
// once no operation on it is in flight. Only now may the descriptor number be reused and the output
// chunks go back to their pool. A recv only asked for (urRecvWanted, still in l.recvWant) does not
// hold it: armRecvs never arms one on a released connection.
func (c *urConn) maybeFinalize() {
	if c.state != connReleased || c.recvInFlight() || c.sending || c.polling || c.fd < 0 {
		return
	}
	if c.tm != nil {
		c.l.wheel.Stop(&c.tm.timer)
	}
	unix.Close(int(c.fd))
	c.fd = -1
	c.closeSplice(true)
	c.in.Reset()
	c.out.Reset()
	c.l.unregister(c)
}
