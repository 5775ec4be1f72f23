package future

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"
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

	// mu guards the list of continuations behind subs while the state is pending: adding,
	// removing, and taking them for completion.
	mu sync.Mutex

	// cancelOnDone says that cancel also frees what the producer holds (the cancel function
	// of its context): publish calls it once, right after completion, as it clears it. It sits
	// in the padding after mu, and is set with cancel.
	cancelOnDone bool

	// cancelFwd says that cancel is a derived future's (a cancelNext: see requestCancel), not
	// a producer's func(). It sits in the padding after mu too, and is set with cancel.
	cancelFwd bool

	val T
	err error

	// subs is the first continuation of a circular doubly linked list in the order they were
	// added (subs.prev is the last one), or nil when there is none, until completion takes
	// the list; then it is the sealed sentinel forever. Every change is made with mu held,
	// except that publish may swap nil for sealed; without mu, subs is only compared with
	// sealed, which is final.
	subs atomic.Pointer[waiter]

	// ch holds the channel returned by Done: nil until someone asks for it, and
	// closedChan once the state is done.
	ch chanWord

	// cancel is what Future.Cancel calls, or nil. It is set before the state is shared, and
	// publish clears it: a derived future's cancel function holds its inputs (Then's holds its
	// source, All's every input), and a complete future, on which Cancel has no effect, must
	// not keep them alive for as long as someone holds it.
	cancel cancelFunc
}

// cancelFunc is a func() that one goroutine may replace while others load it: publish clears
// a state's cancel function while Future.Cancel may be loading it on another goroutine.
//
// A func value is a single pointer (to the closure), which cancelFunc loads and stores with
// sync/atomic. The alternatives cost more: an atomic.Pointer to a func() variable, or to a
// struct holding one, needs that variable on the heap, an allocation per future; an
// atomic.Value takes two words, which would move a state[int] out of the 64-byte size class;
// the state's mutex would put a lock on the path of every completion. The check below stops
// the build should a func value ever be anything else than one pointer.
type cancelFunc struct {
	p unsafe.Pointer // the word of a func(): nil, or the closure
}

// A func() is exactly one pointer: an index other than 0 is out of range.
var _ = [1]struct{}{}[unsafe.Sizeof((func())(nil))-unsafe.Sizeof(unsafe.Pointer(nil))]

// cancelWith returns a cancelFunc holding fn, to be set in a state before it is shared.
func cancelWith(fn func()) cancelFunc {
	return cancelFunc{*(*unsafe.Pointer)(unsafe.Pointer(&fn))}
}

// forwardWith returns a cancelFunc holding fn, the cancel function of a derived future (whose
// state must then have cancelFwd set), to be set in a state before it is shared.
func forwardWith(fn cancelNext) cancelFunc {
	return cancelFunc{*(*unsafe.Pointer)(unsafe.Pointer(&fn))}
}

// Load returns the function, or nil. It is a func() only in a state without cancelFwd.
func (c *cancelFunc) Load() func() {
	p := atomic.LoadPointer(&c.p)
	return *(*func())(unsafe.Pointer(&p))
}

// Store replaces the function with fn, which may be nil.
func (c *cancelFunc) Store(fn func()) {
	atomic.StorePointer(&c.p, *(*unsafe.Pointer)(unsafe.Pointer(&fn)))
}

// chanWord is a chan struct{} that one goroutine may install while others load it: Done makes a
// state's channel on demand while publish may be swapping in closedChan.
//
// A channel value is a single pointer (to the runtime's channel), which chanWord loads, stores and
// swaps with sync/atomic, as cancelFunc does for a func(). An atomic.Pointer[chan struct{}] needs
// the channel variable on the heap: a second allocation, besides the channel, for every future
// awaited while pending (Done, or Await of a future not yet complete). The check below stops the
// build should a channel value ever be anything else than one pointer.
type chanWord struct {
	p unsafe.Pointer // the word of a chan struct{}: nil, or the channel
}

// A chan struct{} is exactly one pointer: an index other than 0 is out of range.
var _ = [1]struct{}{}[unsafe.Sizeof((chan struct{})(nil))-unsafe.Sizeof(unsafe.Pointer(nil))]

// chanPointer returns the word of c.
func chanPointer(c chan struct{}) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(&c))
}

