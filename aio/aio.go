package aio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/eddyio/eddy/future"
)

// Backend names the mechanism an IO runs its operations on.
type Backend string

const (
	// Auto picks Uring when the kernel allows it (Linux with io_uring enabled) and Pool otherwise.
	Auto Backend = "auto"
	// Uring runs every operation through one io_uring (Linux).
	Uring Backend = "uring"
	// Pool runs every operation as a positioned read or write on a bounded pool of goroutines.
	Pool Backend = "pool"
)

// ErrClosed is the error of an operation asked of an IO after Close, and of one that Close stopped,
// wrapped in an *os.PathError that names the operation and the file (Open's too), as package os
// reports its errors. It matches os.ErrClosed as well: IO.Close closes the IO's files, and a File
// promises os.ErrClosed to the operations asked of it after its Close, whichever Close came first.
var ErrClosed error = closedError{}

// closedError is the type of ErrClosed.
type closedError struct{}

func (closedError) Error() string { return "aio: closed" }

// Is makes ErrClosed match os.ErrClosed.
func (closedError) Is(target error) bool { return target == os.ErrClosed }

// ErrInFlight is the error (in an *os.PathError) of a Read asked of a File while another of its Reads
// is in flight, and of a Write while another Write is, and on a file with positions (a regular file)
// of a Read beside a Write: reads and writes at the current position are ordered only by waiting for
// one before asking for the next.
var ErrInFlight = errors.New("aio: another operation of this kind is in flight on the file")

// Option configures New.
type Option func(*config) error

type config struct {
	backend Backend
	depth   int
	workers int
}

// WithBackend chooses the backend (default Auto). Asking for Uring where io_uring is unavailable makes
// New fail with an error that says why.
func WithBackend(b Backend) Option {
	return func(c *config) error {
		switch b {
		case Auto, Uring, Pool:
			c.backend = b
			return nil
		}
		return fmt.Errorf("aio: unknown backend %q (want auto, uring or pool)", b)
	}
}

// WithQueueDepth sets how many ReadAt, WriteAt and Sync operations the io_uring backend keeps in the
// kernel at once (default 256, at most 32768); more wait in line for a free place, in the order they
// were asked. Read and Write, which may wait on a pipe or socket for as long as it takes, do not count.
func WithQueueDepth(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 32768 {
			return fmt.Errorf("aio: queue depth %d out of range [1, 32768]", n)
		}
		c.depth = n
		return nil
	}
}

// WithWorkers sets how many goroutines the pool backend runs ReadAt, WriteAt and Sync operations on at
// once (default 4 × GOMAXPROCS, at least 8); more wait in line. Each waits in a system call for as long
// as its operation takes, holding an OS thread meanwhile, which is what the io_uring backend avoids.
// Read and Write run on goroutines of their own, which wait in the runtime's poller when it polls the
// file.
func WithWorkers(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 65536 {
			return fmt.Errorf("aio: workers %d out of range [1, 65536]", n)
		}
		c.workers = n
		return nil
	}
}

// backend is what an IO runs operations on. submit hands over an operation whose file has counted it in
// flight; the backend completes it exactly once. cancel stops an operation whose context is done or
// whose future was cancelled, if it has not ended (it may be called at any time, also after the end,
// and more than once, on a goroutine of its own). cancelFile stops the operations in flight on f (its
// Close). close stops everything in flight, waits for it to end, calls ended, releases the backend, and
// completes the futures it settled itself.
type backend interface {
	submit(o *op)
	cancel(o *op)
	cancelFile(f *File)
	close(ended func())
}

// IO runs asynchronous file operations on one backend. Its methods, and those of its files, may be
// called from any goroutine.
type IO struct {
	kind Backend
	be   backend

	mu     sync.Mutex
	closed bool
	files  map[*File]struct{}
	ended  chan struct{} // closed by the first Close once every operation has ended
}

// New starts an IO. Close it when done: the io_uring backend holds a ring, an eventfd and a goroutine.
func New(opts ...Option) (*IO, error) {
	cfg := config{backend: Auto, depth: 256, workers: max(8, 4*runtime.GOMAXPROCS(0))}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	a := &IO{files: make(map[*File]struct{}), ended: make(chan struct{})}
	switch cfg.backend {
	case Pool:
		a.kind, a.be = Pool, newPoolBackend(cfg.workers)
	case Uring:
		be, err := newUringBackend(cfg.depth)
		if err != nil {
			return nil, err
		}
		a.kind, a.be = Uring, be
	default:
		if be, err := newUringBackend(cfg.depth); err == nil {
			a.kind, a.be = Uring, be
		} else {
			a.kind, a.be = Pool, newPoolBackend(cfg.workers)
		}
	}
	return a, nil
}

