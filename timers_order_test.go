package eddy_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// timerTestLoop starts an engine of kind with one loop and no listeners, stopped at the end of the test,
// and returns its loop.
func timerTestLoop(t *testing.T, kind eddy.EngineKind) eddy.Loop {
	t.Helper()
	e := startEngine(t, kind, eddy.BaseHandler{}, nil, eddy.WithLoops(1))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e.Loops()[0]
}

// Stop reports true only for a pending timer, as time.Timer's does: false for a second Stop, for a
// timer stopped from its own function, and for one that has run.
func TestTimerStopReports(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := timerTestLoop(t, kind)
		tm := l.AfterFunc(time.Hour, func() { t.Error("a stopped timer ran") })
		if !tm.Stop() {
			t.Error("Stop of a pending timer = false")
		}
		if tm.Stop() {
			t.Error("a second Stop = true")
		}
		var mu sync.Mutex // holds back the function until self is set
		var self *eddy.Timer
		res := make(chan bool, 1)
		mu.Lock()
		self = l.AfterFunc(0, func() {
			mu.Lock()
			defer mu.Unlock()
			res <- self.Stop()
		})
		mu.Unlock()
		select {
		case r := <-res:
			if r {
				t.Error("Stop from the timer's own function = true")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the timer never ran")
		}
		if self.Stop() {
			t.Error("Stop of a timer that has run = true")
		}
	})
}

// Timers made on one loop, in random order, run in the order of their deadlines, and none before it.
// On std each timer was a runtime timer of its own whose function, on a goroutine of its own, queued the
// timer's on the loop: timers due close together reached the loop in whichever order those goroutines
// ran (some 850 inversions among these 3,000, every run).
func TestTimerDeadlineOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := timerTestLoop(t, kind)
		const n = 3000
		const spacing = 20 * time.Microsecond
		perm := rand.New(rand.NewPCG(5, 6)).Perm(n)
		// Each deadline is known to lie between lo and hi: d after the call's start and its end.
		lo, hi, at := make([]time.Time, n), make([]time.Time, n), make([]time.Time, n)
		var ran []int
		var wg sync.WaitGroup
		wg.Add(n)
		l.Execute(func() {
			for _, i := range perm {
				d := time.Duration(i) * spacing
				if i%100 == 0 {
					d = -d // a deadline passed is now
				}
				lo[i] = time.Now().Add(max(d, 0))
				l.AfterFunc(d, func() {
					at[i] = time.Now()
					ran = append(ran, i) // on the loop: serialised
					wg.Done()
				})
				hi[i] = time.Now().Add(max(d, 0))
			}
		})
		wg.Wait()
		inversions := 0
		for k, i := range ran {
			if at[i].Before(lo[i]) {
				t.Errorf("timer %d ran %v before its deadline", i, lo[i].Sub(at[i]))
			}
			if k > 0 && hi[i].Before(lo[ran[k-1]]) { // i was due first, surely
				inversions++
			}
		}
		if inversions > 0 {
			t.Errorf("%d of %d timers ran after a timer due later than theirs", inversions, n)
		}
	})
}

// A timer made by a function run on the loop (Execute) runs before one made earlier for a later
// deadline, however long that function runs. On epoll and uring the wheel advanced to the clock read
// after the iteration's tasks: the new timer, still in the task queue, waited for the next iteration,
// and the earlier timer, due meanwhile, ran first.
func TestTimerMadeInATask(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		l := timerTestLoop(t, kind)
		const dz = 50 * time.Millisecond
		conclusive(t, "the task that makes the second timer ran after the first one's deadline", func() bool {
			var order []string
			var wg sync.WaitGroup
			wg.Add(2)
			record := func(s string) func() {
				return func() { order = append(order, s); wg.Done() } // on the loop
			}
			var zLo, zHi time.Time
			made := make(chan struct{})
			l.Execute(func() {
				zLo = time.Now()
				l.AfterFunc(dz, record("later"))
				zHi = time.Now()
				close(made)
			})
			<-made
			inTime := make(chan bool, 1)
			l.Execute(func() {
				for time.Now().Before(zLo.Add(dz - 10*time.Millisecond)) { // a busy loop, until 10 ms before
				}
				l.AfterFunc(0, record("sooner"))
				in := time.Now().Before(zLo.Add(dz))
				for !time.Now().After(zHi.Add(dz + time.Millisecond)) { // until both are due
				}
				inTime <- in
			})
			in := <-inTime
			wg.Wait()
			if !in {
				return false
			}
			if order[0] != "sooner" {
				t.Errorf("ran %v: the timer due first ran second", order)
			}
			return true
		})
	})
}

// bootTimer is a handler whose OnBoot makes a timer and then fails the start.
type bootTimer struct {
	eddy.BaseHandler
	d     time.Duration
	fired chan struct{}
}

func (h *bootTimer) OnBoot(e *eddy.Engine) error {
	e.Loops()[0].AfterFunc(h.d, func() { close(h.fired) })
	return errors.New("boot refused")
}

// A timer made by an OnBoot that fails runs all the same (BootHandler), whatever its duration. On epoll
// and uring, one of math.MinInt64 reached the wheel as the loop finished and was handed to a runtime
// timer for its deadline minus the clock, a difference that wrapped to some 292 years: it never ran.
func TestTimerFailedBoot(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, d := range []time.Duration{math.MinInt64, -time.Second, 0, time.Millisecond} {
			h := &bootTimer{d: d, fired: make(chan struct{})}
			e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err == nil {
				t.Fatal("Start succeeded")
			}
			select {
			case <-h.fired:
			case <-time.After(5 * time.Second):
				t.Errorf("AfterFunc(%v) made by an OnBoot that failed never ran", d)
			}
		}
	})
}
