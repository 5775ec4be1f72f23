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
	ahead int // queued bytes up to and including this write's last byte
	cb    func(Conn, error)
}

// asyncWaits is the FIFO of AsyncWrite callbacks of one connection, shared by every engine: each waits
// until the output queue ahead of it, its own bytes included, has been handed to the kernel.
type asyncWaits []asyncWait

// add registers cb for a write whose last byte is queued bytes from the head of the output queue.
func (w *asyncWaits) add(queued int, cb func(Conn, error)) {
	*w = append(*w, asyncWait{ahead: queued, cb: cb})
}

// advance accounts n bytes taken by the kernel and removes the waits they complete, returning them. The
// caller runs them afterwards: a callback may write, and so add to w.
func (w *asyncWaits) advance(n int) []asyncWait {
	ws := *w
	done := 0
	for i := range ws {
		ws[i].ahead -= n
		if ws[i].ahead <= 0 {
			done = i + 1
		}
	}
	if done == len(ws) {
		*w = nil
	} else {
		*w = ws[done:]
	}
	return ws[:done]
}

// take removes and returns every wait (to fail them when the connection closes).
func (w *asyncWaits) take() []asyncWait {
	ws := *w
	*w = nil
	return ws
}
