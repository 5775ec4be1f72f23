package aio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/raceio"
	"github.com/eddyio/eddy/internal/uring"
)

// uringBackend runs operations on one io_uring that the goroutines using the IO share under a mutex: the
// goroutine that asks for an operation prepares its SQE, submits it and reaps what has completed, all in
// one critical section. A read that the page cache answers completes inside that io_uring_enter, so
// it costs one system call and no thread switch, and its future is complete when ReadAt returns. An
// operation that has to wait (for the disk, or for a page being read in) completes later, in task work
// that the kernel runs on the submitting thread (the ring is set up without COOP_TASKRUN or
// DEFER_TASKRUN, so that this does not depend on that thread entering the kernel again), and the
// completion signals an eventfd registered with the ring; the reaper, a goroutine parked in the
// runtime's poller on that eventfd, then reaps it. A submitter turns the eventfd's signal off while it
// submits and reaps (IORING_CQ_EVENTFD_DISABLED), so that completions it reaps itself wake nobody, and
// reaps once more after turning it back on.
//
// At most depth operations are in the kernel at once, each in a slot of a table whose index and
// generation make its user_data (never a Go pointer); the rest wait in line, in order, and start as
// slots free. An operation keeps its buffer (op.p) and its file open until its last CQE: a cancellation
// is a request, and the operation is settled only by its own completion. Results are published (the
// futures completed) by whichever goroutine reaped them, after it has left the critical section.
type uringBackend struct {
	mu       sync.Mutex
	ring     *uring.Ring // nil once closed
	table    []*op
	gens     []uint32
	free     []uint32
	line     []*op // waiting for a slot, oldest first
	inflight int   // operations in the table
	depth    int   // WithQueueDepth: how many ReadAt, WriteAt and Sync may be in the table at once
	bounded  int   // how many are (Reads and Writes are not bounded: they may wait for ever)
	closing  bool
	cqes     []uring.CQE
	polls    int // Reads and Writes that met EAGAIN and waited in a POLL_ADD (for tests)
	// nows counts the ReadAts and WriteAts of a device in non-blocking mode being made by now, which
	// the table does not hold: close waits for them too (Add under mu, before closing).
	nows sync.WaitGroup

	efd *os.File // the eventfd registered with the ring, read by the reaper
}

// user_data is gen<<32 | slot for an operation (gen keeps 31 bits), udCancel for an ASYNC_CANCEL.
const (
	udCancel = 1 << 63
	genMask  = 1<<31 - 1
)

// ringOps are the opcodes the backend uses.
var ringOps = []uring.Op{uring.OpRead, uring.OpWrite, uring.OpFsync, uring.OpAsyncCancel, uring.OpPollAdd}

// atPosition is the offset of a read or write at the file's current position (-1), which io_uring
// also takes for files without positions.
const atPosition = ^uint64(0)

// streamNoWait, set by tests only, asks the kernel not to wait in a Read or Write (RWF_NOWAIT), so
// that one meets EAGAIN as it would on a kernel that honours O_NONBLOCK, and waits in a POLL_ADD.
var streamNoWait atomic.Bool

// newUringBackend sets up the ring and starts the reaper: an error says why io_uring cannot be used.
func newUringBackend(depth int) (*uringBackend, error) {
	if err := uring.Available(); err != nil {
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	}
	r, err := uring.New(uint32(depth), uring.WithPlainTaskrun(), uring.WithCQSize(min(2*uint32(depth)+64, 65536)))
	if err != nil {
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	}
	if ops, err := r.Probe(); err != nil {
		r.Close()
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	} else if missing := ops.Missing(ringOps...); len(missing) > 0 {
		r.Close()
		return nil, fmt.Errorf("aio: io_uring backend: the kernel lacks io_uring opcodes %v: %w", missing, errors.ErrUnsupported)
	}
	efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("aio: io_uring backend: eventfd: %w", err)
	}
	if err := r.RegisterEventFD(efd); err != nil {
		unix.Close(efd)
		r.Close()
		return nil, fmt.Errorf("aio: io_uring backend: %w", err)
	}
	b := &uringBackend{
		ring:  r,
		table: make([]*op, depth),
		gens:  make([]uint32, depth),
		free:  make([]uint32, depth),
		depth: depth,
		cqes:  make([]uring.CQE, 64),
		efd:   os.NewFile(uintptr(efd), "aio-eventfd"), // non-blocking: read through the runtime's poller
	}
	for i := range b.free {
		b.free[i] = uint32(depth - 1 - i)
	}
	go b.reaper()
	return b, nil
}

