package future_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/future"
)

var errBoom = errors.New("boom")

func TestPromiseCompletesOnce(t *testing.T) {
	p := future.NewPromise[int]()
	if !p.Resolve(1) {
		t.Fatal("first Resolve reported false")
	}
	if p.Resolve(2) || p.Reject(errBoom) || p.Complete(3, nil) {
		t.Fatal("a later completion reported true")
	}
	v, err := p.Future().Result()
	if v != 1 || err != nil {
		t.Fatalf("Result = %v, %v; want 1, nil", v, err)
	}
}

func TestRejectKeepsError(t *testing.T) {
	p := future.NewPromise[string]()
	p.Reject(errBoom)
	if _, err := p.Future().Await(t.Context()); !errors.Is(err, errBoom) {
		t.Fatalf("err = %v; want %v", err, errBoom)
	}
}

func TestResultOfPendingFutureIsErrPending(t *testing.T) {
	f := future.NewPromise[int]().Future()
	if _, err := f.Result(); !errors.Is(err, future.ErrPending) {
		t.Fatalf("err = %v; want ErrPending", err)
	}
	if f.Resolved() {
		t.Fatal("Resolved() = true for a pending future")
	}
}

func TestZeroFutureFailsWithErrInvalid(t *testing.T) {
	var f future.Future[int]
	if !f.Resolved() {
		t.Fatal("zero Future is not resolved")
	}
	if _, err := f.Await(t.Context()); !errors.Is(err, future.ErrInvalid) {
		t.Fatalf("Await err = %v; want ErrInvalid", err)
	}
	<-f.Done()
	f.Cancel()
	if _, err := future.Map(f, nil, func(int) (int, error) { return 1, nil }).Result(); !errors.Is(err, future.ErrInvalid) {
		t.Fatalf("Map of zero Future err = %v; want ErrInvalid", err)
	}
}

func TestZeroPromiseCompletesNothing(t *testing.T) {
	var p future.Promise[int]
	if p.Resolve(1) || p.Reject(errBoom) || p.Run(t.Context(), func(context.Context) (int, error) { return 1, nil }) {
		t.Fatal("zero Promise reported a completion")
	}
}

func TestAwaitReturnsContextErrorAndLeavesFuturePending(t *testing.T) {
	p := future.NewPromise[int]()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := p.Future().Await(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	if p.Future().Resolved() {
		t.Fatal("giving up on Await completed the future")
	}
	p.Resolve(7)
	if v, err := p.Future().Await(ctx); v != 7 || err != nil {
		t.Fatalf("Await of a complete future with a done ctx = %v, %v; want 7, nil", v, err)
	}
}

func TestDoneReturnsOneChannelClosedOnCompletion(t *testing.T) {
	p := future.NewPromise[int]()
	a, b := p.Future().Done(), p.Future().Done()
	if a != b {
		t.Fatal("Done returned two different channels")
	}
	select {
	case <-a:
		t.Fatal("Done closed before completion")
	default:
	}
	p.Resolve(1)
	<-a
	<-p.Future().Done()
}

func TestContinuationsRunInRegistrationOrder(t *testing.T) {
	p := future.NewPromise[int]()
	var order []int
	for i := range 5 {
		future.Map(p.Future(), future.Inline, func(int) (int, error) {
			order = append(order, i)
			return 0, nil
		})
	}
	p.Resolve(1)
	for i, got := range order {
		if got != i {
			t.Fatalf("order = %v; want 0..4", order)
		}
	}
	if len(order) != 5 {
		t.Fatalf("%d continuations ran; want 5", len(order))
	}
}

func TestContinuationAddedAfterCompletionRunsOnce(t *testing.T) {
	f := future.Ready(2)
	var runs int
	g := future.Map(f, nil, func(v int) (int, error) {
		runs++
		return v * 10, nil
	})
	if v, err := g.Result(); v != 20 || err != nil {
		t.Fatalf("Result = %v, %v; want 20, nil", v, err)
	}
	if runs != 1 {
		t.Fatalf("continuation ran %d times; want 1", runs)
	}
}

func TestReadingCompleteFutureAllocatesNothing(t *testing.T) {
	f := future.Ready(42)
	g := future.Failed[int](errBoom)
	p := future.NewPromise[int]()
	p.Future().Done() // make the channel before completion
	p.Resolve(1)
	h := p.Future()
	ctx := t.Context()
	allocs := testing.AllocsPerRun(100, func() {
		f.Await(ctx)
		g.Await(ctx)
		h.Await(ctx)
		f.Result()
		_ = f.Resolved()
		<-f.Done()
		<-h.Done()
	})
	if allocs != 0 {
		t.Fatalf("reading complete futures allocated %v times per run; want 0", allocs)
	}
}

// TestResolveRacesAwaitAndCancel runs resolvers, awaiters with contexts that are cancelled
// at random moments, Done watchers and late continuations against each other. Run it with
// -race: it checks that one resolver wins, that every awaiter sees either the winner's value
// or its own context's error, and that every continuation runs exactly once.
func TestResolveRacesAwaitAndCancel(t *testing.T) {
	const rounds, resolvers, awaiters = 200, 4, 4
	for range rounds {
		p, pctx := future.NewPromiseContext[int](t.Context())
		f := p.Future()
		var wg sync.WaitGroup
		var wins atomic.Int32
		var runs [awaiters]atomic.Int32
		start := make(chan struct{})
		for r := range resolvers {
			wg.Go(func() {
				<-start
				if r == 0 {
					f.Cancel()
				}
				if p.Resolve(r + 1) {
					wins.Add(1)
				}
			})
		}
		for a := range awaiters {
			ctx, cancel := context.WithCancel(t.Context())
			wg.Go(func() {
				<-start
				v, err := f.Await(ctx)
				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("Await err = %v", err)
				}
				if err == nil && (v < 1 || v > resolvers) {
					t.Errorf("Await value = %d", v)
				}
			})
			wg.Go(func() {
				<-start
				cancel()
			})
			wg.Go(func() {
				<-start
				<-f.Done()
				future.Map(f, nil, func(int) (int, error) {
					runs[a].Add(1)
					return 0, nil
				})
			})
		}
		close(start)
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d resolvers won; want 1", wins.Load())
		}
		for a := range runs {
			if n := runs[a].Load(); n != 1 {
				t.Fatalf("continuation %d ran %d times; want 1", a, n)
			}
		}
		want, _ := f.Result()
		if got, err := f.Await(t.Context()); got != want || err != nil {
			t.Fatalf("second read = %d, %v; want %d, nil", got, err, want)
		}
		<-pctx.Done() // completion released the promise's context
	}
}

func TestNewPromiseContextIsCancelledByFutureCancel(t *testing.T) {
	p, ctx := future.NewPromiseContext[int](t.Context())
	p.Future().Cancel()
	<-ctx.Done()
	if p.Future().Resolved() {
		t.Fatal("Cancel completed the future; the producer should decide")
	}
	p.Reject(ctx.Err())
	if _, err := p.Future().Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
}

func TestNewPromiseContextIsReleasedOnCompletion(t *testing.T) {
	p, ctx := future.NewPromiseContext[int](t.Context())
	p.Resolve(1)
	<-ctx.Done()
	p.Future().Cancel() // no effect on a complete future
	if v, err := p.Future().Result(); v != 1 || err != nil {
		t.Fatalf("Result = %v, %v; want 1, nil", v, err)
	}
}
