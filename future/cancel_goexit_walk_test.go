package future_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/future"
)

// onGoroutine runs fn on a goroutine of its own and waits for it to end, however it ends
// (fn may call runtime.Goexit).
func onGoroutine(fn func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
}

// goexitInputs returns two pending futures: the first one's cancel function ends its goroutine
// with runtime.Goexit (as t.FailNow in it would), the second counts the calls of its own.
func goexitInputs() (a, b future.Future[int], bCancels *atomic.Int32) {
	bCancels = new(atomic.Int32)
	a = future.NewPromiseFunc[int](func() { runtime.Goexit() }).Future()
	b = future.NewPromiseFunc[int](func() { bCancels.Add(1) }).Future()
	return a, b, bCancels
}

// A Goexit in the cancel function of one input must not keep the others from being cancelled: a
// Cancel of a combinator reaches every input, as the package documentation says, and the producers
// of those after the one that ended the goroutine would otherwise go on for nothing (WithTimeout
// and WithContext guard against just that when they give up).
func TestCancelGoexitStillReachesOtherInputs(t *testing.T) {
	a, b, bCancels := goexitInputs()
	all := future.AllSettled(a, b) // which a's failure does not settle: only the Cancel reaches b
	onGoroutine(all.Cancel)
	if _, err := a.Result(); err != future.ErrGoexit {
		t.Fatalf("input whose cancel called Goexit: err = %v, want ErrGoexit", err)
	}
	if n := bCancels.Load(); n != 1 {
		t.Fatalf("AllSettled(a, b).Cancel with a Goexit in a's cancel function: b cancelled %d times, want 1", n)
	}
}

// The same through a chain of derived futures: Cancel of Map(AllSettled(a, b)) reaches a, then b.
func TestCancelGoexitStillReachesOtherInputsThroughChain(t *testing.T) {
	a, b, bCancels := goexitInputs()
	m := future.Map(future.AllSettled(a, b), nil, func(v []future.Outcome[int]) (int, error) { return len(v), nil })
	onGoroutine(m.Cancel)
	if n := bCancels.Load(); n != 1 {
		t.Fatalf("Map(AllSettled(a, b)).Cancel with a Goexit in a's cancel function: b cancelled %d times, want 1", n)
	}
}

// A combinator that settles early cancels every input it no longer needs (Race on the first
// result), even when the cancel function of one of them calls runtime.Goexit.
func TestRaceSettleGoexitStillCancelsOtherInputs(t *testing.T) {
	a, b, bCancels := goexitInputs()
	first := future.NewPromise[int]()
	r := future.Race(first.Future(), a, b)
	onGoroutine(func() { first.Resolve(7) })
	if v, err := r.Result(); v != 7 || err != nil {
		t.Fatalf("Race = %v, %v; want 7, nil", v, err)
	}
	if n := bCancels.Load(); n != 1 {
		t.Fatalf("Race settled with a Goexit in a's cancel function: b cancelled %d times, want 1", n)
	}
}
