package eddy

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/internal/netpoll"
	"github.com/eddyio/eddy/internal/timer"
)

// loopCore is what the epoll and uring loops share: the task queue other goroutines feed, the eventfd
// that wakes the loop, the stop request, the timing wheel and the loop's clock, with the Loop methods
// built on them (Execute, AfterFunc, Index). Each engine's loop embeds it and brings its own poller.
type loopCore struct {
	idx  int
	base time.Time // the engine's clock origin: clock() is the time since
	log  *slog.Logger
	h    Handler // the engine's handler, for the callbacks of connCore (OnClose, OnPeerClosed)
	// waker is the eventfd other goroutines write to wake the loop. They write it only under the task
	// queue's lock (taskQueue.push, ifOpen), and it is closed only after the queue, so a late wake-up
	// can never write into a closed descriptor, or one whose number was reused.
	waker *netpoll.Waker
	// parkWaker, when not nil, is the eventfd that wakes the loop while it is parked in the runtime's
	// poller (state loopParked): the uring loop's urParker. The same rules as for waker apply.
	parkWaker *netpoll.Waker
	state     atomic.Int32 // loopAwake, loopSleeping, loopWoken or loopParked
	stopRq    atomic.Int32 // stopNone, stopGraceful or stopForce
	tasks     taskQueue
	wheel     *timer.Wheel
	now       int64 // wheel clock, refreshed after each wait and again before the iteration's flush
	loadCount       // the loop's connections (Loop.Conns, BalanceLeastConnections)
	// stopping is set when the loop starts to stop (beginStop), on the loop: it accepts no more
	// connections, and a closing connection does not linger for its peer's FIN.
	stopping bool
	// forced is set on the loop once a forced stop's pass has run (beginStop): every connection is
	// aborted then, but a uring one whose send in flight decides (stopAfterSend). Not stopRq, which
	// another goroutine raises at any moment: a timer of the iteration in which it was raised ran as
	// if the pass had run, and reset a closing connection whose send was to decide (connTimer).
	forced bool

	flushTimeout int64 // WithFlushTimeout (flushWatch)

	// inHook is the connection whose OnClosing runs (engineClose), and hookAbort is set when Abort is
	// called on it meanwhile, from any goroutine: its close is then the abort's, not the engine's.
	inHook    atomic.Pointer[connCore]
	hookAbort atomic.Bool

	// aborts holds, by connection, the reason of an Abort whose task has not run yet (abortReq). What
	// ends the connection before that task (a graceful close whose flush finishes in the same
	// iteration, a failed send reading on, the peer's reset) reports it, as Conn.Abort promises, and a
	// connection reading on after a failed send offers no more input. abortsN spares the lock while
	// there are none, which is always but for a moment after an Abort.
	abortMu sync.Mutex
	aborts  map[*connCore]error
	abortsN atomic.Int32

	left []task // the tasks still queued when the queue closed, not run yet (runLeftTasks)
}

// noteAbort records that Abort(reason) was called on c, until its task runs (dropAbort). The first
// reason is kept: its task runs first.
func (l *loopCore) noteAbort(c *connCore, reason error) {
	l.abortMu.Lock()
	if l.aborts == nil {
		l.aborts = make(map[*connCore]error)
	}
	if _, ok := l.aborts[c]; !ok {
		l.aborts[c] = reason
		l.abortsN.Add(1)
	}
	l.abortMu.Unlock()
}

// pendingAbort returns the reason of an Abort of c whose task has not run yet, and whether there is one.
func (l *loopCore) pendingAbort(c *connCore) (error, bool) {
	if l.abortsN.Load() == 0 {
		return nil, false
	}
	l.abortMu.Lock()
	r, ok := l.aborts[c]
	l.abortMu.Unlock()
	return r, ok
}

// dropAbort forgets the Abort of c: its task runs, or could not be queued.
func (l *loopCore) dropAbort(c *connCore) {
	if l.abortsN.Load() == 0 {
		return
	}
	l.abortMu.Lock()
	if _, ok := l.aborts[c]; ok {
		delete(l.aborts, c)
		l.abortsN.Add(-1)
	}
	l.abortMu.Unlock()
}

// init sets up the core of loop idx of engine e, whose clock started at base.
func (l *loopCore) init(idx int, base time.Time, e *Engine, w *netpoll.Waker) {
	o := &e.opts
	l.idx, l.base, l.log, l.h, l.waker = idx, base, o.logger, e.h, w
	l.tasks.cap = o.taskQueueCap
	l.flushTimeout = int64(o.flushTimeout)
	l.now = l.clock()
	l.wheel = timer.New(timerTick, l.now)
}

