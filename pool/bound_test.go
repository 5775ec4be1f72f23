package pool_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/pool"
)

// TestElasticNeverExceedsMaxWorkers: WithWorkers sets "the maximum number of workers,
// the tasks that can run at once". An elastic pool whose workers expire while tasks arrive
// must still never run more than that many tasks at once, nor count more workers.
func TestElasticNeverExceedsMaxWorkers(t *testing.T) {
	const max = 1
	p := pool.New(pool.WithWorkers(max), pool.WithQueueSize(4), pool.WithIdleTimeout(time.Microsecond))
	var cur, peak, peakWorkers atomic.Int64
	task := func() {
		n := cur.Add(1)
		for {
			old := peak.Load()
			if n <= old || peak.CompareAndSwap(old, n) {
				break
			}
		}
		if w := int64(p.Stats().Workers); w > peakWorkers.Load() {
			peakWorkers.Store(w)
		}
		for i := 0; i < 2000; i++ { // a little work, so that overlaps are seen
			_ = i
		}
		cur.Add(-1)
	}
	deadline := time.Now().Add(3 * time.Second)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && peak.Load() <= max; i++ {
				if err := p.Submit(context.Background(), task); err != nil {
					t.Errorf("Submit: %v", err)
					return
				}
				if i%4 == 0 {
					time.Sleep(time.Duration(i%7) * time.Microsecond) // let the worker expire
				}
			}
		})
	}
	wg.Wait()
	if err := p.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if peak.Load() > max || peakWorkers.Load() > max {
		t.Fatalf("WithWorkers(%d): %d tasks ran at once, Stats.Workers reached %d", max, peak.Load(), peakWorkers.Load())
	}
}
