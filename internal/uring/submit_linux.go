package uring

import (
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// GetSQE returns the next free SQE, zeroed, or nil when the submission queue is full (or the ring is
// closed): then Submit (or SubmitAndWait) and retry. The SQE belongs to the caller until the next
// Submit or SubmitAndWait, which hands every SQE obtained so far to the kernel; fill it with one of
// the Prep methods and set UserData and Flags. An SQE obtained must be submitted: there is no way to
// take it back, so prepare a NOP if it turns out not to be needed.
func (r *Ring) GetSQE() *SQE {
	sq := &r.sq
	if sq.sqeTail-atomic.LoadUint32(sq.head) >= sq.entries {
		return nil
	}
	sqe := &sq.sqes[sq.sqeTail&sq.mask]
	sq.sqeTail++
	*sqe = SQE{}
	return sqe
}

// SQSpace returns how many more SQEs GetSQE can hand out before the next submit.
func (r *Ring) SQSpace() uint32 {
	return r.sq.entries - (r.sq.sqeTail - atomic.LoadUint32(r.sq.head))
}

// SQPending returns how many SQEs have been obtained with GetSQE but not yet consumed by the kernel.
func (r *Ring) SQPending() uint32 { return r.sq.sqeTail - atomic.LoadUint32(r.sq.head) }

// flushSQ publishes the prepared SQEs to the kernel and returns how many it has not consumed yet.
func (r *Ring) flushSQ() uint32 {
	sq := &r.sq
	if sq.pubTail != sq.sqeTail {
		// Release: the plain stores that filled the SQEs happen before the kernel sees the new tail.
		atomic.StoreUint32(sq.tail, sq.sqeTail)
		sq.pubTail = sq.sqeTail
	}
	return sq.sqeTail - atomic.LoadUint32(sq.head)
}

// NeedsEnter reports whether the kernel asked for an io_uring_enter with GETEVENTS to post completions:
// the CQ overflowed into the kernel's backlog, or (with SetupTaskrunFlag) task work is pending.
// SubmitAndWait always does this; a loop that only peeks the CQ must check it.
func (r *Ring) NeedsEnter() bool {
	return atomic.LoadUint32(r.sq.flags)&(sqCQOverflow|sqTaskrun) != 0
}

// TaskWorkPending reports whether the kernel holds task work that only an io_uring_enter with
// GETEVENTS runs, such as receives whose data has come but whose completions are not posted yet
// (IORING_SQ_TASKRUN). It is known only on a ring with SetupTaskrunFlag; on others it reports false.
func (r *Ring) TaskWorkPending() bool {
	return r.flags&SetupTaskrunFlag != 0 && atomic.LoadUint32(r.sq.flags)&sqTaskrun != 0
}

// StaleTaskrunFlagForTest sets IORING_SQ_TASKRUN as a race in the kernel may leave it, with no work
// queued (SubmitAndRun). For tests only: production code must never call it.
func (r *Ring) StaleTaskrunFlagForTest() { atomic.OrUint32(r.sq.flags, sqTaskrun) }

// maxRunEnters bounds SubmitAndRun's calls, at about 20 items of work each.
const maxRunEnters = 64

// SubmitAndRun is SubmitAndWait(0, 0) for a caller about to sleep until the ring signals: it submits what
// is queued and lets the kernel post what it can at once, entering again while nothing was posted and
// the kernel reports work left (TaskWorkPending), up to 64 times.
//
// With SetupDeferTaskrun one call runs at most 20 items of deferred work (IO_LOCAL_TW_DEFAULT_MAX,
// measured on 6.18) and keeps the rest for the next; an item may post nothing (a receive woken for data
// that is gone by the time it runs), and the kernel signals a registered eventfd only when work is
// queued while none was, not for work it kept. A caller that saw no completion after one call and
// slept on the eventfd could sleep beside completions it had only to ask for. If TaskWorkPending still
// holds on return, the caller should not sleep.
//
// The flag can be stale: the kernel clears it when it starts to run the work and sets it when work is
// queued on an empty list, so work queued between the two, and run at once, leaves it set with nothing
// queued; and an enter with nothing queued does not clear it (seen a few times in 5,000 bursts on 6.18,
// by a reviewer; a caller that took it at its word spun). So before entering again, SubmitAndRun clears
// it (an atomic AND, as the kernel's own updates are atomic): an enter that leaves work sets it again,
// and work queued afterwards finds the list empty and signals.
func (r *Ring) SubmitAndRun() (int, error) {
	n, err := r.SubmitAndWait(0, 0)
	for i := 1; i < maxRunEnters && err == nil && r.CQReady() == 0 && r.TaskWorkPending(); i++ {
		atomic.AndUint32(r.sq.flags, ^uint32(sqTaskrun))
		var m int
		m, err = r.SubmitAndWait(0, 0)
		n += m
	}
	return n, err
}

// Submit hands every prepared SQE to the kernel without waiting and returns how many it consumed. It
// makes no system call when nothing is pending. EINTR is retried. It posts the completions of
// operations that complete at once; with SetupDeferTaskrun, those the kernel holds back only when it
// asks for an enter with GETEVENTS (NeedsEnter: the CQ overflowed, or, with SetupTaskrunFlag, deferred
// work is pending), which Submit then makes. If the kernel consumed fewer SQEs than were pending
// (EAGAIN, EBUSY on resource shortage), the rest stay queued for the next call.
func (r *Ring) Submit() (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	toSubmit := r.flushSQ()
	if toSubmit == 0 {
		return 0, nil
	}
	var flags uint32
	if r.NeedsEnter() {
		flags = enterGetEvents
	}
	for {
		n, errno := r.enter(toSubmit, 0, flags, 0, 0, true)
		if errno == 0 {
			return n, nil
		}
		if errno != unix.EINTR {
			return 0, enterError(errno)
		}
		toSubmit = r.SQPending()
	}
}

// SubmitAndWait hands every prepared SQE to the kernel and waits, in the same io_uring_enter, until at
// least minComplete completions are ready or timeout has passed, then returns how many SQEs the kernel
// consumed. A negative timeout waits without limit; a zero timeout does not wait (but still lets the
// kernel post pending completions, which SetupDeferTaskrun needs). Reaching the timeout (ETIME) is a
// normal return with a nil error, and EINTR is retried with the remaining time, so the only errors are
// real ones (EBADR: CQEs were dropped; EBUSY/EAGAIN: reap and retry; EEXIST: wrong thread).
//
// It may return before minComplete completions are ready (a signal arrived after SQEs were submitted),
// so the caller reaps whatever is there; that is what an event loop does anyway.
//
// A call that does not wait, and the first part of a wait, as long as SetHeldWait says, go through
// syscall.RawSyscall6: the thread keeps its P, as it would running Go code. The rest of a longer wait
// goes through syscall.Syscall6, so that a ring idle for long hands its P to other goroutines.
//
// With a min wait set (SetMinWait) and minComplete above one, minComplete is a goal: the wait also
// ends once the min wait has passed and at least one completion is ready.
func (r *Ring) SubmitAndWait(minComplete uint32, timeout time.Duration) (int, error) {
	if r.closed {
		return 0, ErrClosed
	}
	toSubmit := r.flushSQ()
	flags := uint32(enterGetEvents)
	if timeout == 0 {
		return r.waitLoop(toSubmit, 0, flags, 0, 0, true)
	}
	if timeout > 0 && r.features&FeatExtArg == 0 {
		return 0, fmt.Errorf("uring: timed wait needs IORING_FEAT_EXT_ARG (5.11): %w", unix.ENOTSUP)
	}
	if held := r.heldWait; held > 0 && r.features&FeatExtArg != 0 {
		if timeout > 0 && timeout <= held {
			return r.waitLoop(toSubmit, minComplete, flags, timeout, r.minWait, true)
		}
		start := time.Now()
		n, errno := r.enter(toSubmit, minComplete, flags|enterExtArg, held, r.minWait, true)
		// What is left of the min wait for the rest of the wait. The held part is longer than it as a
		// rule, and then it is over and any completion will do; but a signal (the runtime's own) may
		// end the held part early.
		var minWait uint32
		if r.minWait > 0 {
			if left := time.Duration(r.minWait)*time.Microsecond - time.Since(start); left >= time.Microsecond {
				minWait = uint32(left / time.Microsecond)
			} else {
				minComplete = 1
			}
		}
		switch {
		case errno == 0 && r.CQReady() >= minComplete:
			return n, nil
		case errno == 0, errno == unix.ETIME, errno == unix.EINTR:
			// Nothing came in the held part (a call that submitted returns the count, not ETIME): wait
			// for the rest with the scheduler told. (An EINTR may be the runtime asking for the P, which
			// Syscall6 gives it.)
		default:
			return 0, enterError(errno)
		}
		toSubmit = r.SQPending()
		if timeout > 0 {
			if timeout -= time.Since(start); timeout <= 0 {
				return n, nil
			}
		}
		m, err := r.waitLoop(toSubmit, minComplete, flags, timeout, minWait, false)
		return n + m, err
	}
	return r.waitLoop(toSubmit, minComplete, flags, timeout, r.minWait, false)
}

// waitLoop is SubmitAndWait's io_uring_enter for one phase of the wait (timeout 0, with minComplete 0:
// none; negative: no limit), with the min wait minWait (microseconds), and EINTR retried for what is
// left of the timeout.
func (r *Ring) waitLoop(toSubmit, minComplete, flags uint32, timeout time.Duration, minWait uint32, raw bool) (int, error) {
	var deadline time.Time
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
		flags |= enterExtArg
	}
	var start time.Time // of the min wait, which a retry after EINTR shortens by what has passed
	fullMinWait := minWait
	if minWait > 0 && minComplete > 1 {
		flags |= enterExtArg
		start = time.Now()
	}
	for {
		n, errno := r.enter(toSubmit, minComplete, flags, timeout, minWait, raw)
		switch errno {
		case 0:
			return n, nil
		case unix.ETIME:
			if timeout < 0 && r.CQReady() == 0 {
				// An unbounded wait with a min wait ends only at unboundedMinWaitTimeout (enter): wait on.
				toSubmit = r.SQPending()
				continue
			}
			return 0, nil
		case unix.EINTR:
			r.eintr++
			// Nothing was submitted (a positive count would have been returned instead): wait again
			// for what is left of the timeout, and of the min wait (once it is over, any completion
			// will do).
			if timeout > 0 {
				if timeout = time.Until(deadline); timeout <= 0 {
					return 0, nil
				}
			}
			if !start.IsZero() {
				if left := time.Duration(fullMinWait)*time.Microsecond - time.Since(start); left >= time.Microsecond {
					minWait = uint32(left / time.Microsecond)
				} else {
					minWait, minComplete = 0, 1
				}
			}
			toSubmit = r.SQPending()
		default:
			return 0, enterError(errno)
		}
	}
}

