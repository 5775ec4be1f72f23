package aio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// uringBackend runs operations on one io_uring, driven by one goroutine locked to its thread (the ring is
// set up SINGLE_ISSUER with DEFER_TASKRUN where the kernel has them, as the engine's are). Other
// goroutines hand it operations and cancellations through a queue under a mutex and wake it through an
// eventfd, on which the ring keeps a multishot poll; it writes the eventfd only when the loop is about to
// wait. The loop settles each operation (the file and the IO may then close) and hands its result to
// a second goroutine, the publisher, which completes the futures: a continuation on the Inline executor
// runs there, where it may block, even on a Close that waits for this loop.
//
// At most depth operations are in the kernel at once, each in a slot of a table whose index and
// generation make its user_data (never a Go pointer); the rest wait in line, in order. An operation
// keeps its buffer (op.p) and its file open until its last CQE: a cancellation is a request, and the
// operation is settled only by its own completion.
type uringBackend struct {
	mu       sync.Mutex
	queue    []*op         // handed over, not yet taken by the loop
	cancels  []cancelReq   // likewise
	closing  bool          // close was called: the loop stops everything and ends
	sleeping bool          // the loop is about to wait: a producer must write the eventfd
	efd      int           // the wake-up eventfd (non-blocking)
	done     chan struct{} // closed when the loop has ended and released the ring

	pubMu   sync.Mutex
	pubList []*op
	pubSig  chan struct{} // one pending signal for the publisher
	pubEnd  bool          // the loop has ended: the publisher leaves once its list is empty
	pubDone chan struct{} // closed when the publisher has left
	pubTid  atomic.Int32  // the thread the publisher is locked to while it publishes, else 0

	// owned by the loop
	ring     *uring.Ring
	table    []*op
	gens     []uint32
	free     []uint32
	inflight int
	line     []*op // taken from the queue, waiting for a slot
	stopped  bool  // every operation was asked to stop (closing)
	wakeBuf  [8]byte
	cqes     []uring.CQE
	batch    []*op // settled in this iteration, for the publisher
	taken    []*op
	takenC   []cancelReq
}

// cancelReq asks the loop to stop one operation (its context is done) or every operation on a file (its
// Close).
type cancelReq struct {
	o *op
	f *File
}

const (
	udWake   = 1 << 63 // the eventfd's multishot poll
	udCancel = 1 << 62 // an ASYNC_CANCEL's own completion
)

// ringOps are the opcodes the backend uses.
var ringOps = []uring.Op{uring.OpRead, uring.OpWrite, uring.OpFsync, uring.OpAsyncCancel, uring.OpPollAdd}

// newUringBackend starts the loop and waits for its ring: an error says why io_uring cannot be used.
func newUringBackend(depth int) (*uringBackend, error) {
	if err := uring.Available(); err != nil {
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("aio: io_uring backend: eventfd: %w", err)
	}
	b := &uringBackend{
		efd:     efd,
		done:    make(chan struct{}),
		pubSig:  make(chan struct{}, 1),
		pubDone: make(chan struct{}),
		table:   make([]*op, depth),
		gens:    make([]uint32, depth),
		free:    make([]uint32, depth),
		cqes:    make([]uring.CQE, 128),
	}
	for i := range b.free {
		b.free[i] = uint32(depth - 1 - i)
	}
	ready := make(chan error, 1)
	go b.loop(uint32(depth), ready)
	if err := <-ready; err != nil {
		<-b.done
		close(b.pubDone)
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	}
	go b.publisher()
	return b, nil
}

func (b *uringBackend) submit(o *op) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		o.complete(ErrClosed)
		return
	}
	b.queue = append(b.queue, o)
	b.wakeLocked()
}

func (b *uringBackend) cancelFile(f *File) { b.request(cancelReq{f: f}) }

func (b *uringBackend) request(c cancelReq) {
	b.mu.Lock()
	if b.closing {
		b.mu.Unlock()
		return // the loop stops everything anyway
	}
	b.cancels = append(b.cancels, c)
	b.wakeLocked()
}

// wakeLocked unlocks mu and wakes the loop if it is about to wait.
func (b *uringBackend) wakeLocked() {
	wake := b.sleeping
	b.sleeping = false
	b.mu.Unlock()
	if wake {
		var one = [8]byte{1}
		unix.Write(b.efd, one[:]) // EAGAIN only when the counter is full: the loop is awake then
	}
}

// close stops everything in flight and waits for the loop to end, and then for the publisher to have
// completed every future, unless it is the publisher that calls (a continuation closing the IO), which
// finishes its list after the continuation returns. The publisher is locked to its thread while it
// publishes, so its thread tells it apart: no other goroutine runs on that thread meanwhile.
func (b *uringBackend) close() {
	b.mu.Lock()
	if !b.closing {
		b.closing = true
		b.wakeLocked()
	} else {
		b.mu.Unlock()
	}
	<-b.done
	if tid := b.pubTid.Load(); tid == 0 || tid != int32(unix.Gettid()) {
		<-b.pubDone
	}
}

