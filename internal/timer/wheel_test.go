package timer_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
	"unsafe"

	"github.com/eddyio/eddy/internal/timer"
)

const ms = int64(time.Millisecond)

// TestHundredThousandTimersHalfStopped schedules 100,000 timers over a minute, stops a random half, and
// advances in uneven steps: each remaining timer runs exactly once, in deadline order, none early or late.
func TestHundredThousandTimersHalfStopped(t *testing.T) {
	const n = 100_000
	rng := rand.New(rand.NewPCG(1, 2))
	w := timer.New(time.Millisecond, 0)
	h := newHarness(w, n)
	for _, p := range h.probes {
		w.Schedule(&p.Timer, 1+rng.Int64N(60_000*ms))
	}
	stopped := make([]bool, n)
	for _, i := range rng.Perm(n)[:n/2] {
		if !w.Stop(&h.probes[i].Timer) {
			t.Fatalf("Stop(timer %d) = false for a pending timer", i)
		}
		stopped[i] = true
	}
	if got := w.Len(); got != n/2 {
		t.Fatalf("Len() = %d after stopping half, want %d", got, n/2)
	}
	checkInvariants(t, w)

	now := int64(0)
	for w.Len() > 0 {
		now += rng.Int64N(30 * ms)
		before := len(h.ran)
		w.Advance(now)
		for _, r := range h.ran[before:] {
			if r.due > now {
				t.Fatalf("timer %d with deadline %d ran at %d", r.id, r.due, now)
			}
		}
		if d, ok := w.Next(now); ok && d <= 0 {
			// Next may say "now" only if a timer really is due; Advance(now) just ran them all.
			t.Fatalf("Next(%d) = %v right after Advance(%d)", now, d, now)
		}
	}
	checkInvariants(t, w)
	for i, p := range h.probes {
		if want := boolToInt(!stopped[i]); p.runs != want {
			t.Fatalf("timer %d ran %d times, want %d", i, p.runs, want)
		}
	}
	if !slices.IsSortedFunc(h.ran, func(a, b run) int { return int(a.due - b.due) }) {
		t.Fatal("timers did not run in deadline order")
	}
	for _, r := range h.ran {
		if r.at-r.due >= 30*ms {
			t.Fatalf("timer %d due at %d ran at %d, later than the Advance that reached it", r.id, r.due, r.at)
		}
	}
}

func TestScheduleMovesPendingTimer(t *testing.T) {
	tests := []struct {
		name        string
		first, then int64
		advance     []int64 // successive Advance times
		wantRanAt   int64   // the Advance at which the timer runs, 0 if never
	}{
		{"later", 10 * ms, 50 * ms, []int64{10 * ms, 49 * ms, 50 * ms}, 50 * ms},
		{"earlier", 50 * ms, 10 * ms, []int64{9 * ms, 10 * ms, 50 * ms}, 10 * ms},
		{"same deadline", 10 * ms, 10 * ms, []int64{10 * ms, 50 * ms}, 10 * ms},
		{"from far future to near", 24 * 3600_000 * ms, 3 * ms, []int64{2 * ms, 3 * ms}, 3 * ms},
		{"from near to far future", 3 * ms, 24 * 3600_000 * ms, []int64{3 * ms, 3600_000 * ms}, 0},
		{"into the past", 50 * ms, -ms, []int64{ms, 2 * ms}, ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := timer.New(time.Millisecond, 0)
			h := newHarness(w, 1)
			p := h.probes[0]
			w.Schedule(&p.Timer, tt.first)
			w.Schedule(&p.Timer, tt.then)
			if w.Len() != 1 || !p.Pending() || p.When() != tt.then {
				t.Fatalf("after moving: Len() = %d, Pending() = %v, When() = %d; want 1, true, %d", w.Len(), p.Pending(), p.When(), tt.then)
			}
			checkInvariants(t, w)
			ranAt := int64(0)
			for _, now := range tt.advance {
				if w.Advance(now) == 1 {
					ranAt = now
				}
			}
			if ranAt != tt.wantRanAt || p.runs != boolToInt(tt.wantRanAt != 0) {
				t.Fatalf("ran %d times, at %d; want at %d", p.runs, ranAt, tt.wantRanAt)
			}
		})
	}
}

