package eddy

import (
	"errors"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pollFile is a duplicate of a loop's descriptor registered in the Go runtime's poller, so that the
// loop goroutine can sleep there (epParker, urParker) instead of in a blocking system call. The
// duplicate is the os.File's to close; the loop keeps its own descriptor.
type pollFile struct {
	f        *os.File
	rc       syscall.RawConn // f's
	deadline bool            // a read deadline is set on f
}

// newPollFile duplicates fd and registers the duplicate with the runtime's poller.
func newPollFile(fd int, name string) (*pollFile, error) {
	dup, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, os.NewSyscallError("fcntl", err)
	}
	// O_NONBLOCK belongs to the open file, shared by both descriptors (epoll_wait ignores it, an
	// eventfd already has it); os.NewFile registers only non-blocking descriptors with the poller.
	if err := unix.SetNonblock(dup, true); err != nil {
		unix.Close(dup)
		return nil, os.NewSyscallError("fcntl", err)
	}
	f := os.NewFile(uintptr(dup), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &pollFile{f: f, rc: rc}, nil
}

// wait calls poll and, for as long as it returns false, parks until the descriptor is readable or d
// has passed (d <= 0: no limit). Reaching d is not an error.
func (p *pollFile) wait(d time.Duration, poll func(uintptr) bool) error {
	switch {
	case d > 0:
		p.f.SetReadDeadline(time.Now().Add(d))
		p.deadline = true
	case p.deadline:
		p.f.SetReadDeadline(time.Time{})
		p.deadline = false
	}
	if err := p.rc.Read(poll); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	return nil
}

// close unregisters and closes the duplicate.
func (p *pollFile) close() { p.f.Close() }
