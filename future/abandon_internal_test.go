package future

import (
	"context"
	"errors"
	"testing"
	"time"
)

// queued counts the continuations waiting on s.
func (s *state[T]) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	head := s.subs.Load()
	if head == nil || head == sealed {
		return 0
	}
	n := 1
	for w := head.next; w != head; w = w.next {
		n++
	}
	return n
}

var errLost = errors.New("lost")

// abandonCases make a call on f, a future that stays pending, whose result completes
// without f: the timeout expires, the context ends, another input wins or fails. Each
// returns the Done channel of that result, which is complete or soon will be.
var abandonCases = []struct {
	name    string
	abandon func(f Future[int]) <-chan struct{}
}{
	{"WithTimeout", func(f Future[int]) <-chan struct{} {
		return WithTimeout(f, time.Microsecond).Done()
	}},
	{"WithContext", func(f Future[int]) <-chan struct{} {
		ctx, cancel := context.WithCancel(context.Background())
		g := WithContext(ctx, f)
		cancel()
		return g.Done()
	}},
	{"Race", func(f Future[int]) <-chan struct{} {
		q := NewPromise[int]()
		g := Race(f, q.Future())
		q.Resolve(1)
		return g.Done()
	}},
	{"Race/ready first", func(f Future[int]) <-chan struct{} {
		return Race(Ready(1), f).Done()
	}},
	{"Race/ready last", func(f Future[int]) <-chan struct{} {
		return Race(f, f, Failed[int](errLost)).Done()
	}},
	{"Race/won meanwhile", func(f Future[int]) <-chan struct{} {
		// q may complete before Race subscribes to it, while Race subscribes to f, or after.
		q := NewPromise[int]()
		go q.Resolve(1)
		return Race(q.Future(), f, f).Done()
	}},
	{"Any", func(f Future[int]) <-chan struct{} {
		q := NewPromise[int]()
		g := Any(f, Failed[int](errLost), q.Future())
		q.Resolve(1)
		return g.Done()
	}},
	{"All", func(f Future[int]) <-chan struct{} {
		q := NewPromise[int]()
		g := All(f, Ready(1), q.Future(), f)
		q.Reject(errLost)
		return g.Done()
	}},
}

// TestAbandonedCallsLeaveNoWaiters makes 10,000 calls whose results complete while their
// input stays pending, and checks that the input holds none of their continuations.
func TestAbandonedCallsLeaveNoWaiters(t *testing.T) {
	const calls = 10_000
	for _, tc := range abandonCases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPromise[int]()
			defer p.Resolve(0)
			// Make all the calls, then wait for them: the timers and the contexts of
			// the first ones fire while the last ones subscribe.
			dones := make([]<-chan struct{}, calls)
			for i := range dones {
				dones[i] = tc.abandon(p.Future())
			}
			for _, done := range dones {
				<-done
			}
			if n := p.s.queued(); n != 0 {
				t.Fatalf("%d continuations wait on the input after %d abandoned calls; want 0", n, calls)
			}
		})
	}
}
