package timer_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/timer"
)

// loaded returns a wheel with 1ms ticks holding n timers spread over a minute, as a loop with n idle
// connections would, and the timers (kept alive by the caller).
func loaded(n int) (*timer.Wheel, []timer.Timer) {
	w := timer.New(time.Millisecond, 0)
	timers := make([]timer.Timer, n)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := range timers {
		timers[i].Init(func(any) {}, nil)
		w.Schedule(&timers[i], 1+rng.Int64N(time.Minute.Nanoseconds()))
	}
	return w, timers
}

var loads = []struct {
	name string
	n    int
}{{"empty", 0}, {"100k", 100_000}}

// BenchmarkScheduleStop arms a 30s idle timeout and cancels it.
func BenchmarkScheduleStop(b *testing.B) {
	for _, load := range loads {
		b.Run(load.name, func(b *testing.B) {
			w, _ := loaded(load.n)
			var tm timer.Timer
			tm.Init(func(any) {}, nil)
			b.ReportAllocs()
			for b.Loop() {
				w.Schedule(&tm, 30*time.Second.Nanoseconds())
				w.Stop(&tm)
			}
		})
	}
}

// BenchmarkReschedule moves a pending idle timeout, as a connection does on each read.
func BenchmarkReschedule(b *testing.B) {
	for _, load := range loads {
		b.Run(load.name, func(b *testing.B) {
			w, _ := loaded(load.n)
			var tm timer.Timer
			tm.Init(func(any) {}, nil)
			when := 30 * time.Second.Nanoseconds()
			b.ReportAllocs()
			for b.Loop() {
				when += 1000
				w.Schedule(&tm, when)
			}
		})
	}
}

// BenchmarkScheduleAdvance schedules a timer one tick ahead and advances the clock so that it runs: the cost
// of one timer that fires, including the cascades and bookkeeping of Advance.
func BenchmarkScheduleAdvance(b *testing.B) {
	for _, load := range loads {
		b.Run(load.name, func(b *testing.B) {
			w, _ := loaded(load.n)
			var tm timer.Timer
			ran := 0
			tm.Init(func(any) { ran++ }, nil)
			now := int64(0)
			b.ReportAllocs()
			for b.Loop() {
				w.Schedule(&tm, now+time.Millisecond.Nanoseconds())
				now += time.Millisecond.Nanoseconds()
				w.Advance(now)
			}
			if ran == 0 {
				b.Fatal("no timer ran")
			}
		})
	}
}

// BenchmarkAdvanceBatch fires 1024 timers with distinct deadlines per Advance, per timer.
func BenchmarkAdvanceBatch(b *testing.B) {
	const batch = 1024
	w := timer.New(time.Millisecond, 0)
	timers := make([]timer.Timer, batch)
	for i := range timers {
		timers[i].Init(func(any) {}, nil)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	now := int64(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tm := &timers[i%batch]
		w.Schedule(tm, now+1+rng.Int64N(10*time.Millisecond.Nanoseconds()))
		if i%batch == batch-1 {
			now += 10 * time.Millisecond.Nanoseconds()
			w.Advance(now)
		}
	}
}

// BenchmarkNext asks for the poller timeout with 100,000 pending timers.
func BenchmarkNext(b *testing.B) {
	w, _ := loaded(100_000)
	now := int64(0)
	b.ReportAllocs()
	for b.Loop() {
		w.Next(now)
	}
}

// BenchmarkTimeAfterFuncStop is the standard library's equivalent of BenchmarkScheduleStop, for comparison.
func BenchmarkTimeAfterFuncStop(b *testing.B) {
	f := func() {}
	b.ReportAllocs()
	for b.Loop() {
		t := time.AfterFunc(30*time.Second, f)
		t.Stop()
	}
}

// BenchmarkTimeTimerReset is the standard library's equivalent of BenchmarkReschedule, for comparison.
func BenchmarkTimeTimerReset(b *testing.B) {
	t := time.AfterFunc(time.Hour, func() {})
	defer t.Stop()
	d := 30 * time.Second
	b.ReportAllocs()
	for b.Loop() {
		d += time.Microsecond
		t.Reset(d)
	}
}

// BenchmarkAdvanceEachDeadline is a loop that wakes up for every deadline of 1000 timers sharing one coarse
// tick (1s): after the tick's bucket is sorted once, each Advance costs only the timer it runs.
func BenchmarkAdvanceEachDeadline(b *testing.B) {
	const n = 1000
	w := timer.New(time.Second, 0)
	timers := make([]timer.Timer, n)
	for i := range timers {
		timers[i].Init(func(any) {}, nil)
	}
	rng := rand.New(rand.NewPCG(9, 10))
	base := int64(0)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if i%n == 0 {
			base += time.Second.Nanoseconds()
			for j := range timers {
				w.Schedule(&timers[j], base+1+rng.Int64N(time.Second.Nanoseconds()-1))
			}
		}
		d, _ := w.Next(w.Now())
		w.Advance(w.Now() + int64(d))
	}
}
