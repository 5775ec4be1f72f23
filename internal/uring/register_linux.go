package uring

import (
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// register is the raw io_uring_register(2) call, retried on EINTR. arg points to memory that only has
// to stay put for the duration of the call. With SetupSingleIssuer, the kernel accepts it only from the
// ring's thread.
func (r *Ring) register(op uint32, arg unsafe.Pointer, nr uint32) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	for {
		n, _, errno := unix.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uintptr(op), uintptr(arg),
			uintptr(nr), 0, 0)
		if errno == 0 {
			return int(n), nil
		}
		if errno != unix.EINTR {
			return 0, os.NewSyscallError("io_uring_register", errno)
		}
	}
}

// RegisterRingFD registers the ring's fd with the kernel (IORING_REGISTER_RING_FDS, 5.18) so that each
// io_uring_enter skips the fd table lookup and reference count. The registration belongs to the calling
// thread (at most 16 per thread), so it needs a ring used from one locked thread, and Close, which
// unregisters it, must run on that thread too.
func (r *Ring) RegisterRingFD() error {
	if r.enterFlags&enterRegisteredRing != 0 {
		return nil
	}
	u := rsrcUpdate{offset: ^uint32(0), data: uint64(r.fd)} // offset -1: let the kernel pick the slot
	n, err := r.register(registerRingFDs, unsafe.Pointer(&u), 1)
	if err != nil {
		return fmt.Errorf("uring: register ring fd: %w", err)
	}
	if n != 1 {
		return fmt.Errorf("uring: register ring fd: kernel registered %d of 1", n)
	}
	r.enterFd = int(u.offset)
	r.enterFlags |= enterRegisteredRing
	r.regTid = unix.Gettid()
	return nil
}

// UnregisterRingFD undoes RegisterRingFD; io_uring_enter then uses the plain fd again. Close calls it.
// It must run on the thread that called RegisterRingFD, and fails with EEXIST on another: the kernel
// looks the index up in the calling thread's own table, where it names nothing (the kernel reports
// success and the registration stays) or another ring's registration (which it would drop).
func (r *Ring) UnregisterRingFD() error {
	if r.enterFlags&enterRegisteredRing == 0 {
		return nil
	}
	if tid := unix.Gettid(); tid != r.regTid {
		return fmt.Errorf("uring: unregister ring fd: registered by thread %d, not %d: %w", r.regTid, tid, unix.EEXIST)
	}
	u := rsrcUpdate{offset: uint32(r.enterFd)}
	if _, err := r.register(unregisterRingFDs, unsafe.Pointer(&u), 1); err != nil {
		return fmt.Errorf("uring: unregister ring fd: %w", err)
	}
	r.enterFd = r.fd
	r.enterFlags &^= enterRegisteredRing
	return nil
}

// RingFDRegistered reports whether RegisterRingFD is in effect.
func (r *Ring) RingFDRegistered() bool { return r.enterFlags&enterRegisteredRing != 0 }

// RegisterEventFD makes the kernel signal the eventfd efd for each posted CQE
// (IORING_REGISTER_EVENTFD), so that a thread blocked elsewhere (in epoll, say) learns of completions.
// With SetupDeferTaskrun a CQE is posted only by the ring's thread in SubmitAndWait, but the signal comes
// earlier, when the completion's work is queued for that thread: measured on 6.18, 2 µs after a recv's
// data, with no CQE yet (docs/uring-engine.md, "Parking"). The caller keeps efd open until
// UnregisterEventFD or Close.
func (r *Ring) RegisterEventFD(efd int) error {
	fd := int32(efd)
	if _, err := r.register(registerEventFD, unsafe.Pointer(&fd), 1); err != nil {
		return fmt.Errorf("uring: register eventfd: %w", err)
	}
	return nil
}

// SetEventFDEnabled turns the signals of a registered eventfd on or off (IORING_CQ_EVENTFD_DISABLED, 5.8;
// on by default). A loop that parks on the eventfd turns them off while it runs, so that the kernel
// does not signal it for work the loop is about to reap anyway. It returns false, and does nothing,
// on a kernel without the flag.
//
// With SetupDeferTaskrun the kernel signals only when the ring's queue of deferred work goes from empty
// to not empty, so work queued while the signals were off signals nothing when they are turned on:
// after turning them on, run that work (SubmitAndWait with a zero timeout) before waiting on the
// eventfd.
func (r *Ring) SetEventFDEnabled(on bool) bool {
	if r.cq.flags == nil {
		return false
	}
	// The application is the only writer of this word: a plain read-modify-write, published with a
	// store the kernel reads with READ_ONCE.
	v := atomic.LoadUint32(r.cq.flags)
	if on {
		v &^= cqEventFDDisabled
	} else {
		v |= cqEventFDDisabled
	}
	atomic.StoreUint32(r.cq.flags, v)
	return true
}

// UnregisterEventFD undoes RegisterEventFD.
func (r *Ring) UnregisterEventFD() error {
	if _, err := r.register(unregisterEventFD, nil, 0); err != nil {
		return fmt.Errorf("uring: unregister eventfd: %w", err)
	}
	return nil
}

// RegisterFiles registers fds as the ring's fixed files (IORING_REGISTER_FILES): an SQE with
// SQEFixedFile then gives an index into fds as its Fd, which saves the per-operation fd lookup. An
// entry of -1 leaves a slot empty. The kernel takes its own references, so the caller may close its
// fds afterwards; fds need not outlive the call.
func (r *Ring) RegisterFiles(fds []int32) error {
	if len(fds) == 0 {
		return fmt.Errorf("uring: register 0 files: %w", unix.EINVAL)
	}
	if _, err := r.register(registerFiles, unsafe.Pointer(&fds[0]), uint32(len(fds))); err != nil {
		return fmt.Errorf("uring: register %d files: %w", len(fds), err)
	}
	return nil
}

// UnregisterFiles drops every fixed file registered with RegisterFiles.
func (r *Ring) UnregisterFiles() error {
	if _, err := r.register(unregisterFiles, nil, 0); err != nil {
		return fmt.Errorf("uring: unregister files: %w", err)
	}
	return nil
}
