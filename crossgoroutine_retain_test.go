package eddy_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy"
)

// zzStart starts an engine of kind serving h on loopback, with n connections whose peers read and
// drop everything; it returns the engine's connections (in OnOpen order) and a stop function.
func zzStart(t *testing.T, kind eddy.EngineKind, h *allocOpenHandler, n int, opts ...eddy.Option) ([]eddy.Conn, func() error) {
	t.Helper()
	opts = append([]eddy.Option{eddy.WithEngine(kind), eddy.WithLoops(2),
		eddy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		return e.Stop(ctx)
	})
	t.Cleanup(func() { stop() })
	conns := make([]eddy.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		go io.Copy(io.Discard, nc)
		select {
		case conns[i] = <-h.opened:
		case <-time.After(20 * time.Second):
			t.Fatal("no OnOpen")
		}
	}
	return conns, stop
}

// TestCrossGoroutineReleases: once an AsyncWrite's callback has run, or an Execute's function, the
// engine keeps neither the bytes nor the function (nor what it holds) while the connection stays open
// and the goroutines that ran them wait for more: the std engine keeps its task arrays and parks the
// runner goroutines (review h33).
func TestCrossGoroutineReleases(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			h := &allocOpenHandler{opened: make(chan eddy.Conn, 4)}
			conns, _ := zzStart(t, kind, h, 2)
			c := conns[0]
			var freed atomic.Int32
			done := make(chan error, 2)
			func() {
				big := make([]byte, 1<<20)
				runtime.AddCleanup(&big[0], func(*atomic.Int32) { freed.Add(1) }, &freed)
				if err := c.AsyncWrite(big, func(_ eddy.Conn, err error) { done <- err }); err != nil {
					t.Fatal(err)
				}
				held := make([]byte, 1<<20)
				runtime.AddCleanup(&held[0], func(*atomic.Int32) { freed.Add(1) }, &freed)
				if err := c.Execute(func(eddy.Conn) { held[0]++; done <- nil }); err != nil {
					t.Fatal(err)
				}
			}()
			for range 2 {
				select {
				case err := <-done:
					if err != nil {
						t.Fatal(err)
					}
				case <-time.After(20 * time.Second):
					t.Fatal("no callback")
				}
			}
			// Another connection's task, so that the runner that ran these has moved on.
			if err := conns[1].Execute(func(eddy.Conn) { done <- nil }); err != nil {
				t.Fatal(err)
			}
			<-done
			deadline := time.Now().Add(10 * time.Second)
			for freed.Load() < 2 && time.Now().Before(deadline) {
				runtime.GC()
				time.Sleep(10 * time.Millisecond)
			}
			if n := freed.Load(); n < 2 {
				t.Fatalf("%d of 2 (the AsyncWrite's bytes, the Execute's closure) released after they ran", n)
			}
		})
	}
}

// TestStdGoexitOnRunner: an Execute function that ends its goroutine (runtime.Goexit) on the std
// engine, which runs it on a runner goroutine that serves other connections' sections in turn: only
// its connection is aborted (OnClose with an error matching ErrEngineStopped), the tasks queued behind
// it on that connection still run (the AsyncWrite's callback gets ErrClosed), the other connections'
// tasks go on running, Stop returns and leaves no goroutine (review h33).
func TestStdGoexitOnRunner(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	const n = 6
	closed := make(chan error, n)
	h := &allocOpenHandler{opened: make(chan eddy.Conn, n)}
	ch := &zzCloseHandler{allocOpenHandler: h, closed: closed}
	e, err := eddy.New(ch, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(eddy.EngineStd),
		eddy.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	conns := make([]eddy.Conn, n)
	for i := range conns {
		nc, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		go io.Copy(io.Discard, nc)
		select {
		case conns[i] = <-h.opened:
		case <-time.After(20 * time.Second):
			t.Fatal("no OnOpen")
		}
	}
	ran := make(chan int, 1024)
	wait := func(what string) int {
		select {
		case i := <-ran:
			return i
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: nothing ran", what)
		}
		return -1
	}
	// Warm up: runners park.
	for r := 0; r < 20; r++ {
		for i, c := range conns {
			if err := c.Execute(func(eddy.Conn) { ran <- i }); err != nil {
				t.Fatal(err)
			}
			wait("warm-up")
		}
	}
	// Connection by connection but the last: a Goexit, then an AsyncWrite and an Execute behind it.
	for i, c := range conns[:n-1] {
		block := make(chan struct{})
		// Queued behind a task that waits, so that all three run in one section on one runner.
		if err := c.Execute(func(eddy.Conn) { <-block }); err != nil {
			t.Fatal(err)
		}
		if err := c.Execute(func(eddy.Conn) { runtime.Goexit() }); err != nil {
			t.Fatal(err)
		}
		cbErr := make(chan error, 1)
		if err := c.AsyncWrite([]byte("x"), func(_ eddy.Conn, err error) { cbErr <- err }); err != nil {
			t.Fatal(err)
		}
		if err := c.Execute(func(eddy.Conn) { ran <- -1 - i }); err != nil {
			t.Fatal(err)
		}
		close(block)
		select {
		case err := <-cbErr:
			if !errors.Is(err, eddy.ErrClosed) {
				t.Errorf("conn %d: the AsyncWrite behind the Goexit: %v, want ErrClosed", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("conn %d: the AsyncWrite behind the Goexit got no callback", i)
		}
		select {
		case err := <-closed:
			if !errors.Is(err, eddy.ErrEngineStopped) {
				t.Errorf("conn %d: OnClose(%v), want ErrEngineStopped", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("conn %d: no OnClose after a Goexit", i)
		}
		// The Execute behind it is skipped (the connection is closing): nothing more ran.
		select {
		case j := <-ran:
			t.Errorf("conn %d: task %d ran after the Goexit closed the connection", i, j)
		default:
		}
		// The last connection is served still, by the runners left and new ones.
		for r := 0; r < 20; r++ {
			if err := conns[n-1].Execute(func(eddy.Conn) { ran <- n - 1 }); err != nil {
				t.Fatal(err)
			}
			if j := wait("the last connection"); j != n-1 {
				t.Fatalf("got %d, want %d", j, n-1)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Stop: %v", err)
	}
}

type zzCloseHandler struct {
	*allocOpenHandler
	closed chan error
}

func (h *zzCloseHandler) OnClose(_ eddy.Conn, err error) {
	if err != nil && strings.Contains(err.Error(), "Goexit") {
		h.closed <- err
	}
}

// TestStdTaskLeavesThreadLocked: an Execute function that locks its goroutine to its OS thread
// (runtime.LockOSThread) and returns without unlocking it, on the std engine, whose runner goroutine
// then runs other connections' sections on that thread (documented in docs/engine.md): the other
// connections' tasks still run, Stop returns, and no goroutine is left (the runner ends at Stop,
// and its thread with it) (review h33).
func TestStdTaskLeavesThreadLocked(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	h := &allocOpenHandler{opened: make(chan eddy.Conn, 4)}
	conns, stop := zzStart(t, eddy.EngineStd, h, 3)
	ran := make(chan int, 16)
	for r := 0; r < 50; r++ {
		for i, c := range conns {
			if err := c.Execute(func(eddy.Conn) {
				if i == 0 && r%10 == 0 {
					runtime.LockOSThread() // never unlocked
				}
				ran <- i
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case <-ran:
			case <-time.After(20 * time.Second):
				t.Fatalf("round %d: conn %d's task did not run", r, i)
			}
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := goleak.Find(ignore); err != nil {
		t.Errorf("goroutines left after Stop: %v", err)
	}
}