func TestStopReportsWhetherPending(t *testing.T) {
	tests := []struct {
		name  string
		setup func(w *timer.Wheel, tm *timer.Timer)
		want  bool
	}{
		{"never scheduled", func(w *timer.Wheel, tm *timer.Timer) {}, false},
		{"pending", func(w *timer.Wheel, tm *timer.Timer) { w.Schedule(tm, 5*ms) }, true},
		{"pending far away", func(w *timer.Wheel, tm *timer.Timer) { w.Schedule(tm, math.MaxInt64) }, true},
		{"pending in the past", func(w *timer.Wheel, tm *timer.Timer) { w.Schedule(tm, -5*ms) }, true},
		{"already ran", func(w *timer.Wheel, tm *timer.Timer) { w.Schedule(tm, 5*ms); w.Advance(5 * ms) }, false},
		{"already stopped", func(w *timer.Wheel, tm *timer.Timer) { w.Schedule(tm, 5*ms); w.Stop(tm) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := timer.New(time.Millisecond, 0)
			var tm timer.Timer
			tm.Init(func(any) {}, nil)
			tt.setup(w, &tm)
			if got := w.Stop(&tm); got != tt.want {
				t.Fatalf("Stop() = %v, want %v", got, tt.want)
			}
			if tm.Pending() || w.Len() != 0 {
				t.Fatalf("after Stop: Pending() = %v, Len() = %d", tm.Pending(), w.Len())
			}
			if w.Advance(math.MaxInt64) != 0 {
				t.Fatal("a stopped timer ran")
			}
			checkInvariants(t, w)
		})
	}
}

// TestFunctionsChangeTimersDueInTheSameAdvance: timers 0, 1 and 2 are due at 1, 2 and 3ms; timer 0's
// function acts on timer 1 or itself, then one Advance to 10ms and a second one to 100ms.
func TestFunctionsChangeTimersDueInTheSameAdvance(t *testing.T) {
	tests := []struct {
		name             string
		act              action
		first, second    []int
		wantLen          int
		wantPending1When int64 // deadline of timer 1 after the first Advance, 0 if not pending
	}{
		{"stop a due timer", action{kind: actStop, target: 1}, []int{0, 2}, nil, 0, 0},
		{"stop itself", action{kind: actStop, target: 0}, []int{0, 1, 2}, nil, 0, 0},
		{"move a due timer later", action{kind: actMove, target: 1, delta: 40 * ms}, []int{0, 2}, []int{1}, 1, 50 * ms},
		{"move a due timer into the past", action{kind: actMove, target: 1, delta: -ms}, []int{0, 2}, []int{1}, 1, 9 * ms},
		{"move a due timer to now", action{kind: actMove, target: 1}, []int{0, 2}, []int{1}, 1, 10 * ms},
		{"re-arm itself to now", action{kind: actRearm}, []int{0, 1, 2}, []int{0}, 1, 0},
		{"re-arm itself later", action{kind: actRearm, delta: 5 * ms}, []int{0, 1, 2}, []int{0}, 1, 0},
		{"re-arm itself beyond the second Advance", action{kind: actRearm, delta: 100 * ms}, []int{0, 1, 2}, nil, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := timer.New(time.Millisecond, 0)
			h := newHarness(w, 3)
			h.probes[0].act = tt.act
			for i, p := range h.probes {
				w.Schedule(&p.Timer, int64(i+1)*ms)
			}
			if n := w.Advance(10 * ms); n != len(tt.first) || !slices.Equal(h.ids(0), tt.first) {
				t.Fatalf("first Advance ran %v (returned %d), want %v", h.ids(0), n, tt.first)
			}
			if w.Len() != tt.wantLen {
				t.Fatalf("Len() = %d after the first Advance, want %d", w.Len(), tt.wantLen)
			}
			if p1 := h.probes[1]; tt.wantPending1When != 0 && (!p1.Pending() || p1.When() != tt.wantPending1When) {
				t.Fatalf("timer 1: Pending() = %v, When() = %d; want pending at %d", p1.Pending(), p1.When(), tt.wantPending1When)
			}
			checkInvariants(t, w)
			h.probes[0].act = action{}
			before := len(h.ran)
			w.Advance(100 * ms)
			if got := h.ids(before); !slices.Equal(got, tt.second) {
				t.Fatalf("second Advance ran %v, want %v", got, tt.second)
			}
			checkInvariants(t, w)
		})
	}
}

