package eddy_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Session 32: Loop.AfterFunc and Timer.Stop against package time's AfterFunc and
// (*time.Timer).Stop, on every engine. The same checks run on both; where eddy documents a difference
// (Loop.AfterFunc's doc, doc.go, docs/engine.md), the check says so and asserts eddy's side of it:
//
//   - a nil fn: time.AfterFunc takes it (and panics at the fire, on a goroutine of its own, which ends
//     the program); Loop.AfterFunc panics on the caller, with nilAfterFunc's message;
//   - order: eddy runs a loop's timers in deadline order, equal deadlines in the order made, and so a
//     timer made for d=0 from inside a firing timer's fn after the timers already due; time promises
//     no order;
//   - serialisation: a loop's timer functions never run at the same time; time's may;
//   - runtime.Goexit in fn: time's fn ends its own goroutine and nothing else; on the epoll and uring
//     engines it stops the loop (doc.go), whose pending timers are handed to runtime timers and still
//     fire, and later Execute calls run on the caller; std's loop goes on;
//   - Engine.Stop: the timers still pending are not lost: they fire once d has passed, on a goroutine
//     of their own; a timer made after Stop too (time has no Stop);
//   - math.MaxInt64: time's fires in 292 years, eddy's never; neither fires here, Stop is true for both.
//
// Common to both, and asserted on both: Stop's result (true before the fire, false after it, twice,
// from inside fn, and exactly one of "fn ran" and "Stop true" when they race), d <= 0 and 1ns firing
// (never early: time.Now in fn >= time.Now before the call + d), a panic in fn ending the program.

// timerAPI is one of the AfterFunc implementations compared.
type timerAPI struct {
	name  string
	after func(d time.Duration, fn func()) (stop func() bool)
	loop  eddy.Loop // nil for package time
}

func timeAPI() timerAPI {
	return timerAPI{name: "time", after: func(d time.Duration, fn func()) func() bool {
		return time.AfterFunc(d, fn).Stop
	}}
}

func loopAPI(l eddy.Loop) timerAPI {
	return timerAPI{name: "eddy", loop: l, after: func(d time.Duration, fn func()) func() bool {
		return l.AfterFunc(d, fn).Stop
	}}
}

// barrier returns once the loop has run what was queued on it (nothing for time).
func (a timerAPI) barrier(t *testing.T) {
	if a.loop != nil {
		loopBarrier(t, a.loop)
	}
}

