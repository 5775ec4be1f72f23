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
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return writeInPieces(nc, vecs, progress)
	}
	rc, err := sc.SyscallConn()
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
				return false // wait for room
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
