package future_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// TestRunAfterCompletionIsIgnored: "the first of Resolve, Reject, Complete or Run decides
// the outcome, and every later call is ignored and returns false": a later Run must not call
// its function either.
func TestRunAfterCompletionIsIgnored(t *testing.T) {
	p := future.NewPromise[int]()
	p.Resolve(1)
	called := false
	won := p.Run(t.Context(), func(context.Context) (int, error) {
		called = true
		return 2, nil
	})
	if won {
		t.Fatal("Run after Resolve reported true")
	}
	if called {
		t.Fatal("Run after Resolve called its function; a later call must be ignored")
	}
}

// TestGoexitInExecutorFailsTheFuture: the package turns panics in Execute into a
// *PanicError and runtime.Goexit into ErrGoexit, so that a future always completes, even when
// the Executor's Execute itself calls runtime.Goexit.
func TestGoexitInExecutorFailsTheFuture(t *testing.T) {
	exitExec := future.ExecutorFunc(func(func()) { runtime.Goexit() })
	p := future.NewPromise[int]()
	g := future.Map(p.Future(), exitExec, func(v int) (int, error) { return v, nil })
	go p.Resolve(1) // this goroutine ends inside Execute
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	if _, err := g.Await(ctx); !errors.Is(err, future.ErrGoexit) {
		t.Fatalf("Goexit in Execute: the Map future ended with %v; want ErrGoexit", err)
	}
}
