// Package timer is the hierarchical timing wheel that each eddy event loop uses for connection idle timeouts,
// I/O deadlines and Loop.AfterFunc. A Wheel is owned by one loop and used only from that loop's goroutine, so
// it takes no locks; the loop schedules intrusive Timer nodes embedded in its own structures (a connection
// embeds its idle Timer), which makes adding, moving and cancelling a timer O(1) and free of allocation even
// with hundreds of thousands of connections. Once per iteration the loop calls Advance with the current time
// to run every timer whose deadline has passed, in deadline order, and asks Next how long its poller may sleep.
// When the loop stops, Drain hands it the timers still pending, so that they can be given to runtime timers
// rather than lost with the wheel.
// The wheel has eleven levels of 64 slots, so any deadline an int64 clock can express is kept without an
// overflow list: a timer lives on the lowest level whose slots are wide enough to tell it apart from the
// current time, and moves down one or more levels as the clock approaches its deadline.
package timer
