package future_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy/future"
)

func ExampleNewPromise() {
	p := future.NewPromise[string]()
	go p.Resolve("hello")
	v, err := p.Future().Await(context.Background())
	fmt.Println(v, err)
	// Output: hello <nil>
}

func ExampleNewPromiseContext() {
	p, ctx := future.NewPromiseContext[int](context.Background())
	go func() {
		<-ctx.Done() // the producer stops when the future is cancelled
		p.Reject(ctx.Err())
	}()
	p.Future().Cancel()
	_, err := p.Future().Await(context.Background())
	fmt.Println(err)
	// Output: context canceled
}

// A producer that keeps its own record of a cancellation: Cancel calls the function (here on the
// caller's goroutine, so it only marks the job; a real one would also stop it), and the producer
// rejects the promise when it sees the mark.
func ExampleNewPromiseFunc() {
	var stopped atomic.Bool
	p := future.NewPromiseFunc[int](func() { stopped.Store(true) })
	f := p.Future()
	f.Cancel()
	if stopped.Load() {
		p.Reject(context.Canceled)
	} else {
		p.Resolve(42)
	}
	_, err := f.Await(context.Background())
	fmt.Println(err)
	// Output: context canceled
}

func ExamplePromise_Resolve() {
	p := future.NewPromise[int]()
	fmt.Println(p.Resolve(1), p.Resolve(2))
	fmt.Println(p.Future().Result())
	// Output:
	// true false
	// 1 <nil>
}

func ExamplePromise_Reject() {
	p := future.NewPromise[int]()
	p.Reject(os.ErrNotExist)
	_, err := p.Future().Result()
	fmt.Println(errors.Is(err, os.ErrNotExist))
	// Output: true
}

func ExamplePromise_Complete() {
	p := future.NewPromise[int]()
	p.Complete(len("four"), nil)
	fmt.Println(p.Future().Result())
	// Output: 4 <nil>
}

func ExamplePromise_Run() {
	p := future.NewPromise[int]()
	p.Run(context.Background(), func(context.Context) (int, error) {
		panic("out of cheese")
	})
	_, err := p.Future().Result()
	fmt.Println(err)
	// Output: future: panic: out of cheese
}

func ExamplePromise_Future() {
	p := future.NewPromise[int]()
	f := p.Future()
	fmt.Println(f.Resolved())
	p.Resolve(3)
	fmt.Println(f.Resolved())
	// Output:
	// false
	// true
}

func ExampleFuture_Await() {
	f := future.Go(context.Background(), func(context.Context) (int, error) {
		return 6 * 7, nil
	})
	v, err := f.Await(context.Background())
	fmt.Println(v, err)
	// Output: 42 <nil>
}

func ExampleFuture_Result() {
	p := future.NewPromise[int]()
	_, err := p.Future().Result()
	fmt.Println(err)
	p.Resolve(5)
	fmt.Println(p.Future().Result())
	// Output:
	// future: not complete
	// 5 <nil>
}

func ExampleFuture_Resolved() {
	fmt.Println(future.Ready(1).Resolved(), future.NewPromise[int]().Future().Resolved())
	// Output: true false
}

func ExampleFuture_Done() {
	p := future.NewPromise[string]()
	go p.Resolve("ready")
	select {
	case <-p.Future().Done():
		fmt.Println(p.Future().Result())
	case <-time.After(time.Minute):
		fmt.Println("too slow")
	}
	// Output: ready <nil>
}

func ExampleFuture_Cancel() {
	f := future.Go(context.Background(), func(ctx context.Context) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	f.Cancel()
	_, err := f.Await(context.Background())
	fmt.Println(err)
	// Output: context canceled
}

func ExampleReady() {
	fmt.Println(future.Ready("cached").Result())
	// Output: cached <nil>
}

func ExampleFailed() {
	_, err := future.Failed[int](os.ErrPermission).Result()
	fmt.Println(err)
	// Output: permission denied
}

func ExampleGo() {
	ctx := context.Background()
	words := []string{"alpha", "beta", "gamma"}
	fs := make([]future.Future[string], len(words))
	for i, w := range words {
		fs[i] = future.Go(ctx, func(context.Context) (string, error) {
			return strings.ToUpper(w), nil
		})
	}
	got, err := future.All(fs...).Await(ctx)
	fmt.Println(got, err)
	// Output: [ALPHA BETA GAMMA] <nil>
}

func ExampleGoOn() {
	// A one-goroutine "loop": every function given to it runs there, in order.
	tasks := make(chan func())
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for fn := range tasks {
			fn()
		}
	}()
	loop := future.ExecutorFunc(func(fn func()) { tasks <- fn })

	f := future.GoOn(context.Background(), loop, func(context.Context) (string, error) {
		return "ran on the loop", nil
	})
	fmt.Println(f.Await(context.Background()))
	close(tasks)
	<-loopDone
	// Output: ran on the loop <nil>
}

func ExampleMap() {
	size := future.Map(future.Ready("hello"), future.Inline, func(s string) (int, error) {
		return len(s), nil
	})
	fmt.Println(size.Result())
	// Output: 5 <nil>
}

func ExampleThen() {
	lookup := func(id int) future.Future[string] {
		return future.Ready(fmt.Sprintf("user-%d", id))
	}
	name := future.Then(future.Ready(7), nil, lookup)
	fmt.Println(name.Result())
	// Output: user-7 <nil>
}