// Backend reports the backend the IO runs on: Uring or Pool, never Auto.
func (a *IO) Backend() Backend { return a.kind }

// Close stops the operations in flight (their futures complete with an *os.PathError wrapping
// ErrClosed, or with their result if they finished first), waits for them to end, closes every File
// of the IO that is still open, and releases the backend. When it returns, no operation uses its buffer any more; the futures complete
// at once or moments later, on the goroutine that reaped them (Close does not wait for that: their
// continuations may be the ones calling it). Operations asked for afterwards fail with ErrClosed
// (in an *os.PathError; it matches os.ErrClosed too). Close returns nil, and so does every later call.
func (a *IO) Close() error {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.ended // a concurrent Close: the operations have ended when it returns too
		return nil
	}
	a.closed = true
	files := make([]*File, 0, len(a.files))
	for f := range a.files {
		files = append(files, f)
	}
	a.mu.Unlock()
	// Deferred: close completes the futures of the operations it stopped on this goroutine, where
	// an Inline continuation may end it (runtime.Goexit), and the files must be closed all the same.
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	a.be.close(func() { close(a.ended) })
	return nil
}

// Open opens the named file with os.OpenFile's flag and perm, and returns it as a File of this IO.
// Opening waits for the file system, as os.OpenFile does. After Close it fails with ErrClosed (in an
// *os.PathError) without opening the file (so O_CREATE and O_TRUNC do nothing).
func (a *IO) Open(name string, flag int, perm os.FileMode) (*File, error) {
	// Not after Close: os.OpenFile would create or truncate the file before NewFile refused it.
	a.mu.Lock()
	closed := a.closed
	a.mu.Unlock()
	if closed {
		return nil, &os.PathError{Op: "open", Path: name, Err: ErrClosed}
	}
	osf, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	f, err := a.NewFile(osf)
	if err != nil {
		osf.Close()
		if err == ErrClosed { // a Close that came while the file was being opened
			err = &os.PathError{Op: "open", Path: name, Err: err}
		}
		return nil, err
	}
	return f, nil
}

// NewFile makes osf a File of this IO, which owns it from here: close the File, not osf, and do not use
// osf meanwhile. It fails with ErrClosed after Close, and on a nil osf.
func (a *IO) NewFile(osf *os.File) (*File, error) {
	if osf == nil {
		return nil, errors.New("aio: NewFile of a nil *os.File")
	}
	f := &File{io: a, osf: osf, name: osf.Name()}
	if err := f.init(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, ErrClosed
	}
	a.files[f] = struct{}{}
	return f, nil
}

// File is an open file whose reads, writes and syncs are asynchronous. Operations on one File may
// overlap: ReadAt and WriteAt name their offsets, and the kernel orders nothing between them, as with
// concurrent os.File.ReadAt and WriteAt calls. The methods of a nil *File (all but Name) fail with
// os.ErrInvalid, as os.File's do.
type File struct {
	io   *IO
	osf  *os.File
	name string
	fd   int     // for the io_uring backend (init)
	app  bool    // opened with O_APPEND: WriteAt is refused, as os.File does
	rc   rawConn // the pool's positioned reads and writes (unix)
	// stream: the file has no positioned reads and writes (a pipe, a socket): ReadAt and WriteAt fail
	// with ESPIPE, as os.File's do
	stream bool
	// noPwrite: a file whose pwrite(2) fails with ESPIPE though it has positioned reads (a
	// seq_file: /proc/version, /proc/thread-self/comm): its WriteAt fails so, as os.File's does,
	// where io_uring's WRITE said EBADF (read-only) or wrote, ignoring the offset (writable)
	// (file_unix.go, init; pwriteRefused)
	noPwrite bool
	// seekable: a regular file or a block device, whose position the io_uring backend keeps itself
	// for Read and Write (file_unix.go, init; uringBackend.prep): io_uring's READ and WRITE at the
	// current position do not move it when they complete asynchronously (O_DIRECT), so they are
	// made at the position lseek(2) reads, which is then put after what they moved
	seekable bool
	// nowaitAt: a character device in non-blocking mode: its ReadAt and WriteAt do not wait for it
	// to be ready, as pread(2) and pwrite(2) do not (EAGAIN), where io_uring would wait in a poll
	// (file_unix.go, init; uringBackend.now)
	nowaitAt bool

	// A Read, a Write in flight: one of each at a time on a file without positions, one of either on
	// another (busy).
	reading, writing atomic.Bool
	// The pool's Read and Write in progress, and whether it set a deadline on osf to stop one; under
	// smu (pool.go, interrupt).
	smu      sync.Mutex
	running  [2]*op
	deadline [2]bool

	mu       sync.Mutex
	inflight int
	closed   bool
	idle     chan struct{} // made by Close when it must wait: closed when inflight reaches 0
}

