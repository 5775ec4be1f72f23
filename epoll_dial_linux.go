package eddy

import (
	"context"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/socket"
)

// dial starts a non-blocking connect and registers the socket on the next loop; the loop finishes it.
func (g *epollEngine) dial(ctx context.Context, ep *endpoint, v any, p future.Promise[Conn]) {
	fd, err := socket.Connect(ep.network, ep.addr())
	if err != nil {
		p.Reject(opError("dial", ep.network, ep.addr(), "", err))
		return
	}
	ds := &dialState{ep: ep, promise: p, ctx: ctx, value: v}
	l := g.pickLoop()
	l.inc() // startDial gives it back
	if err := l.tasks.push(task{fn: startDial, arg: &handoff{l: l, fd: fd, dial: ds}}, true, l.wake); err != nil {
		l.dec()
		unix.Close(fd)
		p.Reject(opError("dial", ep.network, ep.addr(), "", ErrEngineStopped))
	}
}

// startDial runs on the loop: it registers the connecting socket; its first EPOLLOUT finishes the connect.
func startDial(t *task) {
	h := t.arg.(*handoff)
	l, ds := h.l, h.dial
	l.dec() // the hand-over's reservation: newConn counts the connection
	fail := func(err error) {
		unix.Close(h.fd)
		ds.promise.Reject(opError("dial", ds.ep.network, ds.ep.addr(), "", err))
	}
	if l.stopping {
		fail(ErrEngineStopped)
		return
	}
	ln := &epListener{network: ds.ep.network, addr: nil, peer: ds.ep.unix, loop: l}
	c := l.newConn(h.fd, ln)
	if tcp := ds.ep.tcp; tcp != nil {
		c.raddr = tcp.AddrPort()
	}
	c.state = connConnecting
	c.extra().dial = ds
	if err := l.poller.Add(h.fd, netpoll.In|netpoll.Out|netpoll.ET, connToken(c.slot, l.gens[c.slot])); err != nil {
		l.freeConn(c)
		fail(err)
		return
	}
	ds.stop = context.AfterFunc(ds.ctx, func() { l.post(cancelDial[*epConn], c) }) // never refused for the capacity
}

// connected is the engine's step of finishDial.
func (c *epConn) connected(network string, local net.Addr, peer netip.AddrPort, havePeer bool) {
	if local != nil {
		c.ln.addr = local
	}
	if havePeer {
		c.raddr = peer
	}
	c.l.setupSocket(int(c.fd), network, false)
	c.writable = true
}

func (c *epConn) open() { c.l.opened(c) }
