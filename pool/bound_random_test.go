package pool_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// Random pools given a random mix of plain tasks, panicking ones, ones that call runtime.Goexit,
// Go tasks and Execute continuations: never more tasks run at once than the maximum, every
// submitted task runs once, panics and Goexits reach the handler (and Go's its future), Stop
// with a background context runs what was queued, submissions after it fail with ErrStopped, and
// no goroutine is left behind.
func TestPoolRandomBoundAndStop(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rapid.Check(t, func(rt *rapid.T) {
		maxW := rapid.IntRange(1, 4).Draw(rt, "max")
		var reported atomic.Int32
		p := pool.New(
			pool.WithWorkers(maxW),
			pool.WithMinWorkers(rapid.IntRange(0, maxW).Draw(rt, "min")),
			pool.WithQueueSize(rapid.IntRange(0, 4).Draw(rt, "queue")),
			pool.WithIdleTimeout(time.Duration(rapid.IntRange(0, 2).Draw(rt, "idle"))*time.Millisecond),
			pool.WithPanicHandler(func(any, []byte) { reported.Add(1) }),
		)
		var running, peak, ran atomic.Int32
		enter := func() {
			n := running.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			runtime.Gosched()
		}
		n := rapid.IntRange(1, 40).Draw(rt, "n")
		kinds := make([]int, n)
		var futs []future.Future[int]
		var futKinds []int
		wantReported := 0
		var wg sync.WaitGroup
		for i := range n {
			kinds[i] = rapid.IntRange(0, 4).Draw(rt, "kind")
			k := kinds[i]
			switch k {
			case 0, 1, 2: // plain, panic, Goexit
				if k != 0 {
					wantReported++
				}
				if err := p.Submit(context.Background(), func() {
					enter()
					ran.Add(1)
					running.Add(-1)
					switch k {
					case 1:
						panic("boom")
					case 2:
						runtime.Goexit()
					}
				}); err != nil {
					rt.Fatalf("Submit: %v", err)
				}
			case 3: // Go, which may call Goexit
				goexit := rapid.Bool().Draw(rt, "goexit")
				futKinds = append(futKinds, map[bool]int{false: 0, true: 2}[goexit])
				futs = append(futs, pool.Go(p, context.Background(), func(context.Context) (int, error) {
					enter()
					ran.Add(1)
					running.Add(-1)
					if goexit {
						runtime.Goexit()
					}
					return 1, nil
				}))
			case 4: // Execute: on a worker, or on this goroutine when saturated
				wg.Add(1)
				p.Execute(func() {
					defer wg.Done()
					ran.Add(1)
				})
			}
		}
		if err := p.Stop(context.Background()); err != nil {
			rt.Fatalf("Stop: %v", err)
		}
		wg.Wait()
		if got := ran.Load(); int(got) != n {
			rt.Fatalf("%d of %d tasks ran", got, n)
		}
		if pk := peak.Load(); int(pk) > maxW {
			rt.Fatalf("%d tasks ran at once, maximum %d", pk, maxW)
		}
		if got := reported.Load(); int(got) != wantReported {
			rt.Fatalf("panic handler called %d times, want %d", got, wantReported)
		}
		for i, f := range futs {
			v, err := f.Result()
			if futKinds[i] == 2 && !errors.Is(err, future.ErrGoexit) || futKinds[i] == 0 && (v != 1 || err != nil) {
				rt.Fatalf("Go future %d = %v, %v", i, v, err)
			}
		}
		if err := p.Submit(context.Background(), func() {}); !errors.Is(err, pool.ErrStopped) {
			rt.Fatalf("Submit after Stop: %v, want ErrStopped", err)
		}
		if err := p.TrySubmit(func() {}); !errors.Is(err, pool.ErrStopped) {
			rt.Fatalf("TrySubmit after Stop: %v, want ErrStopped", err)
		}
		if f := pool.Go(p, nil, func(context.Context) (int, error) { return 0, nil }); !errors.Is(second(f.Result()), pool.ErrStopped) {
			rt.Fatalf("Go after Stop: %v, want ErrStopped", second(f.Result()))
		}
		if st := p.Stats(); st.Workers != 0 || st.Queued != 0 {
			rt.Fatalf("after Stop: %+v", st)
		}
	})
}

func second[T any](_ T, err error) error { return err }
