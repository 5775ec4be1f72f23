package eddy

import (
	"context"
	"net"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/socket"
)

// connConnecting is the state of a dialled connection whose non-blocking connect has not finished. It
// becomes connOpen (OnOpen runs, the future resolves) or is released without OnOpen or OnClose (the future
// fails).
const connConnecting uint8 = 255

// dialState is kept on a connecting connection until the connect finishes.
type dialState struct {
	ep      *endpoint
	promise future.Promise[Conn]
	stop    func() bool // unregisters the context watcher
	ctx     context.Context
	value   any // the connection's Context from OnOpen on (Engine.DialWith)
}

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
	ds.stop = context.AfterFunc(ds.ctx, func() { l.post(cancelDial, c) }) // never refused for the capacity
}

func cancelDial(t *task) {
	c := t.arg.(*epConn)
	if c.state == connConnecting {
		c.failDial(c.extra().dial.ctx.Err())
	}
}

// finishConnect runs on the connecting socket's first event.
func (c *epConn) finishConnect() {
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
		c.raddr = ap
	}
	c.l.setupSocket(int(c.fd), ds.ep.network)
	c.writable = true
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

// failDial ends a connect that failed or was cancelled: no OnOpen and no OnClose ran, so none runs.
func (c *epConn) failDial(err error) {
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
