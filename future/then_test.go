package future_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/future"
)

// loop is a minimal event loop: an Executor that runs functions, in order, on one goroutine.
type loop struct {
	tasks   chan func()
	ran     chan struct{}
	running atomic.Bool // true while the loop goroutine runs a function
}

func newLoop(t *testing.T) *loop {
	l := &loop{tasks: make(chan func(), 16), ran: make(chan struct{})}
	go func() {
		defer close(l.ran)
		for fn := range l.tasks {
			l.running.Store(true)
			fn()
			l.running.Store(false)
		}
	}()
	t.Cleanup(func() {
		close(l.tasks)
		<-l.ran
	})
	return l
}

func (l *loop) Execute(fn func()) { l.tasks <- fn }

func TestMapRunsOnExecutor(t *testing.T) {
	l := newLoop(t)
	p := future.NewPromise[int]()
	g := future.Map(p.Future(), l, func(v int) (string, error) {
		if !l.running.Load() {
			t.Error("Map ran its function outside the loop")
		}
		return strconv.Itoa(v), nil
	})
	p.Resolve(5)
	if v, err := g.Await(t.Context()); v != "5" || err != nil {
		t.Fatalf("Await = %q, %v; want \"5\", nil", v, err)
	}
}

func TestMapPassesErrorWithoutCallingFn(t *testing.T) {
	g := future.Map(future.Failed[int](errBoom), nil, func(int) (int, error) {
		t.Error("fn called for a failed future")
		return 0, nil
	})
	if _, err := g.Result(); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v; want %v", err, errBoom)
	}
}

func TestMapErrorFailsResult(t *testing.T) {
	g := future.Map(future.Ready(1), nil, func(int) (int, error) { return 0, errBoom })
	if _, err := g.Result(); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v; want %v", err, errBoom)
	}
}

func TestThenFollowsInnerFuture(t *testing.T) {
	inner := future.NewPromise[string]()
	g := future.Then(future.Ready(3), nil, func(v int) future.Future[string] {
		return inner.Future()
	})
	if g.Resolved() {
		t.Fatal("Then completed before the inner future")
	}
	inner.Resolve("three")
	if v, err := g.Await(t.Context()); v != "three" || err != nil {
		t.Fatalf("Await = %q, %v", v, err)
	}
}

func TestThenPassesErrorWithoutCallingFn(t *testing.T) {
	g := future.Then(future.Failed[int](errBoom), nil, func(int) future.Future[int] {
		t.Error("fn called for a failed future")
		return future.Ready(0)
	})
	if _, err := g.Result(); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v; want %v", err, errBoom)
	}
}

func TestThenCancelReachesSourceAndInner(t *testing.T) {
	ctx := t.Context()
	src, srcCtx := future.NewPromiseContext[int](ctx)
	started := make(chan context.Context, 1)
	g := future.Then(src.Future(), nil, func(v int) future.Future[int] {
		return future.Go(ctx, func(ctx context.Context) (int, error) {
			started <- ctx
			<-ctx.Done()
			return 0, ctx.Err()
		})
	})
	src.Resolve(1)
	<-srcCtx.Done() // released on completion
	innerCtx := <-started
	g.Cancel()
	<-innerCtx.Done()
	if _, err := g.Await(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
}

func TestThenCancelBeforeSourceCompletes(t *testing.T) {
	ctx := t.Context()
	src, srcCtx := future.NewPromiseContext[int](ctx)
	g := future.Then(src.Future(), nil, func(v int) future.Future[int] {
		return future.Go(ctx, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
	})
	g.Cancel()
	<-srcCtx.Done()
	// The producer ignores its context and resolves anyway: the inner future must still
	// be cancelled, since the cancellation came before it existed.
	src.Resolve(1)
	if _, err := g.Await(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
}

func TestThenWithZeroFutureFails(t *testing.T) {
	g := future.Then(future.Ready(1), nil, func(int) future.Future[int] { return future.Future[int]{} })
	if _, err := g.Result(); !errors.Is(err, future.ErrInvalid) {
		t.Fatalf("err = %v; want ErrInvalid", err)
	}
}

func TestCatchRecovers(t *testing.T) {
	g := future.Catch(future.Failed[int](errBoom), nil, func(err error) (int, error) {
		if !errors.Is(err, errBoom) {
			t.Errorf("Catch got %v", err)
		}
		return 9, nil
	})
	if v, err := g.Result(); v != 9 || err != nil {
		t.Fatalf("Result = %v, %v; want 9, nil", v, err)
	}
}

func TestCatchPassesValueWithoutCallingFn(t *testing.T) {
	g := future.Catch(future.Ready(4), nil, func(error) (int, error) {
		t.Error("fn called for a successful future")
		return 0, nil
	})
	if v, err := g.Result(); v != 4 || err != nil {
		t.Fatalf("Result = %v, %v; want 4, nil", v, err)
	}
}

func TestCancelOfDerivedFutureCancelsSource(t *testing.T) {
	ctx := t.Context()
	for name, derive := range map[string]func(future.Future[int]) future.Future[int]{
		"Map": func(f future.Future[int]) future.Future[int] {
			return future.Map(f, nil, func(v int) (int, error) { return v, nil })
		},
		"Catch": func(f future.Future[int]) future.Future[int] {
			return future.Catch(f, nil, func(err error) (int, error) { return 0, err })
		},
	} {
		p, pctx := future.NewPromiseContext[int](ctx)
		derive(p.Future()).Cancel()
		select {
		case <-pctx.Done():
		default:
			t.Errorf("%s: Cancel did not reach the source", name)
		}
		p.Resolve(0)
	}
}

// TestThenCycleCanBeCancelled: a step that returns the future of its own Then (or one that
// follows it) makes a cycle that never completes; cancelling it must return, not recurse until
// the stack overflows.
func TestThenCycleCanBeCancelled(t *testing.T) {
	p := future.NewPromise[int]()
	var f future.Future[int]
	f = future.Then(p.Future(), nil, func(int) future.Future[int] {
		return future.Map(f, nil, func(v int) (int, error) { return v, nil })
	})
	p.Resolve(1)
	f.Cancel()
	if f.Resolved() {
		t.Fatal("a cycle completed")
	}
}