// Name returns the name the file was opened with.
func (f *File) Name() string { return f.name }

// Stat returns the file's os.FileInfo. After Close it fails with os.ErrClosed, after IO.Close with
// ErrClosed (in an *os.PathError), as the other operations do.
func (f *File) Stat() (os.FileInfo, error) {
	if f == nil {
		return nil, os.ErrInvalid
	}
	// As every other operation of a File: after IO.Close, ErrClosed (start).
	f.io.mu.Lock()
	closed := f.io.closed
	f.io.mu.Unlock()
	if closed {
		return nil, f.ioClosedErr("stat")
	}
	if !f.hold() {
		return nil, f.closedErr("stat")
	}
	defer f.release()
	return f.osf.Stat()
}

// ReadAt reads len(p) bytes from the file at offset off into p. The future completes with the count
// read and, when it is less than len(p), an error: io.EOF at the end of the file, the context's error
// when ctx was cancelled, or an *os.PathError. p belongs to the operation until the future completes.
// A character device in non-blocking mode is read as pread(2) reads it, without waiting for it: EAGAIN
// when it has nothing (on io_uring the call is made before ReadAt returns, for io_uring would wait).
func (f *File) ReadAt(ctx context.Context, p []byte, off int64) future.Future[int] {
	if f == nil {
		return settled[int](os.ErrInvalid).Future()
	}
	var invalid error
	if off < 0 || f.stream && len(p) > 0 { // os.File's ReadAt of nothing makes no call: no ESPIPE
		invalid = f.positionErr("read", off)
	}
	return f.transfer(ctx, opRead, p, off, invalid)
}

// WriteAt writes p to the file at offset off. The future completes with the count written and, when
// it is less than len(p), an error. A file opened with O_APPEND refuses WriteAt, as os.File does. p
// belongs to the operation until the future completes.
func (f *File) WriteAt(ctx context.Context, p []byte, off int64) future.Future[int] {
	if f == nil {
		return settled[int](os.ErrInvalid).Future()
	}
	var invalid error
	switch {
	case f.app:
		invalid = errors.New("os: invalid use of WriteAt on file opened with O_APPEND")
	case off < 0 || (f.stream || f.noPwrite) && len(p) > 0: // as in ReadAt
		invalid = f.positionErr("write", off)
	}
	return f.transfer(ctx, opWrite, p, off, invalid)
}

// Read reads up to len(p) bytes at the file's current position, and advances it, as io.Reader does:
// the future completes with the count read, at least 1 when p is not empty, or with 0 and io.EOF at
// the end of the file (of a pipe or socket: once the other end has closed), or with an error. It is
// for files without positions, pipes, FIFOs, sockets and terminals, where a read waits until there is
// something to read, as well as for regular files. One Read of a File may be in flight at a time,
// beside one Write on a file without positions and alone on one with positions (another fails with
// ErrInFlight). A Read that waits does not count against WithQueueDepth or WithWorkers.
//
// Cancelling ctx stops a read that waits: on io_uring in every case; on the pool, where a read holds
// a goroutine, when the runtime polls the file (os.Pipe's, and descriptors in non-blocking mode, given
// to os.NewFile), through a deadline, and otherwise only before it has started. File.Close and
// IO.Close stop it likewise. p belongs to the operation until the future completes.
func (f *File) Read(ctx context.Context, p []byte) future.Future[int] {
	return f.next(ctx, opReadNext, p)
}

