package eddy

import (
	"testing"
	"time"
)

// An empty send queue is no peer that reads nothing: the peer took all it was sent, and the output waits
// on the engine's own writer (std's writer goroutine, late on a loaded machine or running a completion
// callback). flushWatch looks again a quarter of the timeout later, however long the queue was empty,
// and once the writer writes, the bound counts from that write as usual.
func TestFlushWatchEmptyQueueIsNotThePeers(t *testing.T) {
	for _, lt := range []int64{int64(2 * time.Second), int64(10 * time.Second)} {
		rc := flushLook(lt)
		var w flushWatch
		a := 5 * lt // the close began (or the last write was) here
		steps := []struct {
			q              int
			lastWrite, now int64
			next           int64
			reading        bool
		}{
			{0, a, a + rc, a + 2*rc, false},                  // nothing in the socket: look again
			{0, a, a + lt, a + lt + rc, false},               // at the bound, still nothing: not the peer's
			{0, a, a + 3*lt, a + 3*lt + rc, false},           // however long the writer is late
			{1000, a + 4*lt, a + 4*lt + rc, a + 5*lt, false}, // it wrote: a baseline, the usual bound
			{1000, a + 4*lt, a + 5*lt, 0, false},             // which cuts a peer that then reads nothing
		}
		for i, st := range steps {
			next, reading := w.check(st.q, true, st.lastWrite, st.now, lt)
			if next != st.next || reading != st.reading {
				t.Fatalf("timeout %v, step %d: check(%d, true, %d, %d) = %d, %v; want %d, %v",
					time.Duration(lt), i, st.q, st.lastWrite, st.now, next, reading, st.next, st.reading)
			}
		}
	}
}
