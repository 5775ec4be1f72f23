package eddy

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"
)

// lateTaskHandler, on OnClose, posts an AsyncWrite's task from another goroutine, as an AsyncWrite
// that found the connection open an instant before the close and reached the task list only once
// OnClose was running.
type lateTaskHandler struct {
	BaseHandler
	conn    chan Conn
	closed  chan struct{}
	mu      sync.Mutex
	inClose bool
	cbLate  bool // the callback ran after OnClose had begun
	cbRan   chan error
	postErr error
}

func (h *lateTaskHandler) OnOpen(c Conn) { h.conn <- c }

func (h *lateTaskHandler) OnClose(c Conn, err error) {
	h.mu.Lock()
	h.inClose = true
	h.mu.Unlock()
	sc := c.(*stdConn)
	done := make(chan struct{})
	go func() {
		defer close(done)
		err := sc.postUser(stdTask{cb: func(Conn, error) {
			h.mu.Lock()
			h.cbLate = h.inClose
			h.mu.Unlock()
			h.cbRan <- nil
		}})
		h.mu.Lock()
		h.postErr = err
		h.mu.Unlock()
	}()
	<-done
	close(h.closed)
}

// Conn.AsyncWrite lets the callback of an AsyncWrite accepted just before the close run after OnClose
// "on the epoll and uring engines"; Handler.OnClose runs "after the last other callback". On std an
// AsyncWrite (or Execute) looks at closeReq and then queues its task (push): a close that came in
// between, and reported OnClose meanwhile (its notifyClose had run the list of tasks before OnClose),
// found the task queued behind OnClose, whose section then ran it: the AsyncWrite's callback came after
// OnClose, with ErrClosed (seen on a sixth of the connections that goroutines wrote to as they closed,
// TestStdAsyncWriteRacingCloseCallsBackBeforeOnClose). push now looks at closeReq again under the
// list's lock, and refuses such a task with ErrClosed, as the AsyncWrite's own look was meant to.
// The test posts the task from another goroutine while OnClose runs: it must be refused.
func TestStdTaskPostedDuringOnCloseIsRefused(t *testing.T) {
	h := &lateTaskHandler{conn: make(chan Conn, 1), closed: make(chan struct{}), cbRan: make(chan error, 1)}
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineStd), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	nc, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := <-h.conn
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
	}
	h.mu.Lock()
	postErr := h.postErr
	h.mu.Unlock()
	if postErr == nil {
		// Accepted: its callback must not run after OnClose. It runs when OnClose's section ends.
		select {
		case <-h.cbRan:
		case <-time.After(10 * time.Second):
			t.Fatal("a task accepted during OnClose never ran")
		}
		h.mu.Lock()
		late := h.cbLate
		h.mu.Unlock()
		if late {
			t.Fatal("an AsyncWrite task posted while OnClose ran was accepted, and its callback ran after OnClose")
		}
		return
	}
	if postErr != ErrClosed {
		t.Fatalf("a task posted while OnClose ran was refused with %v, want ErrClosed", postErr)
	}
}
