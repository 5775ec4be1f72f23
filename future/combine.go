package future

import (
	"errors"
	"sync/atomic"
)

// Outcome is how one future completed: its value, or its error.
type Outcome[T any] struct {
	Value T
	Err   error
}

// inputs returns the states of fs; the zero Future becomes a failed state.
func inputs[T any](fs []Future[T]) []*state[T] {
	in := make([]*state[T], len(fs))
	for i, f := range fs {
		in[i] = f.state()
	}
	return in
}

func cancelAll[T any](in []*state[T]) {
	for _, s := range in {
		s.requestCancel()
	}
}

// watch calls fn(i) once in[i] is complete, for every i, with one waiter per input
// allocated in a single slice.
func watch[T any](in []*state[T], fn func(i int)) {
	ws := make([]waiter, len(in))
	for i, s := range in {
		ws[i] = waiter{fn: fn, arg: i}
		s.subscribe(&ws[i])
	}
}

// gather is the result of a combinator that waits for several inputs.
func gather[T, R any](in []*state[T]) *state[R] {
	return &state[R]{cancel: func() { cancelAll(in) }}
}

// All returns a future for the values of fs, in the order of fs, once all of them succeed.
// It fails as soon as one of them fails, with that error, and then cancels the others
// (see Future.Cancel). All of no futures is an empty slice. Cancelling the result cancels
// every input.
func All[T any](fs ...Future[T]) Future[[]T] {
	if len(fs) == 0 {
		return Ready([]T{})
	}
	in := inputs(fs)
	out := gather[T, []T](in)
	vals := make([]T, len(in))
	var left atomic.Int64
	left.Store(int64(len(in)))
	watch(in, func(i int) {
		s := in[i]
		if s.err != nil {
			if out.fail(s.err) {
				cancelAll(in)
			}
			return
		}
		vals[i] = s.val
		// Each write to vals happens before its decrement, and the last
		// decrement sees all of them: vals is complete when left reaches 0.
		if left.Add(-1) == 0 {
			out.complete(vals, nil)
		}
	})
	return Future[[]T]{out}
}

// AllSettled returns a future for the outcomes of fs, in the order of fs, once all of them
// are complete. It never fails and cancels nothing by itself; cancelling the result cancels
// every input.
func AllSettled[T any](fs ...Future[T]) Future[[]Outcome[T]] {
	if len(fs) == 0 {
		return Ready([]Outcome[T]{})
	}
	in := inputs(fs)
	out := gather[T, []Outcome[T]](in)
	res := make([]Outcome[T], len(in))
	var left atomic.Int64
	left.Store(int64(len(in)))
	watch(in, func(i int) {
		res[i] = Outcome[T]{in[i].val, in[i].err}
		if left.Add(-1) == 0 {
			out.complete(res, nil)
		}
	})
	return Future[[]Outcome[T]]{out}
}

// Any returns a future for the first of fs to succeed, and then cancels the others. If all of
// them fail, it fails with errors.Join of their errors in the order of fs; with no futures it
// fails with ErrNoFutures. Cancelling the result cancels every input.
func Any[T any](fs ...Future[T]) Future[T] {
	if len(fs) == 0 {
		return Failed[T](ErrNoFutures)
	}
	in := inputs(fs)
	out := gather[T, T](in)
	errs := make([]error, len(in))
	var left atomic.Int64
	left.Store(int64(len(in)))
	watch(in, func(i int) {
		s := in[i]
		if s.err == nil {
			if out.complete(s.val, nil) {
				cancelAll(in)
			}
			return
		}
		errs[i] = s.err
		if left.Add(-1) == 0 {
			out.fail(errors.Join(errs...))
		}
	})
	return Future[T]{out}
}

// Race returns a future that completes like the first of fs to complete, with its value or
// its error, and then cancels the others. With no futures it fails with ErrNoFutures.
// Cancelling the result cancels every input.
func Race[T any](fs ...Future[T]) Future[T] {
	if len(fs) == 0 {
		return Failed[T](ErrNoFutures)
	}
	in := inputs(fs)
	out := gather[T, T](in)
	watch(in, func(i int) {
		if out.complete(in[i].val, in[i].err) {
			cancelAll(in)
		}
	})
	return Future[T]{out}
}