// serveGuarded runs serve, the body of the loop, to its end. A callback that calls runtime.Goexit on the
// loop's goroutine (testing.T.FailNow in a handler, or in a future's continuation run on the loop) ends
// that goroutine from inside serve, and the loop used to die with it: connections open and silent, its
// tasks never run, Execute accepting work it would never do. The deferred call cannot stop the
// goroutine from ending, but it runs before it ends: it logs the event, makes the loop stop at once (as a
// Stop whose context expired: the connections are aborted, the tasks queued run and see them closed, and
// later Execute calls run on the caller) and runs serve again, inside the deferred call, to do it (another
// Goexit there nests once more). The task interrupted is not run again; the tasks behind it are
// (taskQueue.run). A panic is not a Goexit: it goes on, re-raised.
func (l *loopCore) serveGuarded(serve func()) {
	normal := false
	defer func() {
		if normal {
			return
		}
		if v := recover(); v != nil {
			panic(v)
		}
		l.logger().Error("eddy: a callback called runtime.Goexit on the loop's goroutine; the loop stops and aborts its connections",
			"loop", l.idx)
		l.stopRq.Store(stopForce)
		l.serveGuarded(serve)
	}()
	serve()
	normal = true
}

// runLeftTasks closes the task queue and runs the tasks still in it, at the end of the loop. A task that
// calls runtime.Goexit leaves the others in l.left, for the run of the loop's body that serveGuarded
// makes next, which comes back here.
func (l *loopCore) runLeftTasks() {
	l.left = append(l.left, l.tasks.close()...)
	for len(l.left) > 0 {
		t := l.left[0]
		l.left[0] = task{}
		l.left = l.left[1:]
		t.fn(&t)
	}
}

// endIteration is the end of an iteration of either loop engine, once the ready I/O is handled: the
// tasks, then the flush of what the callbacks wrote (flushAll, the engine's), then the timers, and a flush
// again of what they wrote or closed.
func (l *loopCore) endIteration(flushAll func()) {
	// The timers run against the clock as it was before the tasks (the last reading, which needs
	// no other): a timer made in a task (or by another goroutine while the tasks run) reaches the
	// wheel only in the next iteration, and one due after it, but before the end of this
	// iteration, ran first (a timer made on the loop for now ran behind one made earlier for
	// later). Every timer made before the reading is on the wheel by then, from the task queue.
	due := l.now
	l.tasks.run()
	// The clock again, after the callbacks: the flush stamps the writes it makes with it, the
	// connections' last activity, which must not be older than the writes (a long iteration would
	// otherwise close a connection as idle right behind its reply).
	l.now = l.clock()
	flushAll()
	l.wheel.Advance(due)
	flushAll() // timers may have written or closed
}

func (l *loopCore) clock() int64 { return int64(time.Since(l.base)) }

func (l *loopCore) logger() *slog.Logger { return l.log }

// Index returns the loop's position in Engine.Loops.
func (l *loopCore) Index() int { return l.idx }

// submit queues fn(arg) onto the loop from any goroutine and wakes the loop if it sleeps.
func (l *loopCore) submit(t task) error {
	return l.tasks.push(t, false, l.wake)
}

// post queues the engine's own work, which the queue never refuses for its capacity; it fails only once
// the loop has finished.
func (l *loopCore) post(fn func(*task), arg any) error {
	return l.tasks.push(task{fn: fn, arg: arg}, true, l.wake)
}

// Execute runs fn on the loop (Loop and future.Executor). Work queued this way is not refused at the
// queue's capacity: a continuation dropped would leave its future pending forever. On a stopped loop fn
// runs on the caller instead.
func (l *loopCore) Execute(fn func()) {
	if fn == nil {
		panic(nilExecute)
	}
	if err := l.post(runFunc, fn); err != nil {
		fn()
	}
}

func runFunc(t *task) { t.arg.(func())() }

// wake writes the eventfd only when the loop sleeps (or is about to): a burst of tasks costs one write.
// It runs under the task queue's lock (see waker).
func (l *loopCore) wake() {
	switch {
	case l.state.CompareAndSwap(loopSleeping, loopWoken):
		l.waker.Wake()
	case l.parkWaker != nil && l.state.CompareAndSwap(loopParked, loopWoken):
		l.parkWaker.Wake()
	}
}

// requestStop raises the loop's stop request to level (stopGraceful or stopForce) and wakes it.
func (l *loopCore) requestStop(level int32) {
	for {
		cur := l.stopRq.Load()
		if cur >= level || l.stopRq.CompareAndSwap(cur, level) {
			break
		}
	}
	parked := l.state.Swap(loopWoken) == loopParked
	l.tasks.ifOpen(func() { // a loop that has finished has closed its queue
		if parked {
			l.parkWaker.Wake()
		} else {
			l.waker.Wake()
		}
	})
}

// loopTimer is a Loop.AfterFunc timer on a loop's wheel.
type loopTimer struct {
	Timer
	l    atomic.Pointer[loopCore] // nil once handed to the runtime (outlive); read by Stop on any goroutine
	t    timer.Timer
	when int64
}

