package pool

import (
	"context"
	"log"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/ownexec"
)

// stopping is the top bit of Pool.gate; the bits below count the submitters inside.
const stopping = 1 << 63

// cacheLine separates fields written by different goroutines.
const cacheLine = 64

// Pool runs tasks on a bounded set of worker goroutines, fed by a bounded queue. Create it with
// New and end it with Stop. All methods are safe for concurrent use. A Pool must not be copied.
type Pool struct {
	// Read by every submission, written rarely.
	tasks   chan task
	max     int32
	elastic bool         // min < max: workers are started on demand
	workers atomic.Int32 // live workers
	abandon atomic.Bool  // set when Stop gives up: workers take no more tasks
	cfg     config
	_       [cacheLine]byte

	// slack, kept only by an elastic pool, is the number of parked workers minus the
	// tasks queued and not yet taken. A submitter that drives it below zero has queued a
	// task that no parked worker is left for, and starts a worker if the pool may grow.
	// A worker woken by a task leaves it unchanged (one fewer parked, one fewer waiting),
	// so a parked worker that has been handed a task but has not run yet is never
	// mistaken for a free one.
	slack atomic.Int64
	_     [cacheLine - 8]byte

	// Written by every submission: the stopping bit and the submitters inside.
	gate atomic.Uint64
	_    [cacheLine - 8]byte

	// Written by workers when they park and wake.
	idle atomic.Int32
	_    [cacheLine - 4]byte

	// refs is 1 for the pool until the gate is shut, plus 1 per worker goroutine.
	// Whoever drops it to 0 closes exited.
	refs     atomic.Int64
	waiting  atomic.Int32  // submitters about to wait, or waiting, for room: see expired
	closing  chan struct{} // closed when Stop begins: wakes submitters waiting for room
	quit     chan struct{} // closed once stopping and no submitter is inside: drain and exit
	exited   chan struct{} // closed when the last worker has exited after quit
	stopOnce sync.Once
	shutOnce sync.Once

	rejected   atomic.Uint64
	dropped    atomic.Uint64
	callerRuns atomic.Uint64

	mu            sync.Mutex // guards the fields below
	live          map[*worker]struct{}
	doneCompleted uint64 // counters of exited workers and of tasks run by Execute's callers
	donePanics    uint64
}

// Stats is a snapshot of a pool's counters. Each field is read separately, so a snapshot taken
// while tasks run is approximate: Running + Idle may differ from Workers, and a busy worker
// publishes its completed tasks in small batches. Once the pool is idle or stopped, every
// count is exact.
type Stats struct {
	Workers    int    // live worker goroutines
	Idle       int    // workers waiting for a task
	Running    int    // workers not waiting: running a task or about to take one
	Queued     int    // tasks waiting in the queue
	Completed  uint64 // tasks that returned, including those run by Execute's caller, and futures' tasks (see Panics)
	Panics     uint64 // tasks that panicked or called runtime.Goexit, but for Go's and future continuations (see Execute)
	Rejected   uint64 // submissions refused: ErrFull, ErrStopped or the context's error
	Dropped    uint64 // queued tasks removed by a Stop whose context ended
	CallerRuns uint64 // tasks that Execute ran on its caller's goroutine
}

// task is one entry of the queue. keep marks a function that the pool must not lose even when
// an abandoned Stop drops the queue: a continuation from Execute (a future.Executor calls it
// exactly once) or the task of Go (whose future would otherwise never complete). owned marks
// a task whose end is reported on its future, Go's or a continuation from package future (given
// through ownexec, see init): a runtime.Goexit in it (which has failed the future with
// future.ErrGoexit, and goes on unwinding into the pool) is no pool panic, and a panic in it has
// been recovered already.
type task struct {
	r     runner
	keep  bool
	owned bool
}

// runner is a task's work: a funcTask for the functions of Submit, TrySubmit and Execute, Go's own
// record for Go. An interface rather than a func lets Go's task be the same allocation as its
// state (a func would be a closure on top of it); a funcTask is pointer-shaped, so wrapping a
// function in the interface allocates nothing.
type runner interface{ run() }

// funcTask is a plain function as a runner.
type funcTask func()

func (f funcTask) run() { f() }

