package eddy_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Session 30: a review of the Loop API: Execute and AfterFunc, from other goroutines, from the loop, after Stop.

// loopBarrier returns once l has run everything queued on it before the call.
func loopBarrier(t *testing.T, l eddy.Loop) {
	t.Helper()
	done := make(chan struct{})
	l.Execute(func() { close(done) })
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not run a function within 10 s")
	}
}

// A timer made and stopped at a high rate (a ResponseHeaderTimeout of http1's client, a Sleep that loses a
// Race) must not be kept, each one, until its deadline: the std engine sweeps its stopped timers out, and
// the loop engines kept every stopped timer on their wheels until its deadline (some 112 bytes each: an
// hour's worth of cancelled 30 s timeouts at 50,000 requests a second is 170 MB). Once the loop has run
// what was queued, the stopped timers are garbage.
func TestStoppedTimersAreNotKeptUntilTheirDeadline(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		t.Cleanup(func() { e.Stop(context.Background()) })
		l := e.Loops()[0]
		const n = 3000
		var freed atomic.Int64
		// In rounds: the timers of a round reach the loop's wheel (the barrier), then are stopped.
		for range n / 100 {
			var tms []*eddy.Timer
			for range 100 {
				tm := l.AfterFunc(time.Hour, func() { t.Error("a stopped timer fired") })
				runtime.AddCleanup(tm, func(f *atomic.Int64) { f.Add(1) }, &freed)
				tms = append(tms, tm)
			}
			loopBarrier(t, l)
			for _, tm := range tms {
				if !tm.Stop() {
					t.Fatal("Stop of a pending timer reported false")
				}
			}
		}
		loopBarrier(t, l)
		// std keeps up to the sweep's threshold (64) of the last ones; the loop engines none.
		const want = n - 128
		deadline := time.Now().Add(10 * time.Second)
		for freed.Load() < want {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d stopped one-hour timers were freed; want at least %d", freed.Load(), n, want)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// Stop of a timer on a loop and its firing race: exactly one of them wins, whichever goroutine calls Stop,
// and a timer stopped in time never runs.
func TestTimerStopRacesFiring(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		t.Cleanup(func() { e.Stop(context.Background()) })
		l := e.Loops()[0]
		const n = 500
		var fired, stopped atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			tm := l.AfterFunc(time.Duration(i%3)*time.Millisecond, func() { fired.Add(1) })
			wg.Go(func() {
				runtime.Gosched()
				if tm.Stop() {
					stopped.Add(1)
				}
			})
		}
		wg.Wait()
		waitFor(t, func() bool { return fired.Load()+stopped.Load() == n }, "every timer to fire or be stopped")
		time.Sleep(20 * time.Millisecond)
		loopBarrier(t, l)
		if f, s := fired.Load(), stopped.Load(); f+s != n {
			t.Fatalf("%d fired + %d stopped != %d timers", f, s, n)
		}
	})
}

// A timer stopped from the loop itself, in a function queued before its deadline, never runs; Stop then
// reports true once and false after.
func TestTimerStoppedOnTheLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		t.Cleanup(func() { e.Stop(context.Background()) })
		l := e.Loops()[0]
		res := make(chan [2]bool, 1)
		l.Execute(func() {
			tm := l.AfterFunc(0, func() { t.Error("a timer stopped on the loop fired") })
			res <- [2]bool{tm.Stop(), tm.Stop()}
		})
		if r := <-res; !r[0] || r[1] {
			t.Fatalf("Stop, Stop = %v, %v; want true, false", r[0], r[1])
		}
		time.Sleep(20 * time.Millisecond)
		loopBarrier(t, l)
	})
}

// Execute from the loop itself runs after the function that called it (FIFO, never nested) while the loop
// runs; once the engine has stopped, Execute and AfterFunc run their functions on the caller and on a
// goroutine of their own, as documented, and AfterFunc's Timer can still stop one.
func TestExecuteFromTheLoopAndAfterStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		l := e.Loops()[0]
		var order []int // on the loop only
		done := make(chan []int)
		l.Execute(func() {
			order = append(order, 1)
			l.Execute(func() { order = append(order, 3) })
			l.Execute(func() { done <- order })
			order = append(order, 2)
		})
		if got := <-done; len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
			t.Fatalf("order %v; want [1 2 3]", got)
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		ran := false
		l.Execute(func() { ran = true }) // on the caller: no race on ran
		if !ran {
			t.Fatal("Execute on a stopped loop did not run fn on the caller before returning")
		}
		fired := make(chan struct{})
		l.AfterFunc(time.Millisecond, func() { close(fired) })
		tm := l.AfterFunc(time.Hour, func() { t.Error("a stopped timer of a stopped loop fired") })
		if !tm.Stop() || tm.Stop() {
			t.Fatal("Stop on a stopped loop's timer: want true, then false")
		}
		select {
		case <-fired:
		case <-time.After(10 * time.Second):
			t.Fatal("AfterFunc on a stopped loop never ran")
		}
	})
}
