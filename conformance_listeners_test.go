package eddy_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// loopsHandler is an echo handler that records which loops served connections.
type loopsHandler struct {
	*echoHandler
	mu    sync.Mutex
	loops map[int]int
}

func (h *loopsHandler) OnOpen(c eddy.Conn) {
	h.echoHandler.OnOpen(c)
	h.mu.Lock()
	h.loops[c.Loop().Index()]++
	h.mu.Unlock()
}

func TestServeOnAdoptedTCPListener(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		runtime.GC()
		base := countFDs(t)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		h := &loopsHandler{echoHandler: newEcho(false), loops: map[int]int{}}
		e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(2), eddy.WithListeners(ln))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		if got := e.Addrs(); len(got) != 1 || got[0].String() != addr {
			t.Fatalf("Addrs() = %v, want [%s]", got, addr)
		}
		const conns = 8
		for i := 0; i < conns; i++ {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if err := echoOnce(c, "adopted"); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		waitFor(t, func() bool { return h.closed.Load() == conns }, "OnClose for every connection")
		h.mu.Lock()
		served := len(h.loops)
		h.mu.Unlock()
		if served != 2 {
			t.Errorf("connections served by %d loops, want 2: %v", served, h.loops)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Fatal("the adopted listener still accepts after Stop")
		}
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
		ln2, err := net.Listen("tcp", addr) // the port is free again: every reference to the socket is closed
		if err != nil {
			t.Fatalf("listening again on %s after Stop: %v", addr, err)
		}
		ln2.Close()
	})
}

func TestServeOnAdoptedUnixListener(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix sockets")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "adopted.sock")
		ln, err := net.Listen("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		h := newEcho(false)
		e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(2), eddy.WithListeners(ln))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 4; i++ {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			if err := echoOnce(c, "adopted unix"); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("socket file after Stop: %v, want it removed as net.Listener.Close does", err)
		}
	})
}

func TestWithListenersRejectsOtherListeners(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type wrapped struct{ net.Listener }
	if _, err := eddy.New(newEcho(false), nil, eddy.WithListeners(wrapped{ln})); err == nil {
		t.Fatal("New accepted a listener that is neither *net.TCPListener nor *net.UnixListener")
	}
	var nilTCP *net.TCPListener
	if _, err := eddy.New(newEcho(false), nil, eddy.WithListeners(nilTCP)); err == nil {
		t.Fatal("New accepted a nil listener")
	}
}

func TestStartFailureClosesAdoptedListeners(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer busy.Close()
		// The second address is taken, so Start fails after adopting ln.
		e, err := eddy.New(newEcho(false), []string{busy.Addr().String()}, eddy.WithEngine(kind), eddy.WithReusePort(false), eddy.WithListeners(ln))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err == nil {
			e.Stop(context.Background())
			t.Fatal("Start succeeded on a busy address")
		}
		if _, err := ln.Accept(); err == nil {
			t.Fatal("the adopted listener is still open after a failed Start")
		}
	})
}
