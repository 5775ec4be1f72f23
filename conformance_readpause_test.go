package eddy_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// pauseHandler pauses reading in OnOpen and collects what OnData consumes.
type pauseHandler struct {
	*counter
	opened chan eddy.Conn
	mu     sync.Mutex
	got    bytes.Buffer
	size   atomic.Int64 // got's length, for polls that must not copy 32 MiB each time
	calls  atomic.Int64
}

func (h *pauseHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	c.SetReadPaused(true)
	h.opened <- c
}

func (h *pauseHandler) OnData(c eddy.Conn) {
	h.calls.Add(1)
	b, _ := c.Next(-1)
	h.mu.Lock()
	h.got.Write(b)
	h.mu.Unlock()
	h.size.Add(int64(len(b)))
}

func (h *pauseHandler) received() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	return bytes.Clone(h.got.Bytes())
}

// dialPaused starts a server of kind whose handler pauses reading in OnOpen, and connects to it: it
// returns the handler, the client's side and the server's.
func dialPaused(t *testing.T, kind eddy.EngineKind) (*pauseHandler, *net.TCPConn, eddy.Conn) {
	t.Helper()
	h := &pauseHandler{counter: newCounter(), opened: make(chan eddy.Conn, 1)}
	c := startServer(t, kind, h).dial(t)
	return h, c, <-h.opened
}

func setReadPaused(t *testing.T, c eddy.Conn, paused bool) {
	t.Helper()
	if err := c.Execute(func(c eddy.Conn) { c.SetReadPaused(paused) }); err != nil {
		t.Fatalf("Execute(SetReadPaused(%v)): %v", paused, err)
	}
}

// onConn runs fn on sc's loop and waits for it.
func onConn(t *testing.T, sc eddy.Conn, fn func(c eddy.Conn)) {
	t.Helper()
	done := make(chan struct{})
	if err := sc.Execute(func(c eddy.Conn) { fn(c); close(done) }); err != nil {
		t.Fatal(err)
	}
	<-done
}

// While reading is paused the engine takes nothing from the socket: no OnData runs, the kernel's
// buffers fill and the peer's writes stall (TCP flow control), however long the pause. After the
// restart every byte arrives, in order.
func TestReadPausedHoldsThePeerBack(t *testing.T) {
	t.Parallel() // mostly waiting for the write deadline
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, c, sc := dialPaused(t, kind)

		// More than the kernel's send and receive buffers hold together on loopback (a few MiB
		// each): with nothing read, the write must stall before its end.
		msg := pattern(32<<20, 9)
		c.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.Write(msg)
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("a paused connection took all %d bytes (err %v): reading did not stop", n, err)
		}
		if calls := h.calls.Load(); calls != 0 {
			t.Fatalf("OnData ran %d times while reading was paused", calls)
		}

		setReadPaused(t, sc, false)
		c.SetWriteDeadline(time.Now().Add(20 * time.Second))
		if _, err := c.Write(msg[n:]); err != nil {
			t.Fatalf("writing the rest after the restart: %v", err)
		}
		waitFor(t, func() bool { return h.size.Load() >= int64(len(msg)) }, "every byte after the restart")
		if !bytes.Equal(h.received(), msg) {
			t.Fatal("the bytes received after the restart differ from those sent")
		}
	})
}

// The peer's FIN waits behind a pause too: OnClose does not run while reading is paused, and after
// the restart the handler gets the last bytes first, then the end.
func TestReadPausedHoldsThePeersEnd(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, c, sc := dialPaused(t, kind)

		if _, err := c.Write([]byte("last words")); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		time.Sleep(200 * time.Millisecond)
		if got := h.received(); len(got) != 0 || h.closed.Load() != 0 {
			t.Fatalf("while paused: OnData took %q, OnClose ran %d times; want nothing", got, h.closed.Load())
		}

		setReadPaused(t, sc, false)
		if err := h.waitClosed(t, 5*time.Second); err != nil && !errors.Is(err, io.EOF) {
			t.Fatalf("OnClose after the restart: %v; want nil or io.EOF", err)
		}
		if got := string(h.received()); got != "last words" {
			t.Fatalf("OnData took %q before the end; want %q", got, "last words")
		}
	})
}

// leaveAndPauseHandler leaves the first input unconsumed and pauses reading; the test restarts it.
// From then on it echoes what it gets.
type leaveAndPauseHandler struct {
	*counter
	paused chan eddy.Conn
	first  atomic.Bool
}

func (h *leaveAndPauseHandler) OnData(c eddy.Conn) {
	if h.first.CompareAndSwap(false, true) {
		c.SetReadPaused(true)
		h.paused <- c
		return
	}
	b, _ := c.Next(-1)
	c.Write(b)
}

// Bytes the handler left buffered when it paused are offered to OnData again at the restart, though
// nothing new arrives: a handler that waits for a slow consumer before parsing buffered input must not
// wait for the peer's next bytes, which may never come (the peer waits for the answer).
func TestReadRestartOffersBufferedBytes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &leaveAndPauseHandler{counter: newCounter(), paused: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		if _, err := c.Write([]byte("request")); err != nil {
			t.Fatal(err)
		}
		sc := <-h.paused
		time.Sleep(50 * time.Millisecond)
		setReadPaused(t, sc, false)

		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, len("request"))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("no answer after the restart (%v): the buffered bytes were not offered again", err)
		}
		if string(got) != "request" {
			t.Fatalf("answer %q, want %q", got, "request")
		}
	})
}

// A restart and a pause in one callback (http1 does this between pipelined requests: the handler
// of one ends, the next one starts) leave reading paused without taking anything: on uring a recv
// armed at the restart and cancelled at the pause would run first in the kernel and take the socket's
// input past the pause, a receive window each time.
func TestReadRestartAndPauseInOneCallbackTakesNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, c, sc := dialPaused(t, kind)

		// On loopback the bytes are in the server's socket when Write returns (they fit its
		// receive buffer).
		msg := pattern(32<<10, 3)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		onConn(t, sc, func(c eddy.Conn) {
			c.SetReadPaused(false)
			c.SetReadPaused(true)
		})
		// Two more loop iterations: what the restart submitted has run and been reaped.
		var buffered int
		for range 2 {
			onConn(t, sc, func(c eddy.Conn) { buffered = c.Buffered() })
		}
		if buffered != 0 || h.calls.Load() != 0 {
			t.Fatalf("after a restart and a pause in one callback: %d bytes buffered, OnData ran %d times; want nothing taken", buffered, h.calls.Load())
		}

		setReadPaused(t, sc, false)
		waitFor(t, func() bool { return h.size.Load() >= int64(len(msg)) }, "every byte after the restart")
		if !bytes.Equal(h.received(), msg) {
			t.Fatal("the bytes received after the restart differ from those sent")
		}
	})
}
