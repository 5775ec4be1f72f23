package eddy

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/future"
)

// Loop is one of an engine's event loops. It is a future.Executor: continuations given to it run on the
// loop, serialised with the callbacks of the connections the loop serves (on the epoll and uring engines;
// on std, where each connection's callbacks run on goroutines of its own, a Loop serialises only the work
// given to it, and the first loop's OnTick), so results of asynchronous work can come back to a connection's loop without locks.
type Loop interface {
	// Execute runs fn on the loop. It never blocks and never drops fn: on a loop that has stopped, fn
	// runs on the calling goroutine instead, so a future waiting for it still completes. fn must not
	// be nil: Execute panics then, on the caller, rather than the loop later.
	Execute(fn func())
	// AfterFunc runs fn on the loop once d has passed (timers have millisecond resolution on the epoll
	// engine; a d too large for the loop's clock means never; a d of zero or less means now, as for
	// time.AfterFunc). The timers of a loop run in the order of their deadlines, from whichever
	// goroutine they were made, and those with equal deadlines in the order made. The returned Timer
	// cancels it. A timer still pending when the loop stops, or made on a loop that has stopped, is
	// not lost: fn then runs on a goroutine of its own once d has passed, as Execute runs fn on its
	// caller. fn must not be nil: AfterFunc panics then, on the caller, rather than the loop when the
	// timer fires.
	AfterFunc(d time.Duration, fn func()) *Timer
	// Index returns the loop's position in Engine.Loops.
	Index() int
	// Conns returns how many connections the loop serves at this moment: open ones, and those still
	// opening (accepted or dialled and handed to the loop) or closing. On std, where connections run
	// on goroutines of their own, those the engine assigned to the loop. It is what
	// BalanceLeastConnections goes by.
	Conns() int
}

// Messages of the panics of Loop.Execute and Loop.AfterFunc given a nil function: a programming error,
// reported on the caller's stack (run later on the loop, a nil function would end the program there,
// with no trace of the call).
const (
	nilExecute   = "eddy: Loop.Execute of a nil function"
	nilAfterFunc = "eddy: Loop.AfterFunc of a nil function"
)

// errNilExecute is the error of Conn.Execute given a nil function.
var errNilExecute = errors.New("eddy: Conn.Execute of a nil function")

// Timer is a one-shot timer made by Loop.AfterFunc. It is safe to use from any goroutine.
type Timer struct {
	state atomic.Int32 // timerPending, timerFired or timerStopped
	fn    func()
	rt    atomic.Pointer[time.Timer] // the runtime timer behind it (on a loop that stopped), if any
	// owner, set before the Timer is returned, is told of a Stop that won: a loop engine's timer then
	// asks its loop to take it off the wheel (loopTimer.stopped). Nil for the std engine's, which its
	// loop sweeps out of the heap.
	owner timerOwner
}

// timerOwner is what holds a Timer until its deadline, to be told when Stop cancels it.
type timerOwner interface{ stopped() }

const (
	timerPending int32 = iota
	timerFired
	timerStopped
)

// Stop cancels the timer. It reports whether it did: false means fn has already run or started, or the
// timer was stopped before.
func (t *Timer) Stop() bool {
	if !t.state.CompareAndSwap(timerPending, timerStopped) {
		return false
	}
	// Nothing reads fn once the timer is stopped (fire runs it only if it wins the state): release
	// what it holds now, since a loop keeps a stopped timer (the std engine's until a sweep, the loop
	// engines' until the task that owner.stopped queues has run), and the Timer itself may be kept
	// long after.
	t.fn = nil
	if rt := t.rt.Load(); rt != nil {
		rt.Stop() // release it now rather than when it would have fired
	}
	if t.owner != nil {
		t.owner.stopped()
	}
	return true
}

// fire runs fn unless the timer was stopped.
func (t *Timer) fire() {
	if t.state.CompareAndSwap(timerPending, timerFired) {
		t.fn()
	}
}

// after returns the time d after now on a loop's clock, saturating: a huge d (an idle timeout of
// math.MaxInt64, say) is "never", not a sum that overflows into the past.
func after(now int64, d time.Duration) int64 {
	if d > 0 && now > math.MaxInt64-int64(d) {
		return math.MaxInt64
	}
	return now + int64(d)
}

// Loops returns the engine's event loops (valid after Start).
func (e *Engine) Loops() []Loop { return e.impl.loopList() }

// Sleep returns a future that resolves on loop l once d has passed, or fails with ctx's error if ctx ends
// first, or with context.Canceled if it is cancelled first (Future.Cancel, or a combinator that gives up
// on it: a Race lost, a WithTimeout expired), which also stops its timer. Continuations given l as their
// executor then run on the loop: a timer in the future style. A Sleep still pending when the engine stops
// resolves all the same (see Loop.AfterFunc). A nil ctx means context.Background().
func Sleep(ctx context.Context, l Loop, d time.Duration) future.Future[struct{}] {
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return future.Failed[struct{}](err)
	}
	// The promise's own context ends with ctx, with Cancel, and on completion. The timer and the
	// context's watch stop each other, so that one of them completes the promise; a timer that fires
	// unregisters the watch first, since the completion ends the context (which would start it). A
	// watch that has started already is a cancellation that came first (the loser of a Race whose
	// winner fired earlier in this pass of the loop's timers) and that cannot stop the timer any more:
	// the timer fails the promise for it.
	p, pctx := future.NewPromiseContext[struct{}](ctx)
	var timer atomic.Pointer[Timer]
	stop := context.AfterFunc(pctx, func() {
		if t := timer.Load(); t != nil && t.Stop() {
			p.Reject(pctx.Err())
		}
	})
	t := l.AfterFunc(d, func() {
		if !stop() {
			p.Reject(pctx.Err())
			return
		}
		p.Resolve(struct{}{})
	})
	timer.Store(t)
	if pctx.Err() != nil && t.Stop() { // the context ended before the watch could see the timer
		p.Reject(pctx.Err())
	}
	return p.Future()
}
