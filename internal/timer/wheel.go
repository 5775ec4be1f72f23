package timer

import (
	"math"
	"math/bits"
	"time"
)

// Wheel geometry. A level has 64 slots, one bit of an occupancy word each; slot width grows 64-fold per level
// (level 0: 1 tick, level 1: 64 ticks, level 2: 4096 ticks, ...). Eleven levels span 66 bits, more than the
// 64 bits of a tick count, so any deadline fits and no overflow list is needed. With a 1ms tick, the first six
// levels alone reach 2^36 ms, about 795 days.
const (
	slotBits  = 6
	numSlots  = 1 << slotBits
	slotMask  = numSlots - 1
	numLevels = (64 + slotBits - 1) / slotBits
)

// level is one ring of slots.
//
// Invariants, with p the level's digit of w.elapsed (bits slotBits*lvl and up, slotBits of them):
//   - a timer in slot s of level lvl has the same tick digits as w.elapsed above this level, and its digit at
//     this level is s, with s >= p on level 0 and s > p above it. So no slot behind p is ever occupied, the
//     lowest set bit of occupied is the earliest slot, and every timer on a level is earlier than every timer
//     on a higher level (Next and Advance rely on this to look only at the lowest occupied level).
//   - occupied has bit s set exactly when slots[s] is non-empty.
//   - min[s] is a lower bound of the deadlines in a non-empty slot s (the least deadline added since the slot
//     was last empty; removing timers leaves it a lower bound, and Advance makes it exact again when it
//     reaches the slot). It is never below the start of the slot.
type level struct {
	occupied uint64
	slots    [numSlots]list
	min      [numSlots]int64
}

// Wheel is a hierarchical timing wheel: it runs each scheduled Timer's function once the clock given to
// Advance reaches the timer's deadline. Adding, moving and cancelling a timer cost O(1) and allocate nothing;
// the wheel itself is one allocation of about 11 KiB.
//
// A Wheel is not safe for concurrent use: it takes no locks and must be used, together with its timers, from
// a single goroutine (the event loop that owns it). Functions run by Advance are called on that goroutine and
// may use the wheel, except to call Advance again. Create a Wheel with New; the zero value is not usable.
//
// Time is an int64 count of nanoseconds on a clock chosen by the caller (for example time.Since of a base
// time); the tick is only the width of a bucket at the lowest level and never delays a timer. A timer never
// runs before its deadline, and Advance(now) runs every pending timer whose deadline is <= now, so none is
// late relative to now (save one that a function running in that Advance schedules at or before now: it runs
// on the next Advance).
type Wheel struct {
	tick    uint64 // nanoseconds per tick, > 0
	origin  int64  // the time of tick 0
	now     int64  // the time given to the last Advance (or New); never decreases
	elapsed uint64 // ticks from origin to now: the wheel's position
	count   int    // pending timers, wherever they are kept
	running bool   // Advance is running timer functions

	// sortedTick, when sortedOK, is a tick whose level-0 slot is in deadline order. collectPartial sorts the
	// slot of now's tick once, so that later calls in the same tick take due timers from its front instead of
	// scanning it again; insert clears sortedOK if it appends to that slot out of order.
	sortedTick uint64
	sortedOK   bool

	ready  list // scheduled with a deadline <= now: due at the next Advance, in the order scheduled
	due    list // collected by the running Advance, sorted by deadline, not yet run
	levels [numLevels]level
}

// New returns a wheel whose clock starts at now (nanoseconds on a monotonic clock chosen by the caller) with
// the given tick, the width of a bucket at the lowest level, e.g. 1ms. The tick trades bucket size against
// moves between levels: a bucket is sorted once when the clock reaches its tick, and a timer moves down a
// level each time the clock gets 64 times closer to its deadline. It does not delay timers. New panics if
// tick is not positive.
func New(tick time.Duration, now int64) *Wheel {
	if tick <= 0 {
		panic("timer: New with a non-positive tick")
	}
	return &Wheel{tick: uint64(tick), origin: now, now: now}
}

