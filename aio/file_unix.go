//go:build unix

package aio

import (
	"io"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// init reads the descriptor the io_uring backend names in its SQEs (the File keeps osf, and so the
// descriptor, open until Close) and whether the file appends (WriteAt is refused then, as os.File
// refuses it for the files it opened with O_APPEND), and keeps the file's RawConn for the pool's
// positioned reads and writes.
func (f *File) init() error {
	rc, err := f.osf.SyscallConn()
	if err != nil {
		return err
	}
	var flags int
	var ferr error
	if err := rc.Control(func(fd uintptr) {
		f.fd = int(fd)
		flags, ferr = unix.FcntlInt(fd, unix.F_GETFL, 0)
	}); err != nil {
		return err
	}
	if ferr != nil {
		return &os.PathError{Op: "fcntl", Path: f.name, Err: ferr}
	}
	f.app = flags&unix.O_APPEND != 0
	if flags&unix.O_NONBLOCK != 0 {
		// Character devices only: a regular file's or a block device's pread waits for the disk
		// whatever O_NONBLOCK says, and io_uring's read waits for it without a poll.
		if st, err := f.osf.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			f.nowaitAt = true
		}
	}
	f.rc = rc
	// A file without positioned reads (a pipe, FIFO, socket, terminal or eventfd) makes pread(2) fail
	// with ESPIPE whatever the count: ReadAt and WriteAt then fail as os.File's do, rather than reach
	// io_uring, which reads such a file at its current position whatever the offset.
	rc.Control(func(fd uintptr) {
		_, err := unix.Pread(int(fd), nil, 0)
		f.stream = err == unix.ESPIPE
		// A file may have positioned reads and not positioned writes (a seq_file: /proc/version,
		// /proc/thread-self/comm), where pwrite(2) fails with ESPIPE and io_uring's WRITE, which
		// does not look, fails with EBADF (read-only) or writes, ignoring the offset (writable).
		if !f.stream {
			f.noPwrite = pwriteRefused(int(fd), flags)
		}
		var st unix.Stat_t
		if !f.stream && unix.Fstat(int(fd), &st) == nil {
			mode := st.Mode & unix.S_IFMT
			f.seekable = mode == unix.S_IFREG || mode == unix.S_IFBLK
		}
	})
	return nil
}

// preadFull reads len(p) bytes at off with pread(2) until done, the end of the file or an error, and
// counts every byte read, also those before an error (os.File.ReadAt drops the count of a last read
// that fails).
func (f *File) preadFull(p []byte, off int64) (int, error) {
	return f.positionedFull(false, p, off)
}

// pwriteFull writes p at off with pwrite(2) until done or an error, and counts every byte written, also
// those before an error (os.File.WriteAt drops the count of a last write that fails).
func (f *File) pwriteFull(p []byte, off int64) (int, error) {
	return f.positionedFull(true, p, off)
}

// positionedFull calls pread or pwrite (write) until p is done, and ends with io.EOF for a read, or
// io.ErrShortWrite as an *os.PathError for a write, that moved nothing, or with the call's own error
// as an *os.PathError. The RawConn keeps the descriptor open meanwhile.
func (f *File) positionedFull(write bool, p []byte, off int64) (int, error) {
	x := positionedCalls.Get().(*positioned)
	x.f, x.write, x.p, x.off = f, write, p, off
	cerr := f.rc.Control(x.call)
	n, err := x.n, x.err
	*x = positioned{call: x.call} // holds nothing of this call in the pool
	positionedCalls.Put(x)
	if cerr != nil && err == nil {
		err = cerr
	}
	return n, err
}

// positioned is one call of positionedFull: its arguments, its results, and the function it gives
// RawConn.Control, bound to it once. Control takes a func that escapes (RawConn is an interface): a
// closure over the arguments and results cost three allocations (the closure, n and err) per read or
// write of the pool backend, and every write made its io.ErrShortWrite error up front, a fourth. One
// from positionedCalls costs none in steady state.
type positioned struct {
	f     *File
	write bool
	p     []byte
	off   int64
	n     int
	err   error
	call  func(fd uintptr) // run of this positioned
}

var positionedCalls = sync.Pool{New: func() any {
	x := new(positioned)
	x.call = x.run
	return x
}}

// run makes the calls on fd, as positionedFull describes.
func (x *positioned) run(fd uintptr) {
	sys, op := syscall.Pread, "read" // syscall's: see raceio
	if x.write {
		sys, op = syscall.Pwrite, "write"
	}
	p, off := x.p, x.off
	for x.n < len(p) {
		m, e := sys(int(fd), p[x.n:], off+int64(x.n))
		if m > 0 {
			x.n += m
		}
		switch {
		case e == unix.EINTR:
			continue
		case e != nil:
			x.err = &os.PathError{Op: op, Path: x.f.name, Err: e}
			return
		case m == 0:
			if x.write {
				x.err = &os.PathError{Op: "write", Path: x.f.name, Err: io.ErrShortWrite}
			} else {
				x.err = io.EOF
			}
			return
		}
	}
}

// writeNothing makes write(2) of no bytes, as os.File.Write of an empty buffer does: it fails where a
// write would (EBADF on a file not open for writing) and does nothing otherwise. Control does not take
// the os.File's write lock, which a Write of the pool in flight holds, so it does not wait for one.
func (f *File) writeNothing() error {
	var err error
	cerr := f.rc.Control(func(fd uintptr) {
		for {
			if _, err = unix.Write(int(fd), nil); err != unix.EINTR {
				return
			}
		}
	})
	if err != nil {
		return &os.PathError{Op: "write", Path: f.name, Err: err}
	}
	return cerr
}

// rawConn is the type of File.rc here.
type rawConn = syscall.RawConn