// New returns a pool configured by opts (nil ones are ignored). It starts the minimum number of
// workers and returns once they are waiting for tasks.
func New(opts ...Option) *Pool {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	cfg.normalize()
	p := &Pool{
		tasks:   make(chan task, cfg.queueSize),
		max:     int32(min(cfg.maxWorkers, math.MaxInt32)),
		elastic: cfg.minWorkers < cfg.maxWorkers,
		cfg:     cfg,
		closing: make(chan struct{}),
		quit:    make(chan struct{}),
		exited:  make(chan struct{}),
		live:    make(map[*worker]struct{}),
	}
	p.refs.Store(1)
	for range cfg.minWorkers {
		p.workers.Add(1)
		p.start(task{})
	}
	// Without a queue a task is accepted only by a worker waiting for it; a TrySubmit right
	// after New must not find the new workers still starting. (With one, Stats and a Stop right
	// after New should find them idle too: New is rare, and the wait is one scheduling round.)
	for p.idle.Load() < int32(cfg.minWorkers) {
		runtime.Gosched()
	}
	return p
}

// Submit queues fn to run on a worker, waiting while the pool is saturated (every worker busy
// and the queue full) until there is room, ctx is done, or the pool is stopped. It returns nil
// once fn is queued, ctx.Err() if ctx ended first, or ErrStopped. When there is room, fn is
// queued even if ctx is already done; a nil ctx means context.Background(). A nil fn is refused
// with an error. Submit allocates nothing.
func (p *Pool) Submit(ctx context.Context, fn func()) error {
	if fn == nil {
		return errNilFunc
	}
	return p.submitTask(ctx, task{r: funcTask(fn)})
}

// submitTask is Submit of a task that may be marked keep.
func (p *Pool) submitTask(ctx context.Context, t task) error {
	if ctx == nil {
		ctx = context.Background() // the wait for room must not fault while holding the gate
	}
	if !p.enter() {
		p.rejected.Add(1)
		return ErrStopped
	}
	err := p.submit(ctx, t)
	p.leave()
	if err != nil {
		p.rejected.Add(1)
	}
	return err
}

func (p *Pool) submit(ctx context.Context, t task) error {
	if p.offer(t) {
		return nil
	}
	// Announce the wait before looking at the worker count once more: a worker that leaves
	// the count after this point sees the announcement (expired), and one that left before
	// it has made room for grow. Either way a waiting submitter is never left without a
	// worker.
	p.waiting.Add(1)
	defer p.waiting.Add(-1)
	if p.grow(t) {
		return nil
	}
	select {
	case p.tasks <- t:
		p.queued()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.closing:
		return ErrStopped
	}
}

// TrySubmit queues fn without waiting. It returns ErrFull when every worker is busy and the
// queue is full, and ErrStopped after Stop. A nil fn is refused with an error. TrySubmit
// allocates nothing.
func (p *Pool) TrySubmit(fn func()) error {
	if fn == nil {
		return errNilFunc
	}
	if !p.enter() {
		p.rejected.Add(1)
		return ErrStopped
	}
	ok := p.offer(task{r: funcTask(fn)})
	p.leave()
	if !ok {
		p.rejected.Add(1)
		return ErrFull
	}
	return nil
}

// Execute runs fn on the pool, making the Pool a future.Executor. It never waits and never
// loses fn: it queues fn when there is room, and when the pool is saturated or stopped it runs
// fn at once on the calling goroutine (the caller-runs policy). Running on the caller slows a
// producer down instead of blocking it, and a continuation that a task of this pool hands back
// to the same pool can never deadlock it. A panic in fn run this way is recovered and reported
// like one on a worker. A Stop whose context ends does not drop fn: it runs on a goroutine of
// its own. fn must not be nil: Execute panics then, on its caller, rather than a worker later.
//
// A continuation that package future runs with the Pool as its Executor (Map, Then, Catch,
// Handle, GoOn) reports its own end, as Go's function does: a panic in it fails its future with
// a *future.PanicError and a runtime.Goexit with future.ErrGoexit, and the pool neither hands
// either to the panic handler nor counts it in Stats.Panics. That holds for the Pool itself
// given as the Executor, not for one wrapped in another Executor, whose functions the pool
// cannot tell from plain ones. A Goexit still ends the goroutine that ran the continuation: on a
// worker, the worker goes on in a new goroutine; on Execute's caller, that goroutine ends.
func (p *Pool) Execute(fn func()) {
	if fn == nil {
		panic("pool: Execute of a nil function")
	}
	p.execute(task{r: funcTask(fn), keep: true})
}

