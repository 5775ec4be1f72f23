package eddy_test

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

func r2Engine(t *testing.T, kind eddy.EngineKind, opts ...eddy.Option) *eddy.Engine {
	t.Helper()
	return r2Client(t, kind, eddy.BaseHandler{}, opts...)
}

// Timers fire in deadline order, whatever order they were made in; zero and negative durations fire
// promptly.
func TestAfterFuncOrderAndShortDurations(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := r2Engine(t, kind).Loops()[0]
		// The deadlines are 30 ms apart only if the four calls are made in less than that: a run
		// whose calls took 10 ms or more (the test goroutine was starved) goes again.
		conclusive(t, "the timers were made over 10 ms or more", func() bool {
			got, took := timersInOrder(t, l, []time.Duration{120, 90, 60, 30})
			if took >= 10*time.Millisecond {
				return false
			}
			for k, i := range got {
				if i != len(got)-1-k {
					t.Fatalf("fired in order %v, want [3 2 1 0] (made in %v)", got, took)
				}
			}
			return true
		})
		for _, d := range []time.Duration{0, -time.Second, time.Nanosecond, math.MinInt64} {
			fired := make(chan struct{})
			l.AfterFunc(d, func() { close(fired) })
			select {
			case <-fired:
			case <-time.After(30 * time.Second):
				t.Errorf("AfterFunc(%v) did not fire", d)
			}
		}
	})
}

// A timer with a huge duration (math.MaxInt64, the usual "never") must not fire at once.
func TestAfterFuncHugeDurationDoesNotFire(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := r2Engine(t, kind).Loops()[0]
		for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - time.Hour, 200 * 365 * 24 * time.Hour} {
			var fired atomic.Bool
			tm := l.AfterFunc(d, func() { fired.Store(true) })
			time.Sleep(100 * time.Millisecond)
			if fired.Load() {
				t.Errorf("AfterFunc(%v) fired after 100ms", d)
			}
			tm.Stop()
		}
	})
}

// Many timers, half of them stopped from another goroutine: exactly the others fire, each once.
func TestManyTimersWithStops(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		loops := r2Engine(t, kind).Loops()
		const n = 2000
		var fired [n]atomic.Int32
		timers := make([]*eddy.Timer, n)
		for i := 0; i < n; i++ {
			// Far enough out that making 2,000 timers on a loaded machine (-race, a CPU hog) cannot
			// outlast the first of them before the stops: at 20 ms, timer 0 fired first once in CI.
			timers[i] = loops[i%len(loops)].AfterFunc(time.Duration(300+i%40)*time.Millisecond, func() { fired[i].Add(1) })
		}
		var stopped [n]bool
		for i := 0; i < n; i += 2 {
			stopped[i] = timers[i].Stop()
			if !stopped[i] {
				t.Fatalf("Stop of pending timer %d returned false", i)
			}
		}
		waitFor(t, func() bool {
			for i := 1; i < n; i += 2 {
				if fired[i].Load() == 0 {
					return false
				}
			}
			return true
		}, "every timer not stopped to fire")
		time.Sleep(100 * time.Millisecond)
		for i := 0; i < n; i++ {
			want := int32(1)
			if stopped[i] {
				want = 0
			}
			if got := fired[i].Load(); got != want {
				t.Fatalf("timer %d fired %d times, want %d", i, got, want)
			}
		}
		for i := 1; i < n; i += 2 {
			if timers[i].Stop() {
				t.Fatalf("Stop of fired timer %d returned true", i)
			}
		}
	})
}

// A timer pending when the engine stops is not dropped: once its time has passed it runs (as a timer
// made on a stopped loop does), and so a Sleep future pending at Stop still completes.
func TestTimerPendingAtStopStillFires(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		l := e.Loops()[0]
		fired := make(chan struct{})
		l.AfterFunc(200*time.Millisecond, func() { close(fired) })
		sleep := eddy.Sleep(context.Background(), l, 200*time.Millisecond)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		select {
		case <-fired:
		case <-time.After(30 * time.Second):
			t.Error("a timer pending at Stop never fired")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := sleep.Await(ctx); err != nil {
			t.Errorf("Sleep pending at Stop: %v (it never completed)", err)
		}
	})
}

// A timer made on a stopped loop and then stopped leaves nothing running behind it.
func TestStoppedTimerOnStoppedLoopLeavesNoGoroutine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		l := e.Loops()[0]
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		base := runtime.NumGoroutine()
		const d = 1500 * time.Millisecond
		var timers []*eddy.Timer
		for i := 0; i < 20; i++ {
			timers = append(timers, l.AfterFunc(d, func() { t.Error("a stopped timer fired") }))
		}
		for _, tm := range timers {
			if !tm.Stop() {
				t.Fatal("Stop returned false")
			}
		}
		time.Sleep(100 * time.Millisecond)
		if n := runtime.NumGoroutine(); n > base {
			t.Errorf("%d goroutines after 20 stopped timers on a stopped loop, %d before", n, base)
		}
		time.Sleep(d) // let them end, for goleak
	})
}

// Loop.Execute from many goroutines while the engine stops: every function runs exactly once (on the
// loop or, once it has stopped, on the caller).
func TestExecuteDuringStopRunsEveryFunction(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil)
		loops := e.Loops()
		var submitted, ran atomic.Int64
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					submitted.Add(1)
					loops[i%len(loops)].Execute(func() { ran.Add(1) })
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		close(stop)
		wg.Wait()
		waitFor(t, func() bool { return ran.Load() == submitted.Load() }, "every Execute to run")
	})
}

// Loop.Execute and Dial are not bounded by WithTaskQueueCapacity: Execute never drops fn (loop.go), so a
// burst far beyond the capacity all runs.
func TestLoopExecuteIgnoresQueueCapacity(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := r2Engine(t, kind, eddy.WithTaskQueueCapacity(1), eddy.WithLoops(1)).Loops()[0]
		release := make(chan struct{})
		l.Execute(func() { <-release }) // hold the loop so that the queue fills
		var ran atomic.Int64
		for i := 0; i < 1000; i++ {
			l.Execute(func() { ran.Add(1) })
		}
		close(release)
		waitFor(t, func() bool { return ran.Load() == 1000 }, "1000 Executes to run")
	})
}

// Timers made from inside a loop function and from inside a timer function fire.
func TestAfterFuncFromLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := r2Engine(t, kind).Loops()[1]
		done := make(chan struct{})
		l.Execute(func() {
			l.AfterFunc(5*time.Millisecond, func() {
				l.AfterFunc(0, func() {
					tm := l.AfterFunc(time.Millisecond, func() { t.Error("stopped timer fired") })
					if !tm.Stop() {
						t.Error("Stop false")
					}
					l.AfterFunc(10*time.Millisecond, func() { close(done) })
				})
			})
		})
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("nested timers did not fire")
		}
		time.Sleep(20 * time.Millisecond)
	})
}

// timersInOrder makes a timer on l for each of ds, in milliseconds, and returns the indexes of ds in
// the order their timers fired and how long making them took.
func timersInOrder(t *testing.T, l eddy.Loop, ds []time.Duration) ([]int, time.Duration) {
	t.Helper()
	var mu sync.Mutex
	var got []int
	done := make(chan struct{})
	start := time.Now()
	for i, d := range ds {
		l.AfterFunc(d*time.Millisecond, func() {
			mu.Lock()
			got = append(got, i)
			if len(got) == len(ds) {
				close(done)
			}
			mu.Unlock()
		})
	}
	took := time.Since(start)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("timers did not fire")
	}
	mu.Lock()
	defer mu.Unlock()
	return got, took
}
