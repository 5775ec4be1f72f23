package eddy_test

import (
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// OnPeerClosed (HalfCloseHandler) and what follows it: a Close made inside it, and a pause and restart
// of reading after it. Session 31's review of the epoll engine's Conn found both wrong on epoll and uring.

// peerCloseCloser closes the connection itself in OnPeerClosed, and then returns false.
type peerCloseCloser struct {
	*counter
	closeErr chan error
}

func (h *peerCloseCloser) OnData(c eddy.Conn) { c.Discard(-1) }

func (h *peerCloseCloser) OnPeerClosed(c eddy.Conn) bool {
	h.closeErr <- c.Close()
	return false
}

// TestCloseInOnPeerClosedReportsNil: a handler that closes the connection itself in OnPeerClosed (and then
// returns false) asked for the close: OnClose reports nil, a close the handler asked for, as std reports
// it and as the loop engines report a Close whose task is queued when the FIN comes (onEOF). epoll and
// uring reported io.EOF: onEOF began the engine's close with io.EOF after OnPeerClosed, ahead of the
// Close's task.
func TestCloseInOnPeerClosedReportsNil(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &peerCloseCloser{counter: newCounter(), closeErr: make(chan error, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		if _, err := io.WriteString(c, "bye"); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Fatalf("the peer read %q, %v; want a clean EOF", b, err)
		}
		if err := <-h.closeErr; err != nil {
			t.Fatalf("Close in OnPeerClosed: %v", err)
		}
		if err := h.waitClosed(t, 10*time.Second); err != nil {
			t.Fatalf("OnClose(%v) after the handler's Close in OnPeerClosed, want nil", err)
		}
	})
}

// leftAfterFIN leaves the peer's bytes buffered (Peek only), keeps writing after the peer's FIN, and
// pauses reading in OnPeerClosed; another goroutine restarts it later and closes.
type leftAfterFIN struct {
	*counter
	mu         sync.Mutex
	peerClosed bool
	lateData   atomic.Int32
	resumeNow  bool // restart in OnPeerClosed itself, rather than from another goroutine
}

func (h *leftAfterFIN) OnData(c eddy.Conn) {
	h.mu.Lock()
	if h.peerClosed {
		h.lateData.Add(1)
	}
	h.mu.Unlock()
	c.Peek(0) // a partial frame: left buffered
}

func (h *leftAfterFIN) OnPeerClosed(c eddy.Conn) bool {
	h.mu.Lock()
	h.peerClosed = true
	h.mu.Unlock()
	c.SetReadPaused(true)
	if h.resumeNow {
		c.SetReadPaused(false)
	}
	go func() {
		if !h.resumeNow {
			c.Execute(func(c eddy.Conn) { c.SetReadPaused(false) })
		}
		// Two trips through the loop: the restart's reread (epoll) or redelivery (uring) comes
		// before the second.
		c.Execute(func(c eddy.Conn) {
			c.Execute(func(c eddy.Conn) {
				c.Write([]byte("answer"))
				c.Close()
			})
		})
	}()
	return true
}

// TestNoOnDataAfterOnPeerClosed: once OnPeerClosed has returned true there is no more OnData
// (HalfCloseHandler), even with bytes left buffered and reading paused and restarted after it. The loop
// engines offered the buffered bytes again at the restart (redeliver), after OnPeerClosed; std's reader
// has ended at the FIN and offers nothing.
func TestNoOnDataAfterOnPeerClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, now := range []bool{false, true} {
			h := &leftAfterFIN{counter: newCounter(), resumeNow: now}
			s := startServer(t, kind, h)
			c := s.dial(t)
			if _, err := io.WriteString(c, "partial"); err != nil {
				t.Fatal(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if b, err := io.ReadAll(c); err != nil || string(b) != "answer" {
				t.Fatalf("restart in OnPeerClosed %v: the peer read %q, %v; want the answer and EOF", now, b, err)
			}
			if err := h.waitClosed(t, 10*time.Second); err != nil {
				t.Fatalf("OnClose(%v), want nil", err)
			}
			if n := h.lateData.Load(); n != 0 {
				t.Fatalf("restart in OnPeerClosed %v: OnData ran %d times after OnPeerClosed had returned true", now, n)
			}
		}
	})
}
