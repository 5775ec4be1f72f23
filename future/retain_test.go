package future_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// payload is a value whose collection a test watches.
type payload struct{ b [4 << 10]byte }

// watched returns a new payload and a channel that is closed once the garbage collector has
// freed it.
func watched() (*payload, <-chan struct{}) {
	v := new(payload)
	freed := make(chan struct{})
	runtime.AddCleanup(v, func(c chan struct{}) { close(c) }, freed)
	return v, freed
}

// collected reports whether freed is closed within a few collections. Cleanups run on a
// goroutine of their own after the collection that found the value unreachable: give it time.
func collected(freed <-chan struct{}) bool {
	for range 50 {
		runtime.GC()
		select {
		case <-freed:
			return true
		case <-time.After(10 * time.Millisecond):
		}
	}
	return false
}

// resolved is what a test needs of the future it holds, whatever its type.
type resolved interface{ Resolved() bool }

// thenReady is a Then step whose future is already complete.
func thenReady(*payload) future.Future[int] { return future.Ready(1) }

type ctxKey struct{}

// TestCompletedFutureReleasesItsInputs makes a derived future whose input ends up holding
// a payload, completes both, drops everything but the derived future, and checks that the
// payload is collected: a complete future must hold nothing of its inputs (Cancel, which
// reaches them, no longer has anything to do).
//
// Each case runs in a function of its own that returns only the derived future, so that no
// variable of the test keeps the payload or the input alive.
func TestCompletedFutureReleasesItsInputs(t *testing.T) {
	cases := []struct {
		name string
		make func(v *payload) resolved
	}{
		{"Then", func(v *payload) resolved {
			// Then's cancel function reaches its source, which holds v.
			p := future.NewPromise[*payload]()
			g := future.Then(p.Future(), nil, thenReady)
			p.Resolve(v)
			return g
		}},
		{"Map", func(v *payload) resolved {
			// Map shares the cancel function of its source, a Then that reaches p: only Map's
			// result is held, so it is Map's copy that must go.
			p := future.NewPromise[*payload]()
			g := future.Map(future.Then(p.Future(), nil, thenReady), nil, func(n int) (int, error) { return n, nil })
			p.Resolve(v)
			return g
		}},
		{"Catch", func(v *payload) resolved {
			p := future.NewPromise[*payload]()
			failing := func(*payload) future.Future[int] { return future.Failed[int](errBoom) }
			g := future.Catch(future.Then(p.Future(), nil, failing), nil, func(error) (int, error) { return 0, nil })
			p.Resolve(v)
			return g
		}},
		{"All", func(v *payload) resolved {
			// All fails on q; p completes later with v, which the failed All must not hold.
			p, q := future.NewPromise[*payload](), future.NewPromise[*payload]()
			g := future.All(p.Future(), q.Future())
			q.Reject(errBoom)
			p.Resolve(v)
			return g
		}},
		{"Any", func(v *payload) resolved {
			p, q := future.NewPromise[*payload](), future.NewPromise[*payload]()
			g := future.Any(p.Future(), q.Future())
			q.Resolve(nil)
			p.Resolve(v)
			return g
		}},
		{"Race", func(v *payload) resolved {
			p, q := future.NewPromise[*payload](), future.NewPromise[*payload]()
			g := future.Race(p.Future(), q.Future())
			q.Resolve(nil)
			p.Resolve(v)
			return g
		}},
		{"WithTimeout", func(v *payload) resolved {
			// WithTimeout shares the cancel function of its source, as Map does.
			p := future.NewPromise[*payload]()
			g := future.WithTimeout(future.Then(p.Future(), nil, thenReady), time.Hour)
			p.Resolve(v)
			return g
		}},
		{"WithTimeout/expired", func(v *payload) resolved {
			p := future.NewPromise[*payload]()
			g := future.WithTimeout(future.Then(p.Future(), nil, thenReady), time.Microsecond)
			<-g.Done()
			p.Resolve(v)
			return g
		}},
		{"WithContext", func(v *payload) resolved {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			p := future.NewPromise[*payload]()
			g := future.WithContext(ctx, future.Then(p.Future(), nil, thenReady))
			p.Resolve(v)
			return g
		}},
		{"Go", func(v *payload) resolved {
			// The cancel function of Go's context reaches the parent context, and its value.
			ctx := context.WithValue(context.Background(), ctxKey{}, v)
			g := future.Go(ctx, func(context.Context) (int, error) { return 1, nil })
			<-g.Done()
			return g
		}},
		{"GoOn", func(v *payload) resolved {
			ctx := context.WithValue(context.Background(), ctxKey{}, v)
			return future.GoOn(ctx, future.Inline, func(context.Context) (int, error) { return 1, nil })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			held, freed := makeHeld(tc.make)
			if !held.Resolved() {
				t.Fatal("the derived future is not complete")
			}
			if !collected(freed) {
				t.Error("the input's value is still reachable from the complete derived future")
			}
			runtime.KeepAlive(held)
		})
	}
}

