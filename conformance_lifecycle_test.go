package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

func TestNewRejectsBadAddresses(t *testing.T) {
	for _, addr := range []string{
		"tcp://127.0.0.1",
		"tcp://127.0.0.1:",
		"udp://127.0.0.1:9000",
		"unix://",
		"tcp://[::1:80",
		"tcp://127.0.0.1:http-nonexistent-port",
		"quic://x:1",
		"unix:///tmp/" + strings.Repeat("x", 120), // longer than any sun_path: it failed only at Start
	} {
		_, err := eddy.New(eddy.BaseHandler{}, []string{addr})
		if err == nil {
			t.Errorf("New(%q) succeeded", addr)
			continue
		}
		if !strings.Contains(err.Error(), addr) {
			t.Errorf("New(%q) error %q does not name the address", addr, err)
		}
	}
	// The longest path the system takes is no bad address (103 bytes on macOS and the BSDs).
	long := "unix:///tmp/" + strings.Repeat("x", 103-len("/tmp/"))
	if _, err := eddy.New(eddy.BaseHandler{}, []string{long}); err != nil {
		t.Errorf("New(%q): %v", long, err)
	}
	if err := eddy.Serve(context.Background(), eddy.BaseHandler{}, nil); err == nil {
		t.Error("Serve with no address succeeded")
	}
	if _, err := eddy.New(nil, []string{"tcp://127.0.0.1:0"}); err == nil {
		t.Error("New with a nil handler succeeded")
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  eddy.Option
		want string
	}{
		{eddy.WithLoops(0), "WithLoops(0)"},
		{eddy.WithLoops(-3), "WithLoops(-3)"},
		{eddy.WithEngine("turbo"), `"turbo"`},
		{eddy.WithReadBufferSize(1), "WithReadBufferSize(1)"},
		{eddy.WithWriteBufferWaterMarks(10, 5), "WithWriteBufferWaterMarks(10, 5)"},
		{eddy.WithIdleTimeout(-time.Second), "WithIdleTimeout(-1s)"},
		{eddy.WithTCPKeepAlive(-time.Second), "WithTCPKeepAlive(-1s)"},
		{eddy.WithTaskQueueCapacity(0), "WithTaskQueueCapacity(0)"},
		{eddy.WithStopTimeout(0), "WithStopTimeout(0s)"},
		{eddy.WithFlushTimeout(0), "WithFlushTimeout(0s)"},
		{eddy.WithFlushTimeout(-time.Second), "WithFlushTimeout(-1s)"},
		{eddy.WithLogger(nil), "WithLogger(nil)"},
	} {
		_, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one naming %s", err, tc.want)
		}
	}
}

func TestListenErrorIsOpError(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		e, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://" + ln.Addr().String()},
			eddy.WithEngine(kind), eddy.WithReusePort(false))
		if err != nil {
			t.Fatal(err)
		}
		err = e.Start()
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Op != "listen" || !strings.Contains(err.Error(), ln.Addr().String()) {
			t.Fatalf("Start on a busy port = %v, want an *OpError naming listen and the address", err)
		}
		if !strings.Contains(strings.ToLower(err.Error()), "address already in use") {
			t.Fatalf("error %q does not carry the errno", err)
		}
	})
}

type lifecycleHandler struct {
	eddy.BaseHandler
	boots, shutdowns, ticks atomic.Int64
}

func (h *lifecycleHandler) OnBoot(*eddy.Engine) error { h.boots.Add(1); return nil }
func (h *lifecycleHandler) OnShutdown(*eddy.Engine)   { h.shutdowns.Add(1) }
func (h *lifecycleHandler) OnTick() time.Duration {
	if h.ticks.Add(1) >= 3 {
		return -1
	}
	return 10 * time.Millisecond
}

func TestBootTickShutdown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &lifecycleHandler{}
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return h.ticks.Load() == 3 }, "three ticks")
		if err := e.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if h.boots.Load() != 1 || h.shutdowns.Load() != 1 || h.ticks.Load() != 3 {
			t.Fatalf("boots %d, shutdowns %d, ticks %d; want 1, 1, 3", h.boots.Load(), h.shutdowns.Load(), h.ticks.Load())
		}
		select {
		case <-e.Done():
		default:
			t.Fatal("Done not closed after Stop")
		}
	})
}

func TestServeStopsWhenContextEnds(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- eddy.Serve(ctx, newEcho(false), []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind)) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return")
		}
	})
}

func TestUnixSocketEcho(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if runtime.GOOS == "windows" {
			t.Skip("unix sockets")
		}
		path := filepath.Join(t.TempDir(), "echo.sock")
		h := newEcho(false)
		e, err := eddy.New(h, []string{"unix://" + path}, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Stop(context.Background())
		for i := 0; i < 4; i++ { // more connections than loops: the single acceptor hands them around
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			if err := echoOnce(c, "over a unix socket"); err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	})
}

func TestSingleAcceptorSpreadsConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		s := startServer(t, kind, h, eddy.WithReusePort(false), eddy.WithLoops(2))
		for i := 0; i < 10; i++ {
			c := s.dial(t)
			if err := echoOnce(c, "x"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// countFDs returns the number of open descriptors of this process.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func TestNoDescriptorLeakAfterManyConnections(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cycles := 10_000
		if testing.Short() {
			cycles = 1000
		}
		h := newEcho(false)
		s := startServer(t, kind, h)
		runtime.GC()
		base := countFDs(t)
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		work := make(chan int, 64)
		t0 := time.Now()
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					// mode 0: echo once, then close; 1: close with data in flight; 2: connect and
					// close at once
					if err := connectCycle(s.addr, i%3); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			}()
		}
		for i := 0; i < cycles; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		t.Logf("%d cycles in %v", cycles, time.Since(t0))
		if failed.Load() > 0 {
			t.Fatalf("%d of %d cycles failed, the first with %v", failed.Load(), cycles, firstErr.Load())
		}
		waitFor(t, func() bool { return h.closed.Load() == int64(cycles) }, "OnClose for every connection")
		waitFor(t, func() bool { return countFDs(t) <= base }, "descriptors back to the baseline")
		if h.opened.Load() != int64(cycles) {
			t.Fatalf("OnOpen ran %d times, want %d", h.opened.Load(), cycles)
		}
	})
}

// byeHandler echoes, and closes the connection when it receives "bye".
type byeHandler struct{ eddy.BaseHandler }

func (byeHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if string(b) == "bye" {
		c.Close()
		return
	}
	c.Write(b)
}

// A stopping engine does not wait for peers to close: neither for an open connection it closes itself, nor
// for one already lingering (closed by the server, waiting for the peer's FIN). Stop must return well before
// the 2-second linger bound, and both peers see EOF.
func TestStopDoesNotLingerForPeersThatStayOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e, err := eddy.New(byeHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		addr := e.Addrs()[0].String()
		open, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer open.Close()
		if err := echoOnce(open, "hello"); err != nil {
			t.Fatal(err)
		}
		lingering, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer lingering.Close()
		lingering.Write([]byte("bye"))
		lingering.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := lingering.Read(make([]byte, 8)); err != io.EOF {
			t.Fatalf("after bye: %d bytes, %v; want EOF", n, err)
		}
		// lingering stays open on this side: the server waits for its FIN until it stops.
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v (it waited for peers that never close)", err)
		}
		open.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := open.Read(make([]byte, 8)); err != io.EOF {
			t.Fatalf("open connection after Stop: %d bytes, %v; want EOF", n, err)
		}
	})
}

// StopAccepting closes the listeners and keeps serving: a connection made before it echoes on, a new one
// is refused, and Stop then closes the old one as usual.
func TestStopAcceptingKeepsServing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Run("listener per loop", func(t *testing.T) { testStopAccepting(t, kind, true) })
		t.Run("one acceptor", func(t *testing.T) { testStopAccepting(t, kind, false) })
	})
}

func testStopAccepting(t *testing.T, kind eddy.EngineKind, reusePort bool) {
	e, err := eddy.New(newEcho(false), []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2),
		eddy.WithReusePort(reusePort))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.StopAccepting(); !errors.Is(err, eddy.ErrEngineStopped) {
		t.Fatalf("StopAccepting before Start: %v, want ErrEngineStopped", err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	addr := e.Addrs()[0].String()
	var old []net.Conn
	for i := 0; i < 4; i++ { // with two loops, both get some
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := echoOnce(c, "before"); err != nil {
			t.Fatal(err)
		}
		old = append(old, c)
	}
	for i := 0; i < 2; i++ {
		if err := e.StopAccepting(); err != nil {
			t.Fatalf("StopAccepting #%d: %v", i+1, err)
		}
	}
	for _, c := range old {
		if err := echoOnce(c, "after StopAccepting"); err != nil {
			t.Fatalf("a connection accepted before StopAccepting: %v", err)
		}
	}
	if c, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		c.Close()
		t.Fatal("a new connection was accepted after StopAccepting")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial after StopAccepting: %v, want connection refused", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range old {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("after Stop: %v, want EOF", err)
		}
	}
	if err := e.StopAccepting(); !errors.Is(err, eddy.ErrEngineStopped) {
		t.Fatalf("StopAccepting after Stop: %v, want ErrEngineStopped", err)
	}
}
