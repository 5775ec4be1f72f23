package pool_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/pool"
)

func ExampleNew() {
	p := pool.New(pool.WithWorkers(4), pool.WithQueueSize(64))
	defer p.Stop(context.Background())

	var sum atomic.Int64
	var wg sync.WaitGroup
	for i := 1; i <= 100; i++ {
		wg.Add(1)
		p.Submit(context.Background(), func() {
			defer wg.Done()
			sum.Add(int64(i))
		})
	}
	wg.Wait()
	fmt.Println(sum.Load())
	// Output: 5050
}

func ExamplePool_Submit() {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	defer p.Stop(context.Background())

	hold := make(chan struct{})
	p.Submit(context.Background(), func() { <-hold }) // the only worker is busy now

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	err := p.Submit(ctx, func() {}) // waits for room until ctx ends
	fmt.Println(err)
	close(hold)
	// Output: context deadline exceeded
}

func ExamplePool_TrySubmit() {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(0))
	defer p.Stop(context.Background())

	hold := make(chan struct{})
	p.Submit(context.Background(), func() { <-hold })
	err := p.TrySubmit(func() {})
	fmt.Println(errors.Is(err, pool.ErrFull))
	close(hold)
	// Output: true
}

func ExamplePool_Execute() {
	p := pool.New()
	defer p.Stop(context.Background())

	// The pool as a future.Executor: the hash is computed on a worker.
	data := future.Ready([]byte("hello"))
	sum := future.Map(data, p, func(b []byte) (string, error) {
		return fmt.Sprintf("%x", sha256.Sum256(b))[:16], nil
	})
	fmt.Println(sum.Await(context.Background()))
	// Output: 2cf24dba5fb0a30e <nil>
}

func ExamplePool_Stop() {
	p := pool.New(pool.WithWorkers(1))
	var ran atomic.Int64
	for range 10 {
		p.Submit(context.Background(), func() { ran.Add(1) })
	}
	err := p.Stop(context.Background()) // runs the 10 tasks, then returns
	fmt.Println(err, ran.Load())
	fmt.Println(p.Submit(context.Background(), func() {}))
	// Output:
	// <nil> 10
	// pool: stopped
}

func ExamplePool_Stats() {
	p := pool.New(pool.WithWorkers(2), pool.WithMinWorkers(2))
	for range 5 {
		p.Submit(context.Background(), func() {})
	}
	p.Stop(context.Background())
	st := p.Stats()
	fmt.Println(st.Completed, st.Workers, st.Queued)
	// Output: 5 0 0
}

func ExampleGo() {
	p := pool.New()
	defer p.Stop(context.Background())

	ctx := context.Background()
	squares := make([]future.Future[int], 5)
	for i := range squares {
		squares[i] = pool.Go(p, ctx, func(context.Context) (int, error) { return i * i, nil })
	}
	fmt.Println(future.All(squares...).Await(ctx))
	// Output: [0 1 4 9 16] <nil>
}

func ExampleWithWorkers() {
	p := pool.New(pool.WithWorkers(3), pool.WithMinWorkers(3))
	fmt.Println(p.Stats().Workers)
	p.Stop(context.Background())
	// Output: 3
}

func ExampleWithMinWorkers() {
	p := pool.New(pool.WithWorkers(8), pool.WithMinWorkers(2))
	fmt.Println(p.Stats().Workers) // the minimum is started at once, the rest on demand
	p.Stop(context.Background())
	// Output: 2
}

func ExampleWithIdleTimeout() {
	// Workers above the minimum exit after a minute without work; zero keeps them.
	p := pool.New(pool.WithWorkers(16), pool.WithIdleTimeout(time.Minute))
	fmt.Println(p.Stats().Workers)
	p.Stop(context.Background())
	// Output: 0
}

func ExampleWithQueueSize() {
	p := pool.New(pool.WithWorkers(1), pool.WithQueueSize(2))
	hold := make(chan struct{})
	started := make(chan struct{})
	p.Submit(context.Background(), func() { close(started); <-hold })
	<-started // the worker is busy: two tasks fit in the queue, the third does not
	for range 3 {
		fmt.Println(p.TrySubmit(func() {}))
	}
	close(hold)
	p.Stop(context.Background())
	// Output:
	// <nil>
	// <nil>
	// pool: full
}

func ExampleWithPanicHandler() {
	reported := make(chan any, 1)
	p := pool.New(pool.WithPanicHandler(func(v any, stack []byte) { reported <- v }))
	p.Submit(context.Background(), func() { panic("disk on fire") })
	fmt.Println(<-reported)
	p.Stop(context.Background())
	// Output: disk on fire
}

func ExampleStopError() {
	p := pool.New(pool.WithWorkers(1))
	hold := make(chan struct{})
	started := make(chan struct{})
	p.Submit(context.Background(), func() { close(started); <-hold })
	<-started
	p.Submit(context.Background(), func() {})
	p.Submit(context.Background(), func() {})

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no time to drain
	err := p.Stop(ctx)
	var se *pool.StopError
	if errors.As(err, &se) {
		fmt.Println(se.Dropped, se.Running)
	}
	fmt.Println(err)
	close(hold)
	p.Stop(context.Background())
	// Output:
	// 2 1
	// pool: stop abandoned: dropped 2 queued tasks, 1 still running: context canceled
}

func ExampleStopError_Unwrap() {
	err := &pool.StopError{Dropped: 3, Err: context.DeadlineExceeded}
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output: true
}
