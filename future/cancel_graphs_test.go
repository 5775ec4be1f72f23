package future_test

import (
	"context"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

// TestCancelRacesRandomGraphs builds random graphs of derived futures over cancellable
// producers (promises with a context, Go, Sleep, pool.Go), sends cancel requests into them from
// several goroutines while some producers complete, then cancels every future: each must complete
// (the requests reach every producer through every combinator), with nothing left running.
func TestCancelRacesRandomGraphs(t *testing.T) {
	p := pool.New(pool.WithWorkers(2), pool.WithQueueSize(1))
	defer p.Stop(context.Background())
	execs := []future.Executor{nil, p, future.ExecutorFunc(func(fn func()) { go fn() })}
	for iter := 0; iter < 300; iter++ {
		r := rand.New(rand.NewSource(int64(iter)))
		var all []future.Future[int]
		var promises []future.Promise[int]
		var cancels []func()
		leaf := func() future.Future[int] {
			switch r.Intn(5) {
			case 0:
				pr, ctx := future.NewPromiseContext[int](context.Background())
				promises = append(promises, pr)
				go func() { <-ctx.Done(); pr.Reject(ctx.Err()) }()
				return pr.Future()
			case 1:
				d := time.Duration(r.Intn(200)) * time.Microsecond
				return future.Go(context.Background(), func(ctx context.Context) (int, error) {
					select {
					case <-time.After(d):
						return 1, nil
					case <-ctx.Done():
						return 0, ctx.Err()
					}
				})
			case 2:
				d := time.Duration(r.Intn(200)) * time.Microsecond
				return future.Map(future.Sleep(context.Background(), d), nil, func(struct{}) (int, error) { return 2, nil })
			case 3:
				return pool.Go(p, context.Background(), func(ctx context.Context) (int, error) { return 3, nil })
			default:
				return future.Ready(4)
			}
		}
		for i := 0; i < 5; i++ {
			all = append(all, leaf())
		}
		for i := 0; i < 15; i++ {
			pick := func() future.Future[int] { return all[r.Intn(len(all))] }
			ex := execs[r.Intn(len(execs))]
			var f future.Future[int]
			switch r.Intn(10) {
			case 0:
				f = future.Map(pick(), ex, func(v int) (int, error) { return v + 1, nil })
			case 1:
				g := pick()
				f = future.Then(pick(), ex, func(int) future.Future[int] { return g })
			case 2:
				f = future.Catch(pick(), ex, func(error) (int, error) { return 7, nil })
			case 3:
				f = future.Handle(pick(), ex, func(v int, err error) (int, error) { return v, err })
			case 4:
				f = future.Map(future.All(pick(), pick(), pick()), nil, func(v []int) (int, error) { return len(v), nil })
			case 5:
				f = future.Any(pick(), pick())
			case 6:
				f = future.Race(pick(), pick())
			case 7:
				f = future.WithTimeout(pick(), time.Duration(r.Intn(300))*time.Microsecond)
			case 8:
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.Intn(300))*time.Microsecond)
				cancels = append(cancels, cancel)
				f = future.WithContext(ctx, pick())
			case 9:
				f = future.Map(future.AllSettled(pick(), pick()), nil, func(v []future.Outcome[int]) (int, error) { return len(v), nil })
			}
			all = append(all, f)
		}
		var wg sync.WaitGroup
		for i := 0; i < 3; i++ {
			f := all[r.Intn(len(all))]
			wg.Add(1)
			go func() { defer wg.Done(); f.Cancel() }()
		}
		for _, pr := range promises {
			if r.Intn(2) == 0 {
				wg.Add(1)
				go func() { defer wg.Done(); pr.Resolve(9) }()
			}
		}
		wg.Wait()
		// Cancel everything: every producer then ends, and every future completes.
		for _, f := range all {
			f.Cancel()
		}
		for i, f := range all {
			ctx, c := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := f.Await(ctx)
			c()
			if err == context.DeadlineExceeded && !f.Resolved() {
				t.Fatalf("iteration %d: future %d still pending after every future was cancelled", iter, i)
			}
		}
		for _, c := range cancels {
			c()
		}
	}
}