// Now returns the wheel's clock: the time given to the last Advance, or to New before the first Advance.
func (w *Wheel) Now() int64 {
	return w.now
}

// Tick returns the tick the wheel was created with.
func (w *Wheel) Tick() time.Duration {
	return time.Duration(w.tick)
}

// Len returns the number of pending timers.
func (w *Wheel) Len() int {
	return w.count
}

// Schedule arms t to run at the absolute time when, on the clock given to Advance; if t is pending it is
// moved to the new deadline instead (a reset). A deadline at or before Now runs on the next Advance; in
// particular a timer a running function schedules with a deadline <= Now runs on the next Advance, never the
// running one, so a function that keeps re-arming itself into the past cannot stall Advance.
//
// Timers with equal deadlines run in the order they were last scheduled. Schedule panics if t has no function
// (see Init) or if t is pending on another Wheel.
func (w *Wheel) Schedule(t *Timer, when int64) {
	if t.fn == nil {
		panic("timer: Schedule of a Timer without a function (call Init first)")
	}
	switch t.wheel {
	case nil:
		t.wheel = w
		w.count++
	case w:
		w.unlink(t)
	default:
		panic("timer: Schedule of a Timer pending on another Wheel")
	}
	t.when = when
	if when <= w.now {
		t.where = inReady
		w.ready.push(t)
		return
	}
	w.insert(t)
}

// Stop cancels t and reports whether it was pending; stopping a timer that is not pending is a no-op that
// returns false. A function run by Advance may stop any timer, including one due in the same Advance that has
// not run yet: it then does not run. Stop panics if t is pending on another Wheel.
func (w *Wheel) Stop(t *Timer) bool {
	switch t.wheel {
	case nil:
		return false
	case w:
	default:
		panic("timer: Stop of a Timer pending on another Wheel")
	}
	w.unlink(t)
	t.wheel = nil
	w.count--
	return true
}

// Drain removes every pending timer and calls visit with each, in no particular order, once it is no
// longer pending. visit may read the timer (When, Arg) but must not use the wheel. It is for an owner
// that stops: the timers it still has can be handed elsewhere instead of being lost with the wheel.
func (w *Wheel) Drain(visit func(t *Timer)) {
	take := func(l *list) {
		for t := l.popFront(); t != nil; t = l.popFront() {
			t.where, t.wheel = inNone, nil
			w.count--
			visit(t)
		}
	}
	take(&w.ready)
	take(&w.due)
	for i := range w.levels {
		lv := &w.levels[i]
		for lv.occupied != 0 {
			s := bits.TrailingZeros64(lv.occupied)
			lv.occupied &^= 1 << s
			take(&lv.slots[s])
		}
	}
	w.sortedOK = false
}

// Advance moves the clock to now and runs, in deadline order, every pending timer whose deadline is <= now;
// it returns how many ran. Each function runs after its timer stops being pending, so it may re-arm it.
// Functions may Schedule and Stop any timer; a timer they schedule with a deadline <= now runs on the next
// Advance, one they stop or move later does not run in this one. A now earlier than Now is taken as Now (the
// clock never goes back). Advance panics if called from a function it runs.
//
// Its cost is that of the timers that run, plus a sort of each lowest-level bucket they come from (one pass
// when already in order), plus, amortised over each timer's life, at most one O(1) move per level as its
// deadline approaches: the wheel jumps from one occupied bucket to the next, so a long jump in time costs no
// more than the timers it passes.
func (w *Wheel) Advance(now int64) int {
	if w.running {
		panic("timer: Advance called from a timer function")
	}
	if now < w.now {
		now = w.now
	}
	w.now = now
	leftovers := !w.due.empty() // only after a function panicked
	w.collect(now)
	if w.due.empty() {
		return 0
	}
	if leftovers {
		w.due.sortByWhen() // the leftovers and the ready timers both precede now and interleave
	}
	return w.runDue()
}

