package future_test

import (
	"testing"

	"github.com/eddyio/eddy/future"
)

// TestPendingDoneAllocatesOnlyTheChannel: a promise whose Done channel is asked for while it is
// pending costs its state and the channel, nothing more. The channel was kept behind an
// atomic.Pointer[chan struct{}], which put the channel variable on the heap too: a third
// allocation on every await of a pending future (a synchronous http1 RoundTrip, future.Go's
// Await, pool.Go's).
func TestPendingDoneAllocatesOnlyTheChannel(t *testing.T) {
	ctx := t.Context()
	allocs := testing.AllocsPerRun(200, func() {
		p := future.NewPromise[int]()
		f := p.Future()
		done := f.Done()
		p.Resolve(7)
		<-done
		if v, err := f.Await(ctx); v != 7 || err != nil {
			t.Fatalf("Await = %d, %v; want 7, nil", v, err)
		}
		<-f.Done() // complete: a closed channel, shared
	})
	if allocs != 2 {
		t.Fatalf("%v allocations per pending promise awaited through Done; want 2 (its state and the channel)", allocs)
	}
}

// TestAwaitPendingAcrossGoroutinesAllocatesOnlyTheChannel is the same for a future awaited while
// pending and resolved by another goroutine: Await makes the channel itself.
func TestAwaitPendingAcrossGoroutinesAllocatesOnlyTheChannel(t *testing.T) {
	ctx := t.Context()
	promises := make(chan future.Promise[int])
	defer close(promises)
	go func() {
		for p := range promises {
			p.Resolve(1)
		}
	}()
	allocs := testing.AllocsPerRun(200, func() {
		p := future.NewPromise[int]()
		f := p.Future()
		f.Done() // pending: the resolver waits on the unbuffered send below
		promises <- p
		if v, err := f.Await(ctx); v != 1 || err != nil {
			t.Fatalf("Await = %d, %v; want 1, nil", v, err)
		}
	})
	if allocs != 2 {
		t.Fatalf("%v allocations per promise awaited while pending; want 2 (its state and the channel)", allocs)
	}
}
