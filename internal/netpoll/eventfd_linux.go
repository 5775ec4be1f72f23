package netpoll

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Waker wakes a loop through a non-blocking eventfd registered in the loop's poller. Several Wake calls
// before the loop drains it coalesce into one wake-up.
type Waker struct {
	fd  int
	one uint64 // always 1: the value written by Wake (a field, so that it never escapes to the heap)
	buf uint64 // Drain's read target, touched only by the loop
}

// NewWaker creates the eventfd.
func NewWaker() (*Waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("eventfd", err)
	}
	return &Waker{fd: fd, one: 1}, nil
}

// FD returns the eventfd, for registration in a poller.
func (w *Waker) FD() int { return w.fd }

// Wake makes the eventfd readable. It is safe from any goroutine.
func (w *Waker) Wake() error {
	for {
		_, err := unix.Write(w.fd, (*[8]byte)(unsafe.Pointer(&w.one))[:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN { // the counter is saturated: the loop is already due to wake
			return nil
		}
		if err != nil {
			return os.NewSyscallError("write", err)
		}
		return nil
	}
}

// Drain resets the eventfd after a wake-up; the loop calls it when the eventfd's token is ready. It
// reports whether the eventfd was signalled.
func (w *Waker) Drain() bool {
	for {
		n, err := unix.Read(w.fd, (*[8]byte)(unsafe.Pointer(&w.buf))[:])
		if err != unix.EINTR {
			return n == 8
		}
	}
}

// Close releases the eventfd.
func (w *Waker) Close() error { return unix.Close(w.fd) }
