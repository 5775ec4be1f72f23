package future_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// A nil context is context.Background() wherever the package takes one, as in packages eddy and
// pool. Until session 21, Go, GoOn and NewPromiseContext panicked ("cannot create context from nil
// parent"), and Await of a pending future, Promise.Run, WithContext and Sleep faulted on a nil
// pointer, some of them on another goroutine.
func TestNilContextIsBackground(t *testing.T) {
	var nilCtx context.Context
	ok := func(t *testing.T, f future.Future[int], want int) {
		t.Helper()
		v, err := f.Await(context.Background())
		if err != nil || v != want {
			t.Fatalf("got %d, %v; want %d, nil", v, err, want)
		}
	}
	t.Run("Go", func(t *testing.T) {
		ok(t, future.Go(nilCtx, func(context.Context) (int, error) { return 1, nil }), 1)
	})
	t.Run("GoOn", func(t *testing.T) {
		ok(t, future.GoOn(nilCtx, future.Inline, func(context.Context) (int, error) { return 2, nil }), 2)
	})
	t.Run("NewPromiseContext", func(t *testing.T) {
		p, ctx := future.NewPromiseContext[int](nilCtx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		p.Resolve(3)
		ok(t, p.Future(), 3)
		if !errors.Is(ctx.Err(), context.Canceled) {
			t.Fatalf("the promise's context after completion: %v", ctx.Err())
		}
	})
	t.Run("Run", func(t *testing.T) {
		p := future.NewPromise[int]()
		if !p.Run(nilCtx, func(context.Context) (int, error) { return 4, nil }) {
			t.Fatal("Run did not complete the future")
		}
		ok(t, p.Future(), 4)
	})
	t.Run("Await", func(t *testing.T) {
		p := future.NewPromise[int]()
		time.AfterFunc(10*time.Millisecond, func() { p.Resolve(5) })
		v, err := p.Future().Await(nilCtx)
		if err != nil || v != 5 {
			t.Fatalf("Await(nil) = %d, %v", v, err)
		}
	})
	t.Run("WithContext", func(t *testing.T) {
		p := future.NewPromise[int]()
		f := future.WithContext(nilCtx, p.Future())
		p.Resolve(6)
		ok(t, f, 6)
	})
	t.Run("Sleep", func(t *testing.T) {
		if _, err := future.Sleep(nilCtx, time.Millisecond).Await(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
}
