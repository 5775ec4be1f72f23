package eddy_test

import (
	"context"
	"errors"
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

// r2Blackhole returns the address of a listener whose accept queue is full, so that a further connect
// hangs (its SYNs are dropped) until the caller gives up.
func r2Blackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, _ := syscall.Getsockname(fd)
	addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
	for i := 0; i < 8; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
	}
	// check that a connect now hangs
	if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
		c.Close()
		t.Skip("could not fill the accept queue: connects do not hang")
	}
	return addr
}

// r2Counter counts the callbacks of dialled connections.
type r2Counter struct {
	eddy.BaseHandler
	opened, closed atomic.Int64
}

func (h *r2Counter) OnOpen(eddy.Conn)         { h.opened.Add(1) }
func (h *r2Counter) OnClose(eddy.Conn, error) { h.closed.Add(1) }
func (h *r2Counter) OnData(c eddy.Conn)       { c.Discard(-1) }

func r2Client(t *testing.T, kind eddy.EngineKind, h eddy.Handler, opts ...eddy.Option) *eddy.Engine {
	t.Helper()
	e := startEngine(t, kind, h, nil, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

func r2FDs() int {
	ents, _ := os.ReadDir("/proc/self/fd")
	return len(ents)
}

// Dial with a bad address fails the future with an error that names the address, and never panics.
func TestDialBadAddresses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, addr := range []string{
			"", "tcp://", "tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:70000",
			"tcp://127.0.0.1:-1", "udp://127.0.0.1:9", "unix://", "tcp6://127.0.0.1:80",
			"tcp4://[::1]:80", "tcp://[::1:80", "://x:1",
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cl.Dial(ctx, addr).Await(ctx)
			cancel()
			if err == nil {
				t.Errorf("Dial(%q) succeeded", addr)
				continue
			}
			if addr != "" && !strings.Contains(err.Error(), addr) {
				t.Errorf("Dial(%q) error %q does not name the address", addr, err)
			}
		}
	})
}

// A unix path longer than sun_path fails like package net does (an error, no panic, no descriptor left).
func TestDialUnixPathTooLong(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		path := "/tmp/" + strings.Repeat("x", 200)
		runtime.GC()
		base := r2FDs()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.Dial(ctx, "unix://"+path).Await(ctx)
		if err == nil {
			t.Fatal("Dial to a too long unix path succeeded")
		}
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("Dial = %v (%T), want an *OpError dial", err, err)
		}
		if n := r2FDs(); n > base {
			t.Errorf("%d descriptors after the failed dial, %d before", n, base)
		}
	})
}

// The error of a refused dial reads like package net's: "dial tcp 127.0.0.1:N: connect: connection refused",
// and unwraps to the errno; the same for unix sockets (ENOENT for a missing path, ECONNREFUSED for a path
// that nobody listens on).
func TestDialErrorTextMatchesNet(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		tcpAddr := ln.Addr().String()
		ln.Close()
		dir := t.TempDir()
		stale := filepath.Join(dir, "stale.sock")
		uln, err := net.Listen("unix", stale)
		if err != nil {
			t.Fatal(err)
		}
		uln.(*net.UnixListener).SetUnlinkOnClose(false)
		uln.Close() // the file stays, nobody listens
		missing := filepath.Join(dir, "missing.sock")
		for _, tc := range []struct {
			network, addr string
			errno         syscall.Errno
		}{
			{"tcp", tcpAddr, syscall.ECONNREFUSED},
			{"tcp4", tcpAddr, syscall.ECONNREFUSED},
			{"unix", stale, syscall.ECONNREFUSED},
			{"unix", missing, syscall.ENOENT},
		} {
			_, nerr := net.Dial(tc.network, tc.addr)
			if nerr == nil {
				t.Fatalf("net.Dial(%s, %s) succeeded", tc.network, tc.addr)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := cl.Dial(ctx, tc.network+"://"+tc.addr).Await(ctx)
			cancel()
			var oe *eddy.OpError
			if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != tc.network {
				t.Errorf("%s %s: Dial = %v (%T), want an *OpError dial %s", tc.network, tc.addr, err, err, tc.network)
				continue
			}
			if !errors.Is(err, tc.errno) {
				t.Errorf("%s %s: %v does not unwrap to %v", tc.network, tc.addr, err, tc.errno)
			}
			if err.Error() != nerr.Error() {
				t.Errorf("%s %s: error text %q, package net says %q", tc.network, tc.addr, err, nerr)
			}
			if oe.Timeout() {
				t.Errorf("%s %s: Timeout() true for %v", tc.network, tc.addr, err)
			}
		}
	})
}