// reaper reaps the completions that came while no submitter was reaping, each time the eventfd says
// there are some, until close closes the eventfd. It never runs continuations itself: each batch's
// futures are completed on a goroutine of their own.
func (b *uringBackend) reaper() {
	var buf [8]byte
	for {
		if _, err := b.efd.Read(buf[:]); err != nil {
			return
		}
		b.mu.Lock()
		done := b.pump(nil)
		b.mu.Unlock()
		if len(done) > 0 {
			// Not here: a continuation may block (File.Close waits for the file's other operations),
			// and while it did, nobody would reap the completions it waits for.
			go publish(done)
		}
	}
}

func (b *uringBackend) submit(o *op) {
	if o.f.nowaitAt && (o.kind == opRead || o.kind == opWrite) {
		b.now(o)
		return
	}
	var buf [4]*op
	done := buf[:0]
	b.mu.Lock()
	switch {
	case b.closing:
		o.settle(o.f.ioClosedErr(opName(o.kind)))
		done = append(done, o)
	case o.unbounded() || b.bounded < b.depth:
		done = b.start(o, done) // which checks the file and the context
	case o.f.isClosed():
		// Its file's Close came after the operation was counted and found nothing to stop yet:
		// it must not wait in line, or that Close waits for a slot.
		o.settle(o.f.closedErr(opName(o.kind)))
		done = append(done, o)
	default:
		o.live = true
		b.line = append(b.line, o)
	}
	done = b.pump(done)
	if o.live && o.watch {
		// Not done inline: watch the context. (The watch runs on a goroutine of its own, so it
		// waits for mu; an operation that completes meanwhile is found nowhere and left alone.)
		o.stop = context.AfterFunc(o.ctx, func() { b.cancel(o) })
	}
	b.mu.Unlock()
	publish(done)
}

// now makes a ReadAt or WriteAt of a device in non-blocking mode (File.nowaitAt) with pread(2) or
// pwrite(2), on the caller's goroutine, which such a file does not hold: they say EAGAIN when it is not
// ready, as os.File's ReadAt and WriteAt and the pool backend do. io_uring would wait for it instead,
// in a poll, for ever on a device whose poll and read disagree (/dev/kmsg read at an offset).
func (b *uringBackend) now(o *op) {
	b.mu.Lock()
	closing := b.closing
	if !closing {
		b.nows.Add(1)
	}
	b.mu.Unlock()
	var err error
	switch {
	case closing:
		err = o.f.ioClosedErr(opName(o.kind))
	case o.f.isClosed():
		err = o.f.closedErr(opName(o.kind))
	case o.ctxErr() != nil:
		err = o.ctxErr()
	case o.kind == opRead:
		o.n, err = o.f.preadFull(o.p, o.off)
	default:
		o.n, err = o.f.pwriteFull(o.p, o.off)
	}
	if !closing {
		b.nows.Done() // before the future completes: a continuation may close the IO
	}
	o.complete(err)
}

// start gives the operation a slot and prepares its SQE, unless its context is done or its file has
// begun to close (a Close that came after the operation was counted, and before it got here).
func (b *uringBackend) start(o *op, done []*op) []*op {
	if err := o.ctxErr(); err != nil {
		o.live = false
		o.settle(err)
		return append(done, o)
	}
	if o.f.isClosed() {
		o.live = false
		o.settle(o.f.closedErr(opName(o.kind)))
		return append(done, o)
	}
	if len(b.free) == 0 { // a Read or Write beyond the depth: the table grows
		b.table = append(b.table, nil)
		b.gens = append(b.gens, 0)
		b.free = append(b.free, uint32(len(b.table)-1))
	}
	s := b.free[len(b.free)-1]
	b.free = b.free[:len(b.free)-1]
	o.slot, o.gen = s, b.gens[s]
	o.live = true
	b.table[s] = o
	b.inflight++
	if !o.unbounded() {
		b.bounded++
	}
	b.prep(o)
	return done
}

