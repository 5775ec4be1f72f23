package pool_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/pool"
)

// stop stops p and fails the test if it does not drain.
func stop(t *testing.T, p *pool.Pool) {
	t.Helper()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// occupy submits n tasks that hold their workers until release is closed, and returns once
// all n are running.
func occupy(t *testing.T, p *pool.Pool, n int) (release chan struct{}) {
	t.Helper()
	release = make(chan struct{})
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		if err := p.Submit(t.Context(), func() {
			started.Done()
			<-release
		}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	started.Wait()
	return release
}

func TestSubmitRunsTasks(t *testing.T) {
	p := pool.New(pool.WithWorkers(4))
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range 1000 {
		wg.Add(1)
		if err := p.Submit(t.Context(), func() { ran.Add(1); wg.Done() }); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	stop(t, p)
	if ran.Load() != 1000 || p.Stats().Completed != 1000 {
		t.Fatalf("ran %d, Completed %d; want 1000", ran.Load(), p.Stats().Completed)
	}
}

func TestTrySubmitFailsFastWhenFull(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(1))
	release := occupy(t, p, 1)
	if err := p.TrySubmit(func() {}); err != nil {
		t.Fatalf("TrySubmit into the free queue slot: %v", err)
	}
	if err := p.TrySubmit(func() {}); !errors.Is(err, pool.ErrFull) {
		t.Fatalf("TrySubmit err = %v; want ErrFull", err)
	}
	st := p.Stats()
	if st.Rejected != 1 || st.Queued != 1 || st.Workers != 1 || st.Running != 1 {
		t.Fatalf("Stats = %+v", st)
	}
	close(release)
	stop(t, p)
}

func TestSubmitWaitsForRoomUntilContextEnds(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := occupy(t, p, 1)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error)
	go func() { errc <- p.Submit(ctx, func() {}) }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit err = %v; want context.Canceled", err)
	}
	close(release)
	stop(t, p)
	if p.Stats().Rejected != 1 {
		t.Fatalf("Rejected = %d; want 1", p.Stats().Rejected)
	}
}

func TestSubmitWaitsForRoomAndGetsIt(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := occupy(t, p, 1)
	ran := make(chan struct{})
	errc := make(chan error)
	go func() { errc <- p.Submit(t.Context(), func() { close(ran) }) }()
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("Submit: %v", err)
	}
	<-ran
	stop(t, p)
}

func TestQueueSizeZeroHandsOffToAnIdleWorker(t *testing.T) {
	p := pool.New(pool.WithWorkers(2), pool.WithMinWorkers(2), pool.WithQueueSize(0))
	release := occupy(t, p, 2)
	if err := p.TrySubmit(func() {}); !errors.Is(err, pool.ErrFull) {
		t.Fatalf("TrySubmit with no free worker: %v; want ErrFull", err)
	}
	close(release)
	stop(t, p)
}

func TestSubmitAfterStopFails(t *testing.T) {
	p := pool.New()
	stop(t, p)
	if err := p.Submit(t.Context(), func() {}); !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("Submit err = %v; want ErrStopped", err)
	}
	if err := p.TrySubmit(func() {}); !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("TrySubmit err = %v; want ErrStopped", err)
	}
	if got := p.Stats().Rejected; got != 2 {
		t.Fatalf("Rejected = %d; want 2", got)
	}
}

