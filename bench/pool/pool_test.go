package pool_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/panjf2000/ants/v2"

	"github.com/eddyio/eddy/pool"
)

// batch is the number of tiny tasks in one operation.
const batch = 1_000_000

// runBatch submits batch tasks with submit and waits until all have run.
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

// sizes are the worker counts compared: one per core, and many.
func sizes() []int {
	return []int{runtime.GOMAXPROCS(0), 1000}
}

func BenchmarkEddy(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := pool.New(pool.WithWorkers(n), pool.WithMinWorkers(n))
			defer p.Stop(ctx)
			runBatch(b, func(fn func()) error { return p.Submit(ctx, fn) })
		})
	}
}

func BenchmarkEddyElastic(b *testing.B) {
	ctx := context.Background()
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p := pool.New(pool.WithWorkers(n))
			defer p.Stop(ctx)
			runBatch(b, func(fn func()) error { return p.Submit(ctx, fn) })
		})
	}
}

func BenchmarkAnts(b *testing.B) {
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p, err := ants.NewPool(n)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Release()
			runBatch(b, p.Submit)
		})
	}
}

func BenchmarkAntsPreAlloc(b *testing.B) {
	for _, n := range sizes() {
		b.Run(fmt.Sprintf("workers=%d", n), func(b *testing.B) {
			p, err := ants.NewPool(n, ants.WithPreAlloc(true))
			if err != nil {
				b.Fatal(err)
			}
			defer p.Release()
			runBatch(b, p.Submit)
		})
	}
}

func BenchmarkGoroutines(b *testing.B) {
	runBatch(b, func(fn func()) error {
		go fn()
		return nil
	})
}
