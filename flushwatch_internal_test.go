package eddy

import (
	"testing"
	"time"
)

// flushWatch takes a baseline after a write, waits on while the send queue shrinks, and gives up when
// it stands still or cannot be read.
func TestFlushWatch(t *testing.T) {
	const s = int64(time.Second)
	var w flushWatch
	lastWrite := 10 * s
	steps := []struct {
		q       int
		ok      bool
		now     int64
		next    int64
		reading bool
	}{
		{1000, true, 12 * s, 12*s + int64(flushRecheck), false}, // no baseline yet: take one
		{900, true, 12*s + int64(flushRecheck), 12*s + int64(flushRecheck) + int64(lingerTimeout), true},
		{900, true, 15 * s, 0, false}, // it stood still: give up
	}
	for i, st := range steps {
		next, reading := w.check(st.q, st.ok, lastWrite, st.now)
		if next != st.next || reading != st.reading {
			t.Fatalf("step %d: check(%d) = %d, %v; want %d, %v", i, st.q, next, reading, st.next, st.reading)
		}
	}
	// A write since the baseline makes it stale: a new one, even if the queue is smaller.
	if next, reading := w.check(100, true, 16*s, 18*s); next != 18*s+int64(flushRecheck) || reading {
		t.Fatalf("after a write: %d, %v; want a new baseline", next, reading)
	}
	if next, _ := w.check(0, false, 16*s, 19*s); next != 0 {
		t.Fatal("a socket that cannot tell its queue must give up")
	}
}