// makeHeld calls mk with a watched payload and returns what it made, and the payload's channel.
//
//go:noinline
func makeHeld(mk func(v *payload) resolved) (resolved, <-chan struct{}) {
	v, freed := watched()
	return mk(v), freed
}

// TestThenLoopRetainsNothingOfCompletedSteps chains 100,000 Then steps, each complete when
// the next is made, keeping only the last future: the earlier ones must be collected. While
// each step's cancel function held its source, the chain kept all of them, about 28 MB.
func TestThenLoopRetainsNothingOfCompletedSteps(t *testing.T) {
	const steps = 100_000
	step := func(v int) future.Future[int] { return future.Ready(v + 1) }
	before := liveHeap()
	f := future.Ready(0)
	for range steps {
		f = future.Then(f, nil, step)
	}
	after := liveHeap()
	if v, err := f.Result(); v != steps || err != nil {
		t.Fatalf("the chain resulted in %d, %v; want %d, nil", v, err, steps)
	}
	grown := int64(after) - int64(before)
	t.Logf("the heap grew by %d KiB", grown>>10)
	if grown > 5<<20 {
		t.Errorf("%d complete Then steps still hold %d KiB; want them collected", steps, grown>>10)
	}
	runtime.KeepAlive(f)
}

// cancellable is what TestCancelRacesCompletion needs of a future, whatever its type.
type cancellable interface {
	Cancel()
	Done() <-chan struct{}
}

