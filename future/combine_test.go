package future_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/eddyio/eddy/future"
)

// blocker returns a future that runs until its context is cancelled, and reports that
// context on started so that the test can wait for it.
func blocker(ctx context.Context, started chan<- context.Context) future.Future[int] {
	return future.Go(ctx, func(ctx context.Context) (int, error) {
		started <- ctx
		<-ctx.Done()
		return 0, ctx.Err()
	})
}

func TestAllReturnsValuesInInputOrder(t *testing.T) {
	ps := make([]future.Promise[int], 4)
	fs := make([]future.Future[int], 4)
	for i := range ps {
		ps[i] = future.NewPromise[int]()
		fs[i] = ps[i].Future()
	}
	all := future.All(fs...)
	for _, i := range []int{2, 0, 3, 1} {
		if all.Resolved() {
			t.Fatal("All completed before every input")
		}
		ps[i].Resolve(i * 10)
	}
	got, err := all.Await(t.Context())
	if err != nil || !slices.Equal(got, []int{0, 10, 20, 30}) {
		t.Fatalf("All = %v, %v", got, err)
	}
}

func TestAllFailsFastAndCancelsTheRest(t *testing.T) {
	ctx := t.Context()
	started := make(chan context.Context, 2)
	a, b := blocker(ctx, started), blocker(ctx, started)
	bad := future.NewPromise[int]()
	all := future.All(a, bad.Future(), b)
	ctxA, ctxB := <-started, <-started
	bad.Reject(errBoom)
	if _, err := all.Await(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("All err = %v; want %v", err, errBoom)
	}
	<-ctxA.Done()
	<-ctxB.Done()
	for _, f := range []future.Future[int]{a, b} {
		if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("input err = %v; want context.Canceled", err)
		}
	}
}

func TestAllOfNothingIsEmpty(t *testing.T) {
	got, err := future.All[int]().Result()
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("All() = %#v, %v; want an empty slice", got, err)
	}
	settled, err := future.AllSettled[int]().Result()
	if err != nil || settled == nil || len(settled) != 0 {
		t.Fatalf("AllSettled() = %#v, %v; want an empty slice", settled, err)
	}
}

func TestAllSettledKeepsEveryOutcome(t *testing.T) {
	got, err := future.AllSettled(future.Ready(1), future.Failed[int](errBoom), future.Future[int]{}).Await(t.Context())
	if err != nil || len(got) != 3 {
		t.Fatalf("AllSettled = %v, %v", got, err)
	}
	if got[0].Value != 1 || got[0].Err != nil || !errors.Is(got[1].Err, errBoom) || !errors.Is(got[2].Err, future.ErrInvalid) {
		t.Fatalf("outcomes = %+v", got)
	}
}

func TestAnyTakesFirstSuccessAndCancelsTheRest(t *testing.T) {
	ctx := t.Context()
	started := make(chan context.Context, 1)
	slow := blocker(ctx, started)
	win := future.NewPromise[int]()
	anyF := future.Any(future.Failed[int](errBoom), slow, win.Future())
	slowCtx := <-started
	win.Resolve(7)
	if v, err := anyF.Await(ctx); v != 7 || err != nil {
		t.Fatalf("Any = %v, %v; want 7, nil", v, err)
	}
	<-slowCtx.Done()
	slow.Await(ctx)
}

func TestAnyJoinsAllErrors(t *testing.T) {
	errOther := errors.New("other")
	_, err := future.Any(future.Failed[int](errBoom), future.Failed[int](errOther)).Result()
	if !errors.Is(err, errBoom) || !errors.Is(err, errOther) {
		t.Fatalf("err = %v; want both errors", err)
	}
}

func TestAnyAndRaceOfNothingFail(t *testing.T) {
	if _, err := future.Any[int]().Result(); !errors.Is(err, future.ErrNoFutures) {
		t.Fatalf("Any() err = %v", err)
	}
	if _, err := future.Race[int]().Result(); !errors.Is(err, future.ErrNoFutures) {
		t.Fatalf("Race() err = %v", err)
	}
}

func TestRaceTakesFirstOutcomeAndCancelsTheRest(t *testing.T) {
	ctx := t.Context()
	started := make(chan context.Context, 1)
	slow := blocker(ctx, started)
	first := future.NewPromise[int]()
	race := future.Race(slow, first.Future())
	slowCtx := <-started
	first.Reject(errBoom)
	if _, err := race.Await(ctx); !errors.Is(err, errBoom) {
		t.Fatalf("Race err = %v; want %v", err, errBoom)
	}
	<-slowCtx.Done()
	slow.Await(ctx)
}

func TestCancelOfCombinatorCancelsEveryInput(t *testing.T) {
	ctx := t.Context()
	combine := map[string]func(...future.Future[int]) func(){
		"All":        func(fs ...future.Future[int]) func() { return future.All(fs...).Cancel },
		"AllSettled": func(fs ...future.Future[int]) func() { return future.AllSettled(fs...).Cancel },
		"Any":        func(fs ...future.Future[int]) func() { return future.Any(fs...).Cancel },
		"Race":       func(fs ...future.Future[int]) func() { return future.Race(fs...).Cancel },
	}
	for name, c := range combine {
		started := make(chan context.Context, 2)
		a, b := blocker(ctx, started), blocker(ctx, started)
		cancel := c(a, b)
		<-started
		<-started
		cancel()
		for _, f := range []future.Future[int]{a, b} {
			if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s: input err = %v; want context.Canceled", name, err)
			}
		}
	}
}