// SetHeldWait sets how long SubmitAndWait waits without telling the scheduler (0, the default: not at
// all). For a ring driven by one goroutine locked to its thread.
//
// A goroutine blocked in syscall.Syscall6 keeps its P marked "in a system call". The runtime's monitor
// (sysmon) takes such a P back after 20 µs to hand it to another thread, and keeps waking every 20 µs
// while it finds one to take: with one P, an event loop that waits many times a second for a few
// microseconds each pays for that in futex wake-ups and context switches on its own core (10 % of its
// CPU in perf, docs/uring-engine.md). A held wait is invisible to the scheduler, as a loop busy in Go
// code is: other goroutines may wait for the P until it ends (or until sysmon preempts a P held for
// 10 ms, whose signal ends the wait with EINTR), so keep d short.
func (r *Ring) SetHeldWait(d time.Duration) { r.heldWait = d }

// SetMinWait sets the min wait of SubmitAndWait (0, the default: none), in whole microseconds: a wait
// for minComplete completions, minComplete above one, returns once the min wait has passed and at least
// one completion is ready, even if fewer than minComplete are. It lets a busy event loop ask for a batch
// of completions per wait without waiting long for the last of them (IORING_FEAT_MIN_TIMEOUT, 6.12;
// ENOTSUP before).
func (r *Ring) SetMinWait(d time.Duration) error {
	if d > 0 && r.features&FeatMinTimeout == 0 {
		return fmt.Errorf("uring: a min wait needs IORING_FEAT_MIN_TIMEOUT (6.12): %w", unix.ENOTSUP)
	}
	r.minWait = uint32(min(max(d, 0), time.Hour) / time.Microsecond)
	return nil
}

