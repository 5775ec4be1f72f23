package eddy

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/socket"
	"github.com/eddyio/eddy/internal/timer"
	"github.com/eddyio/eddy/internal/uring"
)

// urListener is a listening socket served by one loop with a multishot accept.
//
// The accept stays armed across connections (each CQE with F_MORE is one new socket). It ends with a CQE
// without F_MORE: after an error (EMFILE and the other descriptor or memory shortages, for which it is
// re-armed only after a growing back-off, so that exhaustion cannot make the loop spin), when the CQ
// overflowed, or when the loop cancels it to stop; the socket is closed only at that final CQE.
type urListener struct {
	fd      int
	idx     uint32 // index in loop.listeners, the slot of the accept token
	network string
	addr    net.Addr
	file    sockFile      // the socket file to remove on close (socketFile), if any
	peer    *net.UnixAddr // a dialled Unix connection's: the address it dialled
	shared  bool          // the only listener for its address: hand connections to every loop in turn
	adopted bool          // a WithListeners socket: what it accepts may inherit options (setupSocket)
	armed   bool          // the multishot accept has not posted its final CQE yet
	closed  bool          // StopAccepting or a stop closed it (its socket once the accept's final CQE is in)
	// waiters are StopAccepting calls waiting for the socket to close.
	waiters []*sync.WaitGroup
	backoff time.Duration
	retry   timer.Timer
	loop    *urLoop
}

// addListener adds ln before the loop starts (the accept is armed when it does).
func (l *urLoop) addListener(ln *urListener) {
	ln.loop = l
	ln.idx = uint32(len(l.listeners))
	ln.retry.Init(urRetryAccept, ln)
	l.listeners = append(l.listeners, ln)
}

// armAccept arms ln's multishot accept.
func (l *urLoop) armAccept(ln *urListener) {
	if ln.armed || ln.fd < 0 || ln.closed || l.stopping {
		return
	}
	sqe := l.getSQE()
	sqe.PrepMultishotAccept(ln.fd, unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC)
	sqe.UserData = urToken(urOpAccept, ln.idx, 0)
	ln.armed = true
	l.acceptsArmed++
}

func urRetryAccept(arg any) {
	ln := arg.(*urListener)
	ln.loop.armAccept(ln)
}

// stopListener stops accepting on ln: the accept is cancelled and the socket closed at its final CQE, or
// at once if no accept is armed (in back-off).
//
// wg, if not nil, is signalled once the socket is closed.
func (l *urLoop) stopListener(ln *urListener, wg *sync.WaitGroup) {
	if wg != nil {
		wg.Add(1)
		ln.waiters = append(ln.waiters, wg)
	}
	l.wheel.Stop(&ln.retry)
	if ln.armed {
		if !ln.closed {
			sqe := l.getSQE()
			sqe.PrepCancel(urToken(urOpAccept, ln.idx, 0), 0)
			sqe.UserData = urToken(urOpCancel, ln.idx, 0)
		}
		ln.closed = true
		return
	}
	ln.closed = true
	l.closeListenerSocket(ln)
}

// closeListenerSocket closes ln's socket, once no accept is armed on it, and signals the waiters.
func (l *urLoop) closeListenerSocket(ln *urListener) {
	if ln.fd >= 0 {
		closeListenerFD(ln.fd, &ln.file)
		ln.fd = -1
	}
	for _, wg := range ln.waiters {
		wg.Done()
	}
	ln.waiters = nil
}

// stopAccepting closes every listener of the loop; wg is signalled as each socket closes. Loop only.
func (l *urLoop) stopAccepting(wg *sync.WaitGroup) {
	for _, ln := range l.listeners {
		l.stopListener(ln, wg)
	}
}

// onAccept handles a CQE of ln's multishot accept. The accept's end (a CQE without F_MORE, which may
// carry a socket: one the kernel could not post with F_MORE, as on a full CQ) is recorded before the
// socket's OnOpen runs: a handler that ends the loop's goroutine there (runtime.Goexit) makes the loop
// drop the rest of this CQE's handling, and an accept left counted as armed kept the loop from exiting.
func (l *urLoop) onAccept(ln *urListener, cqe *uring.CQE) {
	more := cqe.More()
	if !more {
		ln.armed = false
		l.acceptsArmed--
	}
	if cqe.Res >= 0 {
		ln.backoff = 0
		l.accepted(int(cqe.Res), ln)
	}
	if more {
		return
	}
	if l.stopping || ln.closed {
		l.closeListenerSocket(ln)
		return
	}
	err := cqe.Err()
	switch {
	case err == nil, socket.IsConnAcceptError(err), errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
		// The CQ overflowed, or one connection failed on its way in: the listener itself is fine.
		l.stats.acceptRearm++
		l.armAccept(ln)
	case socket.IsTemporaryAcceptError(err):
		ln.backoff = min(max(2*ln.backoff, acceptBackoff0), acceptBackoffN)
		l.wheel.Schedule(&ln.retry, l.clock()+int64(ln.backoff))
		l.logger().Warn("eddy: accept failed, backing off", "addr", ln.addr.String(), "err", err, "retry", ln.backoff)
	default:
		// Unexpected: log it and retry later rather than spin on it.
		ln.backoff = acceptBackoffN
		l.wheel.Schedule(&ln.retry, l.clock()+int64(ln.backoff))
		l.logger().Error("eddy: accept failed", "addr", ln.addr.String(), "err", err, "retry", ln.backoff)
	}
}

