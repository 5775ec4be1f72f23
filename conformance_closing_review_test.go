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

// hookActHandler is a ClosingHandler whose OnClosing runs act, and which records its OnClose reasons.
type hookActHandler struct {
	*counter
	opened chan eddy.Conn
	act    func(c eddy.Conn, reason error)
	idle   time.Duration // if set, OnData sets the connection's idle timeout to it after its echo
}

func (h *hookActHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	h.opened <- c
}

func (h *hookActHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	c.Write(b)
	if h.idle > 0 {
		c.SetIdleTimeout(h.idle)
	}
}

func (h *hookActHandler) OnClosing(c eddy.Conn, reason error) { h.act(c, reason) }

// A Close from OnClosing does not change the reason OnClose reports (ClosingHandler's doc). std's
// engineClose restored the reason only after OnClosing had returned; meanwhile the writer, woken by
// the Close, flushed, shut down and read the reason (nil): any work after the Close in OnClosing (here
// 100 ms) let it win (found by a review in session 18).
func TestCloseInOnClosingKeepsIdleReason(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &hookActHandler{counter: newCounter(), opened: make(chan eddy.Conn, 4)}
		h.act = func(c eddy.Conn, reason error) {
			c.Write([]byte("bye"))
			c.Close()
			time.Sleep(100 * time.Millisecond) // the handler's bookkeeping after its Close
		}
		// The engine's idle timeout is long, so that it cannot fire before the echo on a loaded
		// machine (a test goroutine slower than 200 ms to send "hello" read "bye" and EOF instead);
		// the handler shortens it once it has echoed.
		h.idle = 200 * time.Millisecond
		s := startServer(t, kind, h, eddy.WithIdleTimeout(30*time.Second))
		c := s.dial(t)
		if err := echoOnce(c, "hello"); err != nil {
			t.Fatal(err)
		}
		if got := readToEOF(t, c); got != "bye" {
			t.Fatalf("the peer read %q; want \"bye\"", got)
		}
		if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, eddy.ErrIdleTimeout) {
			t.Fatalf("OnClose reported %v; want ErrIdleTimeout (OnClosing's Close must not change it)", err)
		}
	})
}

// The same at Stop: OnClose is to report ErrEngineStopped.
func TestCloseInOnClosingKeepsStopReason(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &hookActHandler{counter: newCounter(), opened: make(chan eddy.Conn, 4)}
		h.act = func(c eddy.Conn, reason error) {
			c.Write([]byte("bye"))
			c.Close()
			time.Sleep(100 * time.Millisecond)
		}
		e := startEngine(t, kind, h, loopback)
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		<-h.opened
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, eddy.ErrEngineStopped) {
			t.Fatalf("OnClose reported %v; want ErrEngineStopped (OnClosing's Close must not change it)", err)
		}
	})
}

var errAbortedInHook = errors.New("aborted in OnClosing")

// An Abort in OnClosing aborts the connection: OnClose reports the Abort's reason (ClosingHandler: "The
// close then goes on gracefully, and OnClose reports reason, unless OnClosing aborted the connection"),
// and the peer gets a reset, not the output and a clean FIN, as Abort promises. On epoll the graceful
// close went on after OnClosing and finished before the Abort's task ran (found by a review in
// session 18).
func TestAbortInOnClosing(t *testing.T) {
	for _, stop := range []bool{false, true} {
		name := "idle"
		if stop {
			name = "stop"
		}
		t.Run(name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				h := &hookActHandler{counter: newCounter(), opened: make(chan eddy.Conn, 4)}
				h.act = func(c eddy.Conn, reason error) {
					c.Write([]byte("bye"))
					c.Abort(errAbortedInHook)
				}
				var opts []eddy.Option
				if !stop {
					opts = append(opts, eddy.WithIdleTimeout(200*time.Millisecond))
				}
				e := startEngine(t, kind, h, loopback, opts...)
				defer func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					e.Stop(ctx)
				}()
				c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				<-h.opened
				if stop {
					go func() {
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						defer cancel()
						e.Stop(ctx)
					}()
				}
				if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, errAbortedInHook) {
					t.Errorf("OnClose reported %v; want the Abort's reason", err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				got, err := io.ReadAll(c)
				if err == nil {
					t.Errorf("the peer read %q and a clean EOF; want a reset (Abort)", got)
				}
			})
		})
	}
}
