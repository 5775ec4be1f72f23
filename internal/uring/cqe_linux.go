package uring

import (
	"sync/atomic"
	"syscall"
)

// CQE mirrors struct io_uring_cqe (16 bytes): the completion of one SQE. The reaping methods copy CQEs
// out of the mapped ring, so a CQE value stays valid after Advance.
type CQE struct {
	UserData uint64 // the SQE's UserData
	Res      int32  // the result: a count, an fd, a poll mask, 0, or -errno
	Flags    uint32 // CQEF* bits, and the buffer id in the upper 16 bits with CQEFBuffer
}

// Err returns nil when Res is not negative, and the errno (a syscall.Errno, so errors.Is works with
// unix.ECANCELED and the like) otherwise. It does not allocate.
func (c CQE) Err() error {
	if c.Res >= 0 {
		return nil
	}
	return syscall.Errno(-c.Res)
}

// More reports CQEFMore: the multishot SQE stays armed and will post more CQEs. A multishot CQE without
// it is the last one, and the operation must be re-armed if still wanted.
func (c CQE) More() bool { return c.Flags&CQEFMore != 0 }

// Buffer returns the id of the provided buffer the kernel filled, if CQEFBuffer is set. The buffer
// then belongs to the caller until it recycles it (BufRing.Recycle).
func (c CQE) Buffer() (id uint16, ok bool) {
	return uint16(c.Flags >> cqeBufferShift), c.Flags&CQEFBuffer != 0
}

// Notif reports CQEFNotif: this is a SEND_ZC notification, posted once the kernel no longer reads the
// send buffer, and not a send result.
func (c CQE) Notif() bool { return c.Flags&CQEFNotif != 0 }

// SockNonEmpty reports CQEFSockNonempty: the socket still had data after this receive.
func (c CQE) SockNonEmpty() bool { return c.Flags&CQEFSockNonempty != 0 }

// BufMore reports CQEFBufMore (6.12, incremental buffer rings): the kernel will keep filling the same
// buffer, so it must not be recycled yet.
func (c CQE) BufMore() bool { return c.Flags&CQEFBufMore != 0 }

// CQReady returns how many CQEs are ready to be reaped.
func (r *Ring) CQReady() uint32 { return atomic.LoadUint32(r.cq.tail) - r.cq.head }

// CQDrained reports whether every completion the kernel has posted was reaped: the CQ is empty and
// none waits in the kernel's overflow backlog. Completions still in flight (task work not run yet)
// do not count.
func (r *Ring) CQDrained() bool {
	return r.CQReady() == 0 && atomic.LoadUint32(r.sq.flags)&sqCQOverflow == 0
}

// PeekBatch copies up to len(cqes) ready CQEs, oldest first, into cqes and returns how many; it neither
// blocks nor allocates. The CQEs stay in the ring until Advance.
func (r *Ring) PeekBatch(cqes []CQE) int {
	cq := &r.cq
	// Acquire: the CQEs below the tail are fully written before we read them.
	ready := atomic.LoadUint32(cq.tail) - cq.head
	n := min(ready, uint32(len(cqes)))
	for i := uint32(0); i < n; i++ {
		cqes[i] = cq.cqes[(cq.head+i)&cq.mask]
	}
	return int(n)
}

// Advance marks the n oldest ready CQEs as consumed, so the kernel may reuse their slots. n must not
// exceed the count PeekBatch returned.
func (r *Ring) Advance(n int) {
	cq := &r.cq
	cq.head += uint32(n)
	// Release: the CQEs were copied out before the kernel may overwrite them.
	atomic.StoreUint32(cq.khead, cq.head)
}

// Reap copies up to len(cqes) ready CQEs into cqes, consumes them, and returns how many: PeekBatch and
// Advance in one call.
func (r *Ring) Reap(cqes []CQE) int {
	n := r.PeekBatch(cqes)
	if n > 0 {
		r.Advance(n)
	}
	return n
}

// CQOverflow returns the kernel's count of CQEs dropped because the CQ was full. With FeatNoDrop
// (5.5) overflowed CQEs are kept in a backlog instead and this stays 0 unless memory ran out.
func (r *Ring) CQOverflow() uint32 { return atomic.LoadUint32(r.cq.overflow) }
