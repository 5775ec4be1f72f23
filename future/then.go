package future

import "sync/atomic"

// Map returns a future for fn applied to f's value. fn runs on exec (nil means Inline) once f
// succeeds; if f fails, fn is not called and the result fails with f's error. An error from
// fn, or a panic in it (as a *PanicError), fails the result. Cancelling the result cancels f.
func Map[T, U any](f Future[T], exec Executor, fn func(T) (U, error)) Future[U] {
	src := f.state()
	// Cancelling dst is cancelling src: dst shares src's cancel function (see shareCancel).
	dst := new(state[U])
	shareCancel(dst, src)
	exec = orInline(exec)
	src.onDone(func(int) *waiter {
		if src.err != nil {
			return dst.forwardErr(src.err)
		}
		if exec == Inline { // forward, for chains of Map (see waiter)
			var more *waiter
			dst.guard(func() {
				v, err := fn(src.val)
				more = dst.forward(v, err)
			})
			return more
		}
		execute(exec, dst, func() {
			v, err := fn(src.val)
			dst.complete(v, err)
		})
		return nil
	})
	return Future[U]{dst}
}

// Then chains an asynchronous step: once f succeeds, fn runs on exec (nil means Inline) with
// f's value and the result follows the future that fn returns. If f fails, fn is not called
// and the result fails with f's error; a panic in fn fails the result with a *PanicError.
// Cancelling the result cancels f and, once fn has returned it, the future from fn.
func Then[T, U any](f Future[T], exec Executor, fn func(T) Future[U]) Future[U] {
	src := f.state()
	dst := new(state[U])
	// The cancel function reaches src through prev, which src's completion clears: a pending dst
	// (an asynchronous loop written as recursion through Then keeps one per step until the last)
	// must not keep its complete source, and the value in it, reachable.
	var prev atomic.Pointer[state[T]]
	prev.Store(src)
	var next atomic.Pointer[state[U]]
	var cancelled atomic.Bool
	// The request goes to src, then to the future of fn (see cancelNext).
	dst.cancel, dst.cancelFwd = forwardWith(func(i int) (canceler, bool) {
		switch i {
		case 0:
			if cancelled.Swap(true) {
				return nil, false // cancelled before, or now through a cycle (fn returned dst, or a future that follows it)
			}
			if p := prev.Load(); p != nil {
				return p, true
			}
			return nil, true
		case 1:
			if n := next.Load(); n != nil {
				return n, true
			}
		}
		return nil, false
	}), true
	exec = orInline(exec)
	// step runs fn and has dst follow the future it returns; it forwards the outcome of one
	// that is complete already, for its caller to return to notify (see waiter).
	step := func() *waiter {
		n := fn(src.val).state()
		next.Store(n)
		// A Cancel that ran before the Store did not see n: cancel it now.
		// Cancelling twice is harmless.
		if cancelled.Load() {
			n.requestCancel()
		}
		if n.isDone() {
			return dst.forward(n.val, n.err)
		}
		n.onDone(func(int) *waiter { return dst.forward(n.val, n.err) })
		return nil
	}
	src.onDone(func(int) *waiter {
		prev.Store(nil) // a complete future has nothing to cancel
		if src.err != nil {
			return dst.forwardErr(src.err)
		}
		if exec == Inline {
			var more *waiter
			dst.guard(func() { more = step() })
			return more
		}
		execute(exec, dst, func() {
			if more := step(); more != nil {
				notify(more)
			}
		})
		return nil
	})
	return Future[U]{dst}
}

// Catch recovers from an error: if f fails, fn runs on exec (nil means Inline) with f's error
// and the result completes with what fn returns (return the error, or another, to keep
// failing). If f succeeds, the result has f's value and fn is not called. A panic in fn fails
// the result with a *PanicError. Cancelling the result cancels f.
func Catch[T any](f Future[T], exec Executor, fn func(error) (T, error)) Future[T] {
	src := f.state()
	dst := new(state[T])
	shareCancel(dst, src) // as in Map
	exec = orInline(exec)
	src.onDone(func(int) *waiter {
		if src.err == nil {
			return dst.forward(src.val, nil)
		}
		if exec == Inline { // as in Map
			var more *waiter
			dst.guard(func() {
				v, err := fn(src.err)
				more = dst.forward(v, err)
			})
			return more
		}
		execute(exec, dst, func() {
			v, err := fn(src.err)
			dst.complete(v, err)
		})
		return nil
	})
	return Future[T]{dst}
}

// Handle runs fn on exec (nil means Inline) with f's outcome, its value and its error as Await returns
// them (with an error, the value is T's zero value unless f's producer completed it with both, as
// Promise.Complete can: the count of a short read, say), and the result completes with what fn returns:
// the one step for what must happen either way (release what the operation held, reply to whoever waits
// for it), which Map followed by Catch does not give, since Catch then also catches the errors of Map's
// own function. A panic in fn fails the result with a *PanicError. Cancelling the result cancels f,
// whose failure (context.Canceled) then goes to fn. It is Map's shape without Map's early exit on an
// error; Map and Catch do not share a body with it, which would cost them allocations.
func Handle[T, U any](f Future[T], exec Executor, fn func(T, error) (U, error)) Future[U] {
	src := f.state()
	dst := new(state[U])
	shareCancel(dst, src) // as in Map
	exec = orInline(exec)
	src.onDone(func(int) *waiter {
		if exec == Inline { // as in Map
			var more *waiter
			dst.guard(func() {
				v, err := fn(src.val, src.err)
				more = dst.forward(v, err)
			})
			return more
		}
		execute(exec, dst, func() {
			v, err := fn(src.val, src.err)
			dst.complete(v, err)
		})
		return nil
	})
	return Future[U]{dst}
}
