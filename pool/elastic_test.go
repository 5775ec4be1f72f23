package pool_test

import (
	"context"
	"errors"
	"io"
	"log"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// captureLog sends the standard logger's output to w until restore is called.
func captureLog(w io.Writer) (restore func()) {
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(w)
	log.SetFlags(0)
	return func() {
		log.SetOutput(out)
		log.SetFlags(flags)
	}
}

// The elastic tests run in a synctest bubble: idle time is simulated, never waited for.

func TestIdleWorkersExpireDownToTheMinimum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(4), pool.WithMinWorkers(1), pool.WithIdleTimeout(time.Second))
		release := occupy(t, p, 4)
		if w := p.Stats().Workers; w != 4 {
			t.Fatalf("Workers = %d under load; want 4", w)
		}
		close(release)
		time.Sleep(2 * time.Second) // at most twice the idle timeout
		synctest.Wait()
		if st := p.Stats(); st.Workers != 1 || st.Idle != 1 {
			t.Fatalf("Stats after idling = %+v; want 1 idle worker", st)
		}
		// The pool grows again on demand.
		release = occupy(t, p, 4)
		close(release)
		stop(t, p)
	})
}

func TestBusyWorkersDoNotExpire(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(1), pool.WithIdleTimeout(time.Second))
		for range 10 {
			done := make(chan struct{})
			p.Submit(t.Context(), func() { close(done) })
			<-done
			time.Sleep(time.Second / 2)
			synctest.Wait()
			if w := p.Stats().Workers; w != 1 {
				t.Fatalf("a worker used every half timeout expired: Workers = %d", w)
			}
		}
		stop(t, p)
	})
}

func TestElasticPoolWithoutMinimumHoldsNoGoroutineWhenIdle(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(2), pool.WithIdleTimeout(time.Second))
		if w := p.Stats().Workers; w != 0 {
			t.Fatalf("Workers = %d before any task; want 0", w)
		}
		release := occupy(t, p, 2)
		close(release)
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if w := p.Stats().Workers; w != 0 {
			t.Fatalf("Workers = %d after idling; want 0", w)
		}
		// A task submitted now starts a worker again.
		done := make(chan struct{})
		p.Submit(t.Context(), func() { close(done) })
		<-done
		stop(t, p)
	})
}

// TestSubmitRacesWorkerExpiry submits tasks exactly when idle workers expire: no task may be
// left in the queue without a worker.
func TestSubmitRacesWorkerExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := pool.New(pool.WithWorkers(2), pool.WithIdleTimeout(time.Millisecond))
		for range 200 {
			var wg sync.WaitGroup
			wg.Add(3)
			for range 3 {
				p.Submit(t.Context(), wg.Done)
			}
			wg.Wait()
			time.Sleep(2 * time.Millisecond)
		}
		stop(t, p)
	})
}

func TestGoReturnsTheResult(t *testing.T) {
	p := pool.New()
	f := pool.Go(p, t.Context(), func(context.Context) (string, error) { return "done", nil })
	if v, err := f.Await(t.Context()); v != "done" || err != nil {
		t.Fatalf("Await = %q, %v", v, err)
	}
	stop(t, p)
}

func TestGoOnStoppedPoolFails(t *testing.T) {
	p := pool.New()
	stop(t, p)
	f := pool.Go(p, t.Context(), func(context.Context) (int, error) { return 1, nil })
	if _, err := f.Await(t.Context()); !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("err = %v; want ErrStopped", err)
	}
}

