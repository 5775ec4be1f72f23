package eddy

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/socket"
	"github.com/eddyio/eddy/internal/uring"
)

// Dialling on the uring engine: the caller starts a non-blocking connect (socket.Connect), a loop adopts
// the socket in state connConnecting and arms a one-shot POLL_ADD for POLLOUT on it; the poll's CQE ends
// the connect (SO_ERROR tells how). A connect that fails, or whose context ends first, is released like
// any connection (the poll is cancelled and its CQE awaited before the descriptor is closed) without
// OnOpen or OnClose, and the future fails with an *OpError.

// dial starts a non-blocking connect and hands the socket to the next loop, which finishes it.
func (g *uringEngine) dial(ctx context.Context, ep *endpoint, v any, p future.Promise[Conn]) {
	fd, err := socket.Connect(ep.network, ep.addr())
	if err != nil {
		p.Reject(opError("dial", ep.network, ep.addr(), "", err))
		return
	}
	ds := &dialState{ep: ep, promise: p, ctx: ctx, value: v}
	l := g.dialLoop()
	l.inc() // urStartDial gives it back
	if err := l.tasks.push(task{fn: urStartDial, arg: &urHandoff{l: l, fd: fd, dial: ds}}, true, l.wake); err != nil {
		l.dec()
		unix.Close(fd)
		p.Reject(opError("dial", ep.network, ep.addr(), "", ErrEngineStopped))
	}
}

// urStartDial runs on the loop: it gives the connecting socket a slot and arms the poll that ends the
// connect, and watches the context.
func urStartDial(t *task) {
	h := t.arg.(*urHandoff)
	l, ds := h.l, h.dial
	l.dec() // the hand-over's reservation: newConn counts the connection
	if l.stopping {
		unix.Close(h.fd)
		ds.promise.Reject(opError("dial", ds.ep.network, ds.ep.addr(), "", ErrEngineStopped))
		return
	}
	c := l.newConn(h.fd, &urListener{fd: -1, network: ds.ep.network, peer: ds.ep.unix, loop: l})
	if tcp := ds.ep.tcp; tcp != nil {
		c.setRemote(tcp.AddrPort())
	}
	c.state = connConnecting
	c.extra().dial = ds
	sqe := l.getSQE()
	sqe.PrepPollAdd(h.fd, unix.POLLOUT)
	sqe.UserData = urToken(urOpConnect, c.slot, c.gen)
	c.polling = true
	ds.stop = context.AfterFunc(ds.ctx, func() { l.tasks.push(task{fn: urCancelDial, arg: c}, true, l.wake) })
}

func urCancelDial(t *task) {
	c := t.arg.(*urConn)
	if c.state == connConnecting {
		c.failDial(c.extra().dial.ctx.Err())
	}
}

// onConnect handles the CQE of the connecting socket's poll.
func (c *urConn) onConnect(cqe *uring.CQE) {
	c.polling = false
	switch {
	case c.state != connConnecting:
		c.maybeFinalize() // the dial failed or was cancelled meanwhile
	case cqe.Res < 0:
		c.failDial(cqe.Err())
	default:
		c.finishConnect()
	}
}

// finishConnect completes a connect the poll reported: the connection opens (OnOpen, then the future
// resolves) or the dial fails with the socket's error.
func (c *urConn) finishConnect() {
	x := c.extra()
	ds := x.dial
	if !ds.stop() {
		// The dial's context ended (a Future.Cancel: the loser of a Race settled earlier in this
		// batch of events, say): its cancelDial is on its way, and would find the connection open.
		c.failDial(ds.ctx.Err())
		return
	}
	if err := socket.ConnectResult(int(c.fd)); err != nil {
		c.failDial(err)
		return
	}
	x.dial = nil
	if sa, err := unix.Getsockname(int(c.fd)); err == nil {
		if la, ok := socket.ToNetAddr(sa).(*net.TCPAddr); ok {
			x.laddr = la.AddrPort()
		} else {
			c.ln.addr = socket.ToNetAddr(sa)
		}
	}
	if ap, ok := connectedPeer(int(c.fd), ds.ep); ok {
		c.setRemote(ap)
	}
	if ds.ep.network != "unix" {
		c.l.setupSocket(int(c.fd))
	}
	c.state = connOpen
	c.ctx = ds.value
	settled := false
	defer func() {
		if !settled { // OnOpen ended the loop's goroutine (runtime.Goexit): the loop stops, as on std
			ds.promise.Reject(ErrClosed)
		}
	}()
	c.l.opened(c)
	settled = true
	if c.state == connOpen && !c.closeReq.Load() {
		ds.promise.Resolve(c)
	} else {
		ds.promise.Reject(ErrClosed) // OnOpen closed it already
	}
}

// failDial ends a connect that failed or was cancelled: neither OnOpen nor OnClose ran, and none will.
func (c *urConn) failDial(err error) {
	x := c.extra()
	ds := x.dial
	x.dial = nil
	if ds.stop != nil {
		ds.stop()
	}
	c.notified = true
	c.release()
	ds.promise.Reject(opError("dial", ds.ep.network, ds.ep.addr(), "", err))
}