// A dial cancelled while connecting fails with an *OpError wrapping context.Canceled, runs no callback and
// leaves no descriptor open.
func TestDialCancelledWhileConnecting(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := r2Blackhole(t)
		h := &r2Counter{}
		cl := r2Client(t, kind, h)
		runtime.GC()
		base := r2FDs()
		const n = 10
		ctx, cancel := context.WithCancel(context.Background())
		var errs [n]error
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			f := cl.Dial(ctx, "tcp://"+addr)
			wg.Add(1)
			go func() {
				defer wg.Done()
				actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer acancel()
				_, errs[i] = f.Await(actx)
			}()
		}
		time.Sleep(100 * time.Millisecond)
		cancel()
		wg.Wait()
		for i, err := range errs {
			var oe *eddy.OpError
			if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "dial" {
				t.Errorf("dial %d: %v (%T), want an *OpError dial wrapping context.Canceled", i, err, err)
			}
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
		if h.opened.Load() != 0 || h.closed.Load() != 0 {
			t.Errorf("OnOpen %d, OnClose %d times for dials that never connected", h.opened.Load(), h.closed.Load())
		}
	})
}

// A dial in progress when the engine stops fails with ErrEngineStopped (the error of operations on a
// stopped engine), promptly, with no callback; a Dial after Stop fails the same way.
func TestDialDuringAndAfterStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := r2Blackhole(t)
		h := &r2Counter{}
		e := startEngine(t, kind, h, nil)
		f := e.Dial(context.Background(), "tcp://"+addr)
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		if err := e.Stop(ctx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Stop took %v with a dial in progress", d)
		}
		_, err := f.Await(ctx)
		var oe *eddy.OpError
		if !errors.Is(err, eddy.ErrEngineStopped) || !errors.As(err, &oe) || oe.Op != "dial" {
			t.Errorf("dial in progress at Stop: %v (%T), want an *OpError dial wrapping ErrEngineStopped", err, err)
		}
		_, err = e.Dial(context.Background(), "tcp://"+addr).Await(ctx)
		if !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("Dial after Stop: %v, want ErrEngineStopped", err)
		}
		if h.opened.Load() != 0 || h.closed.Load() != 0 {
			t.Errorf("OnOpen %d, OnClose %d times", h.opened.Load(), h.closed.Load())
		}
	})
}

// r2AddrServer records the remote addresses the server saw.
type r2AddrServer struct {
	eddy.BaseHandler
	mu     sync.Mutex
	remote map[string]bool
}

func (h *r2AddrServer) OnOpen(c eddy.Conn) {
	h.mu.Lock()
	h.remote[c.RemoteAddr().String()] = true
	h.mu.Unlock()
}
func (h *r2AddrServer) OnData(c eddy.Conn) { b, _ := c.Next(-1); c.Write(b) }