func TestGoCancelledWhileQueuedDoesNotRun(t *testing.T) {
	p := pool.New(pool.WithWorkers(1))
	release := occupy(t, p, 1)
	f := pool.Go(p, t.Context(), func(context.Context) (int, error) {
		t.Error("a cancelled task ran")
		return 0, nil
	})
	f.Cancel()
	close(release)
	if _, err := f.Await(t.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	stop(t, p)
}

// TestGoCancelledWhileQueuedFailsAtOnce: the future of a task cancelled while it waits in the
// queue fails then, not when a worker gets to it (which may be long after: here, never before
// the await), whether by Future.Cancel or by the end of the caller's context.
func TestGoCancelledWhileQueuedFailsAtOnce(t *testing.T) {
	p := pool.New(pool.WithWorkers(1))
	release := occupy(t, p, 1)
	ctx, cancel := context.WithCancel(t.Context())
	byCancel := pool.Go(p, t.Context(), func(context.Context) (int, error) {
		t.Error("a cancelled task ran")
		return 0, nil
	})
	byCtx := pool.Go(p, ctx, func(context.Context) (int, error) {
		t.Error("a task whose context ended ran")
		return 0, nil
	})
	kept := pool.Go(p, t.Context(), func(context.Context) (int, error) { return 7, nil })
	byCancel.Cancel()
	cancel()
	for name, f := range map[string]future.Future[int]{"Cancel": byCancel, "context": byCtx} {
		wait, done := context.WithTimeout(t.Context(), 10*time.Second)
		if _, err := f.Await(wait); !errors.Is(err, context.Canceled) {
			t.Errorf("%s: err = %v, with the worker still busy; want context.Canceled", name, err)
		}
		done()
	}
	close(release)
	if v, err := kept.Await(t.Context()); v != 7 || err != nil {
		t.Fatalf("the task queued behind them: %v %v", v, err)
	}
	stop(t, p)
}

func TestGoGivesUpWaitingForRoomWithItsContext(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := occupy(t, p, 1)
	ctx, cancel := context.WithCancel(t.Context())
	go cancel()
	f := pool.Go(p, ctx, func(context.Context) (int, error) { return 1, nil })
	if _, err := f.Await(t.Context()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v; want context.Canceled", err)
	}
	close(release)
	stop(t, p)
}

func TestAllOnPoolFailsFastAndCancelsTheRest(t *testing.T) {
	p := pool.New(pool.WithWorkers(3))
	ctx := t.Context()
	started := make(chan struct{}, 2)
	slow := func(ctx context.Context) (int, error) {
		started <- struct{}{}
		<-ctx.Done()
		return 0, ctx.Err()
	}
	a, b := pool.Go(p, ctx, slow), pool.Go(p, ctx, slow)
	<-started
	<-started
	bad := pool.Go(p, ctx, func(context.Context) (int, error) { return 0, io.ErrUnexpectedEOF })
	if _, err := future.All(a, bad, b).Await(ctx); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("All err = %v", err)
	}
	stop(t, p) // returns only if a and b saw their contexts cancelled
}

func TestPoolIsAnExecutorForContinuations(t *testing.T) {
	p := pool.New(pool.WithWorkers(2))
	f := future.Map(future.Ready(20), p, func(v int) (int, error) { return v + 1, nil })
	if v, err := f.Await(t.Context()); v != 21 || err != nil {
		t.Fatalf("Await = %v, %v", v, err)
	}
	stop(t, p)
}

func TestExecuteRunsOnCallerWhenSaturated(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := occupy(t, p, 1)
	ran := false
	p.Execute(func() { ran = true })
	if !ran {
		t.Fatal("Execute on a saturated pool did not run fn before returning")
	}
	close(release)
	stop(t, p)
	p.Execute(func() { ran = false })
	if ran {
		t.Fatal("Execute on a stopped pool did not run fn before returning")
	}
	if got := p.Stats().CallerRuns; got != 2 {
		t.Fatalf("CallerRuns = %d; want 2", got)
	}
}

// TestElasticBurstsNeverStrandTasks submits bursts from several goroutines to a pool whose
// workers expire almost at once, with real timers: every task must run.
func TestElasticBurstsNeverStrandTasks(t *testing.T) {
	p := pool.New(pool.WithWorkers(3), pool.WithQueueSize(2), pool.WithIdleTimeout(time.Microsecond))
	var wg sync.WaitGroup
	var submitters sync.WaitGroup
	for range 4 {
		submitters.Go(func() {
			for range 500 {
				wg.Add(1)
				if err := p.Submit(context.Background(), wg.Done); err != nil {
					t.Errorf("Submit: %v", err)
					wg.Done()
				}
			}
		})
	}
	submitters.Wait()
	wg.Wait()
	stop(t, p)
}
