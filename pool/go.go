package pool

import (
	"context"
	"sync/atomic"

	"github.com/eddyio/eddy/future"
)

// Go runs fn on the pool and returns a future for its result. It waits for room in the pool
// like Submit; if ctx ends first or the pool is stopped, the future fails with that error.
// fn receives a context derived from ctx that is cancelled by Future.Cancel or by a combinator
// that gives up on the future. A task whose context is cancelled while it waits in the queue is
// not called: its future fails with the context's error, then if the task found every worker busy
// (the worker that takes it later skips it), or else when a worker takes it (a task submitted
// while a worker looked idle is not watched: see the watch's cost in docs/benchmarks.md); so is
// one still queued when a Stop gives up (the future fails with ErrStopped). A panic in fn becomes a *future.PanicError on the future, and a
// runtime.Goexit future.ErrGoexit, not a pool panic. A nil ctx means context.Background().
func Go[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) future.Future[T] {
	if ctx == nil {
		ctx = context.Background()
	}
	pr, cctx := future.NewPromiseContext[T](ctx)
	// A task goes to whichever comes first: the worker that starts it, or the cancellation of
	// its context while it waits in the queue (a channel, which it cannot leave early: the worker
	// finds it claimed and skips it).
	g := new(goClaim)
	claimed, unwatch := &g.claimed, &g.unwatch
	run := func() {
		if !claimed.CompareAndSwap(false, true) {
			return // failed while queued
		}
		if stop := unwatch.Load(); stop != nil {
			(*stop)()
		}
		if p.abandon.Load() {
			// Dropped by a Stop that gave up (see Stop): fail instead of starting fn.
			pr.Reject(ErrStopped)
			return
		}
		pr.Run(cctx, fn)
	}
	if err := p.submitTask(ctx, task{fn: run, keep: true, owned: true}); err != nil {
		pr.Reject(err)
		return pr.Future()
	}
	// Watch the context only of a task that waits: the watch (context.AfterFunc) costs more
	// than the rest of Go, and an idle worker takes the task at once.
	if idle := int(p.idle.Load()); !claimed.Load() && len(p.tasks) >= max(idle, 1) {
		stop := context.AfterFunc(cctx, func() {
			if claimed.CompareAndSwap(false, true) {
				pr.Reject(cctx.Err())
			}
		})
		unwatch.Store(&stop)
		if claimed.Load() {
			stop() // started meanwhile, perhaps before the watch was stored
		}
	}
	return pr.Future()
}

// goClaim is the state Go's task shares with the watch of its context: one allocation.
type goClaim struct {
	claimed atomic.Bool
	unwatch atomic.Pointer[func() bool]
}
