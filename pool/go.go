package pool

import (
	"context"

	"github.com/eddyio/eddy/future"
)

// Go runs fn on the pool and returns a future for its result. It waits for room in the pool
// like Submit; if ctx ends first or the pool is stopped, the future fails with that error.
// fn receives a context derived from ctx that is cancelled by Future.Cancel or by a combinator
// that gives up on the future; a task whose context is cancelled while it waits in the queue is
// not called. A panic in fn becomes a *future.PanicError on the future, not a pool panic.
func Go[T any](p *Pool, ctx context.Context, fn func(context.Context) (T, error)) future.Future[T] {
	pr, cctx := future.NewPromiseContext[T](ctx)
	if err := p.Submit(ctx, func() { pr.Run(cctx, fn) }); err != nil {
		pr.Reject(err)
	}
	return pr.Future()
}
