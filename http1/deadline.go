package http1

import (
	"sync/atomic"
	"time"
)

// deadline is a deadline one goroutine waits for while another may move it: the write deadline of
// a response, the read and write deadlines of a hijacked connection, the read deadline of a
// request body. It is on clockNow's clock (0: none), so that the wall clock being set does not
// move it, as with package net's deadlines.
//
// set wakes a waiter (awaitDeadline) through moved, a channel of one slot: a wake-up left over
// from a move when nobody waited only makes the next wait look at the deadline once more. A
// deadline whose waiter is woken by its ready channel anyway (a body's) has moved nil, and its
// owner signals ready when it moves.
//
// A wait with a deadline needs a timer. The first wait makes one, which later waits reuse (a response
// and its deadline go back to the pool together, so one timer serves many requests): a streaming
// handler with a WriteTimeout waits at every Flush, and made three allocations each time. The timer
// is the waiter's while busy is set; a second waiter at the same time (two goroutines reading a
// request body; a hijacked conn's reads and writes take turns, rmu and wmu) makes its own.
type deadline struct {
	at    atomic.Int64
	moved chan struct{}
	busy  atomic.Bool
	timer *time.Timer // owned by the waiter that set busy
}

// set moves the deadline to t (the zero time: none) and wakes the waiter to look at it.
func (d *deadline) set(t time.Time) {
	d.at.Store(clockDeadline(t))
	signal(d.moved) // a nil moved: nothing waits on it (select's default)
}

// setAfter sets the deadline to left from now, without waking anybody: for a deadline set before
// anyone can wait for it (a server timeout, as the request starts).
func (d *deadline) setAfter(left time.Duration) {
	d.at.Store(clockAfter(clockNow(), left))
}

// clear removes the deadline without waking anybody.
func (d *deadline) clear() { d.at.Store(0) }

// get returns the deadline on clockNow's clock, 0 for none.
func (d *deadline) get() int64 { return d.at.Load() }

// passed reports whether the deadline has passed.
func (d *deadline) passed() bool {
	at := d.at.Load()
	return at != 0 && clockNow() >= at
}

// awaitDeadline waits for a value on ready, or for done to close (nil: never), until d passes:
// ok is false if it passed first. Once it has passed, only an outcome already in counts: a wait
// that starts after the deadline fails at once unless ready or done is ready. A move of d
// (d.set, from any goroutine) wakes the wait to look at the new deadline: moved later or cleared,
// the wait goes on; moved earlier, it ends sooner; into the past, it fails at once.
//
// Only the goroutine that waits receives from ready and d.moved. It allocates a timer only while
// d is set, and only the first time (see deadline).
func awaitDeadline[T any](d *deadline, ready <-chan T, done <-chan struct{}) (v T, ok bool) {
	own := d.busy.CompareAndSwap(false, true)
	if own {
		defer d.busy.Store(false)
	}
	for {
		at := d.at.Load()
		if at == 0 {
			select {
			case v = <-ready:
				return v, true
			case <-done:
				return v, true
			case <-d.moved:
				continue
			}
		}
		left := time.Duration(at - clockNow())
		if left <= 0 {
			select {
			case v = <-ready:
				return v, true
			case <-done:
				return v, true
			default:
				return v, false
			}
		}
		t := d.startTimer(own, left)
		select {
		case v = <-ready:
			t.Stop()
			return v, true
		case <-done:
			t.Stop()
			return v, true
		case <-d.moved:
			t.Stop()
		case <-t.C:
			// Only a hint to look again, which the clock decides: the deadline may have moved
			// as it fired, and with the asynchronous timer channels of before Go 1.23 (a main
			// module whose go.mod says go 1.22 or older, or GODEBUG=asynctimerchan=1) the
			// reused timer may hand over a fire from an earlier wait, which Reset does not
			// take back.
		}
	}
}

// startTimer returns a timer that fires in left: d's own, made once and reused, for the waiter that
// owns it (busy); a new one for another. Every wait stops its timer or sees it fire. Since Go 1.23 a
// Reset timer delivers nothing from before the Reset, but only where the main module's go.mod says
// go 1.23 or later: elsewhere a stale fire may come, and awaitDeadline looks at the clock on a fire.
func (d *deadline) startTimer(own bool, left time.Duration) *time.Timer {
	if !own {
		return time.NewTimer(left)
	}
	if d.timer == nil {
		d.timer = time.NewTimer(left)
	} else {
		d.timer.Reset(left)
	}
	return d.timer
}
