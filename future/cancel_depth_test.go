package future_test

import (
	"context"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// A cancel request travels down a chain of derived futures (Then to its source and to the future
// of its step, Race, Any, All and AllSettled to their inputs) by a loop, not by a call per future:
// it went a call or two deeper per future, so that cancelling an asynchronous loop written as
// recursion through Then, or a Race chain settled by its newest input (f = Race(f, timeout) over
// and over, the timeout of the last step firing), ran as deep as the chain was long: 2.5 s and
// ~160 bytes of stack per step, a fatal "goroutine stack exceeds 1000000000-byte limit" for a loop
// of some millions of steps, which package future promises to complete in constant stack space.
// The leaf of every chain here is a Sleep, which Cancel completes on the goroutine that cancels:
// a continuation of it measures how deep the request went.
func TestCancelTravelsDeepChainsInConstantStack(t *testing.T) {
	const levels = 10000
	chains := []struct {
		name string
		// build returns a chain over leaf, and the function that sends the cancel request.
		build func(leaf future.Future[int]) (last future.Future[int], cancel func())
	}{
		{"Cancel of a Then loop", func(leaf future.Future[int]) (future.Future[int], func()) {
			f := thenLoop(levels, leaf)
			return f, f.Cancel
		}},
		{"Cancel of a Then chain", func(leaf future.Future[int]) (future.Future[int], func()) {
			f := leaf
			for range levels {
				f = future.Then(f, nil, func(v int) future.Future[int] { return future.Ready(v) })
			}
			return f, f.Cancel
		}},
		{"Race chain won by its newest input", func(leaf future.Future[int]) (future.Future[int], func()) {
			f := leaf
			var newest future.Promise[int]
			for range levels {
				newest = future.NewPromise[int]()
				f = future.Race(f, newest.Future())
			}
			return f, func() { newest.Resolve(1) }
		}},
		{"Cancel of an All chain", func(leaf future.Future[int]) (future.Future[int], func()) {
			f := leaf
			for range levels {
				f = allFirst(f, future.NewPromise[int]().Future())
			}
			return f, f.Cancel
		}},
		{"Cancel of an AllSettled chain", func(leaf future.Future[int]) (future.Future[int], func()) {
			f := leaf
			for range levels {
				f = future.Map(future.AllSettled(f), nil, func(o []future.Outcome[int]) (int, error) { return o[0].Value, o[0].Err })
			}
			return f, f.Cancel
		}},
	}
	for _, c := range chains {
		t.Run(c.name, func(t *testing.T) {
			sleep := future.Sleep(context.Background(), time.Hour)
			leaf := future.Map(sleep, nil, func(struct{}) (int, error) { return 0, nil })
			depth := -1
			future.Catch(sleep, nil, func(err error) (struct{}, error) { depth = stackDepth(); return struct{}{}, err })
			last, cancel := c.build(leaf)
			base := stackDepth()
			cancel()
			if depth < 0 {
				t.Fatal("the cancel request did not reach the Sleep at the end of the chain")
			}
			if _, err := last.Result(); err == future.ErrPending {
				t.Fatal("the chain is still pending after the request")
			}
			if depth-base > 100 {
				t.Fatalf("the request reached the end of the chain %d frames deeper than it was made, in a chain of %d", depth-base, levels)
			}
		})
	}
}