var _ future.Executor = (*Pool)(nil)

// execute is Execute of a task that may be marked owned.
func (p *Pool) execute(t task) {
	if p.enter() {
		ok := p.offer(t)
		p.leave()
		if ok {
			return
		}
	}
	p.callerRuns.Add(1)
	p.runHere(t)
}

// A continuation that package future runs on a Pool reports its own panic or runtime.Goexit on its
// future: it is queued as an owned task, like Go's (see package ownexec).
func init() {
	ownexec.Execute = func(exec any, fn func()) bool {
		p, ok := exec.(*Pool)
		if !ok {
			return false
		}
		p.execute(task{r: funcTask(fn), keep: true, owned: true})
		return true
	}
}

// offer queues t, or hands it to a new worker, without waiting. It reports whether it did.
func (p *Pool) offer(t task) bool {
	select {
	case p.tasks <- t:
		p.queued()
		return true
	default:
	}
	if p.grow(t) {
		return true
	}
	// Without a queue, a send succeeds only while a worker waits in its receive. A worker
	// counted idle is on its way there (or has just been handed a task): give it a moment,
	// so that a free worker is not reported as busy.
	for i := 0; cap(p.tasks) == 0 && i < 4 && p.idle.Load() > 0; i++ {
		runtime.Gosched()
		select {
		case p.tasks <- t:
			p.queued()
			return true
		default:
		}
	}
	return false
}

// queued accounts for a task just put in the queue: in an elastic pool, it starts a worker
// when no parked worker is left to take the task. A fixed pool has all its workers already.
func (p *Pool) queued() {
	if p.elastic && p.slack.Add(-1) < 0 {
		p.grow(task{})
	}
}

// taken accounts for a task that a worker took from the queue without parking for it.
func (p *Pool) taken() {
	if p.elastic {
		p.slack.Add(1)
	}
}

// grow starts a worker, with first as its first task, unless the pool has its maximum.
func (p *Pool) grow(first task) bool {
	if !p.recount() {
		return false
	}
	p.start(first)
	return true
}

