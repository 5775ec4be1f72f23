package timer_test

import (
	"github.com/eddyio/eddy/internal/timer"
	"pgregory.net/rapid"
)

// probe is a timer that records its runs in a harness and then performs its action.
type probe struct {
	timer.Timer
	id   int
	runs int
	act  action
}

// action is what a probe's function does after recording the run, to exercise Schedule and Stop from
// inside Advance.
type action struct {
	kind   actionKind
	target int   // index of the probe acted on (actStop, actMove)
	delta  int64 // new deadline relative to the running Advance's now (actMove, actRearm)
}

type actionKind int

const (
	actNone  actionKind = iota
	actStop             // stop probes[target]
	actMove             // schedule probes[target] at now+delta
	actRearm            // schedule itself at now+delta
)

// run is one recorded run: which probe, and the wheel's clock at the time.
type run struct {
	id  int
	at  int64
	due int64 // the probe's deadline when it ran
}

// harness owns a wheel, its probes and the record of runs.
type harness struct {
	w      *timer.Wheel
	probes []*probe
	ran    []run
}

func newHarness(w *timer.Wheel, n int) *harness {
	h := &harness{w: w}
	for i := range n {
		p := &probe{id: i}
		p.Init(h.fire, p)
		h.probes = append(h.probes, p)
	}
	return h
}

func (h *harness) fire(arg any) {
	p := arg.(*probe)
	p.runs++
	now := h.w.Now()
	h.ran = append(h.ran, run{id: p.id, at: now, due: p.When()})
	switch p.act.kind {
	case actStop:
		h.w.Stop(&h.probes[p.act.target].Timer)
	case actMove:
		h.w.Schedule(&h.probes[p.act.target].Timer, now+p.act.delta)
	case actRearm:
		h.w.Schedule(&p.Timer, now+p.act.delta)
	}
}

// ids returns the ids of the recorded runs from index from on.
func (h *harness) ids(from int) []int {
	ids := make([]int, 0, len(h.ran)-from)
	for _, r := range h.ran[from:] {
		ids = append(ids, r.id)
	}
	return ids
}

// checkInvariants fails the test if the wheel's structure is broken.
func checkInvariants(tb rapid.TB, w *timer.Wheel) {
	tb.Helper()
	if err := timer.CheckInvariants(w); err != nil {
		tb.Fatalf("invariant broken: %v", err)
	}
}

// checkNext fails the test if w.Next(now) reports a wake-up later than the earliest deadline, or the wrong
// pending state. earliest is the true earliest deadline, ok whether any timer is pending.
func checkNext(tb rapid.TB, w *timer.Wheel, now, earliest int64, pending bool) {
	tb.Helper()
	d, ok := w.Next(now)
	if ok != pending {
		tb.Fatalf("Next(%d) ok = %v, want %v", now, ok, pending)
	}
	if !ok {
		return
	}
	if d < 0 {
		tb.Fatalf("Next(%d) = %v, negative", now, d)
	}
	if earliest <= now {
		if d != 0 {
			tb.Fatalf("Next(%d) = %v with a timer due at %d, want 0", now, d, earliest)
		}
		return
	}
	if uint64(d) > uint64(earliest-now) {
		tb.Fatalf("Next(%d) = %v, later than the earliest deadline %d (in %d)", now, d, earliest, earliest-now)
	}
}