// chanOf returns the channel whose word is p.
func chanOf(p unsafe.Pointer) chan struct{} {
	return *(*chan struct{})(unsafe.Pointer(&p))
}

// Load returns the channel, or nil.
func (w *chanWord) Load() chan struct{} { return chanOf(atomic.LoadPointer(&w.p)) }

// Store replaces the channel with c.
func (w *chanWord) Store(c chan struct{}) { atomic.StorePointer(&w.p, chanPointer(c)) }

// Swap replaces the channel with c and returns the one before.
func (w *chanWord) Swap(c chan struct{}) chan struct{} {
	return chanOf(atomic.SwapPointer(&w.p, chanPointer(c)))
}

// CompareAndSwap replaces the channel with c if it is old, and reports whether it did.
func (w *chanWord) CompareAndSwap(old, c chan struct{}) bool {
	return atomic.CompareAndSwapPointer(&w.p, chanPointer(old), chanPointer(c))
}

// waiter is one continuation. fn is called with arg; arg lets one closure serve
// many inputs (All and friends pass the input's index) without a closure per input.
// next and prev link it into the list of one state, guarded by that state's mu; both are
// nil until it is queued and after it is unsubscribed. A waiter is subscribed to at most one
// state, at most once.
//
// fn returns nil, or the continuations of a state that it completed with forward instead of
// complete: notify runs them next, in the loop that ran fn. Forwarding an outcome from one
// future to the next (Then following the future of its step, a failure passed down a chain of
// Map) is how long chains complete, and with publish each future would run the next one's
// continuations a few frames deeper: a loop of millions of steps written as recursion through
// Then died of a stack overflow when its last step completed.
type waiter struct {
	next, prev *waiter
	fn         func(arg int) *waiter
	arg        int
}

// sealed marks the continuation list of a completed state.
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
	s.ch.Store(closedChan)
	s.phase.Store(done)
	return s
}

func (s *state[T]) isDone() bool { return s.phase.Load() == done }

// isPending reports whether nobody has begun to complete the state yet.
func (s *state[T]) isPending() bool { return s.phase.Load() == pending }

// complete makes the state done with v and err, if nobody did before.
// It reports whether this call was the one that completed it.
func (s *state[T]) complete(v T, err error) bool {
	if !s.claim() {
		return false
	}
	s.publish(v, err)
	return true
}

// claim makes this goroutine the one that completes the state, if nobody did before, and
// reports whether it did. The state then stays not done, and no other completion succeeds,
// until the caller calls publish. In between, a combinator whose result is s unsubscribes
// from its inputs, so that whoever sees s complete sees it hold nothing on them.
func (s *state[T]) claim() bool {
	return s.phase.CompareAndSwap(pending, completing)
}

// publish completes a state claimed by this goroutine with v and err, and runs the
// continuations.
func (s *state[T]) publish(v T, err error) {
	notify(s.take(v, err))
}

// forward completes the state with v and err, if nobody did before, as complete does, but
// returns its continuations instead of running them: for a continuation to return to notify
// (see waiter).
func (s *state[T]) forward(v T, err error) *waiter {
	if !s.claim() {
		return nil
	}
	return s.take(v, err)
}

// forwardErr is forward with the zero value and err.
func (s *state[T]) forwardErr(err error) *waiter {
	var zero T
	return s.forward(zero, err)
}

// take completes a state claimed by this goroutine with v and err, and returns its
// continuations, for notify: nil, or a list that ends with nil and whose first waiter's prev
// is the last one.
func (s *state[T]) take(v T, err error) *waiter {
	s.val, s.err = v, err
	s.phase.Store(done)
	if ch := s.ch.Swap(closedChan); ch != nil {
		close(ch)
	}
	// Drop the cancel function, and whatever it holds, now that Cancel has no effect; a
	// Cancel that loaded it before still calls it, which is harmless on a complete state.
	// A state without one (a plain Promise's) costs a load, not a store.
	if cancel := s.cancel.Load(); cancel != nil {
		s.cancel.Store(nil)
		if s.cancelOnDone {
			cancel()
		}
	}
	// Without continuations, seal without mu: a subscriber that holds mu installs the
	// first continuation with a CompareAndSwap from nil too, so one of the two fails.
	if s.subs.Load() == nil && s.subs.CompareAndSwap(nil, sealed) {
		return nil
	}
	s.mu.Lock()
	list := s.subs.Swap(sealed)
	if list != nil { // unsubscribe may have emptied it since
		list.prev.next = nil // the list now ends at the last continuation
	}
	s.mu.Unlock()
	return list
}