// waitChan waits for c, failing after 10 s.
func waitChan(t *testing.T, c <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// timerDiffCases runs the checks common to both APIs, and eddy's documented side of each difference.
func timerDiffCases(t *testing.T, a timerAPI) {
	eddyOnly := a.loop != nil

	t.Run("StopResults", func(t *testing.T) {
		// Before the fire: true, then false; fn never runs.
		var ran atomic.Int32
		stop := a.after(time.Hour, func() { ran.Add(1) })
		if !stop() {
			t.Error("Stop of a pending timer = false")
		}
		if stop() {
			t.Error("a second Stop = true")
		}
		// After the fire: false, twice.
		fired := make(chan struct{})
		stop2 := a.after(0, func() { close(fired) })
		waitChan(t, fired, "a d=0 timer")
		if stop2() || stop2() {
			t.Error("Stop of a timer that has fired = true")
		}
		// From inside fn: false (the fn has started).
		var mu sync.Mutex
		var self func() bool
		res := make(chan bool, 1)
		mu.Lock()
		self = a.after(time.Nanosecond, func() {
			mu.Lock()
			defer mu.Unlock()
			res <- self()
		})
		mu.Unlock()
		select {
		case r := <-res:
			if r {
				t.Error("Stop from the timer's own fn = true")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a 1ns timer never fired")
		}
		a.barrier(t)
		if ran.Load() != 0 {
			t.Error("a timer stopped before its deadline ran")
		}
	})

	t.Run("StopRacesFire", func(t *testing.T) {
		// Stop from another goroutine, racing the fire: for each timer exactly one of "fn ran" and
		// "Stop returned true", never both, never neither, and fn at most once.
		const n = 1500
		ds := []time.Duration{0, 1, 20 * time.Microsecond, 200 * time.Microsecond, time.Millisecond}
		ran := make([]atomic.Int32, n)
		won := make([]atomic.Bool, n)
		var settled atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			stop := a.after(ds[i%len(ds)], func() {
				if ran[i].Add(1) == 1 {
					settled.Add(1)
				}
			})
			stopper := func() {
				if i%2 == 0 {
					runtime.Gosched()
				}
				if stop() {
					if won[i].Swap(true) {
						t.Errorf("timer %d: two Stops returned true", i)
					}
					settled.Add(1)
				}
			}
			wg.Go(stopper)
			if i%3 == 0 { // a second Stop racing the first and the fire
				wg.Go(stopper)
			}
		}
		wg.Wait()
		waitFor(t, func() bool { return settled.Load() >= n }, "every racing timer to fire or be stopped")
		time.Sleep(5 * time.Millisecond) // past every deadline: a stopped timer that still fires shows
		a.barrier(t)
		for i := range n {
			r, w := ran[i].Load(), won[i].Load()
			if r > 1 || (r == 1) == w {
				t.Errorf("timer %d (d=%v): fn ran %d times, Stop returned %v", i, ds[i%len(ds)], r, w)
			}
		}
	})

	t.Run("Durations", func(t *testing.T) {
		// d <= 0 means now, 1ns fires too; none early.
		ds := []time.Duration{math.MinInt64, -time.Hour, -1, 0, 1, time.Microsecond, 3 * time.Millisecond}
		type rec struct{ set, at time.Time }
		recs := make([]rec, len(ds))
		var wg sync.WaitGroup
		wg.Add(len(ds))
		for i, d := range ds {
			recs[i].set = time.Now()
			a.after(d, func() { recs[i].at = time.Now(); wg.Done() })
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		waitChan(t, done, "timers with d <= 0 and small d")
		for i, d := range ds {
			if early := recs[i].set.Add(max(d, 0)).Sub(recs[i].at); early > 0 {
				t.Errorf("d=%v fired %v early", d, early)
			}
		}
		// Huge d: no overflow into the past (it would fire now), Stop true.
		var ran atomic.Int32
		var stops []func() bool
		for _, d := range []time.Duration{math.MaxInt64, math.MaxInt64 - 1, 1 << 62} {
			stops = append(stops, a.after(d, func() { ran.Add(1) }))
		}
		fired := make(chan struct{})
		a.after(2*time.Millisecond, func() { close(fired) })
		waitChan(t, fired, "a 2ms timer made after the huge ones")
		a.barrier(t)
		if ran.Load() != 0 {
			t.Error("a timer of a huge duration fired")
		}
		for i, stop := range stops {
			if !stop() {
				t.Errorf("Stop of huge timer %d = false", i)
			}
		}
	})

	t.Run("NilFunc", func(t *testing.T) {
		// time.AfterFunc accepts a nil fn (it would panic at the fire, on a goroutine of its own,
		// ending the program: not tried); eddy panics on the caller. Difference documented.
		var got any
		var stop func() bool
		func() {
			defer func() { got = recover() }()
			stop = a.after(time.Hour, nil)
		}()
		if !eddyOnly {
			if got != nil || stop == nil || !stop() {
				t.Fatalf("time.AfterFunc(1h, nil): panic %v; want none, and a Stop that reports true", got)
			}
			return
		}
		if s, _ := got.(string); !strings.Contains(s, "AfterFunc of a nil function") {
			t.Fatalf("Loop.AfterFunc(1h, nil): panic %v; want eddy's nilAfterFunc, on the caller", got)
		}
	})

	t.Run("Many", func(t *testing.T) {
		// 5000 timers with random deadlines over 200 ms; a random half stopped while they fire. Each
		// fires exactly once unless its Stop returned true, in which case it never fires; none early.
		const n = 5000
		rng := rand.New(rand.NewPCG(118, uint64(len(a.name))))
		ds := make([]time.Duration, n)
		set := make([]time.Time, n)
		at := make([]time.Time, n)
		ran := make([]atomic.Int32, n)
		stops := make([]func() bool, n)
		var running, overlap atomic.Int32
		var firedN atomic.Int64
		for i := range n {
			ds[i] = time.Duration(rng.Int64N(int64(200 * time.Millisecond)))
			set[i] = time.Now()
			stops[i] = a.after(ds[i], func() {
				if running.Add(1) != 1 {
					overlap.Add(1)
				}
				at[i] = time.Now()
				ran[i].Add(1)
				firedN.Add(1)
				running.Add(-1)
			})
		}
		perm := rng.Perm(n)[:n/2]
		stopped := make([]bool, n) // Stop returned true
		nStopped := 0
		for k, i := range perm {
			if stops[i]() {
				stopped[i] = true
				nStopped++
			}
			if k%25 == 0 {
				time.Sleep(time.Millisecond) // spread the stops over the deadlines
			}
		}
		waitFor(t, func() bool { return firedN.Load() >= int64(n-nStopped) }, "every timer not stopped to fire")
		time.Sleep(5 * time.Millisecond) // every deadline has passed: a stopped timer firing late shows
		a.barrier(t)
		bad := 0
		for i := range n {
			r := ran[i].Load()
			switch {
			case stopped[i] && r != 0, !stopped[i] && r != 1:
				bad++
				if bad <= 10 {
					t.Errorf("timer %d (d=%v): Stop true %v, fn ran %d times", i, ds[i], stopped[i], r)
				}
			case r == 1 && at[i].Before(set[i].Add(ds[i])):
				t.Errorf("timer %d (d=%v) fired %v early", i, ds[i], set[i].Add(ds[i]).Sub(at[i]))
			}
		}
		if nStopped == 0 || nStopped == len(perm) {
			t.Logf("%d of %d Stops won", nStopped, len(perm)) // not a failure: timing decides it
		}
		if eddyOnly && overlap.Load() != 0 {
			t.Errorf("a loop's timer functions ran at the same time %d times", overlap.Load())
		}
	})

	if !eddyOnly {
		return
	}

	t.Run("OrderEqualDeadlinesAndNested", func(t *testing.T) {
		// Documented for eddy only: deadline order, equal ones in the order made. Timers made one after
		// another with the same d have deadlines in the order made; a timer made from a firing timer's fn
		// with d=0 has a later deadline than the ones made before it, so it runs after them.
		const n = 300
		var got []int // on the loop only
		done := make(chan struct{})
		var nested int
		add := func(v int) {
			got = append(got, v)
			if len(got) == n+1 {
				close(done)
			}
		}
		for i := range n {
			a.after(2*time.Millisecond, func() {
				if i == 0 {
					a.after(0, func() {
						nested = len(got)
						add(-1)
					})
				}
				add(i)
			})
		}
		waitChan(t, done, "300 timers and a nested one")
		a.barrier(t)
		want := 0
		for k, v := range got {
			if v == -1 {
				continue
			}
			if v != want {
				t.Fatalf("timer %d ran at %d, want timer %d (equal d, made in order): %v", v, k, want, got[:min(len(got), k+5)])
			}
			want++
		}
		t.Logf("the d=0 timer made by timer 0's fn ran at position %d of %d", nested, n+1)
		if nested < 1 {
			t.Errorf("the d=0 timer made by timer 0's fn ran at %d, before its maker", nested)
		}
	})
}

func TestLoopTimersAgainstTimeAfterFunc(t *testing.T) {
	t.Run("time", func(t *testing.T) { timerDiffCases(t, timeAPI()) })
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		timerDiffCases(t, loopAPI(timerTestLoop(t, kind)))
	})
}

