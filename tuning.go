package eddy

import "time"

// Tuning shared by the engines.
const (
	maxIovecs      = 1024                   // slices per writev (the kernel's IOV_MAX)
	acceptBackoff0 = 5 * time.Millisecond   // first pause after accept fails with EMFILE and the like
	acceptBackoffN = 500 * time.Millisecond // longest pause
	lingerTimeout  = 2 * time.Second        // how long a closing socket waits for its flush or the peer's FIN
)

// asyncWait is an AsyncWrite callback waiting for its bytes to reach the kernel.
type asyncWait struct {
	ahead int64 // queued bytes up to and including this write's last byte (file regions too: int64, see fileQueue.bytes)
	cb    func(Conn, error)
}

// asyncWaits is the FIFO of AsyncWrite callbacks of one connection, shared by every engine: each waits
// until the output queue ahead of it, its own bytes included, has been handed to the kernel. It keeps its
// array once emptied, so that a connection that writes from other goroutines registers its callbacks
// without allocating (up to maxKeptWaits of them; a longer burst's array is let go).
type asyncWaits struct {
	q     []asyncWait
	head  int // q[head:] are waiting; q[:head] ran and were cleared
	ready int // q[head:head+ready] are complete (advance), for next to pop
}

// maxKeptWaits bounds the array an emptied asyncWaits keeps.
const maxKeptWaits = 64

// len reports how many callbacks wait, complete or not.
func (w *asyncWaits) len() int { return len(w.q) - w.head }

// add registers cb for a write whose last byte is queued bytes from the head of the output queue.
// A full array whose front half or more ran is compacted rather than grown: a FIFO that never empties
// (a steady stream of writes, one always in flight) would otherwise keep every wait that ever ran.
func (w *asyncWaits) add(queued int64, cb func(Conn, error)) {
	if len(w.q) == cap(w.q) && w.head > 0 && 2*w.head >= len(w.q) {
		live := copy(w.q, w.q[w.head:])
		clear(w.q[live:])
		w.q = w.q[:live]
		w.head = 0
	}
	w.q = append(w.q, asyncWait{ahead: queued, cb: cb})
}

// advance accounts n bytes taken by the kernel, marks the waits they complete, and reports how many
// complete waits there are for next to pop. A wait is complete when one at or behind it is: a Flushed
// registered while callbacks ran (ahead 0) completes the waits ahead of it too, in order.
func (w *asyncWaits) advance(n int) int {
	for i := w.head; i < len(w.q); i++ {
		w.q[i].ahead -= int64(n)
		if w.q[i].ahead <= 0 {
			w.ready = max(w.ready, i+1-w.head)
		}
	}
	return w.ready
}

// next removes and returns the wait at the head if it is complete. The caller runs it: a callback may
// write, and so add to w (behind the waits still to pop), or flush and so advance w again.
// When the last wait goes, the array is kept for the next ones (up to maxKeptWaits).
func (w *asyncWaits) next() (asyncWait, bool) {
	if w.ready == 0 {
		return asyncWait{}, false
	}
	x := w.q[w.head]
	w.q[w.head] = asyncWait{}
	w.head++
	w.ready--
	if w.head == len(w.q) {
		w.head = 0
		if cap(w.q) > maxKeptWaits {
			w.q = nil
		} else {
			w.q = w.q[:0]
		}
	}
	return x, true
}

// take removes and returns every wait (to fail them when the connection closes).
func (w *asyncWaits) take() []asyncWait {
	ws := w.q[w.head:]
	*w = asyncWaits{}
	return ws
}