// notify runs a list of continuations (from take) in order. The continuations of a state
// that one of them forwarded to go in right after it, so that they run where they would have
// run, nested, had it completed that state with publish. User code runs under guard, so
// nothing here panics; but an inline continuation may call runtime.Goexit, which would end
// this goroutine in the middle of the list: the deferred call then runs the rest of it.
//
// A waiter that has run is unlinked: some outlive their run (All's sit in one slice with those
// still queued on pending inputs), and one still linked would keep alive, link by link, every
// continuation that ran after it, down every chain forwarded into the list.
func notify(list *waiter) {
	w := list
	defer func() {
		if w != nil {
			next := w.next
			w.next, w.prev = nil, nil
			notify(next)
		}
	}()
	for w != nil {
		more := w.fn(w.arg)
		next := w.next
		if more != nil {
			more.prev.next = next // take left the last one in more.prev
			next = more
		}
		w.next, w.prev = nil, nil
		w = next
	}
}

// fail completes the state with the zero value and err.
func (s *state[T]) fail(err error) bool {
	var zero T
	return s.complete(zero, err)
}

// subscribe arranges for w.fn(w.arg) to be called once the state is done: later by the
// goroutine that completes it, or now, on this goroutine, if it is already done. It
// reports whether w was queued (and may then be unsubscribed); false means it has run.
func (s *state[T]) subscribe(w *waiter) bool {
	if s.subs.Load() != sealed {
		s.mu.Lock()
		switch head := s.subs.Load(); head {
		case sealed:
		case nil:
			// publish may seal an empty list without mu: one of the two swaps fails.
			if s.subs.CompareAndSwap(nil, w) {
				w.next, w.prev = w, w
				s.mu.Unlock()
				return true
			}
		default:
			last := head.prev
			w.next, w.prev = head, last
			last.next, head.prev = w, w
			s.mu.Unlock()
			return true
		}
		s.mu.Unlock()
	}
	if more := w.fn(w.arg); more != nil {
		notify(more)
	}
	return false
}

// unsubscribe removes w, which was given to subscribe of this state (or to nothing), from the
// continuations of the state, and reports whether it did: then w will never run. It reports
// false, and does nothing, when w is not queued: it was never subscribed, was removed
// before, has run, or is running or about to run because the state is complete.
func (s *state[T]) unsubscribe(w *waiter) bool {
	if s.subs.Load() == sealed {
		return false
	}
	s.mu.Lock()
	head := s.subs.Load()
	if head == sealed || w.next == nil {
		s.mu.Unlock()
		return false
	}
	if w.next == w {
		s.subs.Store(nil) // w was the only one
	} else {
		w.prev.next, w.next.prev = w.next, w.prev
		if head == w {
			s.subs.Store(w.next)
		}
	}
	w.next, w.prev = nil, nil
	s.mu.Unlock()
	return true
}

// attach subscribes w to src on behalf of out, a state that w completes unless something
// else does first (a timer, a context, another input). That something claims out, then
// unsubscribes w from src, then publishes out, so that out is never seen complete while src
// still holds w. But it may claim out before w is queued, and its unsubscribe then does
// nothing: attach, after queueing w, checks whether out was claimed and, if so, unsubscribes
// w itself. Between the two, no w is left behind: if the other's unsubscribe took src.mu
// before subscribe did, then its claim happened before that unsubscribe, which happened
// before subscribe, which happened before attach checks out, and so attach sees the claim.
// attach reports whether out is still pending.
func attach[T, R any](src *state[T], w *waiter, out *state[R]) bool {
	if !src.subscribe(w) {
		return out.isPending()
	}
	if out.isPending() {
		return true
	}
	src.unsubscribe(w)
	return false
}

// onDone is subscribe for a single continuation.
func (s *state[T]) onDone(fn func(int) *waiter) {
	s.subscribe(&waiter{fn: fn})
}

// done returns the channel closed on completion, making it if needed.
func (s *state[T]) done() <-chan struct{} {
	if c := s.ch.Load(); c != nil {
		return c
	}
	c := make(chan struct{})
	if s.ch.CompareAndSwap(nil, c) {
		return c
	}
	// Either another goroutine installed its channel or the state completed
	// (and stored closedChan): use whichever is there now.
	return s.ch.Load()
}

