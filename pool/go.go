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
// not called: its future fails with the context's error at once (the worker that takes it later
// skips it); one that a worker took on submission fails when the worker starts it, without fn
// being called. So is one still queued when a Stop gives up (the future fails with ErrStopped).
// A panic in fn becomes a *future.PanicError on the future, and a runtime.Goexit
// future.ErrGoexit, not a pool panic. A nil ctx means context.Background().
func Go[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) future.Future[T] {
	if ctx == nil {
		ctx = context.Background()
	}
	pr, cctx := future.NewPromiseContext[T](ctx)
	// A task goes to whichever comes first: the worker that starts it, or the cancellation of
	// its context while it waits in the queue (a channel, which it cannot leave early: the worker
	// finds it claimed and skips it).
	g := &goTask[T]{p: p, pr: pr, ctx: cctx, fn: fn}
	if err := p.submitTask(ctx, task{r: g, keep: true, owned: true}); err != nil {
		pr.Reject(err)
		return pr.Future()
	}
	// Watch the context only of a task that may wait: the watch (context.AfterFunc) costs more
	// than the rest of Go. An empty queue, read after the send, means that the task has left it
	// (the queue is FIFO and the send came first): a worker has it, or a Stop that gave up,
	// which fails it; a task handed to a new worker is not in it at all. Anything else must be
	// watched: a count of idle workers cannot tell, since a parked worker handed a task stays
	// counted idle until it runs, so a task queued behind such workers, every one of them taken,
	// looked as if one would come.
	if !g.claimed.Load() && len(p.tasks) > 0 {
		stop := context.AfterFunc(cctx, func() {
			if g.claimed.CompareAndSwap(false, true) {
				pr.Reject(cctx.Err())
			}
		})
		g.unwatch.Store(&stop)
		if g.claimed.Load() {
			stop() // started meanwhile, perhaps before the watch was stored
		}
	}
	return pr.Future()
}

// goTask is Go's task and the state it shares with the watch of its context: one allocation.
type goTask[T any] struct {
	claimed atomic.Bool
	unwatch atomic.Pointer[func() bool]
	p       *Pool
	pr      future.Promise[T]
	ctx     context.Context
	fn      func(context.Context) (T, error)
}

// run starts the task on a worker, unless the watch of its context failed it while it was queued.
func (g *goTask[T]) run() {
	if !g.claimed.CompareAndSwap(false, true) {
		return // failed while queued
	}
	if stop := g.unwatch.Load(); stop != nil {
		(*stop)()
	}
	if g.p.abandon.Load() {
		// Dropped by a Stop that gave up (see Stop): fail instead of starting fn.
		g.pr.Reject(ErrStopped)
		return
	}
	g.pr.Run(g.ctx, g.fn)
}
