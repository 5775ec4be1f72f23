//go:build unix

package eddy

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// cutWrites tells whether closeWith may cut a write in progress short with a write deadline: a write
// that times out returns the bytes it wrote (writev's partial count) here, where the writer goes on with
// the rest.
const cutWrites = true

// writeWatched writes vecs to nc and reports each part the kernel takes to progress, as it takes it:
// package net's Write reports only at its end, however many times the socket had room meanwhile. It
// writes one slice per write(2) from the socket's raw descriptor, the runtime poller waiting for room,
// so the socket's deadlines apply. It is for a closing connection's flush, not for the hot path.
func writeWatched(nc net.Conn, vecs [][]byte, progress func(int)) (int, error) {
	if _, ok := nc.(syscall.Conn); !ok {
		return writeInPieces(nc, vecs, progress)
	}
	return writeRaw(nc, vecs, progress, true)
}

// writeNow writes what of vecs the socket takes at once, without waiting for room: the one try a Stop
// out of time gives output queued when it came (stopAbort), as the loop engines' last flush of a
// stop does, before what is left is reset.
func writeNow(nc net.Conn, vecs [][]byte) (int, error) {
	if _, ok := nc.(syscall.Conn); !ok {
		return 0, nil
	}
	return writeRaw(nc, vecs, func(int) {}, false)
}

// writeRaw is writeWatched on a syscall.Conn; without wait it returns when the socket is full.
func writeRaw(nc net.Conn, vecs [][]byte, progress func(int), wait bool) (int, error) {
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, err
	}
	total := 0
	var werr error
	err = rc.Write(func(fd uintptr) bool {
		for len(vecs) > 0 {
			if len(vecs[0]) == 0 {
				vecs = vecs[1:]
				continue
			}
			n, err := syscall.Write(int(fd), vecs[0]) // not unix.Write: see package raceio
			if n > 0 {
				total += n
				progress(n)
				vecs[0] = vecs[0][n:]
			}
			switch {
			case err == unix.EAGAIN:
				return !wait // wait for room, or give up
			case err == unix.EINTR:
			case err != nil:
				werr = &net.OpError{Op: "write", Net: nc.LocalAddr().Network(), Source: nc.LocalAddr(), Addr: nc.RemoteAddr(), Err: err}
				return true
			}
		}
		return true
	})
	if werr == nil {
		werr = err
	}
	return total, werr
}
