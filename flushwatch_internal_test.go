package eddy

import (
	"testing"
	"time"
)

// flushWatch takes a baseline flushRecheck after a write, compares it lingerTimeout after the write,
// waits on while the send queue shrinks, and gives up when it stands still or cannot be read.
func TestFlushWatch(t *testing.T) {
	const s = int64(time.Second)
	rc, lt := int64(flushRecheck), int64(lingerTimeout)
	var w flushWatch
	lastWrite := 10 * s
	steps := []struct {
		q         int
		ok        bool
		lastWrite int64
		now       int64
		next      int64
		reading   bool
	}{
		{1000, true, lastWrite, lastWrite + rc, lastWrite + lt, false},        // a baseline, compared at the bound
		{1000, true, lastWrite, lastWrite + lt, 0, false},                     // it stood still: give up
		{1000, true, 20 * s, 20*s + rc, 20*s + lt, false},                     // a write since: a new baseline
		{900, true, 20 * s, 20*s + lt, 20*s + 2*lt, true},                     // it moved: wait on from now
		{900, true, 20*s + lt, 20*s + 2*lt, 0, false},                         // then stood still for lingerTimeout
		{800, true, 30 * s, 30*s + lt + s, 30*s + 2*lt + s - rc, false},       // a late first look: the peer gets its time all the same
		{700, true, 30 * s, 30*s + 2*lt + s - rc, 30*s + 3*lt + s - rc, true}, // and the comparison after it
		{0, false, 40 * s, 40*s + rc, 40*s + lt, false},                       // cannot tell: wait for the bound
		{0, false, 40 * s, 40*s + lt, 0, false},                               // and give up there
		{500, true, 50 * s, 50*s + rc, 50*s + lt, false},                      // a baseline
		{600, true, 50 * s, 50*s + lt/2, 50*s + lt, false},                    // a queue that grew is no reading
	}
	for i, st := range steps {
		next, reading := w.check(st.q, st.ok, st.lastWrite, st.now)
		if next != st.next || reading != st.reading {
			t.Fatalf("step %d: check(%d, %v, %d, %d) = %d, %v; want %d, %v", i, st.q, st.ok, st.lastWrite, st.now, next, reading, st.next, st.reading)
		}
	}
}
