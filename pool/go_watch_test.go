package pool_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// TestGoWatchesATaskQueuedBehindWorkersThatLookedIdle: tasks handed to parked workers that
// have not run yet leave those workers counted idle for a while. A Go task submitted right
// after them waits in the queue though every worker is taken; cancelled there, its future
// must fail at once (Go: "its future fails with the context's error"), not when a worker is
// freed. Repeated: the interleaving depends on the scheduler (before the fix, round 0 failed
// in every run).
func TestGoWatchesATaskQueuedBehindWorkersThatLookedIdle(t *testing.T) {
	const workers, rounds = 4, 100
	for round := range rounds {
		p := pool.New(pool.WithWorkers(workers), pool.WithMinWorkers(workers))
		release := make(chan struct{})
		var started sync.WaitGroup
		started.Add(workers)
		for range workers {
			if err := p.Submit(t.Context(), func() {
				started.Done()
				<-release
			}); err != nil {
				t.Fatalf("Submit: %v", err)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		f := pool.Go(p, ctx, func(context.Context) (int, error) {
			t.Error("a task whose context ended ran")
			return 0, nil
		})
		started.Wait() // every worker is held: the Go task waits in the queue
		cancel()
		err := awaitWhileBusy(f)
		close(release)
		stop(t, p)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: %v; want context.Canceled", round, err)
		}
	}
}

// TestGoWatchesQueuedTasksOfRacingSubmitters: many goroutines call Go at once on a small pool,
// fixed or elastic, whose workers then stay busy; every task left in the queue, cancelled, must
// fail while the workers are still busy, whichever submitter saw a worker idle.
func TestGoWatchesQueuedTasksOfRacingSubmitters(t *testing.T) {
	const workers, submitters, rounds = 2, 16, 20
	for _, minW := range []int{0, workers} {
		t.Run(fmt.Sprintf("min=%d", minW), func(t *testing.T) {
			for round := range rounds {
				p := pool.New(pool.WithWorkers(workers), pool.WithMinWorkers(minW))
				release := make(chan struct{})
				var running sync.WaitGroup
				running.Add(workers)
				var mu sync.Mutex
				ran := map[int]bool{}
				futures := make([]future.Future[int], submitters)
				cancels := make([]context.CancelFunc, submitters)
				var wg sync.WaitGroup
				for i := range submitters {
					ctx, cancel := context.WithCancel(t.Context())
					cancels[i] = cancel
					wg.Go(func() {
						futures[i] = pool.Go(p, ctx, func(context.Context) (int, error) {
							mu.Lock()
							ran[i] = true
							mu.Unlock()
							running.Done()
							<-release
							return i, nil
						})
					})
				}
				wg.Wait()
				running.Wait() // both workers hold a task: no other can start before release
				for _, cancel := range cancels {
					cancel()
				}
				var failed []int
				for i, f := range futures {
					mu.Lock()
					started := ran[i]
					mu.Unlock()
					if started {
						continue
					}
					if err := awaitWhileBusy(f); !errors.Is(err, context.Canceled) {
						failed = append(failed, i)
						t.Errorf("round %d: queued task %d: %v; want context.Canceled", round, i, err)
					}
				}
				close(release)
				mu.Lock()
				started := maps.Clone(ran)
				mu.Unlock()
				for i, f := range futures {
					if started[i] {
						if v, err := f.Await(t.Context()); v != i || err != nil {
							t.Errorf("round %d: running task %d: %v %v", round, i, v, err)
						}
					}
				}
				stop(t, p)
				if len(failed) > 0 {
					t.FailNow()
				}
			}
		})
	}
}

// errStillPending is what awaitWhileBusy returns for a future that did not fail in time.
var errStillPending = errors.New("the future of a cancelled queued task is still pending with every worker busy")

// awaitWhileBusy waits, generously, for the future of a cancelled queued task, before the
// caller frees the workers.
func awaitWhileBusy(f future.Future[int]) error {
	select {
	case <-f.Done():
		_, err := f.Await(context.Background())
		return err
	case <-time.After(10 * time.Second):
		return errStillPending
	}
}
