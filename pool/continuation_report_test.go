package pool_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// reportCounter counts the pool's panic handler calls and keeps their values.
type reportCounter struct {
	mu     sync.Mutex
	values []any
}

func (r *reportCounter) handle(v any, _ []byte) {
	r.mu.Lock()
	r.values = append(r.values, v)
	r.mu.Unlock()
}

func (r *reportCounter) get() []any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]any(nil), r.values...)
}

// continuationCases are the ways the future package hands a function to an Executor, each with a
// function that calls exit (runtime.Goexit, or a panic).
func continuationCases(exec future.Executor, exit func()) map[string]func() future.Future[int] {
	return map[string]func() future.Future[int]{
		"Map": func() future.Future[int] {
			return future.Map(future.Ready(1), exec, func(int) (int, error) { exit(); return 0, nil })
		},
		"Then": func() future.Future[int] {
			return future.Then(future.Ready(1), exec, func(int) future.Future[int] { exit(); return future.Ready(0) })
		},
		"Catch": func() future.Future[int] {
			return future.Catch(future.Failed[int](errors.New("x")), exec, func(error) (int, error) { exit(); return 0, nil })
		},
		"Handle": func() future.Future[int] {
			return future.Handle(future.Ready(1), exec, func(int, error) (int, error) { exit(); return 0, nil })
		},
		"GoOn": func() future.Future[int] {
			return future.GoOn(context.Background(), exec, func(context.Context) (int, error) { exit(); return 0, nil })
		},
		"InlineAfterPool": func() future.Future[int] {
			// The pool runs Map's function; the Inline continuation of its result runs on
			// the same worker, inside the pool's task, and exits there.
			g := future.Map(future.Ready(1), exec, func(v int) (int, error) { return v, nil })
			return future.Map(g, future.Inline, func(int) (int, error) { exit(); return 0, nil })
		},
	}
}

// runsConcurrently checks that p still has n workers: n tasks submitted to it all run at once.
func runsConcurrently(t *testing.T, p *pool.Pool, n int) {
	t.Helper()
	var started sync.WaitGroup
	started.Add(n)
	all := make(chan struct{})
	var done sync.WaitGroup
	done.Add(n)
	for range n {
		if err := p.Submit(context.Background(), func() {
			defer done.Done()
			started.Done()
			<-all
		}); err != nil {
			t.Fatalf("Submit: %v", err)
		}
	}
	go func() { started.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d tasks did not all run at once on a pool of %d workers (Stats %+v): a worker was lost", n, n, p.Stats())
	}
	done.Wait()
}

// A continuation of a future, run by a pool, that calls runtime.Goexit fails its future with
// future.ErrGoexit, and that is its one report: the pool, through which the Goexit goes on
// unwinding, neither hands it to its panic handler nor counts it in Stats.Panics (it did both:
// the Goexit was reported twice). The worker goes on in a new goroutine: the pool keeps its
// workers.
func TestGoexitInPoolContinuationIsReportedOnce(t *testing.T) {
	const workers = 2
	var rc reportCounter
	p := pool.New(pool.WithWorkers(workers), pool.WithMinWorkers(workers), pool.WithPanicHandler(rc.handle))
	for name, mk := range continuationCases(p, runtime.Goexit) {
		for range 3 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := mk().Await(ctx)
			cancel()
			if err != future.ErrGoexit {
				t.Fatalf("%s: err = %v; want future.ErrGoexit", name, err)
			}
		}
	}
	runsConcurrently(t, p, workers)
	if st := p.Stats(); st.Workers != workers {
		t.Fatalf("Workers = %d after the Goexits; want %d", st.Workers, workers)
	}
	stop(t, p) // waits for the workers, so for any report they would make
	if got := rc.get(); len(got) != 0 {
		t.Fatalf("the pool's panic handler got %d reports %v of Goexits that their futures reported already", len(got), got)
	}
	if st := p.Stats(); st.Panics != 0 {
		t.Fatalf("Stats.Panics = %d; want 0 (the Goexits are their futures')", st.Panics)
	}
}

