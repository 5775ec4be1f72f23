package eddy

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/raceio"
	"github.com/eddyio/eddy/internal/uring"
)

// Zero-copy SendFile on the uring engine: each piece of a file region goes file -> pipe -> socket with two
// linked IORING_OP_SPLICE, the page cache's pages moving by reference. The pipe belongs to the connection
// while it has file regions queued (two descriptors, closed once the queue is empty).
//
// One step at a time, like the one send in flight: the SPLICE into the pipe (up to the pipe's size, from
// the region's offset), linked to the SPLICE from the pipe to the socket; or, when the pipe still holds
// bytes from a short send, only the second. The kernel runs splices on io-wq workers; a socket without
// room completes the second with EAGAIN, and a POLL_ADD for POLLOUT then waits for room before the next
// step. A short read from the file (its end) breaks the link: the second completes with ECANCELED and
// the bytes that did reach the pipe go in the next step. While any of these is in flight c.sending is
// set, so that flush waits, and the release of a connection waits for their final CQEs before closing
// the socket, the pipe and the file descriptor the first splice reads (its number is looked up when the
// io-wq worker runs it).
//
// A file that cannot be spliced (EINVAL, ENOSYS, EOPNOTSUPP at the first piece of its region,
// zeroCopyUnsupported: a procfs file, a file system without splice_read) makes that region fall back to
// reading the file into the output chunks (fileSend.read, uring_sendfile_linux.go); the connection's
// other regions still splice. Whether the region has moved bytes is what tells a missing feature from a
// failure, and it is the region's: until session 18 it was the connection's, so a region that could not
// splice behind one that had spliced failed and aborted the connection.

// Operation kinds in the tokens of the zero-copy path, after the loop's own (uring_loop_linux.go).
const (
	urOpSpliceIn   = urOpConnect + 1 + iota // SPLICE from the file into the connection's pipe
	urOpSpliceOut                           // SPLICE from the pipe to the socket
	urOpSplicePoll                          // POLL_ADD for room on the socket after EAGAIN
)

// urPipeSize is the pipe capacity asked for: the most one step moves.
const urPipeSize = 1 << 20

// urSplice is the zero-copy state of a connection that sends files.
type urSplice struct {
	r, w    int       // the pipe's ends; -1 once closed
	size    int       // its capacity
	inPipe  int       // bytes in the pipe not yet sent
	in      bool      // the SPLICE into the pipe is in flight
	out     bool      // the SPLICE to the socket is in flight
	poll    bool      // the POLL_ADD for room on the socket is in flight
	wait    bool      // the last SPLICE to the socket found no room: poll before the next step
	off     bool      // splicing is off for this connection (no pipe): read the files instead
	region  *fileSend // the region the SPLICE into the pipe reads, while it is in flight
	hold    *os.File  // that region's file once the region was dropped, kept open until the CQE
	holdOwn bool      // hold is the engine's duplicate, to close
	err     error     // the error the current step ended with, acted on when nothing is in flight
	errOut  bool      // err is the socket's (the splice out of the pipe), not the file's
}

// splice returns the connection's zero-copy state, making the pipe on first use; nil when splicing is
// off for the connection.
func (c *urConn) splice() *urSplice {
	x := c.extra()
	if sp := x.splice; sp != nil {
		if sp.off {
			return nil
		}
		return sp
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		x.splice = &urSplice{r: -1, w: -1, off: true} // descriptors are short: read the files instead
		return nil
	}
	sp := &urSplice{r: p[0], w: p[1], size: 64 << 10}
	if n, err := unix.FcntlInt(uintptr(p[1]), unix.F_SETPIPE_SZ, urPipeSize); err == nil {
		sp.size = n
	} else if n, err := unix.FcntlInt(uintptr(p[1]), unix.F_GETPIPE_SZ, 0); err == nil && n > 0 {
		// Refused (EPERM: an unprivileged user past fs.pipe-user-pages-soft, 64 pipes of 1 MiB at the
		// default): the pipe may be smaller than the default 64 KiB then (8 KiB seen), and a step sized
		// for 64 KiB would come back short, breaking its link, every time (review h86).
		sp.size = n
	}
	x.splice = sp
	return sp
}

// pipeBytes returns the bytes of the current region waiting in the pipe.
func (c *urConn) pipeBytes() int {
	if x := c.x.Load(); x != nil && x.splice != nil {
		return x.splice.inPipe
	}
	return 0
}