func ExampleCatch() {
	f := future.Catch(future.Failed[string](os.ErrNotExist), nil, func(err error) (string, error) {
		if errors.Is(err, os.ErrNotExist) {
			return "default", nil
		}
		return "", err
	})
	fmt.Println(f.Result())
	// Output: default <nil>
}

func ExampleHandle() {
	// A reply for every outcome, in one step: Map then Catch would also catch the errors of Map's
	// own function.
	reply := func(n int, err error) (string, error) {
		if err != nil {
			return "ERR " + err.Error(), nil
		}
		return fmt.Sprintf("OK %d", n), nil
	}
	fmt.Println(future.Handle(future.Ready(3), nil, reply).Result())
	fmt.Println(future.Handle(future.Failed[int](os.ErrNotExist), nil, reply).Result())
	// Output:
	// OK 3 <nil>
	// ERR file does not exist <nil>
}

func ExampleAll() {
	_, err := future.All(future.Ready(1), future.Failed[int](os.ErrClosed), future.Ready(3)).Result()
	fmt.Println(err)
	vals, err := future.All(future.Ready(1), future.Ready(2)).Result()
	fmt.Println(vals, err)
	// Output:
	// file already closed
	// [1 2] <nil>
}

func ExampleAllSettled() {
	outs, _ := future.AllSettled(future.Ready(1), future.Failed[int](os.ErrClosed)).Result()
	for _, o := range outs {
		fmt.Println(o.Value, o.Err)
	}
	// Output:
	// 1 <nil>
	// 0 file already closed
}

func ExampleAny() {
	mirror := func(name string, ok bool) future.Future[string] {
		if !ok {
			return future.Failed[string](fmt.Errorf("%s is down", name))
		}
		return future.Ready(name)
	}
	fmt.Println(future.Any(mirror("a", false), mirror("b", true)).Result())
	_, err := future.Any(mirror("a", false), mirror("b", false)).Result()
	fmt.Println(err)
	// Output:
	// b <nil>
	// a is down
	// b is down
}

func ExampleRace() {
	slow := future.Sleep(context.Background(), time.Hour)
	fast := future.Ready(struct{}{})
	_, err := future.Race(slow, fast).Await(context.Background())
	fmt.Println(err)
	_, err = slow.Await(context.Background()) // the loser was cancelled
	fmt.Println(err)
	// Output:
	// <nil>
	// context canceled
}

func ExampleWithTimeout() {
	never := future.NewPromise[int]().Future()
	_, err := future.WithTimeout(never, 10*time.Millisecond).Await(context.Background())
	fmt.Println(err, errors.Is(err, context.DeadlineExceeded))
	// Output: future: timed out: context deadline exceeded true
}

func ExampleWithContext() {
	ctx, cancel := context.WithCancel(context.Background())
	f := future.WithContext(ctx, future.NewPromise[int]().Future())
	cancel()
	_, err := f.Await(context.Background())
	fmt.Println(err)
	// Output: context canceled
}

func ExampleSleep() {
	_, err := future.Sleep(context.Background(), time.Millisecond).Await(context.Background())
	fmt.Println(err)
	// Output: <nil>
}

func ExampleExecutorFunc() {
	var queued []func()
	deferred := future.ExecutorFunc(func(fn func()) { queued = append(queued, fn) })
	f := future.Map(future.Ready(2), deferred, func(v int) (int, error) { return v * 2, nil })
	fmt.Println(f.Resolved())
	for _, fn := range queued {
		fn()
	}
	fmt.Println(f.Result())
	// Output:
	// false
	// 4 <nil>
}

func ExampleExecutorFunc_Execute() {
	logged := future.ExecutorFunc(func(fn func()) {
		fmt.Println("running a continuation")
		fn()
	})
	logged.Execute(func() { fmt.Println("continuation") })
	// Output:
	// running a continuation
	// continuation
}

func ExamplePanicError() {
	f := future.Go(context.Background(), func(context.Context) (int, error) {
		var m map[string]int
		m["x"] = 1 // panics: assignment to entry in nil map
		return 0, nil
	})
	_, err := f.Await(context.Background())
	var pe *future.PanicError
	fmt.Println(errors.As(err, &pe), len(pe.Stack) > 0)
	// Output: true true
}

func ExamplePanicError_Error() {
	err := &future.PanicError{Value: "oops"}
	fmt.Println(err.Error())
	// Output: future: panic: oops
}

func ExamplePanicError_Unwrap() {
	err := &future.PanicError{Value: os.ErrInvalid}
	fmt.Println(errors.Is(err, os.ErrInvalid))
	// Output: true
}

// serial is an Executor that runs functions one at a time, in order, when drained:
// the shape of an event loop's task queue.
type serial struct{ queue []func() }

func (s *serial) Execute(fn func()) { s.queue = append(s.queue, fn) }

func (s *serial) drain() {
	for len(s.queue) > 0 {
		fn := s.queue[0]
		s.queue = s.queue[1:]
		fn()
	}
}

func ExampleExecutor() {
	loop := &serial{}
	p := future.NewPromise[string]()
	greeting := future.Map(p.Future(), loop, func(name string) (string, error) {
		return "hello, " + name, nil
	})
	p.Resolve("loop") // the continuation is queued on the loop, not run here
	fmt.Println(greeting.Resolved())
	loop.drain()
	fmt.Println(greeting.Result())
	// Output:
	// false
	// hello, loop <nil>
}