// TestCancelRacesCompletion calls Cancel on derived futures while their inputs complete,
// which clears the cancel functions. Run it with -race. Nothing panics, every future
// completes, and a context that completion released stays released.
func TestCancelRacesCompletion(t *testing.T) {
	const rounds = 2000
	for range rounds {
		p, pctx := future.NewPromiseContext[int](context.Background())
		q := future.NewPromise[int]()
		src := p.Future()
		ints := []future.Future[int]{
			src,
			future.Map(src, nil, func(v int) (int, error) { return v, nil }),
			future.Then(src, nil, func(int) future.Future[int] { return q.Future() }),
			future.Catch(src, nil, func(err error) (int, error) { return 0, err }),
			future.Race(src, q.Future()),
			future.Any(src, q.Future()),
			future.WithTimeout(src, time.Hour),
			future.WithContext(t.Context(), src),
		}
		fs := []cancellable{future.All(ints...), future.Sleep(context.Background(), time.Hour)}
		for _, f := range ints {
			fs = append(fs, f)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for _, f := range fs {
			wg.Go(func() {
				<-start
				f.Cancel()
				f.Cancel()
			})
		}
		wg.Go(func() {
			<-start
			p.Resolve(1)
			q.Resolve(2)
		})
		close(start)
		wg.Wait()
		for i, f := range fs {
			select {
			case <-f.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("future %d never completed", i)
			}
			f.Cancel() // complete: nothing to do
		}
		<-pctx.Done()
	}
}

// TestRunContinuationHoldsNothingAfterIt: notify splices the continuations of a forwarded
// state into the running list by rewriting next links. A waiter that outlives its run (here
// All's, which sits in one slice with its sibling still queued on a pending input) must not
// reach, link by link, the continuations run after it in that pass, down every forwarded chain:
// here a payload made 20 steps down a chain of Map that is complete and dropped. Found by a
// review; it failed before notify unlinked the waiters it ran.
func TestRunContinuationHoldsNothingAfterIt(t *testing.T) {
	long := future.NewPromise[int]() // stays pending while the test holds it
	freed := make(chan struct{})
	func() {
		p := future.NewPromise[int]()
		future.All(p.Future(), long.Future()) // ws[0] queued on p first, ws[1] on long
		f := future.Map(p.Future(), nil, func(int) (*payload, error) { return nil, nil })
		for i := range 40 {
			f = future.Map(f, nil, func(v *payload) (*payload, error) {
				if i == 20 {
					v = new(payload)
					runtime.AddCleanup(v, func(c chan struct{}) { close(c) }, freed)
				}
				return v, nil
			})
		}
		p.Resolve(1)
		if !f.Resolved() {
			t.Fatal("the chain did not complete")
		}
	}()
	if !collected(freed) {
		t.Error("a payload held only by a complete, dropped chain of Map is kept alive: All's ran waiter on p links into the chain's continuations")
	}
	runtime.KeepAlive(long)
}

// An asynchronous loop written as recursion through Then (the design notes' own example) holds "one
// future per pending step until its last step completes". Each pending step's cancel function also
// held that step's source, complete, so the loop kept every value it had consumed (here 64 x 4 KiB
// payloads) until it ended (found in session 19).
func TestPendingThenLoopRetainsNoConsumedValue(t *testing.T) {
	const steps = 64
	last := future.NewPromise[int]()
	var freedN atomic.Int64
	srcs := make([]future.Promise[*payload], steps)
	for i := range srcs {
		srcs[i] = future.NewPromise[*payload]()
	}
	var loop func(i int) future.Future[int]
	loop = func(i int) future.Future[int] {
		return future.Then(srcs[i].Future(), nil, func(*payload) future.Future[int] {
			if i == steps-1 {
				return last.Future()
			}
			return loop(i + 1)
		})
	}
	head := loop(0)
	for i := range srcs {
		v := new(payload)
		runtime.AddCleanup(v, func(n *atomic.Int64) { n.Add(1) }, &freedN)
		srcs[i].Resolve(v) // step i consumes v and starts step i+1
	}
	srcs = nil
	if head.Resolved() {
		t.Fatal("the loop completed")
	}
	for range 50 {
		runtime.GC()
		if freedN.Load() == steps {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if kept := steps - freedN.Load(); kept > 0 {
		t.Errorf("a pending Then loop keeps %d of the %d values its completed steps consumed", kept, steps)
	}
	runtime.KeepAlive(head)
	last.Resolve(1)
}

// A pending Then whose source is complete kept the source's value alive through its cancel function
// (which can no longer affect the complete source).
func TestPendingThenRetainsNoCompleteSource(t *testing.T) {
	inner := future.NewPromise[int]()
	var held future.Future[int]
	freed := func() <-chan struct{} {
		v, freed := watched()
		p := future.NewPromise[*payload]()
		held = future.Then(p.Future(), nil, func(*payload) future.Future[int] { return inner.Future() })
		p.Resolve(v)
		return freed
	}()
	if held.Resolved() {
		t.Fatal("held complete")
	}
	if !collected(freed) {
		t.Error("a pending Then keeps its complete source's value alive")
	}
	runtime.KeepAlive(held)
	inner.Resolve(1)
}
