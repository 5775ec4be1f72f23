package eddy_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Session 30: a review of the engines' stop and close paths.

// stopRaceHandler signals OnClosing on a connection of loop 1 and records each connection's OnClose
// reasons.
type stopRaceHandler struct {
	eddy.BaseHandler
	opened  chan eddy.Conn
	closing chan struct{} // OnClosing ran on loop 1's connection
	once    sync.Once
	mu      sync.Mutex
	reasons map[eddy.Conn][]error
	closed  chan struct{}
}

func (h *stopRaceHandler) OnOpen(c eddy.Conn) { h.opened <- c }

func (h *stopRaceHandler) OnClosing(c eddy.Conn, _ error) {
	if c.Loop().Index() == 1 {
		h.once.Do(func() { close(h.closing) })
	}
}

func (h *stopRaceHandler) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.reasons[c] = append(h.reasons[c], err)
	h.mu.Unlock()
	h.closed <- struct{}{}
}

// A Close whose task is still queued when the loop begins its stop is the close: Close returned nil, the
// handler asked for it, so OnClose reports nil (Handler.OnClose), not ErrEngineStopped, as on std (whose
// Close records its nil reason at once) and as the loop engines' idle timer now does for the same race
// (TestIdleTimeoutDefersToQueuedClose). The loop engines' stop began the close of such a connection with
// ErrEngineStopped ahead of the Close's task (beginStop runs at the top of an iteration, before its
// tasks). Here the Close is made by a timer of loop 0, the last step of an iteration, which then starts
// Stop on a goroutine and waits until loop 1's connection has had OnClosing: Stop raises loop 0's request
// before loop 1's, so loop 0 sees it when it next looks, with the Close's task still queued.
func TestStopDefersToQueuedClose(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &stopRaceHandler{
			opened:  make(chan eddy.Conn, 16),
			closing: make(chan struct{}),
			reasons: map[eddy.Conn][]error{},
			closed:  make(chan struct{}, 16),
		}
		e := startEngine(t, kind, h, loopback, eddy.WithLoops(2))
		addr := e.Addrs()[0].String()
		stopped := make(chan error, 1)
		stopOnce := sync.Once{}
		stop := func() {
			stopOnce.Do(func() {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					defer cancel()
					stopped <- e.Stop(ctx)
				}()
			})
		}
		t.Cleanup(func() {
			stop()
			<-stopped
		})
		// One connection on each loop (the default balance takes turns; dial on until both have one).
		var byLoop [2]eddy.Conn
		var peers [2]net.Conn
		for i := 0; i < 8 && (byLoop[0] == nil || byLoop[1] == nil); i++ {
			pc, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer pc.Close()
			var c eddy.Conn
			select {
			case c = <-h.opened:
			case <-time.After(10 * time.Second):
				t.Fatal("no OnOpen")
			}
			if idx := c.Loop().Index(); byLoop[idx] == nil {
				byLoop[idx], peers[idx] = c, pc
			}
		}
		if byLoop[0] == nil || byLoop[1] == nil {
			t.Fatal("no connection on one of the loops")
		}
		closeErr := make(chan error, 1)
		byLoop[0].Loop().AfterFunc(0, func() {
			closeErr <- byLoop[0].Close()
			stop()
			select { // Stop has raised loop 0's request once loop 1 has begun its stop
			case <-h.closing:
			case <-time.After(10 * time.Second):
			}
		})
		if err := <-closeErr; err != nil {
			t.Fatalf("Close: %v, want nil", err)
		}
		select {
		case err := <-stopped:
			if err != nil {
				t.Fatalf("Stop: %v", err)
			}
			stopped <- err // for the cleanup
		case <-time.After(30 * time.Second):
			t.Fatal("Stop did not return")
		}
		h.mu.Lock()
		r0, r1 := h.reasons[byLoop[0]], h.reasons[byLoop[1]]
		h.mu.Unlock()
		if len(r0) != 1 || r0[0] != nil {
			t.Errorf("OnClose of the connection Closed before Stop: %v, want [<nil>]", r0)
		}
		if len(r1) != 1 || !errors.Is(r1[0], eddy.ErrEngineStopped) {
			t.Errorf("OnClose of the connection Stop closed: %v, want [ErrEngineStopped]", r1)
		}
		wantPeerReads(t, peers[0], "")
	})
}

// Input waiting in the socket is activity only where the engine reads it next (the idle timer's look at
// the receive queue, 379511a): a connection held by back-pressure (its output past the high-water mark,
// the peer reading none of it) reads nothing, so a peer that keeps sending a byte now and then, which
// waits unread in the socket, must not keep it open for ever: it is idle, as on std (whose reader,
// stalled in waitOutputRoom, does not answer the idle check), and the idle timeout ends it, once.
func TestIdleBackPressuredPeerSendingIsIdle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		big := make([]byte, 1<<20)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			for i := 0; i < 16; i++ { // 16 MiB: far past the socket buffers and the high-water mark
				if _, err := c.Write(big); err != nil {
					return
				}
			}
		}, data: func(c eddy.Conn) { c.Discard(-1) }}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(300*time.Millisecond), eddy.WithFlushTimeout(500*time.Millisecond))
		c := s.dial(t)
		c.SetReadBuffer(4096)
		stop := tick(20*time.Millisecond, func() error {
			_, err := c.Write([]byte("x"))
			return err
		})
		defer stop()
		wantIdleClose(t, h.counter, 20*time.Second)
		stop()
		wantClosedOnce(t, h.counter)
	})
}
