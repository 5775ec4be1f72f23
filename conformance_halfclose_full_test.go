package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A client that sends its request, half-closes, and reads the answer only later: the answer fills the
// socket's send buffer while the peer's FIN is in, and must still arrive whole (the close waits for
// the flush). On uring a send to the full socket then ended with EAGAIN, which was taken for a failed
// send, and the connection was dropped mid-answer.
func TestHalfClosedPeerGetsALargeAnswer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, answer := answerHandler()
		c := halfClosedFullSocket(t, startServer(t, kind, h))
		got, err := readAllStalling(c, 30*time.Second)
		if err != nil || len(got) != len(answer) {
			t.Fatalf("read %d of %d bytes (%v)", len(got), len(answer), err)
		}
		if d := firstDiff(got, answer); d < len(answer) {
			t.Fatalf("byte %d differs", d)
		}
		if err := h.waitClosed(t, 30*time.Second); err != nil && err != io.EOF {
			t.Errorf("OnClose: %v", err)
		}
	})
}

// answerHandler answers every input with the 16 MiB it returns.
func answerHandler() (*funcHandler, []byte) {
	answer := pattern(16<<20, 5)
	return &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
		c.Discard(-1)
		c.Write(answer)
	}}, answer
}

// halfClosedFullSocket has a client that half-closes after its request and does not read the answer,
// which fills its socket: on uring the server's send then waits on a poll for room.
func halfClosedFullSocket(t *testing.T, s *server) *net.TCPConn {
	t.Helper()
	c := s.dial(t)
	c.SetReadBuffer(64 << 10)
	if _, err := c.Write([]byte("go")); err != nil {
		t.Fatal(err)
	}
	c.CloseWrite()
	time.Sleep(300 * time.Millisecond) // the answer fills the buffers, and the FIN is in
	return c
}

// The peer resets while the answer waits for room: the connection ends with an error, at once.
func TestHalfClosedPeerResetsWhileTheAnswerWaits(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, _ := answerHandler()
		c := halfClosedFullSocket(t, startServer(t, kind, h))
		c.SetLinger(0)
		c.Close() // unread input and linger 0: a reset
		err := h.waitClosed(t, 30*time.Second)
		if err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("OnClose(%v) after the peer's reset mid-answer; want an error", err)
		}
	})
}

// Stop with a short deadline while the answer waits for room: Stop returns by its deadline, with
// OnClose run, and nothing is left behind (the cleanup's goroutine and descriptor checks).
func TestStopWhileTheAnswerWaitsForRoom(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h, _ := answerHandler()
		// A flush timeout far past the bound below: a Stop that waited for the peer rather than its
		// context would be cut only by it, and the bound need not be tight on a loaded machine.
		e := startEngine(t, kind, h, loopback, eddy.WithFlushTimeout(2*time.Minute))
		halfClosedFullSocket(t, &server{e: e, addr: e.Addrs()[0].String()})
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		e.Stop(ctx) // nil or the deadline's error: the peer may never read the answer
		if took := time.Since(start); took > 30*time.Second {
			t.Fatalf("Stop took %v with a 300ms deadline", took)
		}
		if h.closed.Load() != 1 {
			t.Fatalf("OnClose ran %d times after Stop; want 1", h.closed.Load())
		}
	})
}