// Write writes p at the file's current position (at its end when it was opened with O_APPEND) and
// advances it, as io.Writer does: the future completes with len(p), or with fewer bytes and an error.
// On a pipe or socket it waits for room as long as it takes. An empty p writes nothing and completes
// at once, with the error of os.File.Write's write(2) of nothing, if any (EBADF on a file not open
// for writing). One Write of a File may be in flight at a time, beside one Read on a file without
// positions and alone on one with positions (another fails with ErrInFlight). Cancellation and Close
// stop it as they stop Read, with the bytes written so far. p belongs to the operation until the
// future completes.
func (f *File) Write(ctx context.Context, p []byte) future.Future[int] {
	return f.next(ctx, opWriteNext, p)
}

// busy returns the mark of a Read or Write in flight of kind. A file with positions has one for both:
// read(2) and write(2) take turns on the position, but io_uring's READ and WRITE at the current
// position do not (each reads the position when issued and stores it when done), so a Read beside a
// Write could read from a stale position, or move it back.
func (f *File) busy(kind uint8) *atomic.Bool {
	if kind == opWriteNext && f.stream {
		return &f.writing
	}
	return &f.reading
}

// next starts a Read or Write, unless one that excludes it is in flight (busy).
func (f *File) next(ctx context.Context, kind uint8, p []byte) future.Future[int] {
	if f == nil {
		return settled[int](os.ErrInvalid).Future()
	}
	if len(p) == 0 { // done at once, as os.File's, after the checks of a closed file or IO
		// os.File.Read of nothing makes no call, but its Write makes a write(2) of nothing, which
		// fails where a write would (EBADF on a file opened read-only): so does this one.
		var invalid error
		if kind == opWriteNext && f.hold() {
			invalid = f.writeNothing()
			f.release()
		}
		pr, _ := start[int](f, ctx, kind, p, -1, invalid)
		return pr.Future()
	}
	busy := f.busy(kind)
	if !busy.CompareAndSwap(false, true) {
		err := error(&os.PathError{Op: opName(kind), Path: f.name, Err: ErrInFlight})
		if f.isClosed() {
			err = f.closedErr(opName(kind))
		}
		return settled[int](err).Future()
	}
	pr, o := start[int](f, ctx, kind, p, -1, nil)
	if o == nil {
		busy.Store(false)
		return pr.Future()
	}
	o.promise = pr
	f.io.be.submit(o)
	return pr.Future()
}

// transfer starts a ReadAt or WriteAt.
func (f *File) transfer(ctx context.Context, kind uint8, p []byte, off int64, invalid error) future.Future[int] {
	pr, o := start[int](f, ctx, kind, p, off, invalid)
	if o != nil {
		o.promise = pr
		f.io.be.submit(o)
	}
	return pr.Future()
}

// Sync commits the file's contents to stable storage (fsync, as os.File.Sync). The future completes
// with the error, if any.
func (f *File) Sync(ctx context.Context) future.Future[struct{}] {
	if f == nil {
		return settled[struct{}](os.ErrInvalid).Future()
	}
	pr, o := start[struct{}](f, ctx, opSync, nil, 0, nil)
	if o != nil {
		o.synced = pr
		f.io.be.submit(o)
	}
	return pr.Future()
}

// Close stops the file's operations in flight (they complete with an error that matches
// os.ErrClosed, or with their result if they finished first), waits for them to end, and closes the
// file: a descriptor number reused after that can never receive one of them. When the first Close
// returns, no operation of the file uses its buffer any more, and their futures complete at once or
// moments later (as for IO.Close). Operations asked for afterwards fail with os.ErrClosed. A second
// Close returns an error that matches os.ErrClosed at once, without waiting for the first: it may be
// made by a continuation of one of the operations the first waits for (unlike IO.Close, whose second
// call waits). A program that closes a file from two goroutines and then reuses buffers must wait for
// the first Close, or for the futures.
func (f *File) Close() error {
	if f == nil {
		return os.ErrInvalid
	}
	f.mu.Lock()
	if f.closed {
		// Another Close came first, and may still wait for operations in flight. This one does
		// not: it may be a continuation run by one of them (on the reaper, a worker, or the first
		// Close's own cancellation), which the operations behind it wait for.
		f.mu.Unlock()
		return f.closedErr("close")
	}
	f.closed = true
	var idle chan struct{}
	if f.inflight > 0 {
		idle = make(chan struct{})
		f.idle = idle
	}
	f.mu.Unlock()
	if idle != nil {
		// cancelFile completes the futures of the operations it stops in line on this goroutine,
		// where an Inline continuation may end it (runtime.Goexit): the file must be closed all the
		// same, or its descriptor stays open (a later Close, IO.Close's too, finds it closing).
		cancelled := false
		defer func() {
			if !cancelled {
				<-idle
				f.detach()
			}
		}()
		f.io.be.cancelFile(f)
		cancelled = true
		<-idle
	}
	return f.detach()
}