// loop owns the ring: it starts operations, asks the kernel to cancel what is to stop, waits, and
// settles what completes.
func (b *uringBackend) loop(depth uint32, ready chan<- error) {
	defer close(b.done)
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, and the ring with it
	r, err := uring.New(depth, uring.WithCQSize(min(2*depth+64, 65536)))
	if err == nil {
		if ops, perr := r.Probe(); perr != nil {
			err = perr
		} else if missing := ops.Missing(ringOps...); len(missing) > 0 {
			err = fmt.Errorf("the kernel lacks io_uring opcodes %v: %w", missing, errors.ErrUnsupported)
		}
		if err != nil {
			r.Close()
		}
	}
	if err != nil {
		unix.Close(b.efd)
		ready <- err
		return
	}
	b.ring = r
	b.armWake()
	ready <- nil
	for {
		b.mu.Lock()
		b.taken, b.queue = b.queue, b.taken[:0]
		b.takenC, b.cancels = b.cancels, b.takenC[:0]
		closing := b.closing
		b.mu.Unlock()
		b.line = append(b.line, b.taken...)
		clear(b.taken)
		for _, c := range b.takenC {
			b.cancel(c)
		}
		clear(b.takenC)
		if closing && !b.stopped {
			b.stopAll()
		}
		b.startLine()
		if closing && b.inflight == 0 {
			break
		}
		b.mu.Lock()
		b.sleeping = len(b.queue) == 0 && len(b.cancels) == 0 && b.closing == closing
		wait := b.sleeping
		b.mu.Unlock()
		want, timeout := uint32(1), time.Duration(-1)
		if !wait {
			want, timeout = 0, 0
		}
		if _, err := r.SubmitAndWait(want, timeout); err != nil {
			// Only a broken ring fails here; stop waiting on it and end what is in flight.
			b.reap()
			b.failAll(fmt.Errorf("aio: io_uring_enter: %w", err))
			break
		}
		b.reap()
	}
	b.mu.Lock()
	b.closing = true
	stranded := append(b.queue, b.line...)
	b.queue, b.line = nil, nil
	b.mu.Unlock()
	for _, o := range stranded {
		o.settle(ErrClosed)
		b.batch = append(b.batch, o)
	}
	b.hand()
	r.Close()
	unix.Close(b.efd)
	b.pubMu.Lock()
	b.pubEnd = true
	b.pubMu.Unlock()
	b.signalPublisher()
}

// reap settles every completion ready and hands the results to the publisher.
func (b *uringBackend) reap() {
	for {
		n := b.ring.Reap(b.cqes)
		if n == 0 {
			break
		}
		for _, c := range b.cqes[:n] {
			b.completed(c)
		}
	}
	b.hand()
}

func (b *uringBackend) completed(c uring.CQE) {
	switch {
	case c.UserData == udWake:
		var buf [8]byte
		unix.Read(b.efd, buf[:]) // reset the counter; EAGAIN when a wake-up raced with this
		if !c.More() {
			b.armWake()
		}
		return
	case c.UserData&udCancel != 0:
		return // the cancellation's own result: the target reports through its completion
	}
	slot, gen := uint32(c.UserData), uint32(c.UserData>>32)
	if int(slot) >= len(b.table) || b.gens[slot] != gen || b.table[slot] == nil {
		return // cannot happen: an operation holds its slot until its completion
	}
	o := b.table[slot]
	if c.Res < 0 {
		errno := unix.Errno(-c.Res)
		switch {
		case errno == unix.ECANCELED, errno == unix.EINTR && o.canceled:
			b.finish(o, b.stopReason(o))
		case errno == unix.EINTR, errno == unix.EAGAIN:
			b.prep(o) // interrupted before it did anything: again
		default:
			b.finish(o, o.pathErr(errno))
		}
		return
	}
	switch o.kind {
	case opRead, opWrite:
		o.n += int(c.Res)
		switch {
		case o.n >= len(o.p):
			b.finish(o, nil)
		case c.Res == 0 && o.kind == opRead:
			b.finish(o, nil) // the end of the file: settle reports io.EOF
		case c.Res == 0:
			b.finish(o, o.pathErr(io.ErrShortWrite))
		case o.canceled || o.stopErr != nil || o.ctx.Err() != nil:
			b.finish(o, b.stopReason(o)) // stopped between two parts
		default:
			b.prep(o) // a short transfer: the rest
		}
	default:
		b.finish(o, nil)
	}
}

// stopReason is the error of an operation stopped before its end: its file's or the IO's Close, or its
// context.
func (b *uringBackend) stopReason(o *op) error {
	if o.stopErr != nil {
		return o.stopErr
	}
	if err := o.ctx.Err(); err != nil {
		return err
	}
	return context.Canceled
}

// finish frees the operation's slot and settles it.
func (b *uringBackend) finish(o *op, err error) {
	b.table[o.slot] = nil
	b.gens[o.slot]++
	b.free = append(b.free, o.slot)
	b.inflight--
	o.settle(err)
	b.batch = append(b.batch, o)
}

