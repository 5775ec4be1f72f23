package future

import (
	"context"
	"time"
)

// WithTimeout returns a future that completes like f if f completes within d, and otherwise
// fails with ErrTimeout and cancels f. A future that is already complete is returned as is.
// Cancelling the result cancels f. Once the result has timed out, f holds nothing of this call,
// so giving up on a future that stays pending leaks nothing, however often it is done.
func WithTimeout[T any](f Future[T], d time.Duration) Future[T] {
	src := f.state()
	if src.isDone() {
		return Future[T]{src}
	}
	out := new(state[T])
	shareCancel(out, src) // as in Map
	w := new(waiter)
	t := time.AfterFunc(d, func() {
		giveUp(out, ErrTimeout, src, w)
	})
	w.fn = func(int) *waiter {
		t.Stop()
		return out.forward(src.val, src.err)
	}
	attach(src, w, out)
	return Future[T]{out}
}

// WithContext returns a future that completes like f, unless ctx is done first: then it fails
// with ctx.Err() and cancels f. A future that is already complete, or a ctx that can never be
// done, gives f back as is. Cancelling the result cancels f. Once the result has failed with
// ctx.Err(), f holds nothing of this call, so giving up on a future that stays pending leaks
// nothing, however often it is done.
func WithContext[T any](ctx context.Context, f Future[T]) Future[T] {
	src := f.state()
	ctx = orBackground(ctx)
	if src.isDone() || ctx.Done() == nil {
		return Future[T]{src}
	}
	out := new(state[T])
	shareCancel(out, src) // as in Map
	w := new(waiter)
	stop := context.AfterFunc(ctx, func() {
		giveUp(out, ctx.Err(), src, w)
	})
	w.fn = func(int) *waiter {
		stop()
		return out.forward(src.val, src.err)
	}
	attach(src, w, out)
	return Future[T]{out}
}

// giveUp fails out with err, if nobody completed it before, for WithTimeout or WithContext
// whose continuation w waits on src: it takes w off src, so that src holds nothing of this
// call, before it publishes out (see attach), and then cancels src (deferred: publish runs out's
// inline continuations, and one that calls runtime.Goexit must not leave src running).
func giveUp[T any](out *state[T], err error, src *state[T], w *waiter) {
	if !out.claim() {
		return
	}
	src.unsubscribe(w)
	defer src.requestCancel()
	var zero T
	out.publish(zero, err)
}

// Sleep returns a future that succeeds after d, or fails with ctx.Err() if ctx is done first,
// or with context.Canceled if it is cancelled first. Its timer is released on completion.
//
// Future.Cancel, or a combinator that gives up on it (a Race lost, a WithTimeout expired),
// completes it at once and stops its timer. It completes on the goroutine of its timer, of its
// ctx, or of the caller of Cancel, where its Inline continuations run; eddy.Sleep (package
// github.com/eddyio/eddy) is the same on an event loop, whose continuations can run on the loop.
func Sleep(ctx context.Context, d time.Duration) Future[struct{}] {
	ctx = orBackground(ctx)
	if err := ctx.Err(); err != nil {
		return Failed[struct{}](err)
	}
	s := new(state[struct{}])
	s.cancel = cancelWith(func() { s.fail(context.Canceled) })
	t := time.AfterFunc(d, func() { s.complete(struct{}{}, nil) })
	stop := context.AfterFunc(ctx, func() { s.fail(ctx.Err()) })
	s.onDone(func(int) *waiter {
		t.Stop()
		stop()
		return nil
	})
	return Future[struct{}]{s}
}