// prep prepares the operation's SQE, or the rest of it after a short transfer.
func (b *uringBackend) prep(o *op) {
	sqe := b.sqe()
	switch {
	case o.polling: // a Read or Write that met EAGAIN: wait until the file is ready
		events := uint32(unix.POLLIN)
		if o.kind == opWriteNext {
			events = unix.POLLOUT
		}
		sqe.PrepPollAdd(o.f.fd, events)
	case o.kind == opRead:
		sqe.PrepRead(o.f.fd, o.p[o.n:], uint64(o.off)+uint64(o.n))
	case o.kind == opWrite:
		raceio.Release() // as package os's writes tell the race detector (package raceio)
		sqe.PrepWrite(o.f.fd, o.p[o.n:], uint64(o.off)+uint64(o.n))
	case o.kind == opReadNext:
		off := atPosition
		if o.f.seekable {
			// At the position, read here and moved by finish: io_uring's READ at the current
			// position does not move it when it completes asynchronously (O_DIRECT, 6.18), and the
			// next Read read the same bytes again. (A retry finds the position unmoved.)
			o.pos = -1
			if pos, err := unix.Seek(o.f.fd, 0, io.SeekCurrent); err == nil {
				o.pos, off = pos, uint64(pos)
			}
		}
		sqe.PrepRead(o.f.fd, o.p, off) // one read, as io.Reader's
		if streamNoWait.Load() {
			sqe.OpFlags = unix.RWF_NOWAIT
		}
	case o.kind == opWriteNext:
		if o.n == 0 {
			o.pos = -1
			if !o.f.stream && !o.f.app {
				// Where it starts: on a seekable file where it is made (as a Read), elsewhere
				// for the rest after a short write (completed). Nothing else moves the position
				// meanwhile: a Write of such a file is alone (File.busy).
				if pos, err := unix.Seek(o.f.fd, 0, io.SeekCurrent); err == nil {
					o.pos = pos
				}
			}
		}
		off := atPosition
		if o.f.seekable && o.pos >= 0 {
			off = uint64(o.pos) + uint64(o.n)
		}
		raceio.Release()
		sqe.PrepWrite(o.f.fd, o.p[o.n:], off)
		if streamNoWait.Load() {
			sqe.OpFlags = unix.RWF_NOWAIT
		}
	case o.kind == opSync:
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

// pump submits what is prepared and reaps what has completed until neither is left, with the eventfd's
// signal off meanwhile, then turns it on and looks once more: a completion posted after that signals
// the reaper. Called with mu held; it returns done with the operations it settled, to publish after
// unlocking.
func (b *uringBackend) pump(done []*op) []*op {
	r := b.ring
	if r == nil {
		return done
	}
	for {
		r.SetEventFDEnabled(false)
		for {
			if _, err := r.Submit(); err != nil && !errors.Is(err, unix.EBUSY) && !errors.Is(err, unix.EAGAIN) {
				// Cannot happen with a ring that is open (EBADF, EFAULT, EINVAL would be bugs here).
				// The operations stay where they are, their buffers with them: a future that never
				// completes is a bug to find, a buffer released to the kernel's writes a worse one.
				r.SetEventFDEnabled(true)
				return done
			}
			n := 0
			done, n = b.reap(done)
			if r.NeedsEnter() {
				r.SubmitAndWait(0, 0) // post the completions the kernel holds back (CQ overflow)
				continue
			}
			if n == 0 && r.SQPending() == 0 {
				break
			}
		}
		r.SetEventFDEnabled(true)
		n := 0
		if done, n = b.reap(done); n == 0 && r.SQPending() == 0 {
			return done
		}
	}
}

// reap settles the completions ready, and reports how many it took.
func (b *uringBackend) reap(done []*op) ([]*op, int) {
	total := 0
	for {
		n := b.ring.Reap(b.cqes)
		if n == 0 {
			return done, total
		}
		total += n
		for _, c := range b.cqes[:n] {
			done = b.completed(c, done)
		}
	}
}

func (b *uringBackend) completed(c uring.CQE, done []*op) []*op {
	if c.UserData&udCancel != 0 {
		return done // the cancellation's own result: the target reports through its completion
	}
	slot, gen := uint32(c.UserData), uint32(c.UserData>>32)
	if int(slot) >= len(b.table) || b.gens[slot] != gen || b.table[slot] == nil {
		return done // cannot happen: an operation holds its slot until its completion
	}
	o := b.table[slot]
	if o.polling {
		// The POLL_ADD that stood in for a Read or Write: nothing was transferred.
		o.polling = false
		if o.canceled {
			return b.finish(o, b.stopReason(o), done)
		}
		b.prep(o) // the file is ready (or the poll failed, and the transfer will say why)
		return done
	}
	if c.Res < 0 {
		errno := unix.Errno(-c.Res)
		switch {
		case o.canceled && (errno == unix.ECANCELED || errno == unix.EINTR || errno == unix.EAGAIN):
			return b.finish(o, b.stopReason(o), done)
		case errno == unix.EAGAIN && o.unbounded():
			// A file in non-blocking mode, on a kernel that honours it: wait in a poll. (This one
			// waits in the read itself, but RWF_NOWAIT takes this path.)
			b.polls++
			o.polling = true
			b.prep(o)
			return done
		case errno == unix.EINTR, errno == unix.EAGAIN:
			b.prep(o) // interrupted before it did anything: again
			return done
		case (errno == unix.ECANCELED || errno == unix.EFAULT) && o.retries < maxRetries:
			// Nobody here stopped it: the thread that submitted it has exited (a goroutine locked
			// to its thread that ended), and the kernel cancels such a thread's requests, or fails
			// the task work they had left (EFAULT: no user memory to copy to any more). Nothing was
			// transferred; submit it again from this thread.
			o.retries++
			b.prep(o)
			return done
		}
		// Any other error, or a thread-exit failure that came back maxRetries times.
		return b.finish(o, o.pathErr(errno), done)
	}
	if c.Res > 0 && (o.kind == opRead || o.kind == opReadNext) {
		raceio.Acquire() // as package os's reads tell the race detector (package raceio)
	}
	switch o.kind {
	case opReadNext:
		o.n = int(c.Res) // one read: 0 is the end of the file (settle)
		return b.finish(o, nil, done)
	case opRead, opWrite, opWriteNext:
		o.n += int(c.Res)
		switch {
		case o.n >= len(o.p):
			return b.finish(o, nil, done)
		case c.Res == 0 && o.kind == opRead:
			return b.finish(o, nil, done) // the end of the file: settle reports io.EOF
		case c.Res == 0:
			return b.finish(o, o.pathErr(io.ErrShortWrite), done)
		}
		if o.kind == opWriteNext && !o.f.seekable && (o.pos >= 0 || o.f.app && !o.f.stream) {
			// The kernel continues a short write of a regular file itself, and when that fails
			// it completes with the count of the first part without moving the position (6.18):
			// the rest would go over it, and fail nowhere. Put the position after what was
			// written, as write(2) leaves it, so that the rest goes there (and meets the error).
			// With O_APPEND the rest goes to the end anyway, and so does the position: what was
			// written ends there (unless another writer appended meanwhile). Only the position is
			// at stake then, so a file that cannot seek there is left as it is.
			if o.f.app {
				unix.Seek(o.f.fd, 0, io.SeekEnd)
			} else if _, err := unix.Seek(o.f.fd, o.pos+int64(o.n), io.SeekStart); err != nil {
				return b.finish(o, o.pathErr(err), done)
			}
		}
		if o.canceled || o.stopErr != nil || o.ctxErr() != nil {
			return b.finish(o, b.stopReason(o), done) // stopped between two parts
		}
		b.prep(o) // a short transfer: the rest
		return done
	}
	return b.finish(o, nil, done)
}

// maxRetries bounds the resubmissions of an operation whose submitting thread exited (completed).
const maxRetries = 8

// stopReason is the error of an operation stopped before its end: its file's or the IO's Close, or its
// context.
func (b *uringBackend) stopReason(o *op) error {
	if o.stopErr != nil {
		return o.stopErr
	}
	if err := o.ctxErr(); err != nil {
		return err
	}
	return context.Canceled
}

// finish frees the operation's slot, settles it, and starts the next operation in line.
func (b *uringBackend) finish(o *op, err error, done []*op) []*op {
	if o.unbounded() && o.f.seekable && o.n > 0 {
		// A Read or Write of a seekable file was made at an offset (prep): move the position past
		// what it moved, as read(2) and write(2) do, before the next can be asked (settle). An
		// O_APPEND Write went to the end, and so does the position.
		if o.kind == opWriteNext && o.f.app {
			unix.Seek(o.f.fd, 0, io.SeekEnd)
		} else if o.pos >= 0 {
			unix.Seek(o.f.fd, o.pos+int64(o.n), io.SeekStart)
		}
	}
	b.table[o.slot] = nil
	o.live = false
	b.gens[o.slot] = (b.gens[o.slot] + 1) & genMask
	b.free = append(b.free, o.slot)
	b.inflight--
	if !o.unbounded() {
		b.bounded--
	}
	o.settle(err)
	done = append(done, o)
	for len(b.line) > 0 && b.bounded < b.depth {
		next := b.line[0]
		b.line[0] = nil
		b.line = b.line[1:]
		done = b.start(next, done)
	}
	return done
}

// cancel stops an operation whose context is done: one in line ends at once, one in the kernel is
// asked to stop.
func (b *uringBackend) cancel(o *op) {
	var done []*op
	b.mu.Lock()
	if b.table[o.slot] == o && o.gen == b.gens[o.slot] {
		b.cancelOp(o, nil)
	} else if i := indexOf(b.line, o); i >= 0 {
		b.line = append(b.line[:i], b.line[i+1:]...)
		o.live = false
		o.settle(o.ctxErr())
		done = append(done, o)
	}
	done = b.pump(done)
	b.mu.Unlock()
	publish(done)
}

// cancelFile stops every operation of a closing file.
func (b *uringBackend) cancelFile(f *File) {
	var done []*op
	b.mu.Lock()
	for _, o := range b.table {
		if o != nil && o.f == f {
			b.cancelOp(o, f.closedErr(opName(o.kind)))
		}
	}
	kept := b.line[:0]
	for _, o := range b.line {
		if o.f == f {
			o.live = false
			o.settle(f.closedErr(opName(o.kind)))
			done = append(done, o)
		} else {
			kept = append(kept, o)
		}
	}
	clear(b.line[len(kept):])
	b.line = kept
	done = b.pump(done)
	b.mu.Unlock()
	publish(done)
}

// cancelOp asks the kernel to stop an operation in the table, once; reason, if any, is what it will
// report. Called with mu held.
func (b *uringBackend) cancelOp(o *op, reason error) {
	if reason != nil && o.stopErr == nil {
		o.stopErr = reason
	}
	if o.canceled || b.ring == nil {
		return
	}
	o.canceled = true
	sqe := b.sqe()
	sqe.PrepCancel(uint64(o.gen)<<32|uint64(o.slot), 0)
	sqe.UserData = udCancel
}

// close stops every operation (those in line at once, those in the kernel by cancellation), waits
// for the last completion, and releases the ring and the eventfd, which ends the reaper. It waits in the
// ring itself, holding mu (nothing else can start now), so that it depends on no other goroutine.
func (b *uringBackend) close(ended func()) {
	var done []*op
	b.mu.Lock()
	b.closing = true
	for _, o := range b.table {
		if o != nil {
			b.cancelOp(o, o.f.ioClosedErr(opName(o.kind)))
		}
	}
	for _, o := range b.line {
		o.live = false
		o.settle(o.f.ioClosedErr(opName(o.kind)))
		done = append(done, o)
	}
	clear(b.line)
	b.line = nil
	done = b.pump(done)
	for b.inflight > 0 {
		if err := closeWait(b.ring); err != nil {
			if errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EAGAIN) {
				// Completions held back behind a full CQ, which reaping makes room for, or the
				// kernel short of memory for the moment: reap and wait again, as pump does.
				// Returning now would hand the callers back buffers the kernel may still write.
				done = b.pump(done)
				continue
			}
			// As in pump, cannot happen; keep the ring (and the operations' buffers) rather than
			// release memory the kernel may still write.
			b.mu.Unlock()
			b.nows.Wait()
			ended()
			b.efd.Close()
			publish(done)
			return
		}
		done = b.pump(done)
	}
	b.ring.Close()
	b.ring = nil
	b.mu.Unlock()
	b.nows.Wait() // a pread or pwrite of now's, on its caller's goroutine
	ended()
	b.efd.Close() // ends the reaper's read
	publish(done)
}

// closeWait is close's wait for a completion (a variable for the tests, which make it fail as the
// kernel does under pressure).
var closeWait = func(r *uring.Ring) error {
	_, err := r.SubmitAndWait(1, -1)
	return err
}
