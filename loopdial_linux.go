package eddy

import (
	"context"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/socket"
)

// The end of a dial, shared by the two loop engines. Each engine starts its connect its own way (epoll
// registers the connecting socket, uring arms a POLL_ADD for POLLOUT: epoll_dial_linux.go,
// uring_dial_linux.go); once its loop learns that the connect is over, finishDial opens the connection or
// failDial ends it, the same way on both.

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

// dialConn is a loop engine's connecting connection, as finishDial sees it.
type dialConn interface {
	loopConn
	// connected is the engine's step once the connect has succeeded: it records the local address of
	// a Unix socket (local; a TCP one is in connExtra already) and the peer's address if the dial
	// learnt it (peer, when havePeer), and sets the socket's options.
	connected(network string, local net.Addr, peer netip.AddrPort, havePeer bool)
	open() // OnOpen, as for an accepted connection (the idle timer first)
}

// finishDial ends a connect the loop found finished: the connection opens (OnOpen, then the future
// resolves) or the dial fails with the socket's error.
func finishDial[C dialConn](c C) {
	core := c.core()
	x := core.extra()
	ds := x.dial
	if !ds.stop() {
		// The dial's context ended (a Future.Cancel: the loser of a Race settled earlier in this
		// batch of events, say): its cancelDial is on its way, and would find the connection open.
		failDial(c, ds.ctx.Err())
		return
	}
	fd := c.socket()
	if err := socket.ConnectResult(fd); err != nil {
		failDial(c, err)
		return
	}
	x.dial = nil
	var local net.Addr
	if sa, err := unix.Getsockname(fd); err == nil {
		if la, ok := socket.ToNetAddr(sa).(*net.TCPAddr); ok {
			x.laddr = la.AddrPort()
		} else {
			local = socket.ToNetAddr(sa)
		}
	}
	peer, havePeer := connectedPeer(fd, ds.ep)
	if ds.ep.unix != nil {
		core.notePeerPath(fd) // the name the listener bound, as package net reports it (getpeername)
	}
	c.connected(ds.ep.network, local, peer, havePeer)
	core.state = connOpen
	core.ctx = ds.value
	settled := false
	defer func() {
		if !settled { // OnOpen ended the loop's goroutine (runtime.Goexit): the loop stops, as on std
			ds.promise.Reject(ErrClosed)
		}
	}()
	c.open()
	settled = true
	if core.state == connOpen && !core.closeReq.Load() {
		ds.promise.Resolve(c)
	} else {
		ds.promise.Reject(ErrClosed) // OnOpen closed it already
	}
}

// failDial ends a connect that failed or was cancelled: neither OnOpen nor OnClose ran, and none will.
func failDial[C loopConn](c C, err error) {
	core := c.core()
	x := core.extra()
	ds := x.dial
	x.dial = nil
	if ds.stop != nil {
		ds.stop()
	}
	core.notified = true
	c.release()
	ds.promise.Reject(opError("dial", ds.ep.network, ds.ep.addr(), "", err))
}

// cancelDial is the loop task of a dial whose context ended: a connect still in progress fails with the
// context's error.
func cancelDial[C loopConn](t *task) {
	c := t.arg.(C)
	if core := c.core(); core.state == connConnecting {
		failDial(c, core.extra().dial.ctx.Err())
	}
}
