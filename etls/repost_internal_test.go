package etls

import (
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// fullConn is a raw connection whose task queue stays full for its first refuse Executes, as a std
// connection's does while a callback holds it; its loop hands what it is given to the test.
type fullConn struct {
	eddy.Conn // not used: a call to any other method panics
	refuse    int
	tries     int
	loop      *fakeLoop
}

func (f *fullConn) Execute(fn func(eddy.Conn)) error {
	f.tries++
	if f.tries <= f.refuse {
		return eddy.ErrQueueFull
	}
	fn(f)
	return nil
}

func (f *fullConn) Loop() eddy.Loop { return f.loop }

// loopTask is a function given to fakeLoop, and how: by Execute (after < 0) or AfterFunc(after).
type loopTask struct {
	fn    func()
	after time.Duration
}

type fakeLoop struct {
	eddy.Loop
	tasks chan loopTask
}

func (l *fakeLoop) Execute(fn func()) { l.tasks <- loopTask{fn, -1} }
func (l *fakeLoop) AfterFunc(d time.Duration, fn func()) *eddy.Timer {
	l.tasks <- loopTask{fn, d}
	return nil
}

// Conn.post, the work etls does for itself (a Close, the end of a handshake), retries on the loop
// when the task queue is full. It queued its retry with Loop.Execute each time: on std, where a
// connection's queue stays full for as long as a callback holds the connection, the loop's
// goroutine ran the retry, requeued it, and ran it again, spinning all that time (a fifth of a core
// or more over a held callback). After a first retry from the loop, it waits, longer each time
// (Loop.AfterFunc), and fn still runs once, when room comes.
func TestPostRetryBacksOff(t *testing.T) {
	const refuse = 12
	raw := &fullConn{refuse: refuse, loop: &fakeLoop{tasks: make(chan loopTask, 1)}}
	c := &Conn{raw: raw}
	runs := 0
	if err := c.post(func(eddy.Conn) { runs++ }); err != nil {
		t.Fatalf("post with the queue full: %v", err)
	}
	var how []time.Duration
	for runs == 0 {
		select {
		case task := <-raw.loop.tasks:
			how = append(how, task.after)
			task.fn()
		default:
			t.Fatalf("fn never ran, and no retry is queued (after %v)", how)
		}
	}
	if runs != 1 || raw.tries != refuse+1 {
		t.Fatalf("fn ran %d times after %d tries, want once after %d", runs, raw.tries, refuse+1)
	}
	if len(how) != refuse || how[0] >= 0 {
		t.Fatalf("retries %v: want %d, the first by Loop.Execute", how, refuse)
	}
	prev := time.Duration(0)
	for i, d := range how[1:] {
		if d < prev || d < repostMinWait || d > repostMaxWait {
			t.Fatalf("retry %d waited %v (after %v): want a wait that grows, between %v and %v; all: %v",
				i+1, d, prev, repostMinWait, repostMaxWait, how)
		}
		prev = d
	}
	if prev != repostMaxWait {
		t.Fatalf("the last retry waited %v, want %v: %v", prev, repostMaxWait, how)
	}
}