// Many concurrent dials from many goroutines all connect; each dialled connection's LocalAddr is the
// address the server sees as its peer, and its RemoteAddr the server's address.
func TestConcurrentDialsAndAddrs(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		srv := &r2AddrServer{remote: map[string]bool{}}
		s := startServer(t, kind, srv)
		h := &r2Counter{}
		cl := r2Client(t, kind, h)
		const n = 40
		conns := make([]eddy.Conn, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				conns[i], errs[i] = cl.Dial(ctx, "tcp://"+s.addr).Await(ctx)
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("dial %d: %v", i, err)
			}
		}
		if h.opened.Load() != n {
			t.Fatalf("OnOpen ran %d times, want %d", h.opened.Load(), n)
		}
		waitFor(t, func() bool { srv.mu.Lock(); defer srv.mu.Unlock(); return len(srv.remote) == n }, "the server to see every connection")
		seen := map[string]bool{}
		for i, c := range conns {
			la, ra := c.LocalAddr(), c.RemoteAddr()
			if la == nil || ra == nil || la.Network() != "tcp" || ra.Network() != "tcp" {
				t.Fatalf("conn %d: LocalAddr %#v RemoteAddr %#v", i, la, ra)
			}
			if ra.String() != s.addr {
				t.Errorf("conn %d: RemoteAddr %s, want %s", i, ra, s.addr)
			}
			srv.mu.Lock()
			ok := srv.remote[la.String()]
			srv.mu.Unlock()
			if !ok || seen[la.String()] {
				t.Errorf("conn %d: LocalAddr %s is not one the server saw once", i, la)
			}
			seen[la.String()] = true
		}
		for _, c := range conns {
			c.Close()
		}
		waitFor(t, func() bool { return h.closed.Load() == n }, "OnClose of every dialled connection")
	})
}

// Dialling the unspecified address reaches the local system, as with package net; RemoteAddr is "the
// peer's address", which package net reports as the address actually connected to.
func TestDialUnspecifiedRemoteAddr(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		_, port, _ := net.SplitHostPort(s.addr)
		nc, err := net.Dial("tcp", "0.0.0.0:"+port)
		if err != nil {
			t.Fatal(err)
		}
		want := nc.RemoteAddr().String()
		nc.Close()
		cl := r2Client(t, kind, &r2Counter{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := cl.Dial(ctx, "tcp://0.0.0.0:"+port).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if got := c.RemoteAddr().String(); got != want {
			t.Errorf("RemoteAddr of a dial to 0.0.0.0:%s = %s, package net reports %s", port, got, want)
		}
	})
}

// tcp4, tcp6 and unix dials connect, and their addresses are those package net reports for the same dial.
func TestDialNetworks(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "s.sock")
		e, err := eddy.New(newEcho(false), []string{"tcp4://127.0.0.1:0", "tcp6://[::1]:0", "unix://" + path},
			eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Skipf("Start: %v", err)
		}
		defer e.Stop(context.Background())
		as := e.Addrs()
		cl := r2Client(t, kind, &clientHandler{got: make(chan string, 10)})
		for _, tc := range []struct{ network, addr string }{
			{"tcp4", as[0].String()}, {"tcp6", as[1].String()}, {"unix", path},
		} {
			nc, err := net.Dial(tc.network, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			wantL, wantR := nc.LocalAddr(), nc.RemoteAddr()
			nc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := cl.Dial(ctx, tc.network+"://"+tc.addr).Await(ctx)
			cancel()
			if err != nil {
				t.Errorf("%s: %v", tc.network, err)
				continue
			}
			la, ra := c.LocalAddr(), c.RemoteAddr()
			if ra.String() != wantR.String() || ra.Network() != wantR.Network() {
				t.Errorf("%s: RemoteAddr %s (%s), net: %s (%s)", tc.network, ra, ra.Network(), wantR, wantR.Network())
			}
			if la.Network() != wantL.Network() {
				t.Errorf("%s: LocalAddr network %s, net: %s", tc.network, la.Network(), wantL.Network())
			}
			if tc.network == "unix" && la.String() != wantL.String() {
				t.Errorf("unix: LocalAddr %q, net: %q", la, wantL)
			}
			if tc.network == "tcp6" && !strings.HasPrefix(la.String(), "[::1]:") {
				t.Errorf("tcp6: LocalAddr %s", la)
			}
			c.Close()
		}
	})
}