// Engine.Stop with timers pending, and timers made after it: documented for eddy only (time has no
// Stop). They fire once d has passed, exactly once, never early; Stop of one still pending reports
// true and it never fires; one that would never fire (math.MaxInt64) is not run by Stop either.
func TestLoopTimersAcrossEngineStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
		l := e.Loops()[0]
		var ran [6]atomic.Int32
		var at [6]time.Time
		fired := make([]chan struct{}, len(ran))
		for i := range fired {
			fired[i] = make(chan struct{})
		}
		fn := func(i int) func() {
			return func() {
				at[i] = time.Now()
				if ran[i].Add(1) == 1 {
					close(fired[i])
				}
			}
		}
		set := time.Now()
		l.AfterFunc(30*time.Millisecond, fn(0))                       // pending at Stop: fires after d
		hour := l.AfterFunc(time.Hour, fn(1))                         // pending at Stop: stopped after it
		never := l.AfterFunc(math.MaxInt64, fn(2))                    // pending at Stop: never
		l.Execute(func() { l.AfterFunc(20*time.Millisecond, fn(3)) }) // made on the loop, pending at Stop
		loopBarrier(t, l)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		setAfter := time.Now()
		l.AfterFunc(10*time.Millisecond, fn(4)) // made after Stop
		late := l.AfterFunc(time.Hour, fn(5))   // made after Stop, stopped
		if !hour.Stop() || !late.Stop() || !never.Stop() {
			t.Error("Stop after Engine.Stop of a pending timer = false")
		}
		for _, i := range []int{0, 3, 4} {
			waitChan(t, fired[i], "a timer pending at, or made after, Engine.Stop")
		}
		time.Sleep(5 * time.Millisecond)
		for i := range ran {
			want := int32(0)
			if i == 0 || i == 3 || i == 4 {
				want = 1
			}
			if got := ran[i].Load(); got != want {
				t.Errorf("timer %d ran %d times, want %d", i, got, want)
			}
		}
		if at[0].Sub(set) < 30*time.Millisecond || at[3].Sub(set) < 20*time.Millisecond ||
			at[4].Sub(setAfter) < 10*time.Millisecond {
			t.Errorf("a timer across Stop fired early: %v %v %v", at[0].Sub(set), at[3].Sub(set), at[4].Sub(setAfter))
		}
	})
}