// AfterFunc runs fn on the loop once d has passed.
func (l *loopCore) AfterFunc(d time.Duration, fn func()) *Timer {
	if fn == nil {
		panic(nilAfterFunc)
	}
	lt := &loopTimer{Timer: Timer{fn: fn}}
	lt.l.Store(l)
	lt.owner = lt
	// A d of zero or less is now, as for time.AfterFunc: a deadline in the past would run ahead of
	// timers made before it, and one near math.MinInt64 made handOverTimers' difference wrap (such a
	// timer queued by an OnBoot that failed never ran).
	lt.when = after(l.clock(), max(d, 0))
	if err := l.post(scheduleLoopTimer, lt); err != nil {
		lt.outlive(d) // the loop has stopped
	}
	return &lt.Timer
}

// outlive hands the timer to the runtime's timers, for a loop that has stopped (or is about to): fn
// then runs on a goroutine of its own once d has passed, as Execute runs a function on its caller after
// Stop. A timer never just disappears with its loop: a Sleep future must still resolve.
func (lt *loopTimer) outlive(d time.Duration) {
	lt.l.Store(nil) // the runtime's timer must not keep the finished loop (its buffers, its wheel) until then
	lt.rt.Store(time.AfterFunc(d, lt.fire))
	if lt.state.Load() != timerPending { // a Stop that came before the Store did not see the runtime timer
		lt.rt.Load().Stop()
	}
}

// handOverTimers gives the loop timers still pending on a finished loop's wheel to outlive, except
// those that never fire (after saturated), which let go of the loop as stopped ones do. The wheel's
// other timers (connections', listeners', the tick) have nothing left to do.
func (l *loopCore) handOverTimers() {
	now := l.clock()
	l.wheel.Drain(func(t *timer.Timer) {
		lt, ok := t.Arg().(*loopTimer)
		switch {
		case !ok:
		case lt.state.Load() == timerPending && lt.when != math.MaxInt64:
			lt.outlive(time.Duration(lt.when - now))
		default:
			lt.l.Store(nil) // stopped, or never due: a Timer the program keeps must not keep the loop
		}
	})
}

func scheduleLoopTimer(t *task) {
	lt := t.arg.(*loopTimer)
	if l := lt.l.Load(); l != nil && lt.state.Load() == timerPending {
		// A timer stopped from now on is taken off the wheel by the task its Stop queues (stopped), or
		// skipped at its deadline if that task has not run by then.
		lt.t.Init(fireLoopTimer, lt)
		l.wheel.Schedule(&lt.t, lt.when)
	}
}

// stopped is told of a Stop that won (Timer.Stop), on any goroutine: the loop takes the timer off its
// wheel, so that timers made and stopped at a high rate (a cancelled Sleep, a timeout not needed) are
// not each kept until their deadline, as the std engine's sweep does for its heap. The task wakes a
// sleeping loop, as Execute's does: left queued on a sleeping loop until the timers' deadlines, a burst of
// them would take the room of the queue's capacity (WithTaskQueueCapacity) from AsyncWrite and the like.
// A loop that has finished has handed its timers over (outlive).
func (lt *loopTimer) stopped() {
	if l := lt.l.Load(); l != nil {
		l.post(unscheduleLoopTimer, lt)
	}
}

// unscheduleLoopTimer takes a stopped timer off its loop's wheel, if scheduleLoopTimer put it there.
func unscheduleLoopTimer(t *task) {
	lt := t.arg.(*loopTimer)
	if l := lt.l.Load(); l != nil {
		if lt.t.Pending() {
			l.wheel.Stop(&lt.t)
		}
		lt.l.Store(nil) // done with the loop: a Timer the program keeps must not keep it after Stop
	}
}

// fireLoopTimer runs a loop timer at its deadline, off the wheel by then. The timer lets go of its
// loop first, as a fired time.Timer holds nothing: a *Timer the program keeps (a field holding the
// last timeout) kept the whole loop reachable after the engine had stopped. A Stop from now on
// returns false, and so queues no unscheduleLoopTimer that would need it.
func fireLoopTimer(arg any) {
	lt := arg.(*loopTimer)
	lt.l.Store(nil)
	lt.fire()
}

// coreLoop is an engine's loop type, which embeds a loopCore.
type coreLoop interface{ core() *loopCore }

func (l *loopCore) core() *loopCore { return l }

// onEveryLoop runs fn on every loop and returns once each has run and the WaitGroup it was given is done
// (fn may Add to it for work that ends later). A loop that has finished counts as done.
func onEveryLoop[L coreLoop](loops []L, fn func(l L, wg *sync.WaitGroup)) {
	var wg sync.WaitGroup
	for _, l := range loops {
		wg.Add(1)
		if err := l.core().post(runFunc, func() { fn(l, &wg); wg.Done() }); err != nil {
			wg.Done()
		}
	}
	wg.Wait()
}

// stopLoops asks every loop to stop gracefully, escalates to a forced stop when ctx ends, and returns
// once the loops have exited (exited done), with ctx's error if it had to force them.
func stopLoops[L coreLoop](ctx context.Context, loops []L, exited *sync.WaitGroup) error {
	for _, l := range loops {
		l.core().requestStop(stopGraceful)
	}
	done := make(chan struct{})
	go func() { exited.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, l := range loops {
			l.core().requestStop(stopForce)
		}
		<-done
		return ctx.Err()
	}
}