// Cancelling a dial's context fails the future even when the loop's task queue (WithTaskQueueCapacity)
// happens to be full at that moment: the cancellation is the engine's own work, like the dial itself,
// and must not be refused with ErrQueueFull and lost.
func TestDialCancelWithFullTaskQueue(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		hole := r2Blackhole(t)
		s := startServer(t, kind, newEcho(false))
		cl := r2Client(t, kind, &r2Counter{}, eddy.WithLoops(1), eddy.WithTaskQueueCapacity(1))
		ctx0, cancel0 := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel0()
		c1, err := cl.Dial(ctx0, "tcp://"+s.addr).Await(ctx0)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		f := cl.Dial(ctx, "tcp://"+hole)
		time.Sleep(50 * time.Millisecond) // the loop has registered the connecting socket
		l := cl.Loops()[0]
		running, release := make(chan struct{}), make(chan struct{})
		l.Execute(func() { close(running); <-release })
		<-running
		if err := c1.Execute(func(eddy.Conn) {}); err != nil { // the queue (capacity 1) is full now
			t.Fatal(err)
		}
		cancel()
		time.Sleep(100 * time.Millisecond) // the context's watcher has tried to queue the cancellation
		close(release)
		actx, acancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer acancel()
		_, err = f.Await(actx)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled dial: %v, want an error wrapping context.Canceled (the cancellation was lost)", err)
		}
	})
}

// r2CloseOnOpen closes every dialled connection in OnOpen.
type r2CloseOnOpen struct{ r2Counter }

func (h *r2CloseOnOpen) OnOpen(c eddy.Conn) { h.r2Counter.OnOpen(c); c.Close() }

// Dials whose context is cancelled at random moments, racing the connect, and dials racing Stop: every
// future settles; a connection opened (OnOpen) is closed exactly once (OnClose); a failed dial runs no
// callback; no descriptor is left once the engine has stopped.
func TestDialRacesCancelAndStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		runtime.GC()
		base := r2FDs()
		h := &r2Counter{}
		e := startEngine(t, kind, h, nil)
		const n = 40
		var ok, failed, closedEarly atomic.Int64
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithCancel(context.Background())
				f := e.Dial(ctx, "tcp://"+s.addr)
				if i%2 == 0 {
					time.Sleep(time.Duration(i*20) * time.Microsecond)
					cancel()
				}
				actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer acancel()
				c, err := f.Await(actx)
				cancel()
				switch {
				case err == nil:
					ok.Add(1)
					if i%3 == 0 {
						c.Close()
					}
				case errors.Is(err, context.DeadlineExceeded):
					t.Errorf("dial %d never settled", i)
				case errors.Is(err, eddy.ErrClosed):
					// OnOpen ran, and Stop closed the connection before the future resolved (std: Stop
					// runs on another goroutine, between OnOpen and the resolution).
					closedEarly.Add(1)
				default:
					var oe *eddy.OpError
					if !errors.As(err, &oe) {
						t.Errorf("dial %d: %v (%T), want an *OpError", i, err, err)
					}
					failed.Add(1)
				}
			}()
			if i == n/2 {
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					defer cancel()
					if err := e.Stop(ctx); err != nil {
						t.Errorf("Stop: %v", err)
					}
				}()
			}
		}
		wg.Wait()
		<-e.Done()
		if o, c := h.opened.Load(), h.closed.Load(); o != ok.Load()+closedEarly.Load() || c != o {
			t.Errorf("%d dials resolved, %d closed by Stop before resolving, %d failed; OnOpen %d, OnClose %d",
				ok.Load(), closedEarly.Load(), failed.Load(), o, c)
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// A dialled connection that OnOpen closes: the future fails (ErrClosed) and OnClose still runs once.
func TestDialClosedInOnOpen(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		h := &r2CloseOnOpen{}
		cl := r2Client(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := cl.Dial(ctx, "tcp://"+s.addr).Await(ctx)
		if !errors.Is(err, eddy.ErrClosed) {
			t.Errorf("Dial closed in OnOpen: %v, want ErrClosed", err)
		}
		waitFor(t, func() bool { return h.closed.Load() == 1 }, "OnClose")
		time.Sleep(20 * time.Millisecond)
		if h.opened.Load() != 1 || h.closed.Load() != 1 {
			t.Errorf("OnOpen %d, OnClose %d", h.opened.Load(), h.closed.Load())
		}
	})
}