// recount counts one more worker, unless the pool has its maximum: a new one (grow), or one that
// shrink had uncounted.
func (p *Pool) recount() bool {
	for {
		n := p.workers.Load()
		if n >= p.max {
			return false
		}
		if p.workers.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// shrink uncounts a worker that wants to exit, unless the pool is at its minimum.
func (p *Pool) shrink() bool {
	for {
		n := p.workers.Load()
		if n <= int32(p.cfg.minWorkers) {
			return false
		}
		if p.workers.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// start runs a new worker goroutine; the caller has already counted it in p.workers.
func (p *Pool) start(first task) {
	w := &worker{p: p}
	p.refs.Add(1)
	p.mu.Lock()
	p.live[w] = struct{}{}
	p.mu.Unlock()
	go w.loop(first)
}

// enter lets a submitter in unless the pool is stopping; leave lets it out. Once the
// stopping bit is set, the count only falls, apart from submitters that enter, see the
// bit and leave at once; the first time it reaches zero, the gate is shut for good.
func (p *Pool) enter() bool {
	if p.gate.Add(1)&stopping != 0 {
		p.leave()
		return false
	}
	return true
}

func (p *Pool) leave() {
	if p.gate.Add(^uint64(0)) == stopping {
		p.shutOnce.Do(p.shut)
	}
}

// shut runs once, when no submitter can queue a task any more: workers may drain and exit.
func (p *Pool) shut() {
	close(p.quit)
	p.unref()
}

func (p *Pool) unref() {
	if p.refs.Add(-1) == 0 {
		close(p.exited)
	}
}

// parking accounts for a worker about to wait for a task: one more worker is free to take one.
func (p *Pool) parking() {
	p.idle.Add(1)
	if p.elastic {
		p.slack.Add(1)
	}
}

// busy returns how many workers are running a task: those counted in p.workers and not in
// p.idle. A worker that exits leaves p.workers first and p.idle after: read one after the
// other, the two counts could show idle workers that left in between as running (Stop on an
// idle pool reported both of its workers running, once in some 50,000 runs). So the first is
// read again, and the pair retaken while it moves; with the pool stopping it only falls.
func (p *Pool) busy() int {
	for range 100 {
		w := p.workers.Load()
		i := p.idle.Load()
		if p.workers.Load() == w {
			return max(int(w-i), 0)
		}
	}
	return max(int(p.workers.Load()-p.idle.Load()), 0)
}

// unpark accounts for a parked worker woken by something other than a task.
func (p *Pool) unpark() {
	p.idle.Add(-1)
	if p.elastic {
		p.slack.Add(-1)
	}
}

// runHere runs t on the calling goroutine, recovering a panic as a worker would.
func (p *Pool) runHere(t task) {
	normal := false
	defer func() {
		ended := normal || t.owned // an owned task's Goexit is its future's (task)
		p.mu.Lock()
		if ended {
			p.doneCompleted++
		} else {
			p.donePanics++
		}
		p.mu.Unlock()
		if !ended {
			p.report(recover())
		}
	}()
	t.r.run()
	normal = true
}

// report hands a recovered panic to the panic handler. A nil value means runtime.Goexit.
func (p *Pool) report(v any) {
	if v == nil {
		v = future.ErrGoexit
	}
	stack := debug.Stack()
	defer func() {
		if r := recover(); r != nil {
			log.Printf("pool: panic in panic handler: %v (handling: %v)", r, v)
		}
	}()
	p.cfg.onPanic(v, stack)
}

// Stats returns a snapshot of the pool's counters.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	completed, panics := p.doneCompleted, p.donePanics
	for w := range p.live {
		completed += w.completed.Load()
		panics += w.panics.Load()
	}
	p.mu.Unlock()
	workers, idle := int(p.workers.Load()), int(p.idle.Load())
	return Stats{
		Workers:    workers,
		Idle:       idle,
		Running:    max(workers-idle, 0),
		Queued:     len(p.tasks),
		Completed:  completed,
		Panics:     panics,
		Rejected:   p.rejected.Load(),
		Dropped:    p.dropped.Load(),
		CallerRuns: p.callerRuns.Load(),
	}
}

// Stop shuts the pool down. New submissions fail with ErrStopped at once (Execute runs them on
// its caller), submitters waiting for room are released with ErrStopped, and the workers run
// every task already queued, then exit. Stop returns nil once they all have.
//
// If ctx ends first, Stop abandons the queue: the tasks still in it are dropped without running,
// and Stop returns a *StopError with their number. Two kinds of queued function are not dropped,
// because something waits for them: continuations queued by Execute run on a goroutine of their
// own, and the futures of Go's queued tasks fail with ErrStopped. Running tasks go on to their
// end and their workers exit afterwards. Stop may be called more than once and from several goroutines; each
// call waits for the workers as above. A task that calls Stop on its own pool waits until ctx
// ends, since it is one of the tasks Stop waits for. A nil ctx means context.Background().
func (p *Pool) Stop(ctx context.Context) error {
	if ctx == nil {
		ctx = context.Background()
	}
	p.stopOnce.Do(func() {
		close(p.closing)
		if p.gate.Or(stopping) == 0 {
			p.shutOnce.Do(p.shut)
		}
	})
	// Submitters inside the gate never wait once closing is closed: this is short.
	<-p.quit
	select {
	case <-p.exited:
		return nil
	case <-ctx.Done():
	}
	p.abandon.Store(true)
	dropped := 0
	var kept []task
	for {
		select {
		case t := <-p.tasks:
			if t.keep {
				kept = append(kept, t)
			} else {
				dropped++
			}
			continue
		default:
		}
		break
	}
	p.dropped.Add(uint64(dropped))
	if len(kept) > 0 {
		// Execute's continuations and Go's tasks are not lost: they run off the pool, each on
		// a goroutine of its own, since a continuation may block (waiting, say, for a Go task
		// queued behind it) or end its goroutine with runtime.Goexit. Go's task sees p.abandon
		// and fails its future with ErrStopped instead of calling its function.
		for _, t := range kept {
			go p.runHere(t)
		}
	}
	running := p.busy()
	if dropped == 0 && running == 0 {
		select {
		case <-p.exited:
			return nil
		default:
		}
	}
	return &StopError{Dropped: dropped, Running: running, Err: ctx.Err()}
}
