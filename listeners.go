package eddy

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
)

// Adopted listeners (WithListeners): sockets a program opened before the engine, served without closing
// and re-binding their address, so no other process can take the port in between.
//
// Each engine accepts on its own reference to the socket: the Linux engines on a duplicate of its
// descriptor (listeners_linux.go), set non-blocking and registered like a listener they opened, with one
// loop accepting and handing connections to the loops in turn (as with WithReusePort(false)). The std
// engine accepts on the net.Listener itself. A listener that has SO_REUSEPORT set is served the same way:
// opening more sockets in its group would be binding the port again, which adopting exists to avoid, and
// the kernel's spreading would then depend on sockets the caller never saw.

// WithListeners makes the engine serve already-open listeners, in addition to its addresses (New then
// accepts an empty address list). Each must be a *net.TCPListener or a *net.UnixListener of a stream
// socket, network "tcp" or "unix": New refuses any other, a "unixpacket" (SOCK_SEQPACKET) listener or a
// datagram socket that net.FileListener wrapped ("unixgram"), with an error that names its network and
// address, and the caller keeps it. The engine takes ownership of the listeners New accepts: it closes them
// at StopAccepting or when it stops (or when Start fails), so the caller must neither accept on them nor
// close them. A Unix listener is closed as package net closes it, removing its socket file unless
// SetUnlinkOnClose(false) was called.
func WithListeners(lns ...net.Listener) Option {
	return func(o *options) error {
		for i, ln := range lns {
			switch l := ln.(type) {
			case *net.TCPListener:
				if l == nil {
					return fmt.Errorf("eddy: bad option WithListeners: listener %d is nil", i)
				}
			case *net.UnixListener:
				if l == nil {
					return fmt.Errorf("eddy: bad option WithListeners: listener %d is nil", i)
				}
			default:
				return fmt.Errorf("eddy: bad option WithListeners: listener %d is %T, want *net.TCPListener or *net.UnixListener", i, ln)
			}
			// The engines serve stream sockets only: a SOCK_SEQPACKET listener was accepted on and its
			// connections read as byte streams, given TCP options. package net names the socket's type
			// in the address's network (the type of a *net.UnixListener from net.FileListener too).
			if a := ln.Addr(); a == nil || a.Network() != "tcp" && a.Network() != "unix" {
				return fmt.Errorf("eddy: bad option WithListeners: listener %d (%s) is not a stream socket: want network tcp or unix", i, describeAddr(a))
			}
		}
		o.listeners = append(o.listeners, lns...)
		return nil
	}
}

// describeAddr writes an adopted listener's address with its network, as "unixpacket /path".
func describeAddr(a net.Addr) string {
	if a == nil {
		return "no address"
	}
	return a.Network() + " " + a.String()
}

// listenerEndpoints returns an endpoint for each adopted listener.
func listenerEndpoints(lns []net.Listener) []*endpoint {
	eps := make([]*endpoint, 0, len(lns))
	for _, ln := range lns {
		a := ln.Addr()
		ep := &endpoint{raw: a.String(), network: a.Network(), address: a.String(), ln: ln}
		switch a := a.(type) {
		case *net.TCPAddr:
			ep.tcp = a
		case *net.UnixAddr:
			ep.unix = a
		}
		eps = append(eps, ep)
	}
	return eps
}

// checkAdopted fails for an adopted listener that is already closed, which the std engine, accepting on
// the listener itself, would otherwise take for one that was closed at Stop. (The Linux engines find
// out when they duplicate its descriptor.)
func checkAdopted(ln net.Listener) error {
	sc, ok := ln.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	return rc.Control(func(uintptr) {})
}

// closeAdopted closes the adopted listeners once the engine is done with them.
func (e *Engine) closeAdopted() {
	for _, ln := range e.opts.listeners {
		ln.Close()
	}
}

// sockFile is the file of a Unix socket the engine bound itself, which it removes when it closes the
// socket, as package net's UnixListener does, but only while the path still names that file: a
// process that has removed it meanwhile and listened on the path (a new server taking over, the usual
// restart) keeps its own file, which package net would remove (session 31). The zero sockFile is no
// file: a TCP socket, an adopted listener (its owner decides), an abstract name.
//
// The path is made absolute when the socket is bound: a relative one names the file in the working
// directory of the moment, and a process that changed directory before Stop left its file behind (the
// next Start on the path failed with EADDRINUSE), where package net removes whatever the name gives in
// the new directory (session 31).
type sockFile struct {
	path string
	fi   os.FileInfo // the file as bind made it
}

// newSockFile returns the sockFile of a socket just bound at path, or the zero one for "", an abstract
// name ("@name", or a leading NUL) or a file that cannot be told (which is then left, not guessed at).
func newSockFile(path string) sockFile {
	if path == "" || path[0] == '@' || path[0] == 0 {
		return sockFile{}
	}
	if !filepath.IsAbs(path) {
		abs, err := filepath.Abs(path)
		if err != nil {
			return sockFile{}
		}
		path = abs
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return sockFile{}
	}
	return sockFile{path: path, fi: fi}
}

// remove removes the file once its socket is closed, unless the path names another file by now, and
// forgets it: a second call does nothing. (It did the check again: the file system may give a file
// made after the first removal the inode number the engine's file had (ext4 does at once), and the
// std engine, which closes its listeners at StopAccepting and again at Stop, removed the file of a new
// server that had listened on the path in between (session 31).)
func (f *sockFile) remove() {
	path, fi := f.path, f.fi
	*f = sockFile{}
	if path == "" {
		return
	}
	if cur, err := os.Lstat(path); err != nil || !os.SameFile(fi, cur) {
		return
	}
	os.Remove(path)
}
