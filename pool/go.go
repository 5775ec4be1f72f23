package pool

import (
	"context"

	"github.com/eddyio/eddy/future"
)

// Go runs fn on the pool and returns a future for its result. It waits for room in the pool
// like Submit; if ctx ends first or the pool is stopped, the future fails with that error.
// fn receives a context derived from ctx that is cancelled by Future.Cancel or by a combinator
// that gives up on the future; a task whose context is cancelled while it waits in the queue is
// not called (its future fails with the context's error when a worker takes it: the queue is a
// channel, which a task cannot leave early), and so is one still queued when a Stop gives up (the
// future fails with ErrStopped). A panic in fn becomes a *future.PanicError on the future, and a
// runtime.Goexit future.ErrGoexit, not a pool panic. A nil ctx means context.Background().
func Go[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) future.Future[T] {
	if ctx == nil {
		ctx = context.Background()
	}
	pr, cctx := future.NewPromiseContext[T](ctx)
	run := func() {
		if p.abandon.Load() {
			// Dropped by a Stop that gave up (see Stop): fail instead of starting fn.
			pr.Reject(ErrStopped)
			return
		}
		pr.Run(cctx, fn)
	}
	if err := p.submitTask(ctx, task{fn: run, keep: true, owned: true}); err != nil {
		pr.Reject(err)
	}
	return pr.Future()
}