// The same when the pool is saturated and Execute runs the continuation on its caller (the
// goroutine that completes the source future): the Goexit ends that goroutine and fails the
// future, and the pool does not report it as well.
func TestGoexitInCallerRunContinuationIsReportedOnce(t *testing.T) {
	var rc reportCounter
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0), pool.WithPanicHandler(rc.handle))
	release := occupy(t, p, 1)
	pr := future.NewPromise[int]()
	f := future.Map(pr.Future(), p, func(int) (int, error) { runtime.Goexit(); return 0, nil })
	ended := make(chan struct{})
	go func() {
		defer close(ended) // runs after the pool's deferred report, which unwinds first
		pr.Resolve(1)
	}()
	<-ended
	if _, err := f.Await(context.Background()); err != future.ErrGoexit {
		t.Fatalf("err = %v; want future.ErrGoexit", err)
	}
	close(release)
	stop(t, p)
	st := p.Stats()
	if st.CallerRuns != 1 {
		t.Fatalf("CallerRuns = %d; want 1 (the test needs the caller-runs path)", st.CallerRuns)
	}
	if got := rc.get(); len(got) != 0 || st.Panics != 0 {
		t.Fatalf("the pool reported the continuation's Goexit too: handler got %v, Stats.Panics = %d", got, st.Panics)
	}
}

// The same for a continuation queued when a Stop gives up: it runs off the pool, on a goroutine
// of its own, and its Goexit is reported on its future only.
func TestGoexitInKeptContinuationAfterAbandonedStopIsReportedOnce(t *testing.T) {
	var rc reportCounter
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(4), pool.WithPanicHandler(rc.handle))
	release := occupy(t, p, 1)
	f := future.Map(future.Ready(1), p, func(int) (int, error) { runtime.Goexit(); return 0, nil })
	abandonStop(t, p, release)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := f.Await(ctx); err != future.ErrGoexit {
		t.Fatalf("err = %v; want future.ErrGoexit", err)
	}
	// The kept continuation's goroutine counts the task before it would report it: wait for
	// both tasks (the one that occupied the worker, and the continuation) to be counted.
	var st pool.Stats
	for st = p.Stats(); st.Completed+st.Panics < 2; st = p.Stats() {
		if ctx.Err() != nil {
			t.Fatalf("Stats = %+v; want 2 tasks counted", st)
		}
		time.Sleep(time.Millisecond)
	}
	if st.Panics != 0 {
		t.Fatalf("the pool counted the kept continuation's Goexit as a panic (Stats %+v, handler %v)", st, rc.get())
	}
	if got := rc.get(); len(got) != 0 {
		t.Fatalf("the pool's panic handler got %v", got)
	}
}

// A plain task is no future's: its Goexit is still the pool's to report, once, whether it comes
// through Submit or through Execute (on a worker or on Execute's caller).
func TestGoexitInPlainTaskIsStillReported(t *testing.T) {
	var rc reportCounter
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0), pool.WithPanicHandler(rc.handle))
	if err := p.Submit(context.Background(), func() { runtime.Goexit() }); err != nil {
		t.Fatal(err)
	}
	execGoexit := func() {
		ended := make(chan struct{})
		go func() { // Execute may run it on its caller, which it ends
			defer close(ended)
			p.Execute(func() { runtime.Goexit() })
		}()
		<-ended
	}
	execGoexit() // on the worker, or on its caller if the worker is still busy
	stop(t, p)
	execGoexit() // on its caller: the pool is stopped
	got := rc.get()
	if len(got) != 3 {
		t.Fatalf("handler got %d reports %v; want 3 (one per plain task)", len(got), got)
	}
	for _, v := range got {
		if v != future.ErrGoexit {
			t.Fatalf("handler got %v; want future.ErrGoexit", v)
		}
	}
	if st := p.Stats(); st.Panics != 3 {
		t.Fatalf("Stats.Panics = %d; want 3", st.Panics)
	}
}

// A continuation that panics on a pool fails its future with a *future.PanicError, as package
// future documents, and the pool does not report the panic too: the future's guard recovered
// it.
func TestPanicInPoolContinuationIsReportedOnce(t *testing.T) {
	const workers = 2
	var rc reportCounter
	p := pool.New(pool.WithWorkers(workers), pool.WithMinWorkers(workers), pool.WithPanicHandler(rc.handle))
	for name, mk := range continuationCases(p, func() { panic("boom") }) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := mk().Await(ctx)
		cancel()
		var pe *future.PanicError
		if !errors.As(err, &pe) || pe.Value != "boom" {
			t.Fatalf("%s: err = %v; want a *future.PanicError of boom", name, err)
		}
	}
	runsConcurrently(t, p, workers)
	stop(t, p)
	if got := rc.get(); len(got) != 0 {
		t.Fatalf("the pool's panic handler got %v for panics that their futures reported", got)
	}
	if st := p.Stats(); st.Panics != 0 || st.Workers != 0 {
		t.Fatalf("Stats = %+v; want no panics, no workers left", st)
	}
}