// accepted serves a newly accepted socket here or hands it to another loop.
func (l *urLoop) accepted(fd int, ln *urListener) {
	if l.stopping || ln.closed {
		unix.Close(fd)
		return
	}
	var ap netip.AddrPort
	if ln.network != "unix" {
		l.setupSocket(fd, ln.adopted)
		// A multishot accept reports no address. The question cannot fail for a TCP socket the kernel
		// accepted, even one its peer reset already (SO_PEERNAME); should it, the connection opens
		// with the zero address and the handler learns its fate from the first read.
		ap, _ = l.peer.PeerAddrPort(fd)
	}
	target := l
	if ln.shared && len(l.g.loops) > 1 {
		target = l.g.pickLoop()
	}
	if target == l {
		l.register(fd, ap, ln)
		return
	}
	target.inc() // a reservation, which urAdoptConn gives back
	h := &urHandoff{l: target, fd: fd, ap: ap, ln: ln}
	if err := target.post(urAdoptConn, h); err != nil { // a hand-over is never refused for the capacity
		target.dec()
		unix.Close(fd)
	}
}

// urHandoff carries an accepted socket from the accepting loop to the loop that will serve it, or a
// connecting socket from Dial's caller to its loop.
type urHandoff struct {
	l    *urLoop
	fd   int
	ap   netip.AddrPort
	ln   *urListener
	dial *dialState
}

func urAdoptConn(t *task) {
	h := t.arg.(*urHandoff)
	h.l.dec() // the hand-over's reservation: register counts the connection
	h.l.register(h.fd, h.ap, h.ln)
}

// setupSocket applies the per-connection TCP options. Failures are not fatal: the connection works
// without them. An option that is off is left alone unless inherited is true: a socket accepted from an
// adopted listener may have it from the listener (epLoop.setupSocket).
func (l *urLoop) setupSocket(fd int, inherited bool) {
	o := &l.g.e.opts
	if o.noDelay || inherited {
		socket.SetNoDelay(fd, o.noDelay)
	}
	if o.keepAlive > 0 {
		socket.SetKeepAlive(fd, o.keepAlive)
	} else if inherited {
		socket.DisableKeepAlive(fd)
	}
}

// register adopts an accepted socket: it gives it a slot, calls OnOpen and arms its multishot recv.
func (l *urLoop) register(fd int, ap netip.AddrPort, ln *urListener) {
	if l.stopping {
		unix.Close(fd)
		return
	}
	c := l.newConn(fd, ln)
	c.setRemote(ap)
	if ta, ok := ln.addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		if sa, err := unix.Getsockname(fd); err == nil {
			if la, ok := socket.ToNetAddr(sa).(*net.TCPAddr); ok {
				c.extra().laddr = la.AddrPort()
			}
		}
	} else if ln.network == "unix" {
		c.notePeerPath(fd)
	}
	l.opened(c)
}

// newConn makes a connection for fd in a free slot.
func (l *urLoop) newConn(fd int, ln *urListener) *urConn {
	var slot uint32
	if n := len(l.freeSlots); n > 0 {
		slot = l.freeSlots[n-1]
		l.freeSlots = l.freeSlots[:n-1]
	} else {
		slot = uint32(len(l.conns))
		l.conns = append(l.conns, nil)
		l.gens = append(l.gens, 1)
	}
	c := &urConn{l: l, fd: int32(fd), slot: slot, gen: l.gens[slot] & urGenMask, ln: ln}
	l.conns[slot] = c
	l.live++
	l.inc()
	return c
}

// opened starts an open connection's life: the idle timer, OnOpen, then its multishot recv.
func (l *urLoop) opened(c *urConn) {
	if d := l.g.e.opts.idleTimeout; d > 0 {
		tm := c.clock(c)
		tm.idleTimeout = d
		l.wheel.Schedule(&tm.timer, after(l.now, d))
	}
	l.g.e.h.OnOpen(c)
	c.in.Keep()
	c.armRecv()
}

// unregister frees c's slot once every operation on it has completed.
func (l *urLoop) unregister(c *urConn) {
	l.conns[c.slot] = nil
	l.gens[c.slot]++
	l.freeSlots = append(l.freeSlots, c.slot)
	l.live--
	l.dec()
}
