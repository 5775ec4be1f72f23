package timer

import "fmt"

// CheckInvariants verifies the wheel's internal structure (the invariants documented on level and Wheel) and
// returns the first violation found. It walks every timer, so tests call it between operations only.
func CheckInvariants(w *Wheel) error {
	if w.running {
		return fmt.Errorf("running is set outside Advance")
	}
	if !w.due.empty() {
		return fmt.Errorf("due list not empty outside Advance")
	}
	if got := w.ticks(w.now); got != w.elapsed {
		return fmt.Errorf("elapsed = %d, want ticks(now) = %d", w.elapsed, got)
	}
	if cur := &w.levels[0].slots[w.elapsed&slotMask]; w.sortedOK && w.sortedTick == w.elapsed && !cur.empty() {
		for t := cur.head; t.next != cur.head; t = t.next {
			if t.next.when < t.when {
				return fmt.Errorf("the current tick's slot is marked sorted but %d comes before %d", t.when, t.next.when)
			}
		}
	}
	total := 0
	err := walk(&w.ready, func(t *Timer) error {
		if t.where != inReady || t.wheel != w {
			return fmt.Errorf("ready timer with where=%d wheel=%p", t.where, t.wheel)
		}
		if t.when > w.now {
			return fmt.Errorf("ready timer with deadline %d after now %d", t.when, w.now)
		}
		total++
		return nil
	})
	if err != nil {
		return err
	}
	for lvl := range w.levels {
		l := &w.levels[lvl]
		p := uint8(w.elapsed >> (slotBits * lvl) & slotMask)
		for s := range uint8(numSlots) {
			slot := &l.slots[s]
			if occupied := l.occupied&(1<<s) != 0; occupied == slot.empty() {
				return fmt.Errorf("level %d slot %d: occupied bit %v, empty list %v", lvl, s, occupied, slot.empty())
			}
			if slot.empty() {
				continue
			}
			if s < p || (lvl > 0 && s == p) {
				return fmt.Errorf("level %d slot %d occupied behind position %d", lvl, s, p)
			}
			start := w.slotStart(lvl, s)
			if w.ticks(l.min[s]) < start {
				return fmt.Errorf("level %d slot %d: min %d before the slot's start tick %d", lvl, s, l.min[s], start)
			}
			err := walk(slot, func(t *Timer) error {
				total++
				if t.where != inSlot || t.wheel != w || int(t.level) != lvl || t.slot != s {
					return fmt.Errorf("timer in level %d slot %d says where=%d level=%d slot=%d", lvl, s, t.where, t.level, t.slot)
				}
				if t.when <= w.now {
					return fmt.Errorf("timer in level %d slot %d with deadline %d <= now %d", lvl, s, t.when, w.now)
				}
				if t.when < l.min[s] {
					return fmt.Errorf("level %d slot %d: deadline %d below min %d", lvl, s, t.when, l.min[s])
				}
				tick := w.ticks(t.when)
				above := uint(slotBits * (lvl + 1))
				if tick>>above != w.elapsed>>above || uint8(tick>>(slotBits*lvl)&slotMask) != s {
					return fmt.Errorf("timer tick %d misplaced in level %d slot %d (elapsed %d)", tick, lvl, s, w.elapsed)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	if total != w.count {
		return fmt.Errorf("found %d timers, count is %d", total, w.count)
	}
	return nil
}

// walk calls fn for each timer of l, checking the links on the way.
func walk(l *list, fn func(*Timer) error) error {
	h := l.head
	if h == nil {
		return nil
	}
	for t := h; ; t = t.next {
		if t.next == nil || t.next.prev != t {
			return fmt.Errorf("broken links at timer with deadline %d", t.when)
		}
		if err := fn(t); err != nil {
			return err
		}
		if t.next == h {
			return nil
		}
	}
}
