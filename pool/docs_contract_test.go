package pool_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyio/eddy/pool"
)

// Session 30: a review of package pool against its documentation.

// A Submit waiting for room whose context ends returns the context's error (errors.Is), counts one
// rejection, and its function never runs, not even once room comes.
func TestSubmitContextEndsWhileFull(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(1))
	release := occupy(t, p, 1)
	if err := p.TrySubmit(func() {}); err != nil { // fills the queue
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	errc := make(chan error, 1)
	var ran atomic.Bool
	go func() { errc <- p.Submit(ctx, func() { ran.Store(true) }) }()
	cancel(errors.New("gave up"))
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit = %v; want context.Canceled", err)
	}
	// TrySubmit never waits, full or not.
	if err := p.TrySubmit(func() { ran.Store(true) }); !errors.Is(err, pool.ErrFull) {
		t.Fatalf("TrySubmit on a full pool = %v; want ErrFull", err)
	}
	close(release)
	stop(t, p)
	if ran.Load() {
		t.Fatal("a refused function ran")
	}
	if st := p.Stats(); st.Rejected != 2 || st.Completed != 2 || st.Workers != 0 || st.Idle != 0 || st.Queued != 0 {
		t.Fatalf("Stats = %+v; want 2 rejected, 2 completed, nothing left", st)
	}
}

// Stop runs what is queued before it returns nil, and refuses what comes after.
func TestStopRunsTheQueueAndRefusesLater(t *testing.T) {
	p := pool.New(pool.WithWorkers(2), pool.WithQueueSize(100))
	release := occupy(t, p, 2)
	var ran atomic.Int64
	for range 50 {
		if err := p.TrySubmit(func() { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make(chan error)
	go func() { stopped <- p.Stop(context.Background()) }()
	// Once Stop has begun, new submissions fail (TrySubmit polls for it).
	for p.TrySubmit(func() { ran.Add(1000) }) == nil {
		runtime.Gosched()
	}
	if err := p.Submit(context.Background(), func() { ran.Add(1000) }); !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("Submit during Stop = %v; want ErrStopped", err)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	// The TrySubmit calls accepted before Stop began are counted by the loop above: at least 50 ran, and
	// every accepted one (a multiple of 1000 apart) ran.
	if n := ran.Load(); n%1000 != 50 {
		t.Fatalf("ran = %d; want the 50 queued tasks (plus whole thousands accepted before Stop)", n)
	}
	var executed bool
	p.Execute(func() { executed = true }) // after Stop: on the caller, before it returns
	if !executed {
		t.Fatal("Execute after Stop did not run fn on the caller")
	}
	if st := p.Stats(); st.Workers != 0 || st.CallerRuns != 1 {
		t.Fatalf("Stats after Stop = %+v", st)
	}
}

// Idle workers shrink to the minimum after the idle timeout and grow back to the maximum under load;
// neither the minimum nor the maximum is ever crossed.
func TestShrinkAndGrow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(3), pool.WithMinWorkers(1), pool.WithIdleTimeout(time.Second))
		for round := range 3 {
			release := occupy(t, p, 3)
			if st := p.Stats(); st.Workers != 3 || st.Running != 3 {
				t.Fatalf("round %d: Stats under load = %+v; want 3 running", round, st)
			}
			if err := p.TrySubmit(func() {}); err != nil { // queued behind them
				t.Fatal(err)
			}
			close(release)
			time.Sleep(3 * time.Second)
			synctest.Wait()
			if st := p.Stats(); st.Workers != 1 || st.Idle != 1 || st.Completed != uint64(4*(round+1)) {
				t.Fatalf("round %d: Stats after idling = %+v; want 1 idle worker", round, st)
			}
		}
		stop(t, p)
	})
}

// A panicking task goes to the handler with its value, is counted, and its worker runs the next task; a
// task calling runtime.Goexit is reported with future.ErrGoexit's message. The pool stays usable.
func TestPanicAndGoexitCounts(t *testing.T) {
	var mu sync.Mutex
	var got []any
	p := pool.New(pool.WithWorkers(1), pool.WithMinWorkers(1), pool.WithPanicHandler(func(v any, stack []byte) {
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
		if len(stack) == 0 {
			t.Error("empty stack")
		}
	}))
	var wg sync.WaitGroup
	wg.Add(3)
	p.Submit(context.Background(), func() { defer wg.Done(); panic("boom") })
	p.Submit(context.Background(), func() { defer wg.Done(); runtime.Goexit() })
	p.Submit(context.Background(), func() { wg.Done() })
	wg.Wait()
	stop(t, p)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "boom" {
		t.Fatalf("handler got %v; want boom and the Goexit", got)
	}
	if err, ok := got[1].(error); !ok || err.Error() == "" {
		t.Fatalf("Goexit reported as %v", got[1])
	}
	if st := p.Stats(); st.Panics != 2 || st.Completed != 1 || st.Workers != 0 {
		t.Fatalf("Stats = %+v; want 2 panics, 1 completed, no worker left", st)
	}
}

// Options out of range are made usable, as documented: WithWorkers(0) and negative values mean one
// worker, a negative queue is no queue, a negative idle timeout keeps workers.
func TestOptionsOutOfRange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(-3), pool.WithMinWorkers(-1), pool.WithQueueSize(-5), pool.WithIdleTimeout(-1))
		done := make(chan struct{})
		if err := p.Submit(context.Background(), func() { close(done) }); err != nil {
			t.Fatal(err)
		}
		<-done
		time.Sleep(time.Hour)
		synctest.Wait()
		if st := p.Stats(); st.Workers != 1 || st.Idle != 1 {
			t.Fatalf("Stats = %+v; want the one worker kept (no idle timeout)", st)
		}
		release := occupy(t, p, 1)
		if err := p.TrySubmit(func() {}); !errors.Is(err, pool.ErrFull) {
			t.Fatalf("TrySubmit with one busy worker and no queue = %v; want ErrFull", err)
		}
		close(release)
		stop(t, p)
	})
}

// Submitters racing an abandoned Stop: every accepted task runs or is counted dropped, never both, never
// neither; no goroutine of the pool is left once the tasks running have ended.
func TestSubmitRacesAbandonedStop(t *testing.T) {
	for range 20 {
		p := pool.New(pool.WithWorkers(2), pool.WithQueueSize(16))
		var accepted, ran atomic.Int64
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 300 {
					if p.TrySubmit(func() { ran.Add(1) }) == nil {
						accepted.Add(1)
					}
				}
			})
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := p.Stop(ctx)
		wg.Wait()
		stop(t, p) // waits for the workers
		var se *pool.StopError
		if err != nil && !errors.As(err, &se) {
			t.Fatalf("Stop = %v", err)
		}
		st := p.Stats()
		if uint64(ran.Load())+st.Dropped != uint64(accepted.Load()) || st.Completed != uint64(ran.Load()) {
			t.Fatalf("accepted %d, ran %d, Stats %+v", accepted.Load(), ran.Load(), st)
		}
		if se != nil && uint64(se.Dropped) != st.Dropped {
			t.Fatalf("StopError.Dropped %d, Stats.Dropped %d", se.Dropped, st.Dropped)
		}
	}
}
