package eddy

import (
	"testing"
	"time"
)

// flushWatch takes a baseline a quarter of the timeout after a write, compares it at the timeout,
// waits on while the send queue shrinks, and gives up when it stands still or cannot be read.
func TestFlushWatch(t *testing.T) {
	for _, lt := range []int64{int64(2 * time.Second), int64(10 * time.Second)} { // the flush timeout
		testFlushWatch(t, lt)
	}
}

func testFlushWatch(t *testing.T, lt int64) {
	rc, s := flushLook(lt), int64(time.Second)
	var w flushWatch
	a, b, c, d, e := 5*lt, 10*lt, 15*lt, 20*lt, 25*lt // the times of five last writes
	steps := []struct {
		q         int
		ok        bool
		lastWrite int64
		now       int64
		next      int64
		reading   bool
	}{
		{1000, true, a, a + rc, a + lt, false},                     // a baseline, compared at the bound
		{1000, true, a, a + lt, 0, false},                          // it stood still: give up
		{1000, true, b, b + rc, b + lt, false},                     // a write since: a new baseline
		{900, true, b, b + lt, b + 2*lt, true},                     // it moved: wait on from now
		{900, true, b + lt, b + 2*lt, 0, false},                    // then stood still for the timeout
		{800, true, c, c + lt + s, c + 2*lt + s - rc, false},       // a late first look: the peer gets its time all the same
		{700, true, c, c + 2*lt + s - rc, c + 3*lt + s - rc, true}, // and the comparison after it
		{0, false, d, d + rc, d + lt, false},                       // cannot tell: wait for the bound
		{0, false, d, d + lt, 0, false},                            // and give up there
		{500, true, e, e + rc, e + lt, false},                      // a baseline
		{600, true, e, e + lt/2, e + lt, false},                    // a queue that grew is no reading
	}
	for i, st := range steps {
		next, reading := w.check(st.q, st.ok, st.lastWrite, st.now, lt)
		if next != st.next || reading != st.reading {
			t.Fatalf("timeout %v, step %d: check(%d, %v, %d, %d) = %d, %v; want %d, %v", time.Duration(lt), i, st.q, st.ok, st.lastWrite, st.now, next, reading, st.next, st.reading)
		}
	}
}