// detach ends a Close once the file's operations have ended: it removes the file from its IO and
// closes its descriptor.
func (f *File) detach() error {
	f.io.mu.Lock()
	delete(f.io.files, f)
	f.io.mu.Unlock()
	return f.osf.Close()
}

// isClosed reports whether Close has begun.
func (f *File) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

func (f *File) closedErr(op string) error {
	return &os.PathError{Op: op, Path: f.name, Err: os.ErrClosed}
}

// ioClosedErr is the error of an operation of f that IO.Close refused or stopped.
func (f *File) ioClosedErr(op string) error {
	return &os.PathError{Op: op, Path: f.name, Err: ErrClosed}
}

// hold counts an operation in flight, unless the file is closed.
func (f *File) hold() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.inflight++
	return true
}

// release ends an operation counted by hold, and lets a waiting Close go on after the last one.
func (f *File) release() {
	f.mu.Lock()
	f.inflight--
	if f.inflight == 0 && f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	f.mu.Unlock()
}

// The kinds of operation.
const (
	opRead  uint8 = iota // ReadAt
	opWrite              // WriteAt
	opSync
	opReadNext  // Read: one read at the current position
	opWriteNext // Write: all of p at the current position
)

// unbounded reports whether o is a Read or Write, which may wait for its file as long as it takes: the
// backends do not count those against their depth or workers, or a few idle pipes would hold up every
// other operation (and a Read the Write that would end it).
func (o *op) unbounded() bool { return o.kind == opReadNext || o.kind == opWriteNext }

// dir is the index of a Read (0) or Write (1) in File.running and File.deadline.
func (o *op) dir() int {
	if o.kind == opWriteNext {
		return 1
	}
	return 0
}

// op is one operation in flight. The backend owns it from submit until complete.
type op struct {
	kind uint8
	// watch: ctx can be done (its Done is not nil), asked once by start, outside the backends'
	// locks. A backend watches ctx (context.AfterFunc) only when the operation waits and watch is
	// set. The operation has no context of its own (ctx is the caller's, not nil): its future's
	// Cancel sets cancelled instead (requestCancel), and ctxErr reports either. (Beside kind: the
	// three share a word.)
	watch     bool
	cancelled atomic.Bool
	f         *File
	p         []byte
	off       int64
	n         int   // bytes done so far
	err       error // the result's error, set by settle
	ctx       context.Context
	promise   future.Promise[int]      // ReadAt, WriteAt
	synced    future.Promise[struct{}] // Sync
	stop      func() bool              // unregisters the context watch (context.AfterFunc)

	// io_uring backend, owned by its loop
	slot     uint32
	gen      uint32
	stopErr  error // why the op is being cancelled; the completion reports it
	canceled bool  // an ASYNC_CANCEL was submitted for it
	retries  uint8 // resubmissions after its submitting thread exited
	live     bool  // in the table or in line, not settled
	polling  bool  // a Read or Write that met EAGAIN waits for its file in a POLL_ADD
	// pos is the position a Read or Write of a file with positions started at (not for an O_APPEND
	// Write), or -1: where it is made on a seekable file, where the rest of a Write goes after a
	// short write, and where the position is put after it (uringBackend.prep, completed, finish)
	pos int64
}

// positionErr is why a positioned read or write at off cannot be made: a negative offset, or a file
// without positions (ESPIPE), as package os reports them.
func (f *File) positionErr(op string, off int64) error {
	if off < 0 {
		return &os.PathError{Op: op + "at", Path: f.name, Err: errors.New("negative offset")}
	}
	return &os.PathError{Op: op, Path: f.name, Err: syscall.ESPIPE}
}

