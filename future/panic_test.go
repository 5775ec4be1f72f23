package future_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// goExecutor runs each function on a new goroutine.
var goExecutor = future.ExecutorFunc(func(fn func()) { go fn() })

// panicExecutor panics instead of running anything.
var panicExecutor = future.ExecutorFunc(func(func()) { panic("executor is broken") })

func wantPanic(t *testing.T, err error, value any) {
	t.Helper()
	var pe *future.PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v (%T); want a *PanicError", err, err)
	}
	if pe.Value != value {
		t.Fatalf("PanicError.Value = %v; want %v", pe.Value, value)
	}
	if len(pe.Stack) == 0 || !strings.Contains(string(pe.Stack), "goroutine") {
		t.Fatalf("PanicError.Stack = %q; want a stack trace", pe.Stack)
	}
	if !strings.Contains(pe.Error(), "panic") {
		t.Fatalf("Error() = %q; want it to mention the panic", pe.Error())
	}
}

func TestPanicBecomesError(t *testing.T) {
	ctx := t.Context()
	boom := func(context.Context) (int, error) { panic("boom") }
	one := future.Ready(1)
	fail := future.Failed[int](errBoom)
	cases := []struct {
		name string
		f    future.Future[int]
	}{
		{"Go", future.Go(ctx, boom)},
		{"GoOn inline", future.GoOn(ctx, future.Inline, boom)},
		{"GoOn goroutine", future.GoOn(ctx, goExecutor, boom)},
		{"GoOn broken executor", future.GoOn(ctx, panicExecutor, func(context.Context) (int, error) { return 1, nil })},
		{"Map inline", future.Map(one, nil, func(int) (int, error) { panic("boom") })},
		{"Map goroutine", future.Map(one, goExecutor, func(int) (int, error) { panic("boom") })},
		{"Map broken executor", future.Map(one, panicExecutor, func(v int) (int, error) { return v, nil })},
		{"Then inline", future.Then(one, nil, func(int) future.Future[int] { panic("boom") })},
		{"Then goroutine", future.Then(one, goExecutor, func(int) future.Future[int] { panic("boom") })},
		{"Then broken executor", future.Then(one, panicExecutor, func(v int) future.Future[int] { return one })},
		{"Catch inline", future.Catch(fail, nil, func(error) (int, error) { panic("boom") })},
		{"Catch goroutine", future.Catch(fail, goExecutor, func(error) (int, error) { panic("boom") })},
		{"Catch broken executor", future.Catch(fail, panicExecutor, func(error) (int, error) { return 1, nil })},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Await(ctx)
			want := any("boom")
			if strings.Contains(tc.name, "broken") {
				want = "executor is broken"
			}
			wantPanic(t, err, want)
		})
	}
}

func TestPromiseRunTurnsPanicIntoError(t *testing.T) {
	p := future.NewPromise[int]()
	if !p.Run(t.Context(), func(context.Context) (int, error) { panic("boom") }) {
		t.Fatal("Run reported that it did not complete the future")
	}
	_, err := p.Future().Result()
	wantPanic(t, err, "boom")
}

func TestPanicWithErrorUnwraps(t *testing.T) {
	f := future.Go(t.Context(), func(context.Context) (int, error) { panic(errBoom) })
	if _, err := f.Await(t.Context()); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v; want it to wrap %v", err, errBoom)
	}
}

func TestPanicNilIsCaught(t *testing.T) {
	f := future.Go(t.Context(), func(context.Context) (int, error) { panic(nil) })
	_, err := f.Await(t.Context())
	var pe *future.PanicError
	var pn *runtime.PanicNilError
	if !errors.As(err, &pe) || !errors.As(err, &pn) {
		t.Fatalf("err = %v; want a *PanicError holding a *runtime.PanicNilError", err)
	}
}

func TestGoexitBecomesErrGoexit(t *testing.T) {
	ctx := t.Context()
	exit := func(context.Context) (int, error) {
		runtime.Goexit()
		return 0, nil
	}
	for name, f := range map[string]future.Future[int]{
		"Go":   future.Go(ctx, exit),
		"GoOn": future.GoOn(ctx, goExecutor, exit),
		"Map": future.Map(future.Ready(1), goExecutor, func(int) (int, error) {
			runtime.Goexit()
			return 0, nil
		}),
	} {
		if _, err := f.Await(ctx); !errors.Is(err, future.ErrGoexit) {
			t.Errorf("%s: err = %v; want ErrGoexit", name, err)
		}
	}
}

