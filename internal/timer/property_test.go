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

var ticks = []time.Duration{1, time.Microsecond, time.Millisecond, 10 * time.Millisecond}

// TestAdvanceRunsTimersInDeadlineOrder schedules random deadlines, from a few ticks to years away, then
// advances the clock in random steps, small and huge: every timer runs exactly once, never before its
// deadline and never after the Advance whose now reaches it, in deadline order (schedule order on ties), and
// Next never points past the earliest pending deadline.
func TestAdvanceRunsTimersInDeadlineOrder(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tick := rapid.SampledFrom(ticks).Draw(rt, "tick")
		origin := rapid.Int64Range(-1<<50, 1<<50).Draw(rt, "origin")
		span := rapid.SampledFrom([]int64{64 * int64(tick), int64(time.Minute), int64(30 * 24 * time.Hour), 1 << 60}).Draw(rt, "span")
		offsets := rapid.SliceOfN(rapid.Int64Range(0, span), 1, 300).Draw(rt, "offsets")
		w := timer.New(tick, origin)
		h := newHarness(w, len(offsets))
		for i, off := range offsets {
			w.Schedule(&h.probes[i].Timer, origin+off)
		}
		checkInvariants(rt, w)

		now := origin
		step := rapid.OneOf(rapid.Int64Range(0, 2*int64(tick)), rapid.Int64Range(0, span/4+1), rapid.Int64Range(0, span))
		for w.Len() > 0 {
			earliest := int64(math.MaxInt64)
			for _, p := range h.probes {
				if p.Pending() {
					earliest = min(earliest, p.When())
				}
			}
			checkNext(rt, w, now, earliest, true)
			now += step.Draw(rt, "step")
			before := len(h.ran)
			if n := w.Advance(now); n != len(h.ran)-before {
				rt.Fatalf("Advance(%d) = %d, but %d functions ran", now, n, len(h.ran)-before)
			}
			for _, p := range h.probes {
				if want := boolToInt(p.When() <= now); p.runs != want {
					rt.Fatalf("after Advance(%d): timer %d (deadline %d) ran %d times, want %d", now, p.id, p.When(), p.runs, want)
				}
			}
			checkInvariants(rt, w)
		}
		checkNext(rt, w, now, 0, false)

		for i, r := range h.ran {
			if r.at < r.due {
				rt.Fatalf("timer %d ran at %d, before its deadline %d", r.id, r.at, r.due)
			}
			if i == 0 {
				continue
			}
			prev := h.ran[i-1]
			if prev.due > r.due || (prev.due == r.due && prev.id > r.id) {
				rt.Fatalf("timer %d (deadline %d) ran before timer %d (deadline %d)", prev.id, prev.due, r.id, r.due)
			}
		}
	})
}

