package eddy

import (
	"container/heap"
	"math"
	"sync"
	"time"
)

// stdLoop is the portable engine's Loop: a goroutine that runs queued functions one at a time. On this
// engine connection callbacks run on per-connection goroutines, so a stdLoop serialises only the work
// given to it (and, on the first loop, OnTick: tickLoop), not a connection's callbacks (use Conn.Execute
// for that).
type stdLoop struct {
	idx       int
	loadCount // the connections assigned to the loop, under the engine's mu (changed; read anywhere)
	mu        sync.Mutex
	cond      sync.Cond
	tasks     []func()
	stopped   bool
	done      chan struct{}

	// The AfterFunc timers, run in deadline order as on a wheel: with a runtime timer each, whose
	// functions run on goroutines of their own, two timers due close together reached the queue in
	// whichever order those goroutines got to it (a quarter of 3,000 timers 20 µs apart ran out of
	// order). One runtime timer, wake, set for the earliest deadline, moves every due timer to the
	// queue at once, in order. Under mu. A stopped timer stays until its deadline, as on a wheel, or
	// until a sweep (sweepAt) takes it out.
	base    time.Time // the loop's clock: stdTimer.when is the time since
	timers  stdTimers
	seq     uint64      // timers made so far: equal deadlines run in the order made
	wake    *time.Timer // runs moveDue at timers[0].when; nil until the first timer
	sweepAt int         // the heap's size at which AfterFunc takes the stopped timers out
}

func newStdLoop(idx int) *stdLoop {
	l := &stdLoop{idx: idx, done: make(chan struct{}), base: time.Now()}
	l.cond.L = &l.mu
	return l
}

// run runs the queued functions until the loop is stopped. A function that ends the goroutine
// (runtime.Goexit: testing.T.FailNow, say) does not end the loop: the functions after it go back to the
// head of the queue, and a new goroutine takes over (nothing here is bound to a thread, unlike the epoll
// and uring loops, which stop instead: loopCore.serveGuarded).
func (l *stdLoop) run() {
	var ts []func()
	i := 0
	normal := false
	defer func() {
		if normal {
			close(l.done)
			return
		}
		if i < len(ts) { // ts[i] did not return
			l.mu.Lock()
			l.tasks = append(ts[i+1:len(ts):len(ts)], l.tasks...)
			l.mu.Unlock()
		}
		if v := recover(); v != nil {
			panic(v)
		}
		go l.run()
	}()
	for {
		l.mu.Lock()
		for len(l.tasks) == 0 && !l.stopped {
			l.cond.Wait()
		}
		ts, i = l.tasks, 0
		l.tasks = nil
		stopped := l.stopped
		l.mu.Unlock()
		for ; i < len(ts); i++ {
			ts[i]()
		}
		if stopped && len(ts) == 0 {
			normal = true
			return
		}
	}
}

// stop ends the goroutine once the queue is empty; later Execute calls run on the caller. The timers
// still pending are handed to runtime timers of their own, as on the loop engines (handOverTimers).
func (l *stdLoop) stop() {
	l.mu.Lock()
	l.stopped = true
	l.cond.Signal()
	if l.wake != nil {
		l.wake.Stop()
	}
	now := l.clock()
	for _, t := range l.timers {
		if t.state.Load() == timerPending && t.when != math.MaxInt64 {
			t.outlive(time.Duration(t.when - now))
		}
	}
	l.timers = nil
	l.mu.Unlock()
	<-l.done
}

// Execute runs fn on the loop's goroutine, or on the caller once the loop has stopped.
func (l *stdLoop) Execute(fn func()) {
	if fn == nil {
		panic(nilExecute)
	}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		fn()
		return
	}
	l.tasks = append(l.tasks, fn)
	l.cond.Signal()
	l.mu.Unlock()
}

// AfterFunc runs fn on the loop after d.
func (l *stdLoop) AfterFunc(d time.Duration, fn func()) *Timer {
	if fn == nil {
		panic(nilAfterFunc)
	}
	t := &stdTimer{Timer: Timer{fn: fn}}
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		t.outlive(d)
		return &t.Timer
	}
	t.when, t.seq = after(l.clock(), max(d, 0)), l.seq // as on the loop engines (loopCore.AfterFunc)
	l.seq++
	if len(l.timers) >= l.sweepAt {
		l.sweep()
	}
	heap.Push(&l.timers, t)
	if l.timers[0] == t {
		l.armWake()
	}
	l.mu.Unlock()
	return &t.Timer
}

func (l *stdLoop) clock() int64 { return int64(time.Since(l.base)) }

// sweep takes the stopped timers out of the heap, so that timers made and stopped at a high rate (a
// Sleep cancelled, a timeout not needed) are not all kept until their deadlines: the heap holds at most
// about twice the pending ones, for a cost of O(1) per AfterFunc, amortised. Under mu.
func (l *stdLoop) sweep() {
	kept := l.timers[:0]
	for _, t := range l.timers {
		if t.state.Load() == timerPending {
			kept = append(kept, t)
		}
	}
	clear(l.timers[len(kept):])
	l.timers = kept
	heap.Init(&l.timers)
	l.sweepAt = max(2*len(kept), 64)
}

// armWake sets the runtime timer for the earliest deadline. Under mu, with timers not empty.
func (l *stdLoop) armWake() {
	d := time.Duration(l.timers[0].when - l.clock())
	if l.wake == nil {
		l.wake = time.AfterFunc(d, l.moveDue)
		return
	}
	l.wake.Reset(d)
}

// moveDue queues the functions of the timers whose deadline has passed, in deadline order, and sets
// the runtime timer for the next one. It runs on the runtime timer's goroutine.
func (l *stdLoop) moveDue() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return // stop handed the timers over
	}
	now := l.clock()
	for len(l.timers) > 0 && l.timers[0].when <= now {
		t := heap.Pop(&l.timers).(*stdTimer)
		if t.state.Load() == timerPending {
			l.tasks = append(l.tasks, t.fire)
		}
	}
	l.cond.Signal()
	if len(l.timers) > 0 {
		l.armWake()
	}
}

// stdTimer is a Loop.AfterFunc timer of a std loop.
type stdTimer struct {
	Timer
	when int64  // on the loop's clock
	seq  uint64 // for equal deadlines
}

// outlive hands the timer to a runtime timer of its own, for a loop that has stopped: fn then runs on
// a goroutine of its own once d has passed, as Execute runs a function on its caller after Stop.
func (t *stdTimer) outlive(d time.Duration) {
	t.rt.Store(time.AfterFunc(d, t.fire))
	if t.state.Load() != timerPending { // a Stop that came before the Store did not see the runtime timer
		t.rt.Load().Stop()
	}
}

// stdTimers is a min-heap of timers by deadline, then by the order made (container/heap).
type stdTimers []*stdTimer

func (h stdTimers) Len() int { return len(h) }
func (h stdTimers) Less(i, j int) bool {
	return h[i].when < h[j].when || h[i].when == h[j].when && h[i].seq < h[j].seq
}
func (h stdTimers) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *stdTimers) Push(x any)   { *h = append(*h, x.(*stdTimer)) }
func (h *stdTimers) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return t
}

// Index returns the loop's position in Engine.Loops.
func (l *stdLoop) Index() int { return l.idx }
