package eddy_test

import (
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Session 30: a review of the idle timeout against a Close that came first.

// A Close whose task is still queued when the connection's idle timeout comes due in the same pass of the
// loop's timers (the Close made by a timer of that pass, or by another goroutine after the iteration's
// tasks ran) is the close: Close returned nil, the handler asked for it, so OnClose reports nil, not
// ErrIdleTimeout. std's idle check has always stood aside once Close was called; the loop engines' idle
// timer closed the connection itself, with ErrIdleTimeout, ahead of the Close's task (as onEOF already
// knows not to). Here the two are due in one pass because OnOpen keeps the loop busy past both: a
// Loop.AfterFunc made in OnOpen calls Close a third of the way into the timeout.
func TestIdleTimeoutDefersToQueuedClose(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const idle = 300 * time.Millisecond
		closeErr := make(chan error, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			c.Loop().AfterFunc(idle/3, func() { closeErr <- c.Close() })
			time.Sleep(2 * idle) // both the AfterFunc and the idle timeout are due when the loop next looks
		}}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(idle), eddy.WithLoops(1))
		c := s.dial(t)
		defer c.Close()
		select {
		case err := <-closeErr:
			if err != nil {
				t.Fatalf("Close: %v, want nil", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the AfterFunc did not run")
		}
		if err := h.waitClosed(t, 30*time.Second); err != nil {
			t.Fatalf("OnClose(%v), want nil: Close came before the idle timeout acted", err)
		}
		wantPeerReads(t, c, "")
		wantClosedOnce(t, h.counter)
	})
}

// inputFirstHandler records, per connection, whether OnData ran before OnClose, and counts the connections
// closed as idle although their input was never offered to the handler.
type inputFirstHandler struct {
	conns       chan eddy.Conn
	closed      chan struct{}
	idleUnread  atomic.Int64 // ErrIdleTimeout with no OnData before it
	otherReason atomic.Int64 // neither ErrIdleTimeout nor nil
}

func (h *inputFirstHandler) OnOpen(c eddy.Conn) {
	c.SetContext(new(atomic.Bool))
	h.conns <- c
}

func (h *inputFirstHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Context().(*atomic.Bool).Store(true)
	c.Write(b)
}

func (h *inputFirstHandler) OnClose(c eddy.Conn, err error) {
	switch {
	case errors.Is(err, eddy.ErrIdleTimeout):
		if !c.Context().(*atomic.Bool).Load() {
			h.idleUnread.Add(1)
		}
	case err != nil:
		h.otherReason.Add(1)
	}
	h.closed <- struct{}{}
}

// A connection whose peer sent input before its idle timeout came due is not closed as idle while that
// input waits, unread, in its socket. The loop engines read the ready input of an iteration before they run
// its timers, which is what keeps a loop that was held up (a slow callback, a paused VM) from closing
// connections whose peers spoke in time; but an iteration takes at most what one wait returns: epoll_wait
// hands over 1024 events, and the connections beyond were closed as idle with their input unread (std asks
// its reader first: idleCheck, askReader). Here 1100 connections get their timeout in one function run on
// the loop, which then stays busy past it while every peer sends a byte.
func TestIdleTimeoutSparesUnreadInput(t *testing.T) {
	// Not parallel: 2200 descriptors.
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("no loop to hold up: each std connection reads on a goroutine of its own (and idleCheck asks it)")
		}
		const n = 1100 // more than an epoll_wait returns (maxEvents)
		const idle = 500 * time.Millisecond
		h := &inputFirstHandler{conns: make(chan eddy.Conn, n), closed: make(chan struct{}, n)}
		s := startServer(t, kind, h, eddy.WithLoops(1))
		clients, server := openMany(t, s.addr, n, h.conns)
		armed, written := make(chan struct{}), make(chan struct{})
		server[0].Loop().Execute(func() {
			for _, c := range server {
				if err := c.SetIdleTimeout(idle); err != nil {
					t.Errorf("SetIdleTimeout: %v", err)
				}
			}
			at := time.Now()
			close(armed)
			<-written
			time.Sleep(time.Until(at.Add(idle + idle/2))) // every timeout is due when the loop looks again
		})
		<-armed
		for i, c := range clients {
			if _, err := c.Write([]byte("x")); err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
		}
		close(written)
		for i := range n {
			select {
			case <-h.closed:
			case <-time.After(30 * time.Second):
				t.Fatalf("%d of %d connections closed", i, n)
			}
		}
		if u, o := h.idleUnread.Load(), h.otherReason.Load(); u != 0 || o != 0 {
			t.Fatalf("%d of %d connections closed as idle with their peer's input unread (%d with another error)", u, n, o)
		}
		for i, c := range clients {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if got, err := io.ReadAll(c); err != nil || string(got) != "x" {
				t.Fatalf("client %d read %q, %v; want the echo, then EOF", i, got, err)
			}
		}
	})
}