// runtime.Goexit in fn: with time, it ends fn's own goroutine. On eddy the epoll and uring loops stop
// (doc.go), the std loop goes on; on every engine the timers due behind it, in the same pass, and those
// pending still fire, each once, and new ones too.
func TestLoopTimerGoexitAgainstTime(t *testing.T) {
	check := func(t *testing.T, a timerAPI, kind eddy.EngineKind) {
		var ran [4]atomic.Int32
		done := make([]chan struct{}, len(ran))
		for i := range done {
			done[i] = make(chan struct{})
		}
		fn := func(i int) func() {
			return func() {
				if ran[i].Add(1) == 1 {
					close(done[i])
				}
			}
		}
		var mu sync.Mutex // the three d=1ms timers are due together
		mu.Lock()
		a.after(time.Millisecond, func() { mu.Lock(); mu.Unlock(); runtime.Goexit() })
		a.after(time.Millisecond, fn(0))
		a.after(time.Millisecond, fn(1))
		a.after(30*time.Millisecond, fn(2))
		mu.Unlock()
		for i := range 3 {
			waitChan(t, done[i], "a timer behind, or after, one whose fn called Goexit")
		}
		a.after(0, fn(3))
		waitChan(t, done[3], "a timer made after a Goexit")
		if a.loop != nil && kind != eddy.EngineStd {
			// The epoll and uring loops have stopped (doc.go): Execute runs fn on the caller.
			waitFor(t, func() bool {
				ran := false
				a.loop.Execute(func() { ran = true })
				return ran
			}, "the loop to stop after a timer's fn called runtime.Goexit")
		}
		time.Sleep(5 * time.Millisecond)
		for i := range ran {
			if got := ran[i].Load(); got != 1 {
				t.Errorf("timer %d ran %d times, want 1", i, got)
			}
		}
	}
	t.Run("time", func(t *testing.T) { check(t, timeAPI(), "") })
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		check(t, loopAPI(timerTestLoop(t, kind)), kind)
	})
}

// timerPanicEnv makes the test binary, run by TestLoopTimerPanicEndsTheProgram, panic in a timer fn.
const timerPanicEnv = "EDDY_TEST_TIMER_PANIC"

