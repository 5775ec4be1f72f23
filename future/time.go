package future

import (
	"context"
	"time"
)

// WithTimeout returns a future that completes like f if f completes within d, and otherwise
// fails with ErrTimeout and cancels f. A future that is already complete is returned as is.
// Cancelling the result cancels f.
func WithTimeout[T any](f Future[T], d time.Duration) Future[T] {
	src := f.state()
	if src.isDone() {
		return Future[T]{src}
	}
	out := &state[T]{cancel: src.cancel}
	t := time.AfterFunc(d, func() {
		if out.fail(ErrTimeout) {
			src.requestCancel()
		}
	})
	src.onDone(func() {
		t.Stop()
		out.complete(src.val, src.err)
	})
	return Future[T]{out}
}

// WithContext returns a future that completes like f, unless ctx is done first: then it fails
// with ctx.Err() and cancels f. A future that is already complete, or a ctx that can never be
// done, gives f back as is. Cancelling the result cancels f.
func WithContext[T any](ctx context.Context, f Future[T]) Future[T] {
	src := f.state()
	if src.isDone() || ctx.Done() == nil {
		return Future[T]{src}
	}
	out := &state[T]{cancel: src.cancel}
	stop := context.AfterFunc(ctx, func() {
		if out.fail(ctx.Err()) {
			src.requestCancel()
		}
	})
	src.onDone(func() {
		stop()
		out.complete(src.val, src.err)
	})
	return Future[T]{out}
}

// Sleep returns a future that succeeds after d, or fails with ctx.Err() if ctx is done first,
// or with context.Canceled if it is cancelled first. Its timer is released on completion.
func Sleep(ctx context.Context, d time.Duration) Future[struct{}] {
	if err := ctx.Err(); err != nil {
		return Failed[struct{}](err)
	}
	s := new(state[struct{}])
	s.cancel = func() { s.fail(context.Canceled) }
	t := time.AfterFunc(d, func() { s.complete(struct{}{}, nil) })
	stop := context.AfterFunc(ctx, func() { s.fail(ctx.Err()) })
	s.onDone(func() {
		t.Stop()
		stop()
	})
	return Future[struct{}]{s}
}