// start makes the promise of an operation and, unless it is settled already (a done context, a closed
// IO or file, an invalid request, an empty buffer), the operation, counted in flight on f, for the
// caller to submit. invalid, if not nil, is the request's error, reported once the file is known to be
// open: whatever is asked of a closed File fails with os.ErrClosed (File.Close), where os.File reports
// a negative offset or an O_APPEND WriteAt first, and does an empty ReadAt or WriteAt.
func start[T any](f *File, ctx context.Context, kind uint8, p []byte, off int64, invalid error) (future.Promise[T], *op) {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return settled[T](err), nil
	}
	f.io.mu.Lock()
	closed := f.io.closed
	f.io.mu.Unlock()
	if closed {
		return settled[T](f.ioClosedErr(opName(kind))), nil
	}
	if !f.hold() {
		return settled[T](f.closedErr(opName(kind))), nil
	}
	if invalid != nil || kind != opSync && len(p) == 0 {
		f.release()
		return settled[T](invalid), nil // nil: an empty buffer, done at once
	}
	o := &op{kind: kind, f: f, p: p, off: off, ctx: ctx, watch: ctx.Done() != nil}
	return future.NewPromiseFunc[T](o.requestCancel), o
}

// requestCancel is the cancel function of the operation's future (Future.Cancel): it marks the
// operation cancelled, which the backend finds where it looks at the context (ctxErr), and has
// the backend stop it if it waits, on a goroutine of its own, as a context watch
// (context.AfterFunc) would: Cancel may be called from a continuation, where the completions the
// backend's cancel publishes must not run, nor its locks be taken.
func (o *op) requestCancel() {
	if o.cancelled.CompareAndSwap(false, true) {
		go o.f.io.be.cancel(o)
	}
}

// ctxErr is why the caller stops the operation, or nil: its context's error, or context.Canceled
// once its future was cancelled.
func (o *op) ctxErr() error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	if o.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

// settled returns a promise already completed with the zero value and err.
func settled[T any](err error) future.Promise[T] {
	pr := future.NewPromise[T]()
	pr.Reject(err)
	return pr
}

// complete settles the operation and publishes its result at once.
func (o *op) complete(err error) {
	o.settle(err)
	o.publish()
}

// settle ends the operation with the bytes done and err: it stops watching the context, gives the
// buffer back and releases the file, so that a Close waiting for the file or the IO may go on. The
// result is published to the future later (publish), where the future's continuations may run.
func (o *op) settle(err error) {
	if o.stop != nil {
		o.stop()
		o.stop = nil
	}
	if err == nil && (o.kind == opRead && o.n < len(o.p) || o.kind == opReadNext && o.n == 0) {
		err = io.EOF
	}
	o.err = err
	o.p = nil
	if o.unbounded() { // before the future completes: its continuation may ask for the next one
		o.f.busy(o.kind).Store(false)
	}
	o.f.release()
}

// publish completes the future with what settle recorded. Continuations on the Inline executor run
// here, so it is called with no lock held.
func (o *op) publish() {
	if o.kind == opSync {
		o.synced.Complete(struct{}{}, o.err)
		return
	}
	o.promise.Complete(o.n, o.err)
}

// publish completes the futures of settled operations, in order. A continuation on future.Inline
// may end this goroutine (runtime.Goexit) in its operation's publish: the deferred call then
// completes the operations after it on a goroutine of its own, or their futures would stay pending
// for ever (as a pool worker hands the line on to another: poolBackend.work).
func publish(done []*op) {
	if len(done) == 1 {
		done[0].publish() // nothing after it to lose
		return
	}
	i := 0
	defer func() {
		if i < len(done) {
			// A copy: done may be on its caller's stack (a buffer of uringBackend.submit's).
			go publish(append([]*op(nil), done[i+1:]...))
		}
	}()
	for ; i < len(done); i++ {
		done[i].publish()
	}
}

// pathErr wraps a system error as package os does for the operation's kind.
func (o *op) pathErr(err error) error {
	return &os.PathError{Op: opName(o.kind), Path: o.f.name, Err: err}
}

func opName(kind uint8) string {
	switch kind {
	case opRead, opReadNext:
		return "read"
	case opWrite, opWriteNext:
		return "write"
	case opSync:
		return "sync"
	}
	return "close"
}

// indexOf returns the index of o in ops, or -1.
func indexOf(ops []*op, o *op) int {
	for i, x := range ops {
		if x == o {
			return i
		}
	}
	return -1
}
