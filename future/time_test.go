package future_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyio/eddy/future"
)

// The tests in this file run in a synctest bubble: time is simulated, so they
// wait for nothing and assert no durations.

func TestWithTimeoutFailsAndCancelsSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		src := future.Go(ctx, func(ctx context.Context) (int, error) {
			<-ctx.Done()
			return 0, ctx.Err()
		})
		f := future.WithTimeout(src, time.Second)
		_, err := f.Await(ctx)
		if !errors.Is(err, future.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want ErrTimeout", err)
		}
		if _, err := src.Await(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("source err = %v; want context.Canceled", err)
		}
	})
}

func TestWithTimeoutPassesResultInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := future.NewPromise[int]()
		f := future.WithTimeout(p.Future(), time.Second)
		time.Sleep(time.Second - time.Nanosecond)
		p.Resolve(3)
		if v, err := f.Await(t.Context()); v != 3 || err != nil {
			t.Fatalf("Await = %v, %v; want 3, nil", v, err)
		}
	})
}

func TestWithTimeoutOfCompleteFutureIsThatFuture(t *testing.T) {
	f := future.Ready(1)
	if future.WithTimeout(f, 0) != f {
		t.Fatal("WithTimeout wrapped a complete future")
	}
}

func TestWithContextFailsWhenContextEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p, pctx := future.NewPromiseContext[int](t.Context())
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		f := future.WithContext(ctx, p.Future())
		if _, err := f.Await(t.Context()); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want context.DeadlineExceeded", err)
		}
		<-pctx.Done() // the source was cancelled
		p.Resolve(1)
	})
}

func TestWithContextPassesResult(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := future.NewPromise[int]()
	f := future.WithContext(ctx, p.Future())
	p.Resolve(2)
	if v, err := f.Await(t.Context()); v != 2 || err != nil {
		t.Fatalf("Await = %v, %v; want 2, nil", v, err)
	}
	if g := future.WithContext(context.Background(), p.Future()); g != p.Future() {
		t.Fatal("WithContext wrapped a future for a context that is never done")
	}
}

func TestSleepCompletesAfterItsDuration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := future.Sleep(t.Context(), 5*time.Second)
		time.Sleep(5*time.Second - time.Nanosecond)
		synctest.Wait()
		if f.Resolved() {
			t.Fatal("Sleep completed early")
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if _, err := f.Result(); err != nil {
			t.Fatalf("Sleep err = %v", err)
		}
	})
}

func TestSleepStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := future.Sleep(ctx, time.Hour)
		cancel()
		if _, err := f.Await(t.Context()); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want context.Canceled", err)
		}
		if _, err := future.Sleep(ctx, time.Hour).Result(); !errors.Is(err, context.Canceled) {
			t.Fatalf("Sleep with a done context: err = %v", err)
		}
	})
}

func TestSleepStopsWhenCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := future.Sleep(t.Context(), time.Hour)
		f.Cancel()
		if _, err := f.Result(); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want context.Canceled", err)
		}
	})
}

func TestAwaitGivesUpAtDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err := future.NewPromise[int]().Future().Await(ctx)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want context.DeadlineExceeded", err)
		}
	})
}
