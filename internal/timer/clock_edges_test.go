package timer_test

import (
	"cmp"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/timer"
	"pgregory.net/rapid"
)

// Session 30: a review of the timing wheel at the edges of its clock, which the other property tests (an origin
// within ±2^50, deadlines at most 2^55 ahead, ticks that divide a millisecond) do not reach.

// satAdd is a+b clamped to the int64 range: the clock of these tests runs up to math.MaxInt64 and no
// further, as after() in the root package makes it.
func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// edgeAction is what an edge probe's function does when it runs.
type edgeAction struct {
	kind   int // 0 nothing, 1 stop target, 2 move target to now+delta, 3 re-arm itself at now+delta, 4 panic
	target int
	delta  int64
}

type edgeProbe struct {
	timer.Timer
	id  int
	act edgeAction
}

type edgeModelEntry struct {
	when int64
	seq  int
}

// TestWheelMatchesModelAtClockEdges runs random Schedule, Stop, Advance, Next and Drain calls against a
// model, from an origin anywhere in the int64 range (near both ends included), with deadlines anywhere from
// math.MinInt64 to math.MaxInt64, jumps of any length up to the end of the clock, ticks that do not divide a
// second (3ns, 1ms+1ns, 2^40ns, math.MaxInt64), and timer functions that stop, move or re-arm timers due in
// the same Advance, or panic. The model: Advance(now) runs the pending timers with a deadline <= now in
// (deadline, last Schedule) order; a function's Stop or Schedule takes its target out of the running Advance;
// a panic leaves the rest pending for the next Advance.
func TestWheelMatchesModelAtClockEdges(t *testing.T) {
	const n = 10
	rapid.Check(t, func(rt *rapid.T) {
		tick := rapid.SampledFrom([]time.Duration{1, 3, time.Millisecond + 1, 1 << 40, math.MaxInt64}).Draw(rt, "tick")
		origin := rapid.OneOf(
			rapid.Int64Range(math.MinInt64, math.MinInt64+1<<20),
			rapid.Int64Range(-1<<20, 1<<20),
			rapid.Int64Range(math.MaxInt64-1<<40, math.MaxInt64),
			rapid.Int64(),
		).Draw(rt, "origin")
		w := timer.New(tick, origin)
		now := origin
		pending := map[int]edgeModelEntry{}
		seq := 0
		var ran []int
		probes := make([]*edgeProbe, n)
		sched := func(id int, when int64) {
			seq++
			pending[id] = edgeModelEntry{when, seq}
		}
		fire := func(arg any) {
			p := arg.(*edgeProbe)
			ran = append(ran, p.id)
			at := w.Now()
			switch p.act.kind {
			case 1:
				w.Stop(&probes[p.act.target].Timer)
			case 2:
				w.Schedule(&probes[p.act.target].Timer, satAdd(at, p.act.delta))
			case 3:
				w.Schedule(&p.Timer, satAdd(at, p.act.delta))
			case 4:
				panic("edge probe")
			}
		}
		for i := range probes {
			probes[i] = &edgeProbe{id: i}
			probes[i].Init(fire, probes[i])
		}
		id := rapid.IntRange(0, n-1)
		t70 := min(int64(tick), 1<<50) * 70 // seventy ticks, or the end of the clock's worth
		delta := rapid.OneOf(
			rapid.Int64Range(-5, 5),
			rapid.Int64Range(-t70/20, t70),
			rapid.Int64Range(0, 1<<62),
			rapid.Int64(),
			rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64, 0}),
		)
		step := rapid.OneOf(
			rapid.Int64Range(0, 3),
			rapid.Int64Range(0, t70),
			rapid.Int64Range(0, math.MaxInt64),
		)

		rt.Repeat(map[string]func(*rapid.T){
			"schedule": func(rt *rapid.T) {
				i := id.Draw(rt, "id")
				probes[i].act = edgeAction{
					kind:   rapid.SampledFrom([]int{0, 0, 1, 2, 3, 4}).Draw(rt, "kind"),
					target: id.Draw(rt, "target"),
					delta:  delta.Draw(rt, "act delta"),
				}
				when := satAdd(now, delta.Draw(rt, "delta"))
				w.Schedule(&probes[i].Timer, when)
				sched(i, when)
			},
			"stop": func(rt *rapid.T) {
				i := id.Draw(rt, "id")
				_, want := pending[i]
				delete(pending, i)
				if got := w.Stop(&probes[i].Timer); got != want {
					rt.Fatalf("Stop(%d) = %v, want %v", i, got, want)
				}
			},
			"advance": func(rt *rapid.T) {
				now = satAdd(now, step.Draw(rt, "step"))
				// The model's run.
				var due []int
				for i, e := range pending {
					if e.when <= now {
						due = append(due, i)
					}
				}
				slices.SortFunc(due, func(a, b int) int {
					return cmp.Or(cmp.Compare(pending[a].when, pending[b].when), cmp.Compare(pending[a].seq, pending[b].seq))
				})
				var want []int
				for len(due) > 0 {
					i := due[0]
					due = due[1:]
					delete(pending, i)
					want = append(want, i)
					a := probes[i].act
					if a.kind == 4 {
						break
					}
					switch a.kind {
					case 1:
						delete(pending, a.target)
						due = slices.DeleteFunc(due, func(x int) bool { return x == a.target })
					case 2:
						sched(a.target, satAdd(now, a.delta))
						due = slices.DeleteFunc(due, func(x int) bool { return x == a.target })
					case 3:
						sched(i, satAdd(now, a.delta))
					}
				}
				ran = ran[:0]
				panicked := false
				got := func() (k int) {
					defer func() {
						if recover() != nil {
							panicked = true
						}
					}()
					return w.Advance(now)
				}()
				if !slices.Equal(ran, want) {
					rt.Fatalf("Advance(%d) ran %v, want %v", now, ran, want)
				}
				wantPanic := len(want) > 0 && probes[want[len(want)-1]].act.kind == 4
				if panicked != wantPanic {
					rt.Fatalf("Advance(%d) panicked %v, want %v", now, panicked, wantPanic)
				}
				if !panicked && got != len(want) {
					rt.Fatalf("Advance(%d) = %d, want %d", now, got, len(want))
				}
			},
			"next": func(rt *rapid.T) {
				at := satAdd(now, rapid.Int64Range(0, t70/20).Draw(rt, "since"))
				earliest, ok := int64(math.MaxInt64), false
				for _, e := range pending {
					earliest, ok = min(earliest, e.when), true
				}
				checkNext(rt, w, at, earliest, ok)
			},
			"drain": func(rt *rapid.T) {
				if rapid.IntRange(0, 9).Draw(rt, "drain?") != 0 {
					return
				}
				got := map[int]int64{}
				w.Drain(func(t *timer.Timer) {
					p := t.Arg().(*edgeProbe)
					if t.Pending() {
						rt.Fatalf("Drain visited timer %d still pending", p.id)
					}
					got[p.id] = t.When()
				})
				if len(got) != len(pending) {
					rt.Fatalf("Drain visited %v, want %v", got, pending)
				}
				for i, e := range pending {
					if got[i] != e.when {
						rt.Fatalf("Drain: timer %d at %d, want %d", i, got[i], e.when)
					}
				}
				clear(pending)
			},
			"": func(rt *rapid.T) {
				if w.Len() != len(pending) {
					rt.Fatalf("Len() = %d, want %d", w.Len(), len(pending))
				}
				for _, p := range probes {
					e, ok := pending[p.id]
					if p.Pending() != ok || ok && p.When() != e.when {
						rt.Fatalf("timer %d: Pending %v When %d; model %v %d", p.id, p.Pending(), p.When(), ok, e.when)
					}
				}
			},
		})
	})
}