// TestSelfRearmingTimerCannotStallAdvance: a function that keeps scheduling its timer at or before now runs
// once per Advance, however far the clock jumps.
func TestSelfRearmingTimerCannotStallAdvance(t *testing.T) {
	w := timer.New(time.Millisecond, 0)
	var tm timer.Timer
	runs := 0
	tm.Init(func(any) {
		runs++
		w.Schedule(&tm, tm.When()+ms) // a 1ms period, far behind the clock after the jump
	}, nil)
	w.Schedule(&tm, ms)
	for i := 1; i <= 5; i++ {
		if n := w.Advance(time.Hour.Nanoseconds()); n != 1 || runs != i {
			t.Fatalf("Advance #%d ran %d timers (%d runs in all), want 1", i, n, runs)
		}
	}
}

func TestEqualDeadlinesRunInScheduleOrder(t *testing.T) {
	w := timer.New(time.Millisecond, 0)
	h := newHarness(w, 6)
	// Scheduled out of id order, some moved, one far enough to start on an upper level.
	for _, i := range []int{3, 0, 5, 1, 4, 2} {
		w.Schedule(&h.probes[i].Timer, 5000*ms)
	}
	w.Schedule(&h.probes[0].Timer, 7*ms)
	w.Schedule(&h.probes[0].Timer, 5000*ms) // moved: now last
	w.Advance(4500 * ms)                    // cascades the timers from level 2 to level 1
	w.Schedule(&h.probes[5].Timer, 5000*ms) // rescheduled at the same deadline after the cascade: now last
	w.Advance(5000 * ms)
	if got, want := h.ids(0), []int{3, 1, 4, 2, 0, 5}; !slices.Equal(got, want) {
		t.Fatalf("ran %v, want %v", got, want)
	}
}

func TestFarFutureDeadlines(t *testing.T) {
	day := 24 * time.Hour.Nanoseconds()
	tests := []struct {
		name   string
		tick   time.Duration
		origin int64
		when   int64
	}{
		{"an hour, 1ms tick", time.Millisecond, 0, time.Hour.Nanoseconds()},
		{"a day, 1ms tick", time.Millisecond, 0, day},
		{"a year, 10ms tick", 10 * time.Millisecond, 0, 365 * day},
		{"ten years, 1ns tick", 1, 12345, 3650 * day},
		{"the end of the clock, 1ns tick", 1, 0, math.MaxInt64},
		{"the end of the clock from a negative origin", time.Millisecond, math.MinInt64 / 2, math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := timer.New(tt.tick, tt.origin)
			h := newHarness(w, 2)
			w.Schedule(&h.probes[0].Timer, tt.when)
			w.Schedule(&h.probes[1].Timer, tt.when-1)
			checkNext(t, w, tt.origin, tt.when-1, true)
			// Walk towards the deadline in halves, then to one ns before it.
			for now := tt.origin; tt.when-now > 2; {
				now += (tt.when - now) / 2
				if w.Advance(now) != 0 {
					t.Fatalf("ran before the deadline, at %d", now)
				}
				checkInvariants(t, w)
				checkNext(t, w, now, tt.when-1, true)
			}
			if n := w.Advance(tt.when - 1); n != 1 || h.probes[1].runs != 1 {
				t.Fatalf("Advance(when-1) ran %d, want timer 1 only", n)
			}
			if n := w.Advance(tt.when); n != 1 || h.probes[0].runs != 1 {
				t.Fatalf("Advance(when) ran %d, want timer 0", n)
			}
			checkNext(t, w, tt.when, 0, false)
		})
	}
}

// TestAdvanceJumpsFarInOneCall: timers spread over a week run in deadline order in one Advance.
func TestAdvanceJumpsFarInOneCall(t *testing.T) {
	const n = 10_000
	rng := rand.New(rand.NewPCG(3, 4))
	w := timer.New(time.Millisecond, 0)
	h := newHarness(w, n)
	week := 7 * 24 * time.Hour.Nanoseconds()
	for _, p := range h.probes {
		w.Schedule(&p.Timer, 1+rng.Int64N(week))
	}
	if got := w.Advance(week); got != n {
		t.Fatalf("Advance ran %d timers, want %d", got, n)
	}
	if !slices.IsSortedFunc(h.ran, func(a, b run) int { return int(a.due - b.due) }) {
		t.Fatal("timers did not run in deadline order")
	}
	checkInvariants(t, w)
}

