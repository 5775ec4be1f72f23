package eddy

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/raceio"
)

// The loop's system calls on non-blocking sockets go through RawSyscall, which does not tell the Go
// scheduler that the goroutine entered a system call. These calls never block (the sockets are
// non-blocking), so the scheduler loses nothing; in exchange, the runtime's monitor (sysmon) never finds
// the loop's processor in a system call. Through syscall.Syscall it did, whenever a loopback write or read
// lasted past sysmon's 20 µs tick: it took the processor away, handed it to another thread and, finding
// something to take every time, never slowed down: about 13,000 wake-ups a second of a busy echo
// server, 0.034 nanosleep and 0.016 futex calls per round trip (perf stat), in a process that makes two
// system calls per round trip.

// The calls are recv/send/sendmsg rather than read/write/writev: the socket calls go straight to the
// socket layer, where read and write pass through the VFS first (rw_verify_area, fsnotify, a kiocb).
// On loopback a 64-byte write and read cost 7.13 µs through read/write and 6.86 µs through recv/send
// (medians of 6 alternating runs of BenchmarkSocketCalls, pinned), 4 % less kernel time. MSG_NOSIGNAL
// makes a write to a reset connection fail with EPIPE without raising SIGPIPE, which the runtime
// would otherwise catch and drop.

// They call package syscall's RawSyscall6 directly: x/sys/unix's reaches it through an assembly
// trampoline and an ABI wrapper, about 10 ns more per call (a getppid loop: 190 against 200 ns).

// Under -race, a read that brings data acquires, and a write releases, what package net's reads and
// writes do (package raceio), so that bytes through a socket order the goroutines at its two ends.

// rawRead is recv(2) on a non-blocking socket, with unix.Read's results (n is -1 on error).
func rawRead(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(ptr), uintptr(len(p)), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	if r > 0 {
		raceio.Acquire()
	}
	return int(r), nil
}

// rawWrite is send(2) on a non-blocking socket, with unix.Write's results (n is -1 on error).
func rawWrite(fd int, p []byte) (int, error) {
	var ptr unsafe.Pointer
	if len(p) > 0 {
		ptr = unsafe.Pointer(&p[0])
	}
	raceio.Release()
	r, _, e := syscall.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(ptr), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// writev writes vecs to a non-blocking socket with one sendmsg(2), through the caller's iovec array
// (at least len(vecs) long); it allocates nothing.
func writev(fd int, vecs [][]byte, iov []unix.Iovec) (int, error) {
	if len(vecs) == 1 {
		return rawWrite(fd, vecs[0])
	}
	for i, b := range vecs {
		iov[i].Base = &b[0]
		iov[i].SetLen(len(b))
	}
	msg := unix.Msghdr{Iov: &iov[0]}
	msg.SetIovlen(len(vecs))
	raceio.Release()
	r, _, errno := syscall.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(&msg)), unix.MSG_NOSIGNAL)
	clear(iov[:len(vecs)])
	if errno != 0 {
		return 0, errno
	}
	return int(r), nil
}