// TestWheelMatchesModel runs random sequences of Schedule, Stop, Advance and Next, with timer functions that
// stop, move or re-arm timers, against a simple model: Advance(now) runs the timers pending with a deadline
// <= now in (deadline, schedule order) order, and a function's Schedule or Stop of a timer takes it out of
// the running Advance.
func TestWheelMatchesModel(t *testing.T) {
	const numProbes = 12
	rapid.Check(t, func(rt *rapid.T) {
		tick := rapid.SampledFrom(ticks).Draw(rt, "tick")
		t64 := int64(tick)
		w := timer.New(tick, 0)
		h := newHarness(w, numProbes)
		m := newModel()
		now := int64(0)

		id := rapid.IntRange(0, numProbes-1)
		delta := rapid.OneOf(
			rapid.Int64Range(-3*t64, 3*t64),
			rapid.Int64Range(0, 200*t64),
			rapid.Int64Range(0, 5000*t64),
			rapid.Int64Range(0, 1<<55),
		)
		step := rapid.OneOf(rapid.Int64Range(0, 2*t64), rapid.Int64Range(0, 300*t64), rapid.Int64Range(0, 1<<52))
		act := rapid.Custom(func(rt *rapid.T) action {
			return action{
				kind:   rapid.SampledFrom([]actionKind{actNone, actNone, actStop, actMove, actRearm}).Draw(rt, "kind"),
				target: id.Draw(rt, "target"),
				delta:  rapid.Int64Range(-2*t64, 100*t64).Draw(rt, "act delta"),
			}
		})

		rt.Repeat(map[string]func(*rapid.T){
			"schedule": func(rt *rapid.T) {
				p := h.probes[id.Draw(rt, "id")]
				p.act = act.Draw(rt, "act")
				when := now + delta.Draw(rt, "delta")
				w.Schedule(&p.Timer, when)
				m.schedule(p.id, when)
			},
			"stop": func(rt *rapid.T) {
				i := id.Draw(rt, "id")
				if got, want := w.Stop(&h.probes[i].Timer), m.stop(i); got != want {
					rt.Fatalf("Stop(timer %d) = %v, want %v", i, got, want)
				}
			},
			"advance": func(rt *rapid.T) {
				now += step.Draw(rt, "step")
				before := len(h.ran)
				n := w.Advance(now)
				want := m.advance(now, h.probes)
				if got := h.ids(before); !slices.Equal(got, want) {
					rt.Fatalf("Advance(%d) ran %v, want %v", now, got, want)
				}
				if n != len(want) {
					rt.Fatalf("Advance(%d) = %d, want %d", now, n, len(want))
				}
			},
			"next": func(rt *rapid.T) {
				at := now + rapid.Int64Range(0, 3*t64).Draw(rt, "since advance")
				earliest, ok := m.earliest()
				checkNext(rt, w, at, earliest, ok)
			},
			"": func(rt *rapid.T) {
				checkInvariants(rt, w)
				if w.Len() != len(m.pending) {
					rt.Fatalf("Len() = %d, want %d", w.Len(), len(m.pending))
				}
				for _, p := range h.probes {
					e, ok := m.pending[p.id]
					if p.Pending() != ok || (ok && p.When() != e.when) {
						rt.Fatalf("timer %d: Pending() = %v, When() = %d; model: %v, %d", p.id, p.Pending(), p.When(), ok, e.when)
					}
				}
			},
		})
	})
}

// model is the specification the wheel is tested against.
type model struct {
	pending map[int]entry
	seq     int
}

type entry struct {
	when int64
	seq  int // order of the last Schedule, which breaks ties between equal deadlines
}

func newModel() *model {
	return &model{pending: make(map[int]entry)}
}

func (m *model) schedule(id int, when int64) {
	m.seq++
	m.pending[id] = entry{when: when, seq: m.seq}
}

func (m *model) stop(id int) bool {
	_, ok := m.pending[id]
	delete(m.pending, id)
	return ok
}

func (m *model) earliest() (int64, bool) {
	earliest, ok := int64(math.MaxInt64), false
	for _, e := range m.pending {
		earliest, ok = min(earliest, e.when), true
	}
	return earliest, ok
}

// advance returns the ids that Advance(now) must run, in order, applying the probes' actions as it goes.
func (m *model) advance(now int64, probes []*probe) []int {
	var due []int
	for id, e := range m.pending {
		if e.when <= now {
			due = append(due, id)
		}
	}
	slices.SortFunc(due, func(a, b int) int {
		ea, eb := m.pending[a], m.pending[b]
		return cmp.Or(cmp.Compare(ea.when, eb.when), cmp.Compare(ea.seq, eb.seq))
	})
	ran := []int{}
	for len(due) > 0 {
		id := due[0]
		due = due[1:]
		delete(m.pending, id)
		ran = append(ran, id)
		a := probes[id].act
		switch a.kind {
		case actStop:
			m.stop(a.target)
			due = slices.DeleteFunc(due, func(x int) bool { return x == a.target })
		case actMove:
			m.schedule(a.target, now+a.delta)
			due = slices.DeleteFunc(due, func(x int) bool { return x == a.target })
		case actRearm:
			m.schedule(id, now+a.delta)
		}
	}
	return ran
}

func boolToInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
