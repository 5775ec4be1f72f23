package future

import "context"

// Future is a value of type T, or an error, that becomes available once. It is a small handle
// to shared state: copy it freely, compare it with ==, read it from any goroutine.
//
// A Future comes from a Promise, from Go, GoOn, Ready, Failed, Sleep, pool.Go, or from a
// combinator. The zero Future is not connected to any promise: it behaves as a future that
// failed with ErrInvalid.
type Future[T any] struct {
	s *state[T]
}

// state returns the future's state, or a failed one for the zero Future.
func (f Future[T]) state() *state[T] {
	if f.s != nil {
		return f.s
	}
	return invalid[T]()
}

func invalid[T any]() *state[T] {
	var zero T
	return completed(zero, ErrInvalid)
}

// Await waits until the future is complete and returns its value and error, or until ctx
// is done and returns ctx.Err(). Giving up does not cancel the future (Cancel does that).
// Awaiting a complete future does not block and allocates nothing. Awaiting on an event loop's
// goroutine a future that needs that loop blocks until ctx ends: see the package documentation.
func (f Future[T]) Await(ctx context.Context) (T, error) {
	if f.s == nil {
		var zero T
		return zero, ErrInvalid
	}
	s := f.s
	if s.isDone() {
		return s.val, s.err
	}
	return s.wait(ctx)
}

// Result returns the value and the error of a complete future without blocking. For a future
// that is not complete yet it returns the zero value and ErrPending. It allocates nothing.
func (f Future[T]) Result() (T, error) {
	s := f.s
	if s == nil {
		var zero T
		return zero, ErrInvalid
	}
	if s.isDone() {
		return s.val, s.err
	}
	var zero T
	return zero, ErrPending
}

// Resolved reports whether the future is complete, with a value or with an error.
func (f Future[T]) Resolved() bool {
	return f.s == nil || f.s.isDone()
}

// Done returns a channel that is closed when the future is complete, for use in select.
// The channel is made on the first call for a pending future; a complete future returns a
// shared closed channel without allocating.
func (f Future[T]) Done() <-chan struct{} {
	if f.s == nil {
		return closedChan // the zero Future is a failed one
	}
	return f.s.done()
}

// Cancel asks the producer of the future to stop: it cancels the context of the function
// that produces it (Go, GoOn, pool.Go, NewPromiseContext) and, for a derived future, forwards
// the request to the futures it was made from. The future still completes, with whatever its
// producer returns, usually context.Canceled. Cancel has no effect on a complete future or on
// one without a context, such as a plain Promise's, and it may be called any number of times.
func (f Future[T]) Cancel() {
	if f.s != nil {
		f.s.requestCancel()
	}
}

// Ready returns a future that is already complete with the value v.
func Ready[T any](v T) Future[T] {
	return Future[T]{completed(v, nil)}
}

// Failed returns a future that is already complete with the error err.
func Failed[T any](err error) Future[T] {
	var zero T
	return Future[T]{completed(zero, err)}
}
