package pool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// TestAbandonedStopRunsExecutedContinuation: Execute "never waits and never loses fn",
// and future.Executor requires Execute to "eventually call fn exactly once": a Stop whose
// context ends must not drop a continuation that Execute queued.
func TestAbandonedStopRunsExecutedContinuation(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(4))
	release := occupy(t, p, 1)
	src := future.NewPromise[int]()
	mapped := future.Map(src.Future(), p, func(v int) (int, error) { return v + 1, nil })
	src.Resolve(1) // Execute queues the continuation behind the busy worker

	abandonStop(t, p, release)

	wait, cancelWait := context.WithTimeout(context.Background(), time.Second)
	defer cancelWait()
	if v, err := mapped.Await(wait); err != nil || v != 2 {
		t.Fatalf("the continuation handed to Execute before an abandoned Stop: got %v, %v; want 2, nil", v, err)
	}
}

// TestAbandonedStopFailsQueuedGoFuture: the future of a pool.Go task that an abandoned Stop
// drops must fail with ErrStopped, not stay pending (and keep its context) forever.
func TestAbandonedStopFailsQueuedGoFuture(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(4))
	release := occupy(t, p, 1)
	f := pool.Go(p, context.Background(), func(context.Context) (int, error) { return 1, nil })

	abandonStop(t, p, release)

	wait, cancelWait := context.WithTimeout(context.Background(), time.Second)
	defer cancelWait()
	if _, err := f.Await(wait); !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("pool.Go future whose task an abandoned Stop dropped: %v; want ErrStopped", err)
	}
}

// abandonStop makes a Stop that gives up at once (its context is done) and so abandons the queue,
// then releases the tasks that occupy the workers (occupy) and stops the pool for good.
func abandonStop(t *testing.T, p *pool.Pool, release chan struct{}) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Stop(ctx)
	close(release)
	stop(t, p)
}