func TestNext(t *testing.T) {
	tests := []struct {
		name      string
		deadlines []int64 // scheduled in order
		stop      int     // how many of the first deadlines to stop
		now       int64   // Next is asked at this time, after Advance(advance)
		advance   int64
		want      time.Duration
		wantOK    bool
	}{
		{"no timers", nil, 0, 0, 0, 0, false},
		{"one timer", []int64{5 * ms}, 0, 0, 0, 5 * time.Millisecond, true},
		{"exact within a tick", []int64{5*ms + 300}, 0, 5 * ms, 5 * ms, 300, true},
		{"timer already due", []int64{5 * ms}, 0, 6 * ms, 0, 0, true},
		{"deadline in the past", []int64{-ms}, 0, 0, 0, 0, true},
		{"earliest of several", []int64{9 * ms, 3 * ms, 7 * ms}, 0, ms, 0, 2 * time.Millisecond, true},
		{"all stopped", []int64{9 * ms, 3 * ms}, 2, 0, 0, 0, false},
		// The stopped timer's deadline lingers as a lower bound: early, never late.
		{"earliest stopped, same tick", []int64{3 * ms, 3*ms + 500}, 1, 0, 0, 3 * time.Millisecond, true},
		{"made exact by an Advance", []int64{3 * ms, 3*ms + 500}, 1, 3 * ms, 3 * ms, 500, true},
		{"upper level", []int64{time.Hour.Nanoseconds()}, 0, 0, 0, time.Hour, true},
		{"end of the clock", []int64{math.MaxInt64}, 0, math.MinInt64, 0, math.MaxInt64, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := timer.New(time.Millisecond, 0)
			h := newHarness(w, len(tt.deadlines))
			for i, when := range tt.deadlines {
				w.Schedule(&h.probes[i].Timer, when)
			}
			for _, p := range h.probes[:tt.stop] {
				w.Stop(&p.Timer)
			}
			if tt.advance != 0 {
				w.Advance(tt.advance)
			}
			if d, ok := w.Next(tt.now); d != tt.want || ok != tt.wantOK {
				t.Fatalf("Next(%d) = %v, %v; want %v, %v", tt.now, d, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestClockNeverGoesBack(t *testing.T) {
	w := timer.New(time.Millisecond, 100*ms)
	h := newHarness(w, 1)
	w.Advance(200 * ms)
	w.Advance(150 * ms)
	if w.Now() != 200*ms {
		t.Fatalf("Now() = %d after an Advance into the past, want %d", w.Now(), 200*ms)
	}
	w.Schedule(&h.probes[0].Timer, 180*ms) // in the past of the wheel's clock: due at the next Advance
	if n := w.Advance(0); n != 1 {
		t.Fatalf("Advance ran %d timers, want the one scheduled in the past", n)
	}
	checkInvariants(t, w)
}

// TestPanickingFunctionLeavesOtherTimersDue: a panic escapes Advance; the timers due after the one that
// panicked stay pending and run on the next Advance, in deadline order with timers scheduled since.
func TestPanickingFunctionLeavesOtherTimersDue(t *testing.T) {
	w := timer.New(time.Millisecond, 0)
	h := newHarness(w, 3)
	var bad timer.Timer
	bad.Init(func(any) { panic("boom") }, nil)
	w.Schedule(&h.probes[0].Timer, 1*ms)
	w.Schedule(&bad, 2*ms)
	w.Schedule(&h.probes[1].Timer, 3*ms)
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the panic did not escape Advance")
			}
		}()
		w.Advance(10 * ms)
	}()
	if w.Len() != 1 || !h.probes[1].Pending() {
		t.Fatalf("Len() = %d, timer 1 pending %v; want 1, true", w.Len(), h.probes[1].Pending())
	}
	if d, ok := w.Next(10 * ms); d != 0 || !ok {
		t.Fatalf("Next() = %v, %v with a timer left due, want 0, true", d, ok)
	}
	w.Schedule(&h.probes[2].Timer, 2*ms) // before the leftover timer 1's deadline
	before := len(h.ran)
	if w.Advance(10 * ms); !slices.Equal(h.ids(before), []int{2, 1}) {
		t.Fatalf("second Advance ran %v, want [2 1]", h.ids(before))
	}
	checkInvariants(t, w)
}

func TestMisusePanics(t *testing.T) {
	noop := func(any) {}
	tests := []struct {
		name string
		f    func()
	}{
		{"New with a zero tick", func() { timer.New(0, 0) }},
		{"New with a negative tick", func() { timer.New(-time.Millisecond, 0) }},
		{"Schedule without Init", func() {
			var tm timer.Timer
			timer.New(time.Millisecond, 0).Schedule(&tm, 1)
		}},
		{"Schedule on a second wheel", func() {
			var tm timer.Timer
			tm.Init(noop, nil)
			timer.New(time.Millisecond, 0).Schedule(&tm, 1)
			timer.New(time.Millisecond, 0).Schedule(&tm, 1)
		}},
		{"Stop on another wheel", func() {
			var tm timer.Timer
			tm.Init(noop, nil)
			timer.New(time.Millisecond, 0).Schedule(&tm, 1)
			timer.New(time.Millisecond, 0).Stop(&tm)
		}},
		{"Advance from a timer function", func() {
			w := timer.New(time.Millisecond, 0)
			var tm timer.Timer
			tm.Init(func(any) { w.Advance(10) }, nil)
			w.Schedule(&tm, 1)
			w.Advance(1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("did not panic")
				}
			}()
			tt.f()
		})
	}
}

func TestTimerMovesToAnotherWheelOnceIdle(t *testing.T) {
	a, b := timer.New(time.Millisecond, 0), timer.New(time.Millisecond, 0)
	ran := 0
	var tm timer.Timer
	tm.Init(func(any) { ran++ }, nil)
	a.Schedule(&tm, ms)
	a.Stop(&tm)
	b.Schedule(&tm, ms)
	if a.Advance(ms) != 0 || b.Advance(ms) != 1 || ran != 1 {
		t.Fatalf("ran %d times, want once on the second wheel", ran)
	}
}

func TestHotPathsAllocateNothing(t *testing.T) {
	w := timer.New(time.Millisecond, 0)
	var tm, other timer.Timer
	tm.Init(func(any) {}, nil)
	other.Init(func(any) {}, nil)
	w.Schedule(&other, time.Hour.Nanoseconds())
	now := int64(0)
	tests := []struct {
		name string
		f    func()
	}{
		{"Schedule and Stop", func() { w.Schedule(&tm, now+30*ms); w.Stop(&tm) }},
		{"Schedule twice", func() { w.Schedule(&tm, now+30*ms); w.Schedule(&tm, now+60*ms) }},
		{"Schedule and Advance", func() { w.Schedule(&tm, now+ms); now += ms; w.Advance(now) }},
		{"Next", func() { w.Next(now) }},
	}
	for _, tt := range tests {
		if allocs := testing.AllocsPerRun(1000, tt.f); allocs != 0 {
			t.Errorf("%s: %v allocations per run, want 0", tt.name, allocs)
		}
	}
}

// TestTimerFitsInACacheLine guards the memory a connection pays for embedding its idle timer.
func TestTimerFitsInACacheLine(t *testing.T) {
	if size := unsafe.Sizeof(timer.Timer{}); size > 64 {
		t.Fatalf("Timer is %d bytes, want at most 64", size)
	}
}

// TestDrainHandsOverEveryPendingTimer: Drain visits each pending timer once, wherever the wheel keeps
// it (due now, on the lowest level, far up, or stopped and so not pending), and leaves the wheel empty
// and the timers free to be scheduled again.
func TestDrainHandsOverEveryPendingTimer(t *testing.T) {
	w := timer.New(time.Millisecond, 0)
	w.Advance(5 * ms)
	deadlines := []int64{0, 5 * ms, 6 * ms, 70 * ms, 5000 * ms, math.MaxInt64}
	timers := make([]timer.Timer, len(deadlines)+1)
	ran := 0
	for i := range timers {
		timers[i].Init(func(any) { ran++ }, i)
	}
	for i, d := range deadlines {
		w.Schedule(&timers[i], d)
	}
	stopped := &timers[len(deadlines)]
	w.Schedule(stopped, 10*ms)
	w.Stop(stopped)

	seen := map[int]int64{}
	w.Drain(func(tm *timer.Timer) {
		if tm.Pending() {
			t.Errorf("timer %v is still pending when visited", tm.Arg())
		}
		seen[tm.Arg().(int)] = tm.When()
	})
	if len(seen) != len(deadlines) || w.Len() != 0 {
		t.Fatalf("Drain visited %v (Len after: %d); want the %d pending timers once each", seen, w.Len(), len(deadlines))
	}
	for i, d := range deadlines {
		if got, ok := seen[i]; !ok || got != d {
			t.Errorf("timer %d: visited %v with When %d; want When %d", i, ok, got, d)
		}
	}
	if w.Advance(math.MaxInt64) != 0 || ran != 0 {
		t.Fatalf("a drained wheel ran %d timers", ran)
	}
	w.Schedule(&timers[0], w.Now())
	if w.Advance(w.Now()) != 1 || ran != 1 {
		t.Fatalf("a drained timer scheduled again: ran %d; want 1", ran)
	}
}
