package netpoll

import (
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Event masks used by the engine.
const (
	// In is readability, including a peer's half-close (EPOLLRDHUP) and TCP urgent data (EPOLLPRI).
	In = unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLPRI
	// Out is writability.
	Out = unix.EPOLLOUT
	// ErrMask is an error or hang-up on the descriptor.
	ErrMask = unix.EPOLLERR | unix.EPOLLHUP
	// ET requests edge-triggered notification.
	ET = unix.EPOLLET
)

// Event is one readiness event: the token given at registration and the ready mask.
type Event struct {
	Events uint32
	Token  uint64
}

// rawEvent mirrors struct epoll_event, which is packed on amd64 (12 bytes) and padded elsewhere. The token
// is read and written through unsafe so the same code serves both layouts.
type rawEvent = unix.EpollEvent

// Poller is an epoll instance. Its methods other than Close are safe for one goroutine at a time, except
// Add, Mod and Del, which the kernel serialises and may be called from any goroutine.
type Poller struct {
	fd  int
	raw []rawEvent
}

// NewPoller creates an epoll instance able to return up to max events per Wait.
func NewPoller(max int) (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, os.NewSyscallError("epoll_create1", err)
	}
	return &Poller{fd: fd, raw: make([]rawEvent, max)}, nil
}

// FD returns the epoll descriptor.
func (p *Poller) FD() int { return p.fd }

// Close releases the epoll instance.
func (p *Poller) Close() error { return unix.Close(p.fd) }

func setToken(ev *rawEvent, token uint64) {
	*(*uint64)(unsafe.Pointer(&ev.Fd)) = token
}

func token(ev *rawEvent) uint64 {
	return *(*uint64)(unsafe.Pointer(&ev.Fd))
}

// Add registers fd for events with the given token.
func (p *Poller) Add(fd int, events uint32, tok uint64) error {
	ev := rawEvent{Events: events}
	setToken(&ev, tok)
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Mod changes the events and token of a registered fd.
func (p *Poller) Mod(fd int, events uint32, tok uint64) error {
	ev := rawEvent{Events: events}
	setToken(&ev, tok)
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, fd, &ev); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Del removes fd from the interest list.
func (p *Poller) Del(fd int) error {
	if err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, fd, nil); err != nil {
		return os.NewSyscallError("epoll_ctl", err)
	}
	return nil
}

// Wait waits up to msec milliseconds (-1: forever, 0: poll) and stores the ready events in evs, returning
// how many. An interrupted wait returns 0 events and no error.
func (p *Poller) Wait(evs []Event, msec int) (int, error) {
	raw := p.raw
	if len(evs) < len(raw) {
		raw = raw[:len(evs)]
	}
	var n int
	var err error
	if msec == 0 {
		n, err = pollNow(p.fd, raw) // never blocks: keep the scheduler out of it (see pollNow)
	} else {
		n, err = unix.EpollWait(p.fd, raw, msec)
	}
	if err == unix.EINTR {
		return 0, nil
	}
	if err != nil {
		return 0, os.NewSyscallError("epoll_wait", err)
	}
	for i := 0; i < n; i++ {
		evs[i] = Event{Events: raw[i].Events, Token: token(&raw[i])}
	}
	return n, nil
}

// pollNow is epoll_pwait with a zero timeout through RawSyscall6: it never blocks, so the Go scheduler
// need not know about it, and the runtime's monitor never finds the loop's processor in a system call
// (see the engine's rawsys_linux.go).
func pollNow(epfd int, evs []rawEvent) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall6(unix.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