func TestPanicInOneContinuationLeavesOthersRunning(t *testing.T) {
	p := future.NewPromise[int]()
	bad := future.Map(p.Future(), nil, func(int) (int, error) { panic("boom") })
	good := future.Map(p.Future(), nil, func(v int) (int, error) { return v + 1, nil })
	p.Resolve(1) // must not panic on this goroutine
	wantPanic(t, func() error { _, err := bad.Result(); return err }(), "boom")
	if v, err := good.Result(); v != 2 || err != nil {
		t.Fatalf("good = %v, %v; want 2, nil", v, err)
	}
}

func TestGoexitInInlineContinuationLeavesOthersRunning(t *testing.T) {
	p := future.NewPromise[int]()
	exits := future.Map(p.Future(), nil, func(int) (int, error) {
		runtime.Goexit()
		return 0, nil
	})
	after := future.Map(p.Future(), nil, func(v int) (int, error) { return v + 1, nil })
	go p.Resolve(1) // this goroutine ends inside Resolve
	if _, err := exits.Await(t.Context()); !errors.Is(err, future.ErrGoexit) {
		t.Fatalf("err = %v; want ErrGoexit", err)
	}
	if v, err := after.Await(t.Context()); v != 2 || err != nil {
		t.Fatalf("the continuation after a Goexit = %v, %v; want 2, nil", v, err)
	}
}

// A combinator that settles cancels the inputs it no longer needs, and a timeout cancels its source,
// even when a continuation of the result, run inline by the goroutine that settles it, calls
// runtime.Goexit (testing.T.FailNow in a test's callback): the cancellation came after the
// continuations and was skipped.
func TestGoexitInInlineContinuationStillCancelsTheInputs(t *testing.T) {
	loserOf := func() (future.Future[int], context.Context) {
		started := make(chan context.Context, 1)
		f := future.Go(t.Context(), func(ctx context.Context) (int, error) {
			started <- ctx
			<-ctx.Done()
			return 0, ctx.Err()
		})
		return f, <-started
	}
	cancelledSoon := func(what string, ctx context.Context) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Errorf("%s: not cancelled", what)
		}
	}
	exit := func(int) (int, error) { runtime.Goexit(); return 0, nil }

	t.Run("Race", func(t *testing.T) {
		winner := future.NewPromise[int]()
		loser, ctx := loserOf()
		future.Map(future.Race(winner.Future(), loser), nil, exit)
		go winner.Resolve(1) // this goroutine ends inside Resolve
		cancelledSoon("Race's loser", ctx)
	})
	t.Run("All", func(t *testing.T) {
		failing := future.NewPromise[int]()
		other, ctx := loserOf()
		future.Catch(future.Map(future.All(failing.Future(), other), nil, func([]int) (int, error) { return 0, nil }),
			nil, func(error) (int, error) { runtime.Goexit(); return 0, nil })
		go failing.Reject(errors.New("first failure"))
		cancelledSoon("All's other input", ctx)
	})
	t.Run("WithTimeout", func(t *testing.T) {
		src, ctx := loserOf()
		// On a goroutine of its own: a timeout that has fired before Catch subscribes runs the
		// continuation inline on the subscriber, whose Goexit would end the test's goroutine (seen in
		// CI under load); subscribed in time, it runs on the goroutine that settles the timeout.
		go future.Catch(future.WithTimeout(src, 20*time.Millisecond), nil, func(error) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		cancelledSoon("WithTimeout's source", ctx)
	})
}

// The zero Future is a failed one, and reading it allocates nothing, as for any complete future.
func TestZeroFutureReadsAllocateNothing(t *testing.T) {
	var f future.Future[int]
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := f.Result(); !errors.Is(err, future.ErrInvalid) {
			t.Fatalf("Result: %v", err)
		}
		if _, err := f.Await(ctx); !errors.Is(err, future.ErrInvalid) {
			t.Fatalf("Await: %v", err)
		}
		select {
		case <-f.Done():
		default:
			t.Fatal("Done of the zero Future is not closed")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per read of the zero Future, want 0", allocs)
	}
}
