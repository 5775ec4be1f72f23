package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

func TestSlowReaderBoundsServerMemory(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		const low, high = 64 << 10, 256 << 10
		s := startServer(t, kind, h, eddy.WithWriteBufferWaterMarks(low, high))
		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		c.SetWriteBuffer(64 << 10)
		// Write without reading until the server stops taking bytes: its reading must pause.
		chunk := pattern(64<<10, 3)
		var sent []byte
		const limit = 256 << 20
		for len(sent) < limit {
			c.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			n, err := c.Write(chunk)
			sent = append(sent, chunk[:n]...)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				t.Fatal(err)
			}
		}
		if len(sent) >= limit {
			t.Fatalf("the server kept reading %d bytes from a peer that never reads", len(sent))
		}
		t.Logf("the server stopped reading after %d bytes", len(sent))
		// Now drain: reading must resume and every byte come back.
		c.SetWriteDeadline(time.Time{})
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		got := make([]byte, len(sent))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, sent) {
			t.Fatal("echoed bytes differ")
		}
		// And the connection still works after the pause.
		c.Write([]byte("again"))
		small := make([]byte, 5)
		if _, err := io.ReadFull(c, small); err != nil || string(small) != "again" {
			t.Fatalf("after resume: %q, %v", small, err)
		}
	})
}

func TestIdleTimeoutClosesOnlyIdleConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel() // each engine its own server, mostly waiting: side by side
		const timeout = time.Second
		const slack = timeout * 3 / 4
		h := newEcho(false)
		late := watchLateness(t)
		// Generous margins: the active connection talks every 20 ms against a 1 s timeout, so only a stall
		// of the whole machine could make it look idle. Such a stall (a gap between the pings, or a
		// goroutine woken late, of 3/4 of the timeout) makes a close of the active connection
		// inconclusive: CI runs every package under -race on 2 cores.
		s := startServer(t, kind, h, eddy.WithIdleTimeout(timeout))
		idle := s.dial(t)
		last := time.Now() // the active connection's timer starts after this
		active := s.dial(t)
		stop := time.Now().Add(2500 * time.Millisecond)
		buf := make([]byte, 4)
		var stalled time.Duration
		for time.Now().Before(stop) {
			now := time.Now()
			stalled = max(stalled, now.Sub(last), late())
			active.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := active.Write([]byte("ping")); err != nil {
				if stalled >= slack {
					t.Skipf("stalled %v (timeout %v); then the active connection: %v", stalled, timeout, err)
				}
				t.Fatalf("active connection: %v", err)
			}
			if _, err := io.ReadFull(active, buf); err != nil {
				if stalled = max(stalled, time.Since(now), late()); stalled >= slack {
					t.Skipf("stalled %v (timeout %v); then the active connection: %v", stalled, timeout, err)
				}
				t.Fatalf("active connection: %v", err)
			}
			last = now
			time.Sleep(20 * time.Millisecond)
		}
		idle.SetReadDeadline(time.Now().Add(30 * time.Second))
		if n, err := idle.Read(buf); err != io.EOF {
			t.Fatalf("idle connection: read %d, %v; want EOF", n, err)
		}
		if err := h.waitClosed(t, 30*time.Second); !errors.Is(err, eddy.ErrIdleTimeout) {
			t.Fatalf("OnClose reason = %v, want ErrIdleTimeout", err)
		}
		if n := h.closed.Load(); n != 1 {
			if stalled = max(stalled, late()); stalled >= slack {
				t.Skipf("stalled %v (timeout %v); then %d connections closed", stalled, timeout, n)
			}
			t.Fatalf("%d connections closed, want only the idle one", n)
		}
	})
}

// openHandler keeps the connections it opened, writes greeting on each, and counts closes.
type openHandler struct {
	*counter
	mu    sync.Mutex
	conns []eddy.Conn
	write []byte
}

func (h *openHandler) OnOpen(c eddy.Conn) {
	if h.write != nil {
		c.Write(h.write)
	}
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
	h.counter.OnOpen(c) // last: tests wait for this count before acting on the connection
}

func (h *openHandler) OnData(c eddy.Conn) { c.Discard(-1) }

