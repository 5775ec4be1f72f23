package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// Conformance tests for defects of the std engine found by a review in session 18; they run on every
// engine.

// ---- A pause made while the engine's own back-pressure holds reading ----

// bpPauseHandler answers its first input with a large reply (above the high water mark) and leaves
// that input unconsumed; it counts the OnData calls that run while the test holds reading paused.
type bpPauseHandler struct {
	*counter
	reply     []byte
	conn      chan eddy.Conn
	paused    atomic.Bool // set by the test, inside the Execute that pauses, cleared before the restart
	calls     atomic.Int64
	whilePaus atomic.Int64
	consumed  atomic.Int64
}

func (h *bpPauseHandler) OnData(c eddy.Conn) {
	n := h.calls.Add(1)
	if h.paused.Load() {
		h.whilePaus.Add(1)
	}
	if n == 1 {
		c.Write(h.reply) // leave the input buffered: it is offered again when reading restarts
		h.conn <- c
		return
	}
	m, _ := c.Discard(-1)
	h.consumed.Add(int64(m))
}

// SetReadPaused(true) from an Execute while the reader waits for the output to drain (the engine's
// back-pressure): when the output drains, no OnData may run, since the handler's pause still holds; at
// the restart the input the handler left buffered is offered again. Found by a review in session 18: std
// looked at the handler's pause only before its back-pressure wait, and the drain's redelivery ran
// OnData while reading was paused.
func TestPauseDuringBackPressureDrainRunsNoOnData(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &bpPauseHandler{counter: newCounter(), reply: pattern(16<<20, 5), conn: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		c := s.dial(t)
		if _, err := c.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		sc := <-h.conn
		time.Sleep(200 * time.Millisecond) // OnData has returned: the engine waits for its output to drain
		onConn(t, sc, func(c eddy.Conn) {
			c.SetReadPaused(true)
			h.paused.Store(true)
		})
		// Drain the reply: the back-pressure lifts, the handler's pause does not.
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, len(h.reply))); err != nil {
			t.Fatalf("reading the reply: %v", err)
		}
		time.Sleep(300 * time.Millisecond)
		if n := h.whilePaus.Load(); n != 0 {
			t.Fatalf("OnData ran %d times while reading was paused (SetReadPaused(true) in force)", n)
		}
		onConn(t, sc, func(c eddy.Conn) {
			h.paused.Store(false)
			c.SetReadPaused(false)
		})
		waitFor(t, func() bool { return h.consumed.Load() == int64(len("request")) }, "the buffered request offered again after the restart")
	})
}

// ---- A pause made while the reader is blocked in its read: the peer's FIN ----

// leaveFirstHandler leaves its first input unconsumed and hands the connection to the test; later
// calls consume and record.
type leaveFirstHandler struct {
	*counter
	conn  chan eddy.Conn
	first atomic.Bool
	mu    sync.Mutex
	got   []byte
}

func (h *leaveFirstHandler) OnData(c eddy.Conn) {
	if h.first.CompareAndSwap(false, true) {
		h.conn <- c
		return
	}
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got = append(h.got, b...)
	h.mu.Unlock()
}

func (h *leaveFirstHandler) received() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return string(h.got)
}

// The docs: while reading is paused "the peer's FIN or reset is not acted on either", and the bytes
// already buffered stay buffered and are offered again at the restart. Here the pause comes through
// Execute (as the docs allow) while the engine is idle between reads: OnClose must not run during the
// pause, and after the restart OnData gets the buffered input before OnClose reports the end. Found by a
// review in session 18: std's reader, blocked in its read when the pause came, acted on the FIN at once
// (OnClose while paused) and never offered the buffered input again.
func TestPauseFromExecuteHoldsThePeersFIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &leaveFirstHandler{counter: newCounter(), conn: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		if _, err := c.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		sc := <-h.conn
		time.Sleep(200 * time.Millisecond) // OnData has returned; the engine waits for more input
		onConn(t, sc, func(c eddy.Conn) { c.SetReadPaused(true) })
		c.CloseWrite() // the peer's FIN, while reading is paused
		time.Sleep(300 * time.Millisecond)
		if n := h.closed.Load(); n != 0 {
			t.Fatalf("OnClose ran (%v) while reading was paused: the peer's FIN was acted on; the buffered %q was never offered again",
				<-h.closedCh, "request")
		}
		onConn(t, sc, func(c eddy.Conn) { c.SetReadPaused(false) })
		if err := h.waitClosed(t, 5*time.Second); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("OnClose: %v", err)
		}
		if got := h.received(); got != "request" {
			t.Fatalf("after the restart OnData consumed %q, want %q", got, "request")
		}
	})
}

// ---- OnTick runs on the first loop ----

