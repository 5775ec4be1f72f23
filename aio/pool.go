package aio

import (
	"context"
	"errors"
	"os"
	"sync"
	"time"
)

// poolBackend runs each operation as os.File.ReadAt, WriteAt or Sync on one of a bounded number of
// goroutines. Operations beyond that wait in a FIFO line; the goroutines exist only while there is work.
type poolBackend struct {
	workers int

	mu      sync.Mutex
	line    []*op // waiting for a worker, oldest first
	head    int
	running int // workers alive
	// idle counts the workers alive that are not running an operation: started and not yet at the
	// line, or back at it (under mu). An operation that is at most the idle-th in line is taken by
	// one of them without waiting for another to end; only one further back needs a context watch.
	idle    int
	active  int              // operations running (taken from the line, or Reads and Writes) and not yet settled
	streams map[*op]struct{} // the Reads and Writes among them, which close must interrupt
	closed  bool
	settled chan struct{} // made by close: closed when active reaches 0
}

func newPoolBackend(workers int) *poolBackend { return &poolBackend{workers: workers} }

func (b *poolBackend) submit(o *op) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		o.complete(o.f.ioClosedErr(opName(o.kind)))
		return
	}
	if o.f.isClosed() {
		// Its file's Close came after the operation was counted and found nothing to stop: in line,
		// it would keep that Close waiting, for ever if the Close runs on the only free worker. (Under
		// mu: the Close's cancelFile, which takes mu after marking the file closed, finds it in line
		// otherwise.)
		b.mu.Unlock()
		o.complete(o.f.closedErr(opName(o.kind)))
		return
	}
	if o.unbounded() {
		// A Read or Write may wait for its file as long as it takes: on a worker, a few idle pipes
		// would hold up every other operation. It runs on a goroutine of its own, which waits in the
		// runtime's poller, not on a thread, when the runtime polls the file.
		b.begin(o)
		b.mu.Unlock()
		go func() {
			o.settle(b.run(o))
			b.end(o)
			o.publish()
		}()
		return
	}
	b.line = append(b.line, o)
	start := b.running < b.workers
	if start {
		b.running++
		b.idle++
	}
	if len(b.line)-b.head > b.idle && o.watch {
		// It waits for a worker to end an operation: cancelled meanwhile, it completes at once
		// (settle stops the watch). One that an idle worker takes needs no watch, which costs
		// more than the rest of the operation: that worker finds its context done (run) if it
		// was cancelled before, and the file untouched.
		o.stop = context.AfterFunc(o.ctx, func() { b.cancel(o) })
	}
	b.mu.Unlock()
	if start {
		go b.work()
	}
}

// cancel completes o with its context's error if it still waits in line, and stops it if it is a Read
// or Write (interrupt: one that runs, or that has not started yet).
func (b *poolBackend) cancel(o *op) {
	if o.unbounded() {
		interrupt(o, o.ctxErr())
		return
	}
	b.mu.Lock()
	i := indexOf(b.line[b.head:], o)
	if i >= 0 {
		i += b.head
		copy(b.line[i:], b.line[i+1:])
		b.line[len(b.line)-1] = nil
		b.line = b.line[:len(b.line)-1]
	}
	b.mu.Unlock()
	if i >= 0 {
		o.complete(o.ctxErr())
	}
}

// begin counts o running; end, once it has settled, uncounts it. Under mu for begin; end locks it.
func (b *poolBackend) begin(o *op) {
	b.active++
	if o.unbounded() {
		if b.streams == nil {
			b.streams = make(map[*op]struct{})
		}
		b.streams[o] = struct{}{}
	}
}

func (b *poolBackend) end(o *op) {
	b.mu.Lock()
	delete(b.streams, o)
	b.active--
	if b.active == 0 && b.settled != nil {
		close(b.settled)
		b.settled = nil
	}
	b.mu.Unlock()
}

// work runs operations from the line until it is empty. An operation is settled before its future is
// completed, so that a continuation may close the file or the IO (which wait for what is settled)
// from here without waiting for itself. A worker counts idle (submit starts it so) until it takes an
// operation from the line or leaves, and again each time it is back at the line, under mu.
//
// A continuation on future.Inline may end the worker's goroutine (runtime.Goexit) in publish: the
// deferred call then leaves in its place, and starts another worker if operations wait, or they
// would wait for ever for one that is gone (with WithWorkers(1), every later operation).
func (b *poolBackend) work() {
	left := false
	defer func() {
		if left {
			return
		}
		b.mu.Lock()
		b.running-- // not idle: it was running an operation
		start := b.head < len(b.line)
		if start {
			b.running++
			b.idle++
		}
		b.mu.Unlock()
		if start {
			go b.work()
		}
	}()
	for back := false; ; back = true {
		b.mu.Lock()
		if back {
			b.idle++
		}
		if b.head == len(b.line) {
			b.line, b.head = b.line[:0], 0
			b.running--
			b.idle--
			b.mu.Unlock()
			left = true
			return
		}
		o := b.line[b.head]
		b.line[b.head] = nil
		b.head++
		b.idle--
		b.begin(o)
		b.mu.Unlock()
		o.settle(b.run(o))
		b.end(o)
		o.publish()
	}
}