// A panic in fn is not recovered, with time as with eddy (doc.go: "it ends the program"): the child
// process exits with the panic's message, and does not live on with the panic swallowed.
func TestLoopTimerPanicEndsTheProgram(t *testing.T) {
	if kind := os.Getenv(timerPanicEnv); kind != "" {
		after := time.AfterFunc
		if kind != "time" {
			e, err := eddy.New(eddy.BaseHandler{}, nil, eddy.WithEngine(eddy.EngineKind(kind)), eddy.WithLoops(1))
			if err != nil {
				os.Exit(3)
			}
			if err := e.Start(); err != nil {
				os.Exit(3)
			}
			after = func(d time.Duration, fn func()) *time.Timer { e.Loops()[0].AfterFunc(d, fn); return nil }
		}
		after(time.Millisecond, func() { panic("test-timer-panic") })
		time.Sleep(10 * time.Second)
		os.Exit(0) // the panic was swallowed
	}
	if testing.Short() {
		t.Skip("runs child processes")
	}
	run := func(t *testing.T, kind string) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestLoopTimerPanicEndsTheProgram$", "-test.count=1")
		cmd.Env = append(os.Environ(), timerPanicEnv+"="+kind)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "panic: test-timer-panic") {
			t.Fatalf("child (%s): err %v; want a non-zero exit with the panic; output:\n%.2000s", kind, err, out)
		}
	}
	t.Run("time", func(t *testing.T) { run(t, "time") })
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) { run(t, string(kind)) })
}

// Timers racing Engine.Stop (made before it, and during it from another goroutine), their Stops racing
// both the fire and the hand-over to runtime timers: exactly one of "fn ran" and "Stop returned true"
// for each, as with time.AfterFunc, and none early. An OnBoot that fails ends the loops as a Stop does
// (handler.go): its timers fire all the same.
func TestLoopTimersRaceEngineStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const rounds, per = 8, 150
		ds := []time.Duration{0, 50 * time.Microsecond, 500 * time.Microsecond, 2 * time.Millisecond, 5 * time.Millisecond}
		for r := range rounds {
			var h eddy.Handler = eddy.BaseHandler{}
			var boot *failingBoot
			if r%4 == 3 {
				boot = &failingBoot{}
				h = boot
			}
			e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			ran := make([]atomic.Int32, 2*per)
			won := make([]atomic.Bool, 2*per)
			set := make([]time.Time, 2*per)
			at := make([]time.Time, 2*per)
			var settled atomic.Int64
			var wg sync.WaitGroup
			mk := func(l eddy.Loop, i int) {
				set[i] = time.Now()
				tm := l.AfterFunc(ds[i%len(ds)], func() {
					at[i] = time.Now()
					if ran[i].Add(1) == 1 {
						settled.Add(1)
					}
				})
				if i%2 == 1 {
					wg.Go(func() {
						runtime.Gosched()
						if tm.Stop() {
							won[i].Store(true)
							settled.Add(1)
						}
					})
				}
			}
			if boot != nil {
				boot.fn = func(e *eddy.Engine) {
					for i := range 2 * per {
						mk(e.Loops()[0], i)
					}
				}
				if err := e.Start(); err == nil {
					t.Fatal("Start with a failing OnBoot succeeded")
				}
			} else {
				if err := e.Start(); err != nil {
					t.Fatal(err)
				}
				l := e.Loops()[0]
				for i := range per {
					mk(l, i)
				}
				wg.Go(func() { // timers made while the engine stops
					for i := per; i < 2*per; i++ {
						mk(l, i)
					}
				})
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := e.Stop(ctx); err != nil {
					t.Fatal(err)
				}
				cancel()
			}
			wg.Wait()
			waitFor(t, func() bool { return settled.Load() >= 2*per }, "every timer to fire or be stopped")
			time.Sleep(10 * time.Millisecond) // past every deadline
			for i := range 2 * per {
				n, w := ran[i].Load(), won[i].Load()
				if n > 1 || (n == 1) == w {
					t.Errorf("round %d, timer %d (d=%v): fn ran %d times, Stop returned %v", r, i, ds[i%len(ds)], n, w)
				} else if n == 1 && at[i].Before(set[i].Add(ds[i%len(ds)])) {
					t.Errorf("round %d, timer %d (d=%v) fired %v early", r, i, ds[i%len(ds)], set[i].Add(ds[i%len(ds)]).Sub(at[i]))
				}
			}
			if t.Failed() {
				return
			}
		}
	})
}

// failingBoot runs fn in OnBoot, then fails the start.
type failingBoot struct {
	eddy.BaseHandler
	fn func(e *eddy.Engine)
}

func (b *failingBoot) OnBoot(e *eddy.Engine) error {
	b.fn(e)
	return errBootFailed
}

var errBootFailed = errors.New("test: boot failed")