type tickHandler struct {
	eddy.BaseHandler
	started chan struct{}
	ran     chan struct{}
	ended   chan struct{}
	overlap atomic.Bool
	ticks   atomic.Int64
}

func (h *tickHandler) OnTick() time.Duration {
	if h.ticks.Add(1) > 1 {
		return -1
	}
	close(h.started)
	select {
	case <-h.ran: // a function given to the first loop ran while OnTick was running
		h.overlap.Store(true)
	case <-time.After(time.Second):
	}
	close(h.ended)
	return -1
}

// handler.go: "OnTick first runs on the first loop right after start": it is serialised with what
// Loops()[0].Execute runs there, so a function given to that loop while OnTick runs waits for it. Found
// by a review in session 18: std ran OnTick on a goroutine of its own, beside the first loop.
func TestOnTickRunsOnTheFirstLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &tickHandler{started: make(chan struct{}), ran: make(chan struct{}), ended: make(chan struct{})}
		e := startEngine(t, kind, h, loopback)
		defer e.Stop(context.Background())
		<-h.started
		done := make(chan struct{})
		e.Loops()[0].Execute(func() { close(h.ran); close(done) })
		<-done
		<-h.ended
		if h.overlap.Load() {
			t.Fatal("a function run by Loops()[0].Execute ran while OnTick was running: OnTick is not on the first loop")
		}
	})
}

// ---- The continuation of a Dial runs on the loop: not beside OnClose ----

type dialCloseHandler struct {
	eddy.BaseHandler
	openGate chan struct{}
	inCont   atomic.Bool
	overlap  atomic.Bool
	closed   chan struct{}
}

func (h *dialCloseHandler) OnOpen(eddy.Conn) { <-h.openGate }
func (h *dialCloseHandler) OnClose(eddy.Conn, error) {
	if h.inCont.Load() {
		h.overlap.Store(true)
	}
	close(h.closed)
}

// engine.go: "Continuations added with future.Inline run on the loop", and handler.go: the callbacks
// of one connection never run concurrently. A Close from another goroutine during such a
// continuation must not run OnClose beside it: OnClose runs once the continuation returned. Found by a
// review in session 18: std resolved the Dial future after OnOpen's section had ended, with the writer
// (which reports the close) already started.
func TestDialInlineContinuationIsSerialisedWithOnClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				pc, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { pc.Close() })
			}
		}()
		h := &dialCloseHandler{openGate: make(chan struct{}), closed: make(chan struct{})}
		cl := startClient(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f := cl.Dial(ctx, "tcp://"+ln.Addr().String())
		contStarted := make(chan eddy.Conn, 1)
		future.Map(f, future.Inline, func(c eddy.Conn) (struct{}, error) {
			h.inCont.Store(true)
			contStarted <- c
			select {
			case <-h.closed:
			case <-time.After(time.Second):
			}
			h.inCont.Store(false)
			return struct{}{}, nil
		})
		close(h.openGate) // the continuation is attached: OnOpen may return and the future resolve
		var c eddy.Conn
		select {
		case c = <-contStarted:
		case <-time.After(5 * time.Second):
			t.Fatal("the dial's continuation did not run")
		}
		c.Close()
		select {
		case <-h.closed:
		case <-time.After(5 * time.Second):
			t.Fatal("OnClose did not run")
		}
		if h.overlap.Load() {
			t.Fatal("OnClose ran while the dial's Inline continuation was running (on another goroutine)")
		}
	})
}

// ---- Execute runs fn on the loop, not on the caller ----

// Conn.Execute "runs fn on the connection's loop" and, like Loop.Execute, hands it over: a goroutine
// that holds a lock fn needs must be able to call Execute and go on (a hub that posts work to its
// connections under its own lock does this); fn runs once the lock is released. Found by a review in
// session 18: std ran fn on the caller when no callback of the connection was running, and such a
// caller deadlocked.
func TestExecuteDoesNotRunFnOnTheCaller(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &leaveFirstHandler{counter: newCounter(), conn: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		sc := <-h.conn
		time.Sleep(100 * time.Millisecond) // OnData has returned: nothing runs for the connection

		var hub sync.Mutex
		hub.Lock()
		returned := make(chan struct{})
		ran := make(chan struct{})
		go func() {
			sc.Execute(func(eddy.Conn) { hub.Lock(); hub.Unlock(); close(ran) })
			close(returned)
		}()
		var blocked bool
		select {
		case <-returned:
		case <-time.After(2 * time.Second):
			blocked = true
		}
		hub.Unlock()
		<-returned
		<-ran
		if blocked {
			t.Fatal("Execute did not return while the caller held a lock fn takes: fn ran on the calling goroutine (a deadlock for that caller)")
		}
	})
}
