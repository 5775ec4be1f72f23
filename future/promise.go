package future

import "context"

// Promise is the writing side of a Future: the first of Resolve, Reject, Complete or Run
// decides the outcome, and every later call is ignored and returns false. A Promise is a
// small handle that may be copied and used from any goroutine. The zero Promise completes
// nothing.
type Promise[T any] struct {
	s *state[T]
}

// NewPromise returns a promise whose future is pending until the promise is completed.
func NewPromise[T any]() Promise[T] {
	return Promise[T]{new(state[T])}
}

// NewPromiseContext returns a promise and a context derived from parent for the work that
// will complete it. The context is cancelled when the promise's future is cancelled (by
// Future.Cancel or by a combinator that no longer needs it), and released as soon as the
// promise is completed. Use it to build a cancellable producer, as Go and pool.Go do.
func NewPromiseContext[T any](parent context.Context) (Promise[T], context.Context) {
	ctx, cancel := context.WithCancel(orBackground(parent))
	return Promise[T]{&state[T]{cancel: cancelWith(cancel), cancelOnDone: true}}, ctx
}

// NewPromiseFunc returns a promise whose future's Cancel (or a combinator that no longer needs
// the future) calls cancel, until the promise is completed. It is for a producer that keeps its
// own record of a cancellation and watches its caller's context itself, if it must, for less
// than the context NewPromiseContext derives: cancel is called on the goroutine that cancels,
// maybe from a continuation, so it must be short and must not block, and it may be called more
// than once, and by a Cancel that began before the completion just after it, or, through a future
// derived from this one (Map, Catch, Handle, WithTimeout, WithContext) whose own continuation has
// not run yet, a Cancel of that future just after the completion. A panic in cancel fails the
// future whose Cancel reached it (this one, or such a derived one) with a *PanicError, and a
// runtime.Goexit with ErrGoexit, rather than going on up the goroutine that cancels. A nil cancel
// makes a promise like NewPromise's.
func NewPromiseFunc[T any](cancel func()) Promise[T] {
	if cancel == nil {
		return NewPromise[T]()
	}
	return Promise[T]{&state[T]{cancel: cancelWith(cancel)}}
}

// Future returns the future that this promise completes.
func (p Promise[T]) Future() Future[T] {
	return Future[T]{p.s}
}

// Resolve completes the future with the value v. It reports whether this call completed it.
func (p Promise[T]) Resolve(v T) bool {
	return p.Complete(v, nil)
}

// Reject completes the future with the error err; Reject(nil) is Resolve of the zero value.
// It reports whether this call completed the future.
func (p Promise[T]) Reject(err error) bool {
	var zero T
	return p.Complete(zero, err)
}

// Complete completes the future with v and err, as a function returning (T, error) would.
// It reports whether this call completed the future. Continuations that use the Inline
// executor run on this goroutine before Complete returns.
func (p Promise[T]) Complete(v T, err error) bool {
	if p.s == nil {
		return false
	}
	return p.s.complete(v, err)
}

// Run calls fn with ctx and completes the future with what it returns. If the future is already
// complete, fn is not called; if ctx is already done, fn is not called and the future fails
// with ctx.Err(). A panic in fn becomes a
// *PanicError and a runtime.Goexit becomes ErrGoexit, so the future always completes.
// Run reports whether it completed the future.
func (p Promise[T]) Run(ctx context.Context, fn func(context.Context) (T, error)) (won bool) {
	if p.s == nil || p.s.isDone() {
		return false
	}
	ctx = orBackground(ctx)
	if err := ctx.Err(); err != nil {
		return p.s.fail(err)
	}
	normal := false
	defer func() {
		if !normal {
			won = p.s.fail(recovered(recover()))
		}
	}()
	v, err := fn(ctx)
	normal = true
	return p.s.complete(v, err)
}