// startLine starts the operations in line while slots are free.
func (b *uringBackend) startLine() {
	i := 0
	for ; i < len(b.line) && len(b.free) > 0; i++ {
		o := b.line[i]
		if err := o.ctx.Err(); err != nil {
			o.settle(err)
			b.batch = append(b.batch, o)
			continue
		}
		s := b.free[len(b.free)-1]
		b.free = b.free[:len(b.free)-1]
		o.slot, o.gen = s, b.gens[s]
		b.table[s] = o
		b.inflight++
		if done := o.ctx.Done(); done != nil {
			o.stop = context.AfterFunc(o.ctx, func() { b.request(cancelReq{o: o}) })
		}
		b.prep(o)
	}
	n := copy(b.line, b.line[i:])
	clear(b.line[n:])
	b.line = b.line[:n]
	b.hand()
}

// prep submits the operation, or the rest of it after a short transfer.
func (b *uringBackend) prep(o *op) {
	sqe := b.sqe()
	switch o.kind {
	case opRead:
		sqe.PrepRead(o.f.fd, o.p[o.n:], uint64(o.off)+uint64(o.n))
	case opWrite:
		sqe.PrepWrite(o.f.fd, o.p[o.n:], uint64(o.off)+uint64(o.n))
	case opSync:
		sqe.PrepFsync(o.f.fd, 0)
	}
	sqe.UserData = uint64(o.gen)<<32 | uint64(o.slot)
}

// sqe returns a free SQE, submitting what is prepared when the queue is full.
func (b *uringBackend) sqe() *uring.SQE {
	for {
		if sqe := b.ring.GetSQE(); sqe != nil {
			return sqe
		}
		b.ring.Submit()
	}
}

func (b *uringBackend) armWake() {
	sqe := b.sqe()
	sqe.PrepPollMultishot(b.efd, unix.POLLIN)
	sqe.UserData = udWake
}

// cancel asks the kernel to stop an operation whose context is done, or every operation of a closing
// file; those still in line end at once.
func (b *uringBackend) cancel(c cancelReq) {
	if c.o != nil {
		o := c.o
		if b.table[o.slot] == o && o.gen == b.gens[o.slot] {
			b.cancelOp(o, nil)
		}
		return // in line, startLine sees its context; settled, nothing to do
	}
	for _, o := range b.table {
		if o != nil && o.f == c.f {
			b.cancelOp(o, c.f.closedErr(opName(o.kind)))
		}
	}
	kept := b.line[:0]
	for _, o := range b.line {
		if o.f == c.f {
			o.settle(c.f.closedErr(opName(o.kind)))
			b.batch = append(b.batch, o)
		} else {
			kept = append(kept, o)
		}
	}
	clear(b.line[len(kept):])
	b.line = kept
	b.hand()
}

func (b *uringBackend) cancelOp(o *op, reason error) {
	if reason != nil && o.stopErr == nil {
		o.stopErr = reason
	}
	if o.canceled {
		return
	}
	o.canceled = true
	sqe := b.sqe()
	sqe.PrepCancel(uint64(o.gen)<<32|uint64(o.slot), 0)
	sqe.UserData = udCancel
}

// stopAll asks every operation in flight to stop, for close, and ends those in line.
func (b *uringBackend) stopAll() {
	b.stopped = true
	for _, o := range b.table {
		if o != nil {
			b.cancelOp(o, ErrClosed)
		}
	}
	for _, o := range b.line {
		o.settle(ErrClosed)
		b.batch = append(b.batch, o)
	}
	clear(b.line)
	b.line = b.line[:0]
	b.hand()
}

// failAll settles every operation in flight with err, for a ring that no longer works. Their buffers may
// still be the kernel's: they are not reused, since nothing reads them after this.
func (b *uringBackend) failAll(err error) {
	for _, o := range b.table {
		if o != nil {
			b.finish(o, err)
		}
	}
	b.hand()
}

// hand gives the operations settled so far to the publisher.
func (b *uringBackend) hand() {
	if len(b.batch) == 0 {
		return
	}
	b.pubMu.Lock()
	b.pubList = append(b.pubList, b.batch...)
	b.pubMu.Unlock()
	clear(b.batch)
	b.batch = b.batch[:0]
	b.signalPublisher()
}

func (b *uringBackend) signalPublisher() {
	select {
	case b.pubSig <- struct{}{}:
	default:
	}
}

// publisher completes the futures of settled operations, in the order the loop settled them.
func (b *uringBackend) publisher() {
	defer close(b.pubDone)
	var list []*op
	for range b.pubSig {
		runtime.LockOSThread()
		b.pubTid.Store(int32(unix.Gettid()))
		for {
			b.pubMu.Lock()
			list, b.pubList = b.pubList, list[:0]
			end := b.pubEnd && len(list) == 0
			b.pubMu.Unlock()
			if len(list) == 0 {
				b.pubTid.Store(0)
				runtime.UnlockOSThread()
				if end {
					return
				}
				break
			}
			for i, o := range list {
				o.publish()
				list[i] = nil
			}
		}
	}
}