func TestStopClosesConnectionsGracefully(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &openHandler{counter: newCounter(), write: pattern(1<<20, 5)}
		e := startEngine(t, kind, h, loopback)
		addr := e.Addrs()[0].String()
		const n = 20
		var clients []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			clients = append(clients, c)
		}
		waitFor(t, func() bool { return h.opened.Load() == n }, "every OnOpen")
		results := make(chan error, n)
		for _, c := range clients {
			go func() {
				c.SetReadDeadline(time.Now().Add(20 * time.Second))
				got, err := io.ReadAll(c)
				if err == nil && !bytes.Equal(got, h.write) {
					err = errors.New("greeting cut short")
				}
				results <- err
			}()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		for range clients {
			if err := <-results; err != nil {
				t.Fatal(err)
			}
		}
		if got := h.closed.Load(); got != n {
			t.Fatalf("OnClose ran %d times, want %d", got, n)
		}
		for _, err := range h.reasons {
			if !errors.Is(err, eddy.ErrEngineStopped) {
				t.Fatalf("OnClose reason %v, want ErrEngineStopped", err)
			}
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("the engine still accepts after Stop")
		}
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
	})
}

func TestStopWithDeadlineForcesStuckConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &openHandler{counter: newCounter(), write: pattern(32<<20, 5)}
		e := startEngine(t, kind, h, loopback, eddy.WithLoops(1))
		c, err := net.Dial("tcp", e.Addrs()[0].String()) // never reads: the flush cannot finish
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(t, func() bool { return h.opened.Load() == 1 }, "OnOpen")
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if err := e.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop = %v, want context.DeadlineExceeded", err)
		}
		if got := h.closed.Load(); got != 1 {
			t.Fatalf("OnClose ran %d times, want 1", got)
		}
	})
}

func TestOperationsOnClosedConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &openHandler{counter: newCounter()}
		s := startServer(t, kind, h)
		c := s.dial(t)
		waitFor(t, func() bool { return h.opened.Load() == 1 }, "OnOpen")
		h.mu.Lock()
		sc := h.conns[0]
		h.mu.Unlock()
		if err := sc.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		if err := sc.Close(); !errors.Is(err, eddy.ErrClosed) {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
		h.waitClosed(t, 5*time.Second)
		if err := sc.AsyncWrite([]byte("late"), nil); !errors.Is(err, eddy.ErrClosed) {
			t.Fatalf("AsyncWrite after close = %v, want ErrClosed", err)
		}
		if err := sc.Execute(func(eddy.Conn) {}); !errors.Is(err, eddy.ErrClosed) {
			t.Fatalf("Execute after close = %v, want ErrClosed", err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("peer read %d, %v; want EOF", n, err)
		}
	})
}

func TestCloseWriteHalfClosesServerSide(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		got := make(chan string, 1)
		h := &funcHandler{counter: newCounter(),
			open: func(c eddy.Conn) {
				c.Write([]byte("bye"))
				if err := c.CloseWrite(); err != nil {
					panic(err)
				}
				if _, err := c.Write([]byte("x")); !errors.Is(err, eddy.ErrClosed) {
					panic("Write after CloseWrite succeeded")
				}
			},
			data: func(c eddy.Conn) {
				b, _ := c.Next(-1)
				got <- string(b)
			},
		}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c) // ends with EOF: the server shut down its side
		if err != nil || string(b) != "bye" {
			t.Fatalf("read %q, %v", b, err)
		}
		c.Write([]byte("still open")) // the server still reads
		select {
		case s := <-got:
			if s != "still open" {
				t.Fatalf("server read %q", s)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the server stopped reading after CloseWrite")
		}
	})
}

type funcHandler struct {
	*counter
	open func(eddy.Conn)
	data func(eddy.Conn)
}

func (h *funcHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	if h.open != nil {
		h.open(c)
	}
}

func (h *funcHandler) OnData(c eddy.Conn) {
	if h.data != nil {
		h.data(c)
	}
}

func TestExecuteRunsOnTheConnectionsLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		opened := make(chan eddy.Conn, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { opened <- c }}
		s := startServer(t, kind, h)
		c := s.dial(t)
		sc := <-opened
		for i := 0; i < 100; i++ {
			if err := sc.Execute(func(c eddy.Conn) { c.Write([]byte{byte(i)}) }); err != nil {
				t.Fatal(err)
			}
		}
		got := make([]byte, 100)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
		for i, b := range got {
			if int(b) != i {
				t.Fatalf("byte %d = %d: Execute order not kept", i, b)
			}
		}
	})
}
