package timer

// Where a pending Timer is kept; the zero value means "not pending".
const (
	inNone  uint8 = iota // not pending
	inSlot               // in wheel.levels[level].slots[slot]
	inReady              // in wheel.ready: deadline already passed when scheduled, runs on the next Advance
	inDue                // in wheel.due: collected by the running Advance, not yet run
)

// Timer is an intrusive timer node: the zero value is an unscheduled timer. Embed it in, or keep it in, a
// struct that outlives the scheduling: while the timer is pending its Wheel keeps a pointer to it, so a
// pending Timer must not be copied. A Timer belongs to at most one Wheel at a time; it may move to another
// Wheel once it is no longer pending. Like the Wheel, a Timer is not safe for concurrent use.
//
// A Timer is 64 bytes on 64-bit platforms, one cache line.
type Timer struct {
	next, prev *Timer // links in a circular list; nil when not pending
	wheel      *Wheel // the wheel that holds the timer; nil when not pending
	when       int64  // deadline, nanoseconds on the wheel's clock
	fn         func(arg any)
	arg        any
	where      uint8 // inNone, inSlot, inReady or inDue
	level      uint8 // valid when where == inSlot
	slot       uint8 // valid when where == inSlot
}

// Init sets the function run when the timer fires and the argument passed back to it, so that callers can
// use one method value or function for many timers instead of allocating a closure per timer. Init may be
// called on a pending timer; the new function is the one that runs.
func (t *Timer) Init(fn func(arg any), arg any) {
	t.fn = fn
	t.arg = arg
}

// Arg returns the argument given to Init.
func (t *Timer) Arg() any {
	return t.arg
}

// Pending reports whether the timer is scheduled: it has been given to Schedule and has neither fired nor
// been stopped since. A timer whose callback is running is not pending unless the callback scheduled it again.
func (t *Timer) Pending() bool {
	return t.wheel != nil
}

// When returns the deadline of a pending timer, in nanoseconds on its wheel's clock. For a timer that is not
// pending it returns the deadline it was last scheduled for (zero for a timer never scheduled).
func (t *Timer) When() int64 {
	return t.when
}
