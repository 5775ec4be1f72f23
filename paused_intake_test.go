package eddy_test

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// stopAfterHandler consumes everything until after bytes have arrived, then pauses reading for good
// in the OnData that passes them: what the engine holds after that was taken in past the pause.
type stopAfterHandler struct {
	*counter
	after  atomic.Int64
	got    atomic.Int64
	paused chan eddy.Conn
}

func (h *stopAfterHandler) OnData(c eddy.Conn) {
	if h.got.Load() >= h.after.Load() {
		return // paused: only input taken in before the pause took effect comes here
	}
	n, _ := c.Discard(-1)
	if h.got.Add(int64(n)) >= h.after.Load() {
		c.SetReadPaused(true)
		h.paused <- c
	}
}

// intakeLimit is what a paused connection may hold on every engine: epoll takes one read (the read
// buffer, 64 KiB by default) before the handler sees it and pauses; uring's multishot recv may run on
// for less than two more.
const intakeLimit = 2 * eddy.DefaultReadBufferSize

// blastUntilStalled writes to c until a write makes no progress for stall once ready reports true
// (nil: at once), and returns how many bytes went out. Before that, a stall (a server slowed down by
// the machine) is waited out.
func blastUntilStalled(c net.Conn, stall time.Duration, ready func() bool) (int64, error) {
	buf := make([]byte, 1<<20)
	var sent int64
	for sent < 1<<30 {
		c.SetWriteDeadline(time.Now().Add(stall))
		n, err := c.Write(buf)
		sent += int64(n)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				if ready == nil || ready() {
					return sent, nil
				}
				continue
			}
			return sent, err
		}
	}
	return sent, fmt.Errorf("the server took %d bytes from a peer it stopped reading", sent)
}

// A connection whose handler stops reading in the middle of a fast stream holds at most about a
// read's worth of input past the pause, on every engine: the rest waits in the kernel and holds the
// peer back. On uring the multishot recv, until its cancel took effect, went on posting what the
// socket had (several MiB on loopback, where the receive buffer grows with the stream) into the
// connection's memory.
func TestPausedConnectionTakesInABoundedAmount(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &stopAfterHandler{counter: newCounter(), paused: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		for i := range 4 {
			h.after.Store(int64(4<<20 + i*(300<<10+17)))
			h.got.Store(0)
			c := s.dial(t)
			type result struct {
				sent int64
				err  error
			}
			done := make(chan result, 1)
			go func() {
				sent, err := blastUntilStalled(c, 300*time.Millisecond, func() bool { return h.got.Load() >= h.after.Load() })
				done <- result{sent, err}
			}()
			var sc eddy.Conn
			select {
			case sc = <-h.paused:
			case <-time.After(30 * time.Second):
				t.Fatalf("the handler got %d bytes in 30 s", h.got.Load())
			}
			r := <-done
			if r.err != nil {
				t.Fatal(r.err)
			}
			var held int
			onConn(t, sc, func(c eddy.Conn) { held = c.Buffered() })
			t.Logf("%s: %d bytes held after the pause (%d consumed before it, %d sent)", kind, held, h.got.Load(), r.sent)
			if held > intakeLimit {
				t.Errorf("the paused connection holds %d bytes, above %d", held, intakeLimit)
			}
			c.Close()
		}
	})
}

// A client that sends without reading the echo: once the output passes the high water mark reading
// pauses, and the input taken in past that point stays about a read's worth on every engine.
func TestBackPressuredConnectionTakesInABoundedAmount(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &echoOpened{echoHandler: newEcho(false), opened: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		for range 4 {
			c := s.dial(t)
			sc := <-h.opened
			sent, err := blastUntilStalled(c, 300*time.Millisecond, nil)
			if err != nil {
				t.Fatal(err)
			}
			var held int
			onConn(t, sc, func(c eddy.Conn) { held = c.Buffered() })
			t.Logf("%s: %d bytes held past the high water mark (%d sent)", kind, held, sent)
			if held > intakeLimit {
				t.Errorf("the back-pressured connection holds %d bytes of input, above %d", held, intakeLimit)
			}
			c.Close()
		}
	})
}

// echoOpened is an echo handler that hands over each connection it opens.
type echoOpened struct {
	*echoHandler
	opened chan eddy.Conn
}

func (h *echoOpened) OnOpen(c eddy.Conn) {
	h.echoHandler.OnOpen(c)
	h.opened <- c
}
