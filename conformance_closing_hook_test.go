package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// goodbyeHandler says goodbye in OnClosing (eddy.ClosingHandler), and records its calls; with
// closeToo it also closes the connection there, with echo it echoes, and with idle it sets that idle
// timeout once it has echoed.
type goodbyeHandler struct {
	*counter
	closeToo bool
	echo     bool
	idle     time.Duration
	mu       sync.Mutex
	closings []error
	opened   chan eddy.Conn
}

func newGoodbye() *goodbyeHandler {
	return &goodbyeHandler{counter: newCounter(), opened: make(chan eddy.Conn, 64)}
}

func (h *goodbyeHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	h.opened <- c
}

func (h *goodbyeHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if h.echo {
		c.Write(b)
	}
	if h.idle > 0 {
		c.SetIdleTimeout(h.idle)
	}
}

func (h *goodbyeHandler) OnClosing(c eddy.Conn, reason error) {
	h.mu.Lock()
	h.closings = append(h.closings, reason)
	h.mu.Unlock()
	if _, err := c.Write([]byte("bye: " + reason.Error())); err != nil {
		panic("Write in OnClosing: " + err.Error())
	}
	if h.closeToo {
		if err := c.Close(); err != nil {
			panic("Close in OnClosing: " + err.Error())
		}
	}
}

func (h *goodbyeHandler) calls() []error {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]error(nil), h.closings...)
}

// readToEOF reads c until EOF (failing on any other end) and returns what came.
func readToEOF(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to EOF: %v (after %q)", err, b)
	}
	return string(b)
}

// An idle timeout gives a ClosingHandler its last word: written in OnClosing, it reaches the peer
// before the FIN, and OnClose reports ErrIdleTimeout, also when OnClosing closes the connection
// itself.
func TestClosingHandlerSaysGoodbyeAtIdleTimeout(t *testing.T) {
	t.Parallel() // waits for idle timeouts
	for _, closeToo := range []bool{false, true} {
		name := "write"
		if closeToo {
			name = "write and close"
		}
		t.Run(name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				h := newGoodbye()
				h.closeToo, h.echo, h.idle = closeToo, true, 200*time.Millisecond
				// The engine's idle timeout is long, so that it cannot fire before the echo on a
				// loaded machine (CI once took over 200 ms to get "hello" across); the handler
				// shortens it once it has echoed.
				s := startServer(t, kind, h, eddy.WithIdleTimeout(30*time.Second))
				c := s.dial(t)
				if err := echoOnce(c, "hello"); err != nil {
					t.Fatal(err)
				}
				if got, want := readToEOF(t, c), "bye: "+eddy.ErrIdleTimeout.Error(); got != want {
					t.Fatalf("the peer read %q before EOF; want %q", got, want)
				}
				if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, eddy.ErrIdleTimeout) {
					t.Fatalf("OnClose reported %v; want ErrIdleTimeout", err)
				}
				if got := h.calls(); len(got) != 1 || got[0] != eddy.ErrIdleTimeout {
					t.Fatalf("OnClosing calls: %v; want one with ErrIdleTimeout", got)
				}
			})
		})
	}
}

// Stop gives every open connection's ClosingHandler its last word, ahead of the output's flush, and
// none to a connection the handler has closed.
func TestClosingHandlerSaysGoodbyeAtStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newGoodbye()
		e := startEngine(t, kind, h, loopback)
		addr := e.Addrs()[0].String()
		const n = 8
		conns := make([]net.Conn, n)
		for i := range conns {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = c
		}
		for range n {
			<-h.opened
		}
		// One more, which the handler closes and the client keeps open: the server's side has
		// closed (and lingers for the client's FIN on the loop engines) when Stop comes.
		closed, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer closed.Close()
		(<-h.opened).Close()
		if got := readToEOF(t, closed); got != "" {
			t.Fatalf("the closed connection read %q", got)
		}
		if err := h.waitClosed(t, 10*time.Second); err != nil {
			t.Fatalf("OnClose of the closed connection reported %v", err)
		}
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped <- e.Stop(ctx)
		}()
		want := "bye: " + eddy.ErrEngineStopped.Error()
		for i, c := range conns {
			if got := readToEOF(t, c); got != want {
				t.Fatalf("connection %d read %q before EOF; want %q", i, got, want)
			}
		}
		if err := <-stopped; err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if got := h.calls(); len(got) != n {
			t.Fatalf("OnClosing ran %d times; want %d", len(got), n)
		}
		for i := range n {
			if err := h.waitClosed(t, 30*time.Second); !errors.Is(err, eddy.ErrEngineStopped) {
				t.Fatalf("OnClose %d reported %v; want ErrEngineStopped", i, err)
			}
		}
	})
}
