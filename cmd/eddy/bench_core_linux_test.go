package main

import "testing"

// TestCoreBusyCountsInterrupts checks that a CPU's busy time counts its interrupts: a tick in an
// interrupt is charged to the interrupted task too (tick-based accounting), so leaving interrupts out of
// busy made the share of other processes come out low.
func TestCoreBusyCountsInterrupts(t *testing.T) {
	// user, nice, system, idle, iowait, irq, softirq, steal
	busy, total := coreBusyTotal([8]int64{100, 3, 50, 400, 7, 11, 13, 2})
	if busy != 100+3+50+11+13+2 {
		t.Errorf("busy = %d, want %d (user, nice, system, irq, softirq, steal)", busy, 100+3+50+11+13+2)
	}
	if total != busy+400+7 {
		t.Errorf("total = %d, want %d (busy, idle, iowait)", total, busy+400+7)
	}
}