// run performs one operation, unless its context is done or its file is closing: an operation that has
// not started is stopped; one that has runs to its end.
func (b *poolBackend) run(o *op) error {
	if err := o.ctxErr(); err != nil {
		return err
	}
	o.f.mu.Lock()
	fileClosed := o.f.closed
	o.f.mu.Unlock()
	if fileClosed {
		return o.f.closedErr(opName(o.kind))
	}
	var err error
	switch o.kind {
	case opRead:
		o.n, err = o.f.preadFull(o.p, o.off)
	case opWrite:
		o.n, err = o.f.pwriteFull(o.p, o.off)
	case opSync:
		err = o.f.osf.Sync()
	case opReadNext, opWriteNext:
		err = runNext(o)
	}
	return err
}

// runNext makes a Read or Write with os.File's Read or Write, which wait in the runtime's poller for a
// file it polls, and can then be stopped by a deadline (interrupt); on another file they block.
func runNext(o *op) error {
	f, d := o.f, o.dir()
	f.smu.Lock()
	if o.stopErr != nil { // IO.Close came first
		f.smu.Unlock()
		return o.stopErr
	}
	f.running[d] = o
	if f.deadline[d] { // set to stop an earlier one
		f.deadline[d] = false
		setDeadline(f.osf, d, time.Time{})
	}
	f.smu.Unlock()
	if f.isClosed() { // File.Close came after run looked, and maybe before it could see o running
		f.smu.Lock()
		f.running[d] = nil
		f.smu.Unlock()
		return f.closedErr(opName(o.kind))
	}
	// Its future's Cancel interrupts it (poolBackend.cancel); its context, if it can be done, too.
	var stop func() bool
	if o.watch {
		stop = context.AfterFunc(o.ctx, func() { interrupt(o, o.ctx.Err()) })
	}
	var err error
	if d == 0 {
		o.n, err = f.osf.Read(o.p)
	} else {
		o.n, err = f.osf.Write(o.p)
	}
	if stop != nil {
		stop()
	}
	f.smu.Lock()
	f.running[d] = nil
	reason := o.stopErr
	f.smu.Unlock()
	if reason != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		return reason
	}
	return err
}

// interrupt stops o, a Read or Write of the pool, with reason (unless it has one already): a deadline
// in the past makes os.File's Read or Write return, and one that has not started yet does not start.
// It does nothing to a file the runtime does not poll (SetReadDeadline fails), nor once o has returned.
func interrupt(o *op, reason error) {
	f, d := o.f, o.dir()
	f.smu.Lock()
	defer f.smu.Unlock()
	if o.stopErr == nil {
		o.stopErr = reason
	}
	if f.running[d] != o {
		return
	}
	if setDeadline(f.osf, d, time.Unix(1, 0)) == nil {
		f.deadline[d] = true
	}
}

func setDeadline(osf *os.File, dir int, t time.Time) error {
	if dir == 0 {
		return osf.SetReadDeadline(t)
	}
	return osf.SetWriteDeadline(t)
}

// cancelFile fails the file's operations still in line; File.Close waits for the running ones.
func (b *poolBackend) cancelFile(f *File) {
	b.mu.Lock()
	var stopped []*op
	kept := b.line[:b.head]
	for _, o := range b.line[b.head:] {
		if o.f == f {
			stopped = append(stopped, o)
		} else {
			kept = append(kept, o)
		}
	}
	clear(b.line[len(kept):])
	b.line = kept
	b.mu.Unlock()
	// All settled before any is published, as the io_uring backend does: a continuation that ends
	// this goroutine (runtime.Goexit) must leave none of them pending, nor holding the file.
	for _, o := range stopped {
		o.settle(f.closedErr(opName(o.kind)))
	}
	// A Read or Write waiting for a pipe or socket would keep Close waiting for ever. Interrupted
	// before the stopped operations are published, for the same reason.
	f.smu.Lock()
	running := f.running
	f.smu.Unlock()
	for _, o := range running {
		if o != nil {
			interrupt(o, f.closedErr(opName(o.kind)))
		}
	}
	publish(stopped)
}

// close fails the operations still in line, waits for the running ones to settle, calls ended, and
// then completes the futures of those it stopped.
func (b *poolBackend) close(ended func()) {
	b.mu.Lock()
	b.closed = true
	stopped := append([]*op(nil), b.line[b.head:]...)
	clear(b.line)
	b.line, b.head = b.line[:0], 0
	var settled chan struct{}
	if b.active > 0 {
		settled = make(chan struct{})
		b.settled = settled
	}
	for o := range b.streams { // a Read or Write waiting for a pipe or socket would never settle
		interrupt(o, o.f.ioClosedErr(opName(o.kind)))
	}
	b.mu.Unlock()
	for _, o := range stopped {
		o.settle(o.f.ioClosedErr(opName(o.kind)))
	}
	if settled != nil {
		<-settled
	}
	ended()
	publish(stopped)
}
