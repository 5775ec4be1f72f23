package future_test

import (
	"errors"
	"runtime"
	"testing"

	"github.com/eddyio/eddy/future"
)

// stackDepth returns how many frames the calling goroutine's stack holds.
func stackDepth() int {
	pcs := make([]uintptr, 1<<20)
	return runtime.Callers(0, pcs)
}

// TestDeepChainsCompleteWithoutRecursion completes chains of 10,000 futures, each forwarding
// the outcome of the one before, and measures the stack where a continuation of the last one
// runs: forwarding an outcome is a loop, not a call per future. It was 5 frames per future, so
// that a loop of millions of steps written as recursion through Then died of a stack overflow
// when its last step completed.
func TestDeepChainsCompleteWithoutRecursion(t *testing.T) {
	const levels = 10000
	errChain := errors.New("chain")
	chains := []struct {
		name string
		// build returns the last future of a chain that completes once root does.
		build func(root future.Future[int]) future.Future[int]
		fail  bool
	}{
		{"Then", func(root future.Future[int]) future.Future[int] { return thenLoop(levels, root) }, false},
		{"Then failing", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Then(f, nil, func(v int) future.Future[int] { return future.Ready(v) })
			}
			return f
		}, true},
		{"Then succeeding", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Then(f, nil, func(v int) future.Future[int] { return future.Ready(v + 1) })
			}
			return f
		}, false},
		{"Map succeeding", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Map(f, nil, func(v int) (int, error) { return v + 1, nil })
			}
			return f
		}, false},
		{"Catch failing", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Catch(f, nil, func(err error) (int, error) { return 0, err })
			}
			return f
		}, true},
		{"Map failing", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Map(f, nil, func(v int) (int, error) { return v + 1, nil })
			}
			return f
		}, true},
		{"Catch succeeding", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Catch(f, nil, func(err error) (int, error) { return 0, err })
			}
			return f
		}, false},
		{"Handle succeeding", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Handle(f, nil, func(v int, err error) (int, error) { return v + 1, err })
			}
			return f
		}, false},
		{"Handle failing", func(root future.Future[int]) future.Future[int] {
			f := root
			for range levels {
				f = future.Handle(f, nil, func(v int, err error) (int, error) { return v, err })
			}
			return f
		}, true},
	}
	for _, c := range chains {
		t.Run(c.name, func(t *testing.T) {
			root := future.NewPromise[int]()
			last := c.build(root.Future())
			depth := -1
			future.Map(last, nil, func(int) (int, error) { depth = stackDepth(); return 0, nil })
			future.Catch(last, nil, func(error) (int, error) { depth = stackDepth(); return 0, nil })
			base := stackDepth()
			if c.fail {
				root.Reject(errChain)
			} else {
				root.Resolve(1)
			}
			if v, err := last.Result(); err != nil != c.fail {
				t.Fatalf("the chain ended with %v, %v", v, err)
			}
			if depth < 0 {
				t.Fatal("the continuation of the last future did not run")
			}
			if depth-base > 100 {
				t.Fatalf("the continuation of the last future ran %d frames deeper than the completion of the first, in a chain of %d", depth-base, levels)
			}
		})
	}
}

// thenLoop is an asynchronous loop of n steps written as recursion through Then: each step's future
// follows the next step's, the last step's follows end, and all of them complete when end does.
func thenLoop(n int, end future.Future[int]) future.Future[int] {
	steps := make([]future.Promise[int], n)
	for i := range steps {
		steps[i] = future.NewPromise[int]()
	}
	var loop func(i int) future.Future[int]
	loop = func(i int) future.Future[int] {
		return future.Then(steps[i].Future(), nil, func(int) future.Future[int] {
			if i == n-1 {
				return end
			}
			return loop(i + 1)
		})
	}
	f := loop(0)
	for i := range steps {
		steps[i].Resolve(i) // runs step i, which starts step i+1
	}
	return f
}
