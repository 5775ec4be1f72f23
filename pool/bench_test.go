package pool_test

import (
	"context"
	"runtime"
	"sync"
	"testing"

	"github.com/eddyio/eddy/pool"
)

// batch is the number of tiny tasks run by one operation of the *1M benchmarks.
const batch = 1_000_000

// runBatch submits batch tiny tasks with submit and waits for all of them. The task is one
// closure made once, so that only the cost of submitting and running it is measured.
func runBatch(b *testing.B, submit func(func()) error) {
	var wg sync.WaitGroup
	task := wg.Done
	for b.Loop() {
		wg.Add(batch)
		for range batch {
			if err := submit(task); err != nil {
				b.Fatal(err)
			}
		}
		wg.Wait()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/task")
}

func BenchmarkSubmit1MFixed(b *testing.B) {
	n := runtime.GOMAXPROCS(0)
	p := pool.New(pool.WithWorkers(n), pool.WithMinWorkers(n))
	defer p.Stop(context.Background())
	ctx := context.Background()
	runBatch(b, func(fn func()) error { return p.Submit(ctx, fn) })
}

func BenchmarkSubmit1MElastic(b *testing.B) {
	p := pool.New()
	defer p.Stop(context.Background())
	ctx := context.Background()
	runBatch(b, func(fn func()) error { return p.Submit(ctx, fn) })
}

func BenchmarkSubmit1M1000Workers(b *testing.B) {
	p := pool.New(pool.WithWorkers(1000))
	defer p.Stop(context.Background())
	ctx := context.Background()
	runBatch(b, func(fn func()) error { return p.Submit(ctx, fn) })
}

// BenchmarkGoroutines1M is the baseline: one goroutine per task.
func BenchmarkGoroutines1M(b *testing.B) {
	runBatch(b, func(fn func()) error {
		go fn()
		return nil
	})
}

// BenchmarkTrySubmit measures one TrySubmit per operation into a fixed pool, retrying when full.
func BenchmarkTrySubmit(b *testing.B) {
	n := runtime.GOMAXPROCS(0)
	p := pool.New(pool.WithWorkers(n), pool.WithMinWorkers(n))
	defer p.Stop(context.Background())
	var wg sync.WaitGroup
	task := wg.Done
	for b.Loop() {
		wg.Add(1)
		for p.TrySubmit(task) != nil {
			runtime.Gosched()
		}
	}
	wg.Wait()
}

// BenchmarkSubmitParallel submits from GOMAXPROCS goroutines at once.
func BenchmarkSubmitParallel(b *testing.B) {
	p := pool.New()
	defer p.Stop(context.Background())
	ctx := context.Background()
	var wg sync.WaitGroup
	task := wg.Done
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			wg.Add(1)
			if err := p.Submit(ctx, task); err != nil {
				b.Fatal(err)
			}
		}
	})
	wg.Wait()
}

// BenchmarkGo runs a trivial function through Go and awaits its future.
func BenchmarkGo(b *testing.B) {
	p := pool.New(pool.WithWorkers(2))
	defer p.Stop(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pool.Go(p, ctx, func(context.Context) (int, error) { return 1, nil }).Await(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
