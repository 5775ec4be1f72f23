package future

import (
	"context"
	"sync/atomic"
)

// The phase of a state. It only moves forward: pending -> completing -> done.
// The goroutine that wins pending -> completing is the only writer of val and err;
// storing done publishes them, and nobody reads them before loading done.
const (
	pending uint32 = iota
	completing
	done
)

// state is the shared heart of a Future and its Promise.
type state[T any] struct {
	phase atomic.Uint32
	val   T
	err   error

	// subs is a lock-free stack of continuations (newest first) until completion,
	// then the sealed sentinel forever.
	subs atomic.Pointer[waiter]

	// ch holds the channel returned by Done: nil until someone asks for it, and
	// &closedChan once the state is done.
	ch atomic.Pointer[chan struct{}]

	// cancel and release are set before the state is shared and never change.
	// cancel is what Future.Cancel calls; release runs once, right after completion,
	// to free what the producer held (the cancel function of its context).
	cancel  func()
	release func()
}

// waiter is one continuation. fn is called with arg; arg lets one closure serve
// many inputs (All and friends pass the input's index) without a closure per input.
type waiter struct {
	next *waiter
	fn   func(arg int)
	arg  int
}

// sealed marks the continuation stack of a completed state.
var sealed = &waiter{}

// closedChan is the channel Done returns for every completed future that nobody
// asked Done of before completion.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// completed returns a state that is already done.
func completed[T any](v T, err error) *state[T] {
	s := &state[T]{val: v, err: err}
	s.subs.Store(sealed)
	s.ch.Store(&closedChan)
	s.phase.Store(done)
	return s
}

func (s *state[T]) isDone() bool { return s.phase.Load() == done }

// complete makes the state done with v and err, if nobody did before.
// It reports whether this call was the one that completed it.
func (s *state[T]) complete(v T, err error) bool {
	if !s.phase.CompareAndSwap(pending, completing) {
		return false
	}
	s.val, s.err = v, err
	s.phase.Store(done)
	if ch := s.ch.Swap(&closedChan); ch != nil {
		close(*ch)
	}
	if s.release != nil {
		s.release()
	}
	// Take the stack and reverse it, so continuations run in the order they were added.
	var list *waiter
	for w := s.subs.Swap(sealed); w != nil; {
		next := w.next
		w.next = list
		list, w = w, next
	}
	notify(list)
	return true
}

// notify runs a list of continuations in order. User code runs under guard, so nothing
// here panics; but an inline continuation may call runtime.Goexit, which would end this
// goroutine in the middle of the list: the deferred call then runs the rest of it.
func notify(list *waiter) {
	w := list
	defer func() {
		if w != nil {
			notify(w.next)
		}
	}()
	for w != nil {
		w.fn(w.arg)
		w = w.next
	}
}

// fail completes the state with the zero value and err.
func (s *state[T]) fail(err error) bool {
	var zero T
	return s.complete(zero, err)
}

// subscribe arranges for w.fn(w.arg) to be called once the state is done: later by the
// goroutine that completes it, or now, on this goroutine, if it is already done.
func (s *state[T]) subscribe(w *waiter) {
	for {
		head := s.subs.Load()
		if head == sealed {
			w.fn(w.arg)
			return
		}
		w.next = head
		if s.subs.CompareAndSwap(head, w) {
			return
		}
	}
}

// onDone is subscribe for a single continuation.
func (s *state[T]) onDone(fn func()) {
	s.subscribe(&waiter{fn: func(int) { fn() }})
}

// done returns the channel closed on completion, making it if needed.
func (s *state[T]) done() <-chan struct{} {
	if p := s.ch.Load(); p != nil {
		return *p
	}
	c := make(chan struct{})
	if s.ch.CompareAndSwap(nil, &c) {
		return c
	}
	// Either another goroutine installed its channel or the state completed
	// (and stored &closedChan): use whichever is there now.
	return *s.ch.Load()
}

// wait blocks until the state is done or ctx is done.
func (s *state[T]) wait(ctx context.Context) (T, error) {
	c := s.done()
	if cd := ctx.Done(); cd != nil {
		select {
		case <-c:
		case <-cd:
			// Prefer the result when both are ready.
			if !s.isDone() {
				var zero T
				return zero, ctx.Err()
			}
		}
	} else {
		<-c
	}
	return s.val, s.err
}

// requestCancel runs the state's cancel function, if it has one.
func (s *state[T]) requestCancel() {
	if s.cancel != nil {
		s.cancel()
	}
}

// guard runs body and turns a panic or a runtime.Goexit inside it into a failure of s.
// body is expected to complete s itself when it returns normally.
func (s *state[T]) guard(body func()) {
	normal := false
	defer func() {
		if !normal {
			s.fail(recovered(recover()))
		}
	}()
	body()
	normal = true
}
