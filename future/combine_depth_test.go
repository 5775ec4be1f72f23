package future_test

import (
	"errors"
	"testing"

	"github.com/eddyio/eddy/future"
)

// TestCombinatorChainsCompleteInConstantStack builds chains of 10,000 combinators, each taking
// the one before as its first input (f = Race(f, g) over and over, as a loop that races every
// step against a timeout would), completes the root and measures the stack where a continuation
// of the last one runs. A combinator that settled early (Race on any outcome, Any on a success,
// All on a failure) published its result, running its continuations a few frames deeper than its
// input's: the last continuation ran 40,010 frames deep here, 4 per level (an open item of
// doc.go). All on a success and Any on a failure already handed their continuations back to
// notify; their subtests guard that.
func TestCombinatorChainsCompleteInConstantStack(t *testing.T) {
	const levels = 10000
	errChain := errors.New("chain")
	chains := []struct {
		name string
		comb func(f, g future.Future[int]) future.Future[int]
		g    func(p future.Promise[int]) // completes, or not, the second input of every level
		fail bool
	}{
		{"Race succeeding", race2, pending, false},
		{"Race failing", race2, pending, true},
		{"Any succeeding", any2, pending, false},
		{"Any failing", any2, func(p future.Promise[int]) { p.Reject(errChain) }, true},
		{"All failing", allFirst, pending, true},
		{"All succeeding", allFirst, func(p future.Promise[int]) { p.Resolve(1) }, false},
	}
	for _, c := range chains {
		t.Run(c.name, func(t *testing.T) {
			root := future.NewPromise[int]()
			other := future.NewPromise[int]()
			c.g(other)
			last := root.Future()
			for range levels {
				last = c.comb(last, other.Future())
			}
			depth := -1
			record := func() { depth = stackDepth() }
			future.Map(last, nil, func(int) (int, error) { record(); return 0, nil })
			future.Catch(last, nil, func(error) (int, error) { record(); return 0, nil })
			base := stackDepth()
			if c.fail {
				root.Reject(errChain)
			} else {
				root.Resolve(1)
			}
			if _, err := last.Result(); err != nil != c.fail {
				t.Fatalf("the chain ended with %v", err)
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

func race2(f, g future.Future[int]) future.Future[int] { return future.Race(f, g) }

func any2(f, g future.Future[int]) future.Future[int] { return future.Any(f, g) }

// allFirst is the value of f once f and g both succeed.
func allFirst(f, g future.Future[int]) future.Future[int] {
	return future.Map(future.All(f, g), nil, func(vs []int) (int, error) { return vs[0], nil })
}

func pending(future.Promise[int]) {}
