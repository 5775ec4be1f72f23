package future_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// Handle sees either outcome of its input, and its own result is what fn returns, whichever it was.
func TestHandleSeesBothOutcomes(t *testing.T) {
	type seen struct {
		v   int
		err error
	}
	var got []seen
	fn := func(v int, err error) (string, error) {
		got = append(got, seen{v, err})
		if err != nil {
			return "failed: " + err.Error(), nil
		}
		return "", errors.New("no good")
	}
	if v, err := future.Handle(future.Ready(7), nil, fn).Result(); v != "" || err == nil || err.Error() != "no good" {
		t.Errorf("Handle of a success: %q, %v; want fn's error", v, err)
	}
	if v, err := future.Handle(future.Failed[int](os.ErrClosed), nil, fn).Result(); v != "failed: "+os.ErrClosed.Error() || err != nil {
		t.Errorf("Handle of a failure: %q, %v; want fn's value", v, err)
	}
	if len(got) != 2 || got[0] != (seen{7, nil}) || got[1].v != 0 || !errors.Is(got[1].err, os.ErrClosed) {
		t.Errorf("fn saw %v; want (7, nil) then (0, file already closed)", got)
	}
}

// Handle runs fn on its executor, after the input completes, and turns a panic into a *PanicError.
func TestHandleRunsOnItsExecutorAndCatchesPanics(t *testing.T) {
	var queued []func()
	exec := future.ExecutorFunc(func(fn func()) { queued = append(queued, fn) })
	p := future.NewPromise[int]()
	ran := false
	f := future.Handle(p.Future(), exec, func(v int, err error) (int, error) { ran = true; return v * 2, err })
	p.Resolve(21)
	if ran || f.Resolved() || len(queued) != 1 {
		t.Fatalf("before the executor ran it: ran %t, resolved %t, %d queued", ran, f.Resolved(), len(queued))
	}
	queued[0]()
	if v, err := f.Result(); v != 42 || err != nil {
		t.Errorf("Handle on an executor: %d, %v; want 42", v, err)
	}
	_, err := future.Handle(future.Ready(1), nil, func(int, error) (int, error) { panic("boom") }).Result()
	if pe, ok := errors.AsType[*future.PanicError](err); !ok || pe.Value != "boom" {
		t.Errorf("a panic in fn: %v; want a *PanicError of boom", err)
	}
}

// Cancelling Handle's result cancels its input, whose cancellation goes to fn like any failure.
func TestHandleCancelReachesItsInput(t *testing.T) {
	src := future.Sleep(context.Background(), time.Hour)
	f := future.Handle(src, nil, func(_ struct{}, err error) (error, error) { return err, nil })
	f.Cancel()
	if _, err := src.Await(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("the input after Cancel: %v; want context.Canceled", err)
	}
	got, err := f.Await(context.Background())
	if err != nil || !errors.Is(got, context.Canceled) {
		t.Errorf("Handle's result: %v, %v; want fn's value, the context.Canceled it saw", got, err)
	}
}
