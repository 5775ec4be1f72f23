package pool_test

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// Execute "never loses fn", and an abandoned Stop runs the queued continuations and Go tasks off
// the pool. They ran one after another on one goroutine, so that a continuation that called
// runtime.Goexit ended it and took every later one with it (found by a review).
func TestAbandonedStopLosesNoKeptWorkToAGoexit(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(4), pool.WithPanicHandler(func(any, []byte) {}))
	release := occupy(t, p, 1)
	p.Execute(func() { runtime.Goexit() }) // queued behind the busy worker
	ran := make(chan struct{})
	p.Execute(func() { close(ran) }) // queued too
	f := pool.Go(p, context.Background(), func(context.Context) (int, error) { return 1, nil })

	abandonStop(t, p, release)

	select {
	case <-ran:
	case <-time.After(time.Second):
		t.Error("the second Execute'd fn never ran after an abandoned Stop")
	}
	wait, cw := context.WithTimeout(context.Background(), time.Second)
	defer cw()
	if _, err := f.Await(wait); err == context.DeadlineExceeded {
		t.Error("pool.Go future queued behind it never completed")
	}
}

// pool.Go: "A panic in fn becomes a *future.PanicError on the future, not a pool panic", and so
// does a runtime.Goexit: it fails the future with future.ErrGoexit, and the pool neither counts it
// in Stats.Panics nor hands it to the panic handler (found by a review: it did both).
func TestGoexitInGoIsTheFuturesNotAPoolPanic(t *testing.T) {
	var handled atomic.Int32
	p := pool.New(pool.WithWorkers(1), pool.WithPanicHandler(func(any, []byte) { handled.Add(1) }))
	f := pool.Go(p, context.Background(), func(context.Context) (int, error) { runtime.Goexit(); return 0, nil })
	_, err := f.Await(context.Background())
	stop(t, p)
	if err != future.ErrGoexit {
		t.Fatalf("err = %v", err)
	}
	if handled.Load() != 0 || p.Stats().Panics != 0 {
		t.Fatalf("Goexit in Go's fn reached the pool's panic handler (%d) / Stats.Panics=%d; it belongs to the future",
			handled.Load(), p.Stats().Panics)
	}
}

// After an abandoned Stop the kept functions do not wait for each other: a continuation that
// waits for a pool.Go future queued after it gets that future's ErrStopped. They ran one after
// another on one goroutine, and the continuation waited for ever (here, until its own 3 s
// timeout; found by a review).
func TestAbandonedStopRunsKeptWorkConcurrently(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(4))
	release := occupy(t, p, 1)
	var g future.Future[int]
	gset := make(chan struct{})
	contDone := make(chan error, 1)
	p.Execute(func() { // e.g. a future.Map continuation that awaits another result
		<-gset
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err := g.Await(ctx)
		contDone <- err
	})
	g = pool.Go(p, context.Background(), func(context.Context) (int, error) { return 1, nil })
	close(gset)

	abandonStop(t, p, release)

	wait, cw := context.WithTimeout(context.Background(), time.Second)
	defer cw()
	_, err := g.Await(wait)
	werr := <-contDone // let the continuation give up (3s) so that nothing leaks
	if err == context.DeadlineExceeded {
		t.Fatalf("pool.Go future dropped by an abandoned Stop still pending 1s later (the continuation ahead of it got %v)", werr)
	}
}