func TestStopDrainsTheQueue(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(100))
	release := occupy(t, p, 1)
	var ran atomic.Int64
	for range 100 {
		if err := p.TrySubmit(func() { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	errc := make(chan error)
	go func() { errc <- p.Stop(context.Background()) }()
	close(release)
	if err := <-errc; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if ran.Load() != 100 {
		t.Fatalf("%d queued tasks ran; want 100", ran.Load())
	}
	if st := p.Stats(); st.Workers != 0 || st.Completed != 101 {
		t.Fatalf("Stats after Stop = %+v", st)
	}
}

func TestStopReleasesWaitingSubmitters(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	release := occupy(t, p, 1)
	errc := make(chan error)
	go func() { errc <- p.Submit(context.Background(), func() {}) }()
	stopped := make(chan error)
	go func() { stopped <- p.Stop(context.Background()) }()
	if err := <-errc; !errors.Is(err, pool.ErrStopped) {
		t.Fatalf("waiting Submit err = %v; want ErrStopped", err)
	}
	close(release)
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

func TestStopAbandonsTheQueueWhenContextEnds(t *testing.T) {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(10))
	release := occupy(t, p, 1)
	var ran atomic.Int64
	for range 5 {
		if err := p.TrySubmit(func() { ran.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := p.Stop(ctx)
	var se *pool.StopError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) {
		t.Fatalf("Stop err = %v; want a *StopError wrapping context.Canceled", err)
	}
	if se.Dropped != 5 || se.Running != 1 {
		t.Fatalf("StopError = %+v; want 5 dropped, 1 running", se)
	}
	close(release)
	stop(t, p) // a later Stop waits for the running task
	if ran.Load() != 0 || p.Stats().Dropped != 5 {
		t.Fatalf("ran %d dropped tasks, Stats.Dropped = %d", ran.Load(), p.Stats().Dropped)
	}
}

func TestStopFromManyGoroutines(t *testing.T) {
	p := pool.New(pool.WithWorkers(2))
	release := occupy(t, p, 2)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := p.Stop(context.Background()); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	close(release)
	wg.Wait()
}

// TestSubmitRacesStop checks, under -race, that every accepted task runs exactly once and
// every refused one never runs, when submitters and Stop run at the same time.
func TestSubmitRacesStop(t *testing.T) {
	for range 20 {
		p := pool.New(pool.WithWorkers(2), pool.WithQueueSize(8))
		var accepted, ran atomic.Int64
		var wg sync.WaitGroup
		start := make(chan struct{})
		for s := range 4 {
			wg.Go(func() {
				<-start
				for i := range 200 {
					var err error
					switch (s + i) % 3 {
					case 0:
						err = p.Submit(context.Background(), func() { ran.Add(1) })
					case 1:
						err = p.TrySubmit(func() { ran.Add(1) })
					default:
						p.Execute(func() { ran.Add(1) }) // never refused
					}
					if err == nil {
						accepted.Add(1)
					} else if !errors.Is(err, pool.ErrStopped) && !errors.Is(err, pool.ErrFull) {
						t.Errorf("submit err = %v", err)
					}
				}
			})
		}
		close(start)
		if err := p.Stop(context.Background()); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		wg.Wait()
		if ran.Load() != accepted.Load() {
			t.Fatalf("%d tasks ran, %d were accepted", ran.Load(), accepted.Load())
		}
		st := p.Stats()
		if st.Completed != uint64(accepted.Load()) || st.Workers != 0 {
			t.Fatalf("Stats = %+v, accepted %d", st, accepted.Load())
		}
	}
}

func TestFixedPoolStartsItsWorkers(t *testing.T) {
	p := pool.New(pool.WithWorkers(3), pool.WithMinWorkers(3))
	if st := p.Stats(); st.Workers != 3 {
		t.Fatalf("Workers = %d; want 3", st.Workers)
	}
	stop(t, p)
}

func TestOptionsAreNormalized(t *testing.T) {
	p := pool.New(pool.WithWorkers(-1), pool.WithMinWorkers(10), pool.WithQueueSize(-5), pool.WithPanicHandler(nil))
	if st := p.Stats(); st.Workers != 1 {
		t.Fatalf("Workers = %d; want the minimum capped at 1", st.Workers)
	}
	done := make(chan struct{})
	if err := p.Submit(t.Context(), func() { close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
	stop(t, p)
}

func TestSubmitAllocatesNothing(t *testing.T) {
	p := pool.New(pool.WithWorkers(2), pool.WithMinWorkers(2), pool.WithQueueSize(1024))
	defer stop(t, p)
	var wg sync.WaitGroup
	task := func() { wg.Done() }
	ctx := t.Context()
	allocs := testing.AllocsPerRun(1000, func() {
		wg.Add(2)
		if err := p.Submit(ctx, task); err != nil {
			t.Fatal(err)
		}
		for p.TrySubmit(task) != nil {
		}
	})
	wg.Wait()
	if allocs != 0 {
		t.Fatalf("Submit and TrySubmit allocated %v times per run; want 0", allocs)
	}
}