// runDue runs the timers in w.due in order. It re-reads the head after every function, so a function that
// stops or moves a timer still in w.due takes it out of this run.
func (w *Wheel) runDue() int {
	w.running = true
	defer func() { w.running = false }() // a function that panics leaves the rest in w.due for the next Advance
	n := 0
	for t := w.due.popFront(); t != nil; t = w.due.popFront() {
		t.where = inNone
		t.wheel = nil
		w.count--
		n++
		t.fn(t.arg)
	}
	return n
}

// Next returns how long a poller may sleep, from now, before the earliest pending deadline: never past that
// deadline, and zero when a timer is already due. The second result is false when no timer is pending.
//
// Next costs O(1): it reads the least deadline recorded for the earliest non-empty bucket. The answer is exact
// unless the timer with that least deadline has been stopped or moved since; it is then early, never late,
// and the one Advance that such an early wake-up costs runs nothing and makes the answer exact again.
//
// A poller with a coarser timeout (epoll's milliseconds) should round the duration up. To wake once per tick
// for many nearby deadlines, round it up to the tick, at the cost of running timers up to one tick after
// their deadline; the wheel itself never rounds, as the result must not be later than the deadline.
func (w *Wheel) Next(now int64) (time.Duration, bool) {
	if w.count == 0 {
		return 0, false
	}
	if !w.ready.empty() || !w.due.empty() {
		return 0, true
	}
	for i := range w.levels {
		l := &w.levels[i]
		if l.occupied == 0 {
			continue
		}
		earliest := l.min[bits.TrailingZeros64(l.occupied)]
		if earliest <= now {
			return 0, true
		}
		if d := uint64(earliest - now); d <= math.MaxInt64 { // exact even when the int64 subtraction wraps
			return time.Duration(d), true
		}
		return math.MaxInt64, true
	}
	panic("timer: pending timers not found in the wheel")
}

// ticks converts a time at or after w.origin to a tick count. The subtraction may wrap as an int64 but the
// difference, read as a uint64, is exact.
func (w *Wheel) ticks(when int64) uint64 {
	return uint64(when-w.origin) / w.tick
}

// insert puts t, whose deadline's tick is not before w.elapsed, in its slot: on the level of the highest tick
// digit in which its deadline differs from w.elapsed, so that it sits as close to level 0 as it can.
func (w *Wheel) insert(t *Timer) {
	tick := w.ticks(t.when)
	lvl := (bits.Len64((tick^w.elapsed)|1) - 1) / slotBits
	s := uint8(tick >> (slotBits * lvl) & slotMask)
	l := &w.levels[lvl]
	if bit := uint64(1) << s; l.occupied&bit == 0 {
		l.occupied |= bit
		l.min[s] = t.when
	} else if t.when < l.min[s] {
		l.min[s] = t.when
	}
	slot := &l.slots[s]
	if w.sortedOK && tick == w.sortedTick && !slot.empty() && t.when < slot.head.prev.when {
		w.sortedOK = false
	}
	slot.push(t)
	t.where, t.level, t.slot = inSlot, uint8(lvl), s
}

// unlink takes t out of whichever list holds it; t stays counted and attached to w.
func (w *Wheel) unlink(t *Timer) {
	switch t.where {
	case inSlot:
		l := &w.levels[t.level]
		slot := &l.slots[t.slot]
		slot.remove(t)
		if slot.empty() {
			l.occupied &^= 1 << t.slot
		}
	case inReady:
		w.ready.remove(t)
	case inDue:
		w.due.remove(t)
	}
	t.where = inNone
}

// makeDue appends t to w.due.
func (w *Wheel) makeDue(t *Timer) {
	t.where = inDue
	w.due.push(t)
}

