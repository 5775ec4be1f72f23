package eddy

import (
	"net"
	"net/netip"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/socket"
)

// openListener returns the listening descriptor of ep for a Linux engine: a new socket bound to addr, or
// a duplicate of an adopted listener's (which the engine closes like its own; the listener itself is
// closed by Engine.StopAccepting or Engine.Stop). first is true for the first of ep's listeners.
//
// SO_REUSEPORT is set where the loops listen each on their own socket, and where the user asked to
// share the port (WithReusePort(true)). A port the loops share only among themselves is checked first:
// the kernel would let the group join any other SO_REUSEPORT socket of the same user on it, another eddy
// process for one, and the two would split the connections without a word.
func openListener(ep *endpoint, addr net.Addr, o *options, first bool) (int, net.Addr, error) {
	if ep.ln == nil {
		perLoop := listenPerLoop(o, ep)
		if first && perLoop && !o.sharePort {
			if err := socket.CheckFree(ep.network, addr); err != nil {
				return -1, nil, err
			}
		}
		reusePort := ep.network != "unix" && (perLoop || o.sharePort)
		return socket.Listen(ep.network, addr, reusePort, socket.ListenBacklog(listenBacklog))
	}
	rc, err := ep.ln.(syscall.Conn).SyscallConn()
	if err != nil {
		return -1, nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = unix.FcntlInt(s, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, nil, err
	}
	if derr != nil {
		return -1, nil, os.NewSyscallError("fcntl", derr)
	}
	// O_NONBLOCK belongs to the open file description, shared with the listener's own descriptor, which
	// package net keeps non-blocking too.
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return -1, nil, os.NewSyscallError("fcntl", err)
	}
	return fd, ep.ln.Addr(), nil
}

// openListeners opens the listening sockets of a Linux engine with loops loops: for each of e's
// endpoints, one per loop where the loops listen each on their own socket (listenPerLoop), or one for
// loop 0, which accepts for all. add hands each to its loop (i), with the address it is bound to and
// whether the loops share it; the first error, of a listen or of add, ends the opening. It returns the
// addresses bound, one per endpoint; the caller closes what was opened when it fails.
func openListeners(e *Engine, loops int, add func(i, fd int, ep *endpoint, bound net.Addr, shared bool) error) ([]net.Addr, error) {
	o := &e.opts
	var bounds []net.Addr
	for _, ep := range e.eps {
		perLoop := listenPerLoop(o, ep)
		addr := ep.addr()
		for i := 0; i < loops; i++ {
			if i > 0 && !perLoop {
				break
			}
			fd, bound, err := openListener(ep, addr, o, i == 0)
			if err != nil {
				return bounds, opError("listen", ep.network, addr, "", err)
			}
			if i == 0 {
				bounds = append(bounds, bound)
				addr = bound // the other loops bind the port the first one got
			}
			if err := add(i, fd, ep, bound, !perLoop); err != nil {
				return bounds, opError("listen", ep.network, bound, "", err)
			}
		}
	}
	return bounds, nil
}

// listenPerLoop reports whether each loop gets its own listening socket for ep (SO_REUSEPORT), rather
// than one loop accepting for all.
func listenPerLoop(o *options, ep *endpoint) bool {
	return o.reusePort && ep.network != "unix" && o.loops > 1 && ep.ln == nil
}

// socketFile returns the file of a Unix socket that the engine bound itself at bound, which
// closeListenerFD removes when it closes the socket while the path still names it (sockFile); the
// zero sockFile for other sockets, adopted listeners (their owner decides) and abstract addresses (no
// file).
func socketFile(ep *endpoint, bound net.Addr) sockFile {
	ua, ok := bound.(*net.UnixAddr)
	if !ok || ep.ln != nil {
		return sockFile{}
	}
	return newSockFile(ua.Name)
}

// closeListenerFD closes a listening socket and removes its file (socketFile), if it has one, once.
func closeListenerFD(fd int, f *sockFile) {
	unix.Close(fd)
	f.remove()
}

// unixPeer returns the remote address of a Unix connection: the address a dialled one dialled
// (peer), or, for an accepted one, the unnamed address its client has as a rule, written "@" as
// package net (and so the std engine) writes it.
func unixPeer(peer *net.UnixAddr) net.Addr {
	if peer == nil {
		return &net.UnixAddr{Name: "@", Net: "unix"}
	}
	a := *peer
	return &a
}

// connectedPeer returns the peer a TCP socket dialled to an unspecified address (no host, 0.0.0.0 or
// ::, which the kernel takes as a local address) or to one with a zone (which the kernel keeps only
// for a link-local address: [::1%lo] is [::1]) is connected to, as package net reports it
// (getpeername); ok is false for every other dial, whose peer is the address dialled.
func connectedPeer(fd int, ep *endpoint) (ap netip.AddrPort, ok bool) {
	if ep.tcp == nil || ep.tcp.IP != nil && !ep.tcp.IP.IsUnspecified() && ep.tcp.Zone == "" {
		return ap, false
	}
	pa, err := socket.PeerAddr(fd)
	if ta, isTCP := pa.(*net.TCPAddr); err == nil && isTCP {
		return ta.AddrPort(), true
	}
	return ap, false
}