// wait blocks until the state is done or ctx is done.
func (s *state[T]) wait(ctx context.Context) (T, error) {
	ctx = orBackground(ctx)
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

// shareCancel gives dst, not shared yet, the cancel function of src (Map, Catch, Handle,
// WithTimeout, WithContext: cancelling dst is cancelling src), loaded atomically since src may
// be completing (and clearing it) meanwhile; dst drops it on its own completion too.
func shareCancel[T, U any](dst *state[U], src *state[T]) {
	dst.cancel = cancelFunc{atomic.LoadPointer(&src.cancel.p)}
	dst.cancelFwd = src.cancelFwd
}

// canceler is a state that a cancel request can reach, whatever its type of value.
type canceler interface {
	// loadCancel returns the state's cancel function (nil when it has none) and whether it is a
	// cancelNext, which forwards the request, rather than a producer's func().
	loadCancel() (unsafe.Pointer, bool)
	// failCancel fails the state with err, the panic (or runtime.Goexit) of its cancel function.
	failCancel(err error)
}

func (s *state[T]) loadCancel() (unsafe.Pointer, bool) {
	return atomic.LoadPointer(&s.cancel.p), s.cancelFwd
}

func (s *state[T]) failCancel(err error) { s.fail(err) }

// callCancel calls p, the producer's func() that is the cancel function of c. A panic in it (a
// function given to NewPromiseFunc) fails c with a *PanicError, as a panic in the function that
// produces the value would, instead of going on up the goroutine that cancels: a timer's
// (WithTimeout), or one completing another future (Race, Any and All cancel the inputs they no
// longer need), where nothing would recover it and the program would end. A runtime.Goexit fails
// c with ErrGoexit and goes on unwinding.
func callCancel(c canceler, p unsafe.Pointer) {
	normal := false
	defer func() {
		if !normal {
			c.failCancel(recovered(recover()))
		}
	}()
	(*(*func())(unsafe.Pointer(&p)))()
	normal = true
}

// cancelNext is the cancel function of a derived future: called with 0, 1, 2 and so on, it
// returns the futures that the request goes on to, one per call (nil: none for this i), and
// false once there are no more. requestCancel walks them depth first, in the order a cancel
// function calling requestCancel on each would, but in a loop: a chain of derived futures (an
// asynchronous loop written as recursion through Then, f = Race(f, g) over and over) passed the
// request on a call or two deeper per future, and a chain of millions overflowed the stack.
type cancelNext func(i int) (canceler, bool)

// requestCancel runs the state's cancel function, if it still has one: a complete state has
// none, or is about to lose it (see publish). A derived future's request goes on to the futures
// it was made from, and theirs, with no recursion (see cancelNext).
func (s *state[T]) requestCancel() {
	p, fwd := s.loadCancel()
	switch {
	case p == nil:
		return
	case !fwd:
		callCancel(s, p)
		return
	}
	var buf [8]cancelStep
	walkCancel(append(buf[:0], cancelStep{next: *(*cancelNext)(unsafe.Pointer(&p))}))
}

// cancelStep is one derived future on the way of a cancel request: its cancelNext and the
// index of the next call.
type cancelStep struct {
	next cancelNext
	i    int
}

// walkCancel passes a cancel request on through the derived futures in stack (see requestCancel).
// A cancel function that calls runtime.Goexit (callCancel has failed its future) still ends the
// goroutine, but the deferred call first takes the request to the rest of the futures it reaches,
// whose producers would otherwise go on for nothing, as giveUp does for its source.
func walkCancel(stack []cancelStep) {
	normal := false
	defer func() {
		if !normal {
			walkCancel(stack)
		}
	}()
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		c, more := top.next(top.i)
		top.i++
		if !more {
			stack[len(stack)-1] = cancelStep{}
			stack = stack[:len(stack)-1]
			continue
		}
		if c == nil {
			continue
		}
		switch p, fwd := c.loadCancel(); {
		case p == nil:
		case fwd:
			stack = append(stack, cancelStep{next: *(*cancelNext)(unsafe.Pointer(&p))})
		default:
			callCancel(c, p)
		}
	}
	normal = true
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
