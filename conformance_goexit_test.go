package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// syncBuffer is a bytes.Buffer safe for the engine's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A function run on a loop that calls runtime.Goexit (testing.T.FailNow in a future's continuation on
// the loop, say) ends the loop's goroutine. The loop died with it: the functions queued behind it, and
// all later ones, were never run, against Loop.Execute's promise never to drop one (found by review).
// Now the epoll and uring loops stop (their connections are aborted, and later functions run on the
// caller), and the std loop, which owns no connection, goes on with a new goroutine.
func TestGoexitOnTheLoopDropsNoLaterWork(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		var logs syncBuffer
		h := newEcho(false)
		s := startServer(t, kind, h, eddy.WithLoops(1),
			eddy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		c := s.dial(t)
		if err := echoOnce(c, "before"); err != nil {
			t.Fatal(err)
		}
		l := s.e.Loops()[0]

		exited := future.Map(future.Ready(1), l, func(int) (int, error) {
			runtime.Goexit()
			return 0, nil
		})
		behind := make(chan struct{})
		l.Execute(func() { close(behind) })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := exited.Await(ctx); !errors.Is(err, future.ErrGoexit) {
			t.Fatalf("the continuation that called Goexit: %v, want ErrGoexit", err)
		}
		select {
		case <-behind:
		case <-time.After(10 * time.Second):
			t.Fatal("a function queued behind the one that called Goexit did not run within 10 s")
		}
		later, err := future.Map(future.Ready(1), l, func(v int) (int, error) { return v + 1, nil }).Await(ctx)
		if later != 2 || err != nil {
			t.Fatalf("a later continuation on the loop: %v, %v; want 2, nil", later, err)
		}

		if kind == eddy.EngineStd {
			if err := echoOnce(c, "after"); err != nil { // the std loop does not run connections' callbacks
				t.Fatal(err)
			}
			return
		}
		// The loop stopped: its connection is aborted, and the reason is logged.
		if n, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
			t.Fatalf("the connection of the stopped loop: read %d bytes, %v; want its end", n, err)
		}
		if err := <-h.closedCh; !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("OnClose(%v) for a connection aborted by the loop's stop; want ErrEngineStopped", err)
		}
		if !strings.Contains(logs.String(), "runtime.Goexit") {
			t.Errorf("nothing logged about the Goexit: %q", logs.String())
		}
	})
}

// goexitOnData calls runtime.Goexit from OnData when the input says "exit", and echoes otherwise.
type goexitOnData struct{ *counter }

func (h goexitOnData) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if string(b) == "exit" {
		runtime.Goexit()
	}
	c.Write(b)
}

// A handler that calls runtime.Goexit (testing.T.FailNow in a test's handler) on an epoll or uring
// loop stops that loop: every connection it served is aborted and sees its end, instead of a dead
// loop's silence. (On std the callbacks run on per-connection goroutines: std_goexit_test.go.)
func TestGoexitInAHandlerStopsItsLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("std runs callbacks on per-connection goroutines; a Goexit there aborts only its connection (TestStdGoexitAbortsItsConnection)")
		}
		h := goexitOnData{newCounter()}
		s := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		a, b := s.dial(t), s.dial(t)
		for _, c := range []*net.TCPConn{a, b} {
			if err := echoOnce(c, "hello"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := a.Write([]byte("exit")); err != nil {
			t.Fatal(err)
		}
		for i, c := range []*net.TCPConn{a, b} {
			if n, err := c.Read(make([]byte, 16)); err == nil || isTimeout(err) {
				t.Errorf("connection %d after the Goexit: read %d bytes, %v; want its end", i, n, err)
			}
		}
		for range 2 {
			select {
			case err := <-h.closedCh:
				if !errors.Is(err, eddy.ErrEngineStopped) {
					t.Errorf("OnClose(%v); want ErrEngineStopped", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("OnClose did not run for every connection of the stopped loop")
			}
		}
	})
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A Goexit in the middle of the loop's work must not lose the rest of it: here an AsyncWrite callback
// ends the goroutine while the send completion of another connection, made in the same iteration, waits
// behind it (on uring, in the same batch of CQEs, which the ring no longer holds). A completion lost there
// left that connection's send in flight for ever, and the stop waited for it.
func TestGoexitLosesNoOtherConnectionsWork(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("std runs callbacks on per-connection goroutines (documented)")
		}
		h := &connsOpened{counter: newCounter(), opened: make(chan eddy.Conn, 2)}
		e := startEngine(t, kind, h, loopback, eddy.WithLoops(1), eddy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		addr := e.Addrs()[0].String()
		var conns [2]eddy.Conn
		for i := range conns {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conns[i] = <-h.opened
		}
		// Both writes are queued in one task, so they go out in the same iteration.
		conns[0].Execute(func(eddy.Conn) {
			conns[0].AsyncWrite([]byte("first"), func(eddy.Conn, error) { runtime.Goexit() })
			conns[1].AsyncWrite([]byte("second"), nil)
		})
		for range 2 {
			select {
			case <-h.closedCh:
			case <-time.After(10 * time.Second):
				t.Fatal("the loop's connections were not all closed after the Goexit")
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop after the loop stopped itself: %v", err)
		}
	})
}

// connsOpened is a counter that hands each connection it opens to the test.
type connsOpened struct {
	*counter
	opened chan eddy.Conn
}

func (h *connsOpened) OnData(eddy.Conn) {}

func (h *connsOpened) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	h.opened <- c
}
