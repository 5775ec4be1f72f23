package future_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// The package documentation: "Nothing that the package runs can crash the program through a
// panic." A cancel function given to NewPromiseFunc is run by the package, on whichever goroutine
// cancels: the caller of Future.Cancel, a goroutine completing another future (Race, Any and All
// cancel the inputs they no longer need) or a timer's (WithTimeout). Its panic went on up that
// goroutine: out of the Resolve of an unrelated promise, or out of a timer's goroutine, where it
// ended the program (session 30). It now fails the future whose cancel function it is with a
// *PanicError, as a panic of the producer's function would, and a runtime.Goexit with ErrGoexit.

// panicky is a NewPromiseFunc promise whose cancel function panics with v.
func panicky(v any) future.Promise[int] {
	return future.NewPromiseFunc[int](func() { panic(v) })
}

// mustPanicError fails the test unless f has failed with a *PanicError holding v.
func mustPanicError(t *testing.T, what string, f future.Future[int], v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := f.Await(ctx)
	var pe *future.PanicError
	if !errors.As(err, &pe) || pe.Value != v {
		t.Fatalf("%s: the future ended with %v; want a *PanicError of %v", what, err, v)
	}
}

// noPanic runs fn and reports a panic that escapes it as a test failure.
func noPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		if v := recover(); v != nil {
			t.Errorf("%s: the cancel function's panic (%v) escaped to the goroutine that cancelled", what, v)
		}
	}()
	fn()
}

func TestPanicInCancelFuncOnCancel(t *testing.T) {
	p := panicky("direct")
	noPanic(t, "Future.Cancel", p.Future().Cancel)
	mustPanicError(t, "Future.Cancel", p.Future(), "direct")
	if p.Resolve(1) {
		t.Error("Resolve after the failure reported true")
	}

	// Through a derived future: the derived one fails (its cancel function is the producer's).
	q := panicky("derived")
	m := future.Map(q.Future(), nil, func(v int) (int, error) { return v, nil })
	noPanic(t, "Cancel of a Map", m.Cancel)
	mustPanicError(t, "Cancel of a Map", m, "derived")
	q.Resolve(1)
}

func TestPanicInCancelFuncInCombinators(t *testing.T) {
	// Race: the winner's Resolve cancels the loser, whose cancel function panics.
	loser := panicky("race")
	winner := future.NewPromise[int]()
	r := future.Race(winner.Future(), loser.Future())
	noPanic(t, "Resolve of a Race's winner", func() { winner.Resolve(1) })
	if v, err := r.Result(); v != 1 || err != nil {
		t.Errorf("Race = %v, %v; want the winner's 1, nil", v, err)
	}
	mustPanicError(t, "a Race's loser", loser.Future(), "race")

	// All fails fast and cancels the rest; the request walks on past the panicking one.
	bad := panicky("all")
	after := future.NewPromiseFunc[int](nil)
	ctxP, pctx := future.NewPromiseContext[int](context.Background())
	failing := future.NewPromise[int]()
	a := future.All(failing.Future(), bad.Future(), after.Future(), ctxP.Future())
	noPanic(t, "Reject of an All's input", func() { failing.Reject(errors.New("first")) })
	if _, err := a.Result(); err == nil || err.Error() != "first" {
		t.Errorf("All = %v; want the first failure", err)
	}
	mustPanicError(t, "All's panicking input", bad.Future(), "all")
	if pctx.Err() == nil {
		t.Error("All did not cancel the input after the panicking one")
	}
	ctxP.Reject(pctx.Err())
	after.Resolve(0)

	// Cancel of a combinator walks its inputs: every one is reached.
	b1, b2 := panicky("b1"), panicky("b2")
	c3, c3ctx := future.NewPromiseContext[int](context.Background())
	anyF := future.Any(b1.Future(), b2.Future(), c3.Future())
	noPanic(t, "Cancel of an Any", anyF.Cancel)
	mustPanicError(t, "Any's first input", b1.Future(), "b1")
	mustPanicError(t, "Any's second input", b2.Future(), "b2")
	if c3ctx.Err() == nil {
		t.Error("Cancel of an Any did not reach its third input")
	}
	c3.Reject(c3ctx.Err())
}

// A runtime.Goexit in a cancel function (a t.FailNow in a test's producer) ends the goroutine that
// cancels, which nothing can stop; the future fails with ErrGoexit rather than staying pending.
func TestGoexitInCancelFuncFailsTheFuture(t *testing.T) {
	p := future.NewPromiseFunc[int](func() { runtime.Goexit() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Future().Cancel()
	}()
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := p.Future().Await(ctx); !errors.Is(err, future.ErrGoexit) {
		t.Fatalf("Goexit in the cancel function: the future ended with %v; want ErrGoexit", err)
	}
}

// Handle and AllSettled pass on a future's outcome as Await returns it: a value that came with an
// error (Promise.Complete(v, err), as package aio completes a short read with its count and io.EOF)
// reaches fn and the Outcome with the error. Handle's documentation said the value was then T's
// zero value (session 30: the documentation is corrected, the behaviour kept, since the count of
// a short read is what a Handle after a read wants).
func TestHandleAndAllSettledKeepTheValueOfAnError(t *testing.T) {
	short := errors.New("short read")
	p := future.NewPromise[int]()
	p.Complete(5, short)
	var gotV int
	var gotErr error
	future.Handle(p.Future(), nil, func(v int, err error) (struct{}, error) {
		gotV, gotErr = v, err
		return struct{}{}, nil
	})
	if gotV != 5 || gotErr != short {
		t.Errorf("Handle's fn saw %d, %v; want 5, %v (what Await returns)", gotV, gotErr, short)
	}
	outs, err := future.AllSettled(p.Future()).Result()
	if err != nil || len(outs) != 1 || outs[0].Value != 5 || outs[0].Err != short {
		t.Errorf("AllSettled = %+v, %v; want [{5 %v}]", outs, err, short)
	}
}