// collect appends every timer with a deadline <= now to w.due, in deadline order, and moves w.elapsed to
// now's tick, cascading the upper-level slots that the clock reaches on the way. It jumps from one occupied
// slot to the next, so an idle stretch of any length costs nothing. The order comes from visiting buckets in
// time order and sorting each one as it is emptied: the ready timers (deadlines before the previous Advance)
// first, then each tick of level 0. Buckets are small and often already in order (an idle timeout of fixed
// length is scheduled in deadline order), which the sort checks in one pass. w.now must already be now.
func (w *Wheel) collect(now int64) {
	w.collectAll(&w.ready)
	nowTick := w.ticks(now)
	for {
		lvl, s, ok := w.earliestSlot()
		if !ok {
			break
		}
		start := w.slotStart(lvl, s)
		if start > nowTick {
			break // every other timer is later still
		}
		// Every level below lvl is empty, so the clock can move to start without skipping a timer.
		w.elapsed = start
		switch {
		case lvl > 0:
			w.cascade(lvl, s)
		case start < nowTick:
			w.collectAll(&w.levels[0].slots[s]) // the whole tick is before now's tick
			w.levels[0].occupied &^= 1 << s
		default:
			w.collectPartial(s, now) // now's own tick: only part of it may be due
			w.elapsed = nowTick
			return
		}
	}
	w.elapsed = nowTick
}

// earliestSlot returns the slot holding the earliest timers: the first occupied slot of the lowest occupied
// level (see the invariants of level).
func (w *Wheel) earliestSlot() (lvl int, s uint8, ok bool) {
	for i := range w.levels {
		if occ := w.levels[i].occupied; occ != 0 {
			return i, uint8(bits.TrailingZeros64(occ)), true
		}
	}
	return 0, 0, false
}

// slotStart returns the first tick of slot s of level lvl: the digits of w.elapsed above the level, then s.
// For the top level the shift is 66, which yields 0 in Go, as wanted: it has no digits above it.
func (w *Wheel) slotStart(lvl int, s uint8) uint64 {
	above := uint(slotBits * (lvl + 1))
	return w.elapsed>>above<<above | uint64(s)<<(slotBits*lvl)
}

// collectAll sorts l by deadline and moves all its timers, in that order, to the end of w.due.
func (w *Wheel) collectAll(l *list) {
	l.sortByWhen()
	for t := l.takeAll(); t != nil; {
		next := t.next
		w.makeDue(t)
		t = next
	}
}

// collectPartial moves the timers of level-0 slot s, the slot of now's tick (w.elapsed), whose deadline is
// <= now to w.due, and makes the slot's min exact for those that stay. A loop that wakes up for each deadline
// calls it many times per tick: the min makes each call O(1) until a timer is due, and the slot is sorted
// once (stably, keeping schedule order on ties) so that each call then costs only the timers it takes.
func (w *Wheel) collectPartial(s uint8, now int64) {
	l := &w.levels[0]
	if now < l.min[s] {
		return
	}
	slot := &l.slots[s]
	if !w.sortedOK || w.sortedTick != w.elapsed {
		slot.sortByWhen()
		w.sortedTick, w.sortedOK = w.elapsed, true
	}
	for t := slot.head; t != nil && t.when <= now; t = slot.head {
		slot.remove(t)
		w.makeDue(t)
	}
	if slot.empty() {
		l.occupied &^= 1 << s
	} else {
		l.min[s] = slot.head.when
	}
}

// cascade empties slot s of level lvl > 0, which w.elapsed has just reached, moving each timer down to the
// level its deadline now calls for, always a lower one. Timers already due move down too rather than
// straight to w.due: collect then meets them in their tick's bucket, which keeps w.due in deadline order
// without a sort of the whole batch.
func (w *Wheel) cascade(lvl int, s uint8) {
	l := &w.levels[lvl]
	chain := l.slots[s].takeAll()
	l.occupied &^= 1 << s
	for t := chain; t != nil; {
		next := t.next
		w.insert(t)
		t = next
	}
}
