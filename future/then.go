package future

import "sync/atomic"

// Map returns a future for fn applied to f's value. fn runs on exec (nil means Inline) once f
// succeeds; if f fails, fn is not called and the result fails with f's error. An error from
// fn, or a panic in it (as a *PanicError), fails the result. Cancelling the result cancels f.
func Map[T, U any](f Future[T], exec Executor, fn func(T) (U, error)) Future[U] {
	src := f.state()
	// Cancelling dst is cancelling src: dst shares src's cancel function, loaded atomically
	// since src may be completing (and clearing it) meanwhile; dst drops it on completion too.
	dst := &state[U]{cancel: cancelWith(src.cancel.Load())}
	exec = orInline(exec)
	src.onDone(func() {
		if src.err != nil {
			dst.fail(src.err)
			return
		}
		execute(exec, dst, func() {
			v, err := fn(src.val)
			dst.complete(v, err)
		})
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
	var next atomic.Pointer[state[U]]
	var cancelled atomic.Bool
	dst.cancel = cancelWith(func() {
		cancelled.Store(true)
		src.requestCancel()
		if n := next.Load(); n != nil {
			n.requestCancel()
		}
	})
	exec = orInline(exec)
	src.onDone(func() {
		if src.err != nil {
			dst.fail(src.err)
			return
		}
		execute(exec, dst, func() {
			n := fn(src.val).state()
			next.Store(n)
			// A Cancel that ran before the Store did not see n: cancel it now.
			// Cancelling twice is harmless.
			if cancelled.Load() {
				n.requestCancel()
			}
			n.onDone(func() { dst.complete(n.val, n.err) })
		})
	})
	return Future[U]{dst}
}

// Catch recovers from an error: if f fails, fn runs on exec (nil means Inline) with f's error
// and the result completes with what fn returns (return the error, or another, to keep
// failing). If f succeeds, the result has f's value and fn is not called. A panic in fn fails
// the result with a *PanicError. Cancelling the result cancels f.
func Catch[T any](f Future[T], exec Executor, fn func(error) (T, error)) Future[T] {
	src := f.state()
	dst := &state[T]{cancel: cancelWith(src.cancel.Load())} // as in Map
	exec = orInline(exec)
	src.onDone(func() {
		if src.err == nil {
			dst.complete(src.val, nil)
			return
		}
		execute(exec, dst, func() {
			v, err := fn(src.err)
			dst.complete(v, err)
		})
	})
	return Future[T]{dst}
}
