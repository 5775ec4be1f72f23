package etls

import (
	"testing"

	"github.com/eddyio/eddy"
)

// orderConn is a raw connection whose task queue the test drives: Execute appends to one FIFO (or is
// refused while full is set), its loop's Execute appends to the same FIFO, as on the epoll engine,
// and it records whether reading is paused.
type orderConn struct {
	eddy.Conn // not used: a call to any other method panics
	in        []byte
	paused    bool
	full      bool
	tasks     []func()
}

func (q *orderConn) Execute(fn func(eddy.Conn)) error {
	if q.full {
		return eddy.ErrQueueFull
	}
	q.tasks = append(q.tasks, func() { fn(q) })
	return nil
}

func (q *orderConn) Loop() eddy.Loop           { return orderLoop{q: q} }
func (q *orderConn) Peek(int) ([]byte, error)  { return q.in, nil }
func (q *orderConn) Buffered() int             { return len(q.in) }
func (q *orderConn) SetReadPaused(paused bool) { q.paused = paused }
func (q *orderConn) Discard(n int) (int, error) {
	if n < 0 || n > len(q.in) {
		n = len(q.in)
	}
	q.in = q.in[n:]
	return n, nil
}

type orderLoop struct {
	eddy.Loop // not used: a call to any other method panics
	q         *orderConn
}

func (l orderLoop) Execute(fn func()) { l.q.tasks = append(l.q.tasks, fn) }

// The loop stops reading a handshake's input above hsPauseBytes, and the handshake goroutine, once
// it has read it down below hsResumeBytes, posts the restart. With the task queue full that post
// went round through the loop (post's retry, queued again at the end), behind the hand-over to the
// loop (establish) that the goroutine posted next: establish saw no pause (the goroutine had cleared
// it) and left reading stopped, and the restart, finding the connection established, did nothing.
// The connection was never read again.
func TestHandshakeResumeAfterEstablish(t *testing.T) {
	q := &orderConn{}
	c := &Conn{raw: q, h: &Handler{inner: eddy.BaseHandler{}}}
	c.hsCond.L = &c.hsMu

	// Five records of 16,000 bytes (80 KiB) arrive during the handshake: the loop stops reading.
	for range 5 {
		q.in = append(q.in, 0x16, 3, 3, 16000>>8, 16000&0xff)
		q.in = append(q.in, make([]byte, 16000)...)
	}
	c.onData()
	if !q.paused {
		t.Fatal("80 KiB of handshake input did not pause reading")
	}

	// The handshake goroutine reads it all, while the loop's task queue is full.
	q.full = true
	buf := make([]byte, 16<<10)
	for {
		c.hsMu.Lock()
		left := len(c.hsBuf)
		c.hsMu.Unlock()
		if left == 0 {
			break
		}
		if _, err := (pipe{c}).Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	// The handshake succeeds, and the queue has room again for its hand-over.
	q.full = false
	if err := c.post(c.establish); err != nil {
		t.Fatal(err)
	}
	for len(q.tasks) > 0 {
		fn := q.tasks[0]
		q.tasks = q.tasks[1:]
		fn()
	}
	if c.phase != established {
		t.Fatalf("phase %v, want established", c.phase)
	}
	if q.paused {
		t.Fatal("the connection was established with reading still paused by the handshake: never read again")
	}
}
