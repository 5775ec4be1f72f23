package eddy

import (
	"context"
	"net"
	"net/netip"

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
	ds.stop = context.AfterFunc(ds.ctx, func() { l.tasks.push(task{fn: cancelDial[*urConn], arg: c}, true, l.wake) })
}

// onConnect handles the CQE of the connecting socket's poll.
func (c *urConn) onConnect(cqe *uring.CQE) {
	c.polling = false
	switch {
	case c.state != connConnecting:
		c.maybeFinalize() // the dial failed or was cancelled meanwhile
	case cqe.Res < 0:
		failDial(c, cqe.Err())
	default:
		finishDial(c)
	}
}

// connected is the engine's step of finishDial.
func (c *urConn) connected(network string, local net.Addr, peer netip.AddrPort, havePeer bool) {
	if local != nil {
		c.ln.addr = local
	}
	if havePeer {
		c.setRemote(peer)
	}
	if network != "unix" {
		c.l.setupSocket(int(c.fd), false)
	}
}

func (c *urConn) open() { c.l.opened(c) }
