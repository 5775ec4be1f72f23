package future

import "context"

// Go runs fn on a new goroutine and returns a future for its result. fn receives a context
// derived from ctx that is cancelled by Future.Cancel, by a combinator that gives up on the
// future (All failing fast, Any or Race settled, WithTimeout expired), or once fn returns.
// If ctx is already done, fn is not started and the future fails with ctx.Err().
// A panic in fn becomes a *PanicError on the future.
func Go[T any](ctx context.Context, fn func(context.Context) (T, error)) Future[T] {
	ctx = orBackground(ctx)
	p, cctx := NewPromiseContext[T](ctx)
	if err := ctx.Err(); err != nil {
		p.Reject(err)
		return p.Future()
	}
	go p.Run(cctx, fn)
	return p.Future()
}

// GoOn is Go with fn run by exec instead of on a new goroutine: on an event loop, on a pool
// (pool.Go also waits for room in the pool's queue), or Inline, which runs fn before GoOn
// returns. A panic in fn or in exec.Execute becomes a *PanicError on the future.
func GoOn[T any](ctx context.Context, exec Executor, fn func(context.Context) (T, error)) Future[T] {
	ctx = orBackground(ctx)
	p, cctx := NewPromiseContext[T](ctx)
	if err := ctx.Err(); err != nil {
		p.Reject(err)
		return p.Future()
	}
	execute(orInline(exec), p.s, func() { p.Run(cctx, fn) })
	return p.Future()
}

// orBackground is ctx, or context.Background() for a nil ctx: every function of this package that
// takes a context takes nil for "no bound", as package eddy and package pool do, where the
// standard library would panic or fault later.
func orBackground(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
