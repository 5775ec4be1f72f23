package aio

import "sync"

// poolBackend runs each operation as os.File.ReadAt, WriteAt or Sync on one of a bounded number of
// goroutines. Operations beyond that wait in a FIFO line; the goroutines exist only while there is work.
type poolBackend struct {
	workers int

	mu      sync.Mutex
	line    []*op // waiting for a worker, oldest first
	head    int
	running int // workers alive
	active  int // operations taken from the line and not yet settled
	closed  bool
	settled chan struct{} // made by close: closed when active reaches 0
}

func newPoolBackend(workers int) *poolBackend { return &poolBackend{workers: workers} }

func (b *poolBackend) submit(o *op) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		o.complete(ErrClosed)
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
	b.line = append(b.line, o)
	start := b.running < b.workers
	if start {
		b.running++
	}
	b.mu.Unlock()
	if start {
		go b.work()
	}
}

// work runs operations from the line until it is empty. An operation is settled before its future is
// completed, so that a continuation may close the file or the IO (which wait for what is settled)
// from here without waiting for itself.
func (b *poolBackend) work() {
	for {
		b.mu.Lock()
		if b.head == len(b.line) {
			b.line, b.head = b.line[:0], 0
			b.running--
			b.mu.Unlock()
			return
		}
		o := b.line[b.head]
		b.line[b.head] = nil
		b.head++
		b.active++
		b.mu.Unlock()
		o.settle(b.run(o))
		b.mu.Lock()
		b.active--
		if b.active == 0 && b.settled != nil {
			close(b.settled)
			b.settled = nil
		}
		b.mu.Unlock()
		o.publish()
	}
}

// run performs one operation, unless its context is done or its file is closing: an operation that has
// not started is stopped; one that has runs to its end.
func (b *poolBackend) run(o *op) error {
	if err := o.ctx.Err(); err != nil {
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
	}
	return err
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
	for _, o := range stopped {
		o.complete(f.closedErr(opName(o.kind)))
	}
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
	b.mu.Unlock()
	for _, o := range stopped {
		o.settle(ErrClosed)
	}
	if settled != nil {
		<-settled
	}
	ended()
	for _, o := range stopped {
		o.publish()
	}
}
