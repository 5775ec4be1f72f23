package future

import (
	"errors"
	"sync/atomic"
)

// Outcome is how one future completed: its value and its error, as Await returns them (with an
// error, the value is T's zero value unless the future was completed with both).
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

// cancelAll cancels every input. A cancel function that calls runtime.Goexit ends the goroutine,
// but only after the deferred call has cancelled the inputs after it too (see walkCancel).
func cancelAll[T any](in []*state[T]) {
	i := 0
	defer func() {
		if i < len(in) {
			cancelAll(in[i:])
		}
	}()
	for i < len(in) {
		s := in[i]
		i++
		s.requestCancel()
	}
}

// watch calls fn(i) once in[i] is complete, for every i, with ws[i] (one waiter per input,
// allocated in a single slice that fn can hand to settle) as its continuation. It stops
// subscribing if fn completes out meanwhile, since out then needs no more input.
func watch[T, R any](in []*state[T], ws []waiter, out *state[R], fn func(i int) *waiter) {
	for i, s := range in {
		// Only fn and arg: once a waiter is queued, fn may run on another goroutine and
		// settle may read the links of waiters not subscribed yet (under their input's mu).
		ws[i].fn, ws[i].arg = fn, i
		if !attach(s, &ws[i], out) {
			return
		}
	}
}

// settle completes out with v and err, if nobody did before, for a combinator that no longer
// needs the inputs it watches with ws: it takes its continuations off the inputs that are still
// pending, so that they hold nothing of this call, before it completes out (see attach), and then
// cancels the inputs. It returns out's continuations, for the continuation that called it to
// return to notify (see waiter), or nil if out was complete already.
//
// Cancelling an input may run code (the continuations of a Sleep that Cancel completes); should it
// call runtime.Goexit, the deferred call runs out's continuations, which would be lost otherwise.
func settle[T, R any](out *state[R], v R, err error, in []*state[T], ws []waiter) *waiter {
	if !out.claim() {
		return nil
	}
	for i, s := range in {
		s.unsubscribe(&ws[i])
	}
	list := out.take(v, err)
	normal := false
	defer func() {
		if !normal {
			notify(list)
		}
	}()
	cancelAll(in)
	normal = true
	return list
}

// gather is the result of a combinator that waits for several inputs: a cancel request goes on
// to each of them, in order (see cancelNext).
func gather[T, R any](in []*state[T]) *state[R] {
	return &state[R]{cancel: forwardWith(func(i int) (canceler, bool) {
		if i < len(in) {
			return in[i], true
		}
		return nil, false
	}), cancelFwd: true}
}

// All returns a future for the values of fs, in the order of fs, once all of them succeed.
// It fails as soon as one of them fails, with that error, and then cancels the others
// (see Future.Cancel). All of no futures is an empty slice. Cancelling the result cancels
// every input. Once the result has failed, the inputs still pending hold nothing of this call.
func All[T any](fs ...Future[T]) Future[[]T] {
	if len(fs) == 0 {
		return Ready([]T{})
	}
	in := inputs(fs)
	out := gather[T, []T](in)
	vals := make([]T, len(in))
	var left atomic.Int64
	left.Store(int64(len(in)))
	ws := make([]waiter, len(in))
	watch(in, ws, out, func(i int) *waiter {
		s := in[i]
		if s.err != nil {
			return settle(out, nil, s.err, in, ws)
		}
		vals[i] = s.val
		// Each write to vals happens before its decrement, and the last
		// decrement sees all of them: vals is complete when left reaches 0.
		if left.Add(-1) == 0 {
			return out.forward(vals, nil)
		}
		return nil
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
	// out completes only once every input has: nothing is left to unsubscribe.
	watch(in, make([]waiter, len(in)), out, func(i int) *waiter {
		res[i] = Outcome[T]{in[i].val, in[i].err}
		if left.Add(-1) == 0 {
			return out.forward(res, nil)
		}
		return nil
	})
	return Future[[]Outcome[T]]{out}
}

// Any returns a future for the first of fs to succeed, and then cancels the others. If all of
// them fail, it fails with errors.Join of their errors in the order of fs; with no futures it
// fails with ErrNoFutures. Cancelling the result cancels every input. Once the result is complete,
// the inputs still pending hold nothing of this call.
func Any[T any](fs ...Future[T]) Future[T] {
	if len(fs) == 0 {
		return Failed[T](ErrNoFutures)
	}
	in := inputs(fs)
	out := gather[T, T](in)
	errs := make([]error, len(in))
	var left atomic.Int64
	left.Store(int64(len(in)))
	ws := make([]waiter, len(in))
	watch(in, ws, out, func(i int) *waiter {
		s := in[i]
		if s.err == nil {
			return settle(out, s.val, nil, in, ws)
		}
		errs[i] = s.err
		if left.Add(-1) == 0 {
			return out.forwardErr(errors.Join(errs...))
		}
		return nil
	})
	return Future[T]{out}
}

// Race returns a future that completes like the first of fs to complete, with its value or
// its error, and then cancels the others. With no futures it fails with ErrNoFutures.
// Cancelling the result cancels every input. Once the result is complete, the inputs still
// pending hold nothing of this call.
func Race[T any](fs ...Future[T]) Future[T] {
	if len(fs) == 0 {
		return Failed[T](ErrNoFutures)
	}
	in := inputs(fs)
	out := gather[T, T](in)
	ws := make([]waiter, len(in))
	watch(in, ws, out, func(i int) *waiter {
		return settle(out, in[i].val, in[i].err, in, ws)
	})
	return Future[T]{out}
}