// enter is the raw io_uring_enter(2) call. With enterExtArg in flags, the wait is bounded by timeout
// when it is positive, and the min wait minWait (microseconds) applies when minComplete is above one
// and the min wait is shorter than the timeout. The kernel (io_cqring_min_timer_wakeup, 6.12) ends a
// wait at its min wait when the min wait is not shorter than the timeout, or when there is no timeout:
// so a longer min wait is left out, and a wait without a timeout is given unboundedMinWaitTimeout,
// which waitLoop waits through. raw calls through
// syscall.RawSyscall6, which the scheduler does not see (for calls that do not wait, or wait briefly);
// otherwise syscall.Syscall6 tells it that the thread may block. The argument points into the
// heap-allocated Ring.
func (r *Ring) enter(toSubmit, minComplete, flags uint32, timeout time.Duration, minWait uint32, raw bool) (int, unix.Errno) {
	var arg, argSize uintptr
	if flags&enterExtArg != 0 {
		r.waitArg.ts, r.waitArg.minWaitUsec = 0, 0
		if minComplete > 1 && minWait > 0 {
			if timeout < 0 {
				timeout = unboundedMinWaitTimeout
			}
			if time.Duration(minWait)*time.Microsecond < timeout {
				r.waitArg.minWaitUsec = minWait
			}
		}
		if timeout > 0 {
			r.waitTS = Timespec{Sec: int64(timeout / time.Second), Nsec: int64(timeout % time.Second)}
			r.waitArg.ts = uint64(uintptr(unsafe.Pointer(&r.waitTS)))
		}
		arg, argSize = uintptr(unsafe.Pointer(&r.waitArg)), unsafe.Sizeof(r.waitArg)
	}
	var (
		n     uintptr
		errno syscall.Errno
	)
	if raw {
		n, _, errno = syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFd), uintptr(toSubmit),
			uintptr(minComplete), uintptr(flags|r.enterFlags), arg, argSize)
	} else {
		n, _, errno = syscall.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(r.enterFd), uintptr(toSubmit),
			uintptr(minComplete), uintptr(flags|r.enterFlags), arg, argSize)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// unboundedMinWaitTimeout is the timeout given to the kernel for a wait without one that has a min
// wait (enter).
const unboundedMinWaitTimeout = 24 * time.Hour

func enterError(errno unix.Errno) error { return os.NewSyscallError("io_uring_enter", errno) }
