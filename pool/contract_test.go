package pool_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyio/eddy/pool"
)

// TestGoexitDoesNotPinAnIdleWorker: workers above the minimum "exit after being idle for
// the idle timeout", and a worker whose task calls runtime.Goexit "goes on in a new
// goroutine". A task that arrives as the idle timer fires, and calls Goexit, must not leave
// the worker with a timer that is never re-armed (it would then stay until Stop).
func TestGoexitDoesNotPinAnIdleWorker(t *testing.T) {
	for i := range 60 {
		synctest.Test(t, func(t *testing.T) {
			p := pool.New(pool.WithWorkers(2), pool.WithIdleTimeout(time.Second),
				pool.WithPanicHandler(func(any, []byte) {}))
			done := make(chan struct{})
			p.Submit(context.Background(), func() { close(done) })
			<-done
			synctest.Wait()                                             // the worker parks and arms its idle timer
			time.Sleep(time.Second)                                     // the idle timer fires now...
			p.Submit(context.Background(), func() { runtime.Goexit() }) // ...as a task arrives
			time.Sleep(10 * time.Second)                                // far more than twice the idle timeout
			synctest.Wait()
			w := p.Stats().Workers
			stop(t, p)
			if w != 0 {
				t.Fatalf("round %d: %d worker(s) still alive 10 idle timeouts after the last task; want 0", i, w)
			}
		})
	}
}

// TestFreshFixedPoolAcceptsTrySubmit: New "starts its minimum number of workers", and
// TrySubmit returns ErrFull only "when every worker is busy and the queue is full": a fixed
// pool with no queue, just made, has two idle workers and must accept a task.
func TestFreshFixedPoolAcceptsTrySubmit(t *testing.T) {
	for range 20 {
		p := pool.New(pool.WithWorkers(2), pool.WithMinWorkers(2), pool.WithQueueSize(0))
		err := p.TrySubmit(func() {})
		st := p.Stats()
		stop(t, p)
		if err != nil {
			t.Fatalf("TrySubmit on a new pool with 2 idle workers: %v (Stats right after: %+v)", err, st)
		}
	}
}

// TestStopErrorCountsOnlyBusyWorkers: a Stop whose context is already done, on a pool where
// no task runs and none is queued, must not report the idle workers it has just woken as
// running.
func TestStopErrorCountsOnlyBusyWorkers(t *testing.T) {
	for range 50 {
		p := pool.New(pool.WithWorkers(2), pool.WithMinWorkers(2))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := p.Stop(ctx)
		stop(t, p)
		var se *pool.StopError
		if errors.As(err, &se) && se.Running != 0 {
			t.Fatalf("Stop of an idle pool: %v; no task was running", err)
		}
	}
}