// spliceStep submits the next step of region s, the head of the queue, and reports whether it did; false
// means splicing is off and the caller reads the file instead.
func (c *urConn) spliceStep(s *fileSend) bool {
	sp := c.splice()
	if sp == nil {
		return false
	}
	l := c.l
	n := sp.inPipe
	if n == 0 {
		n = int(min(s.n, int64(sp.size)))
		if l.ring.SQSpace() < 2 { // the two linked SQEs must go in the same submission
			l.ring.Submit()
		}
		sqe := l.getSQE()
		sqe.PrepSplice(int(s.f.Fd()), s.off, sp.w, uring.SpliceNoOffset, n, 0)
		sqe.UserData = urToken(urOpSpliceIn, c.slot, c.gen)
		sqe.Flags |= uring.SQEIOLink
		sp.in, sp.region = true, s
	}
	raceio.Release() // as syscall.Sendfile does on epoll
	sqe := l.getSQE()
	sqe.PrepSplice(sp.r, uring.SpliceNoOffset, int(c.fd), uring.SpliceNoOffset, n, 0)
	sqe.UserData = urToken(urOpSpliceOut, c.slot, c.gen)
	sp.out = true
	c.sending = true
	return true
}

// onSplice handles the CQE of a splice step's operation. Once none is in flight, it acts on the step:
// abort on an error, poll for room, or flush again.
func (c *urConn) onSplice(op uint8, cqe *uring.CQE) {
	x := c.x.Load()
	sp := x.splice
	res := int(cqe.Res)
	switch op {
	case urOpSpliceIn:
		sp.in = false
		s := sp.region
		sp.region = nil
		switch err := cqe.Err(); {
		case res > 0:
			sp.inPipe += res
			if s != nil && s.f != nil {
				s.off += int64(res)
				s.n -= int64(res)
			}
		case sp.hold != nil || c.state == connReleased:
		case err == unix.EINTR: // a signal interrupted it (see onSend): nothing moved, splice again
		case res == 0:
			sp.err = opError("write", c.network(), c.RemoteAddr(), "", s.shortFileError())
		case s.n == s.total && zeroCopyUnsupported(err):
			s.read = true // nothing of the region moved: its file cannot splice, read it instead
		default:
			sp.err = opError("write", c.network(), c.RemoteAddr(), "splice", err)
		}
		if sp.hold != nil {
			if sp.holdOwn {
				sp.hold.Close()
			}
			sp.hold = nil
		}
	case urOpSpliceOut:
		sp.out = false
		switch err := cqe.Err(); {
		case res > 0:
			sp.inPipe -= res
			c.l.stats.spliced += res
			if c.state != connReleased {
				// The step's end first: a callback that ends the loop's goroutine (runtime.Goexit)
				// makes the loop drop the rest of this CQE's handling, and a step left in flight
				// would keep the connection from being finalized, and the loop from exiting.
				c.sending = sp.in || sp.poll
				c.wrote(c, c.l.now, res)
			}
		case err == unix.ECANCELED: // the link broke on a short read, or we cancelled
		case err == unix.EAGAIN, err == unix.EINTR: // EINTR: a signal interrupted it (see onSend)
			sp.wait = true
			c.l.stats.spliceWaits++
		case sp.err == nil && c.state != connReleased:
			sp.err, sp.errOut = opError("write", c.network(), c.RemoteAddr(), "splice", err), true
		}
	case urOpSplicePoll:
		if c.roomPolled(cqe, urOpSplicePoll) {
			return
		}
		sp.poll = false
	}
	if sp.in || sp.out || sp.poll {
		return
	}
	c.sending = false
	switch {
	case c.state == connReleased:
		c.maybeFinalize()
	case sp.err != nil:
		err, out := sp.err, sp.errOut
		sp.err, sp.errOut = nil, false
		if out {
			c.sendFailed(err) // the socket failed: what the peer sent first is still delivered
		} else {
			c.abort(c, err)
		}
	case sp.wait && sp.inPipe > 0:
		sp.wait = false
		c.pollRoom(urOpSplicePoll)
		sp.poll = true
		c.sending = true
	default:
		sp.wait = false
		c.l.markDirty(c)
	}
}

// holdSplicedFile keeps the descriptor that an in-flight SPLICE reads open past the failure of its
// region: the region's release must not close it before the CQE. It does nothing without a splice in
// flight (always on epoll). connCore.failFiles calls it before failing the regions.
func (x *connExtra) holdSplicedFile() {
	sp := x.splice
	if sp == nil || !sp.in || sp.region == nil || sp.region.f == nil {
		return
	}
	sp.hold, sp.holdOwn = sp.region.f, sp.region.own
	sp.region.f = nil
	sp.region = nil
}

// closeSplice closes the pipe once nothing is in flight and no region is left (or the connection is
// finalized).
func (c *urConn) closeSplice(final bool) {
	x := c.x.Load()
	if x == nil || x.splice == nil {
		return
	}
	sp := x.splice
	if sp.in || sp.out || sp.poll || !final && (len(x.files) > 0 || sp.inPipe > 0) {
		return
	}
	if sp.r >= 0 {
		unix.Close(sp.r)
		unix.Close(sp.w)
	}
	if sp.hold != nil && sp.holdOwn {
		sp.hold.Close()
	}
	x.splice = nil
}
