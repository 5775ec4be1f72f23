package future_test

import (
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/future"
)

// TestCancelSeveralGoexits: two inputs whose cancel functions each call runtime.Goexit, one
// of them reached twice, and plain ones between and after them, at depth (Map of AllSettled of a
// Race): every cancel function runs exactly once, and every input ends cancelled or ErrGoexit.
func TestCancelSeveralGoexits(t *testing.T) {
	var calls [5]atomic.Int32
	mk := func(i int, exit bool) future.Future[int] {
		return future.NewPromiseFunc[int](func() {
			calls[i].Add(1)
			if exit {
				runtime.Goexit()
			}
		}).Future()
	}
	a := mk(0, true)
	b := mk(1, false)
	c := mk(2, true)
	d := mk(3, false)
	e := mk(4, false)
	inner := future.AllSettled(a, b, c, a, d)
	r := future.Race(future.Map(inner, nil, func(v []future.Outcome[int]) (int, error) { return len(v), nil }), e)
	outer := future.Map(r, nil, func(v int) (int, error) { return v, nil })
	onGoroutine(outer.Cancel)
	for i := range calls {
		if n := calls[i].Load(); n != 1 {
			t.Errorf("input %d: cancel function ran %d times, want 1", i, n)
		}
	}
	for i, f := range []future.Future[int]{a, b, c, d, e} {
		if _, err := f.Result(); err == nil {
			t.Errorf("input %d: no error after Cancel", i)
		}
	}
	if _, err := a.Result(); err != future.ErrGoexit {
		t.Errorf("a: %v, want ErrGoexit", err)
	}
}
