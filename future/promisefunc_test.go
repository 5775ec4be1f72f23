package future_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/future"
)

// TestNewPromiseFunc: the future of NewPromiseFunc's promise calls the function on Cancel,
// also through a derived future and a combinator that gives up on it, and no more once the promise
// is complete; a nil function makes a plain promise. It costs one allocation (the state) besides the
// function, where NewPromiseContext's derives a context.
func TestNewPromiseFunc(t *testing.T) {
	var calls atomic.Int32
	p := future.NewPromiseFunc[int](func() { calls.Add(1) })
	f := p.Future()
	f.Cancel()
	f.Cancel()
	if got := calls.Load(); got != 2 {
		t.Fatalf("Cancel called the function %d times after two Cancels, want 2", got)
	}
	m := future.Map(f, future.Inline, func(v int) (int, error) { return v + 1, nil })
	m.Cancel()
	if got := calls.Load(); got != 3 {
		t.Fatalf("Cancel of a Map of the future: %d calls, want 3", got)
	}
	other := future.NewPromise[int]()
	r := future.Race(f, other.Future())
	other.Reject(errors.New("first"))
	if _, err := r.Result(); err == nil {
		t.Fatal("Race did not settle with the first result")
	}
	if got := calls.Load(); got != 4 {
		t.Fatalf("a Race settled by another future: %d calls, want 4 (it cancels the loser)", got)
	}
	if !p.Resolve(7) {
		t.Fatal("Resolve reported false")
	}
	f.Cancel()
	m.Cancel()
	if got := calls.Load(); got != 4 {
		t.Fatalf("Cancel of a complete future called the function (%d calls, want 4)", got)
	}
	if v, err := f.Result(); v != 7 || err != nil {
		t.Fatalf("Result = %d, %v; want 7, nil", v, err)
	}

	q := future.NewPromiseFunc[int](nil)
	q.Future().Cancel() // nothing to call
	if !q.Reject(errors.New("x")) {
		t.Fatal("Reject of a NewPromiseFunc(nil) promise reported false")
	}

	fn := func() {}
	if n := testing.AllocsPerRun(100, func() { future.NewPromiseFunc[int](fn).Resolve(1) }); n > 1 {
		t.Errorf("NewPromiseFunc and Resolve: %v allocations, want at most 1", n)
	}
}
