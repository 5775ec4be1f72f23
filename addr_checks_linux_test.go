package eddy_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// An address listed twice is a bad address, named by New before anything starts, on every engine.
// Before session 28 the std engine failed the second listen with EADDRINUSE at Start, while epoll and
// uring, given WithReusePort(true), put both listeners in one SO_REUSEPORT group and served the port
// twice over (Addrs listed it twice). Port 0 twice is no duplicate: each gets a port of its own.
func TestAddressListedTwice(t *testing.T) {
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(free.Addr().(*net.TCPAddr).Port)
	free.Close()
	sock := filepath.Join(t.TempDir(), "dup.sock")
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, tc := range []struct {
			addrs []string
			dup   string // the address the error names
		}{
			{[]string{"tcp://127.0.0.1:" + port, "tcp://127.0.0.1:" + port}, "tcp://127.0.0.1:" + port},
			{[]string{"127.0.0.1:" + port, "tcp4://127.0.0.1:" + port}, "tcp4://127.0.0.1:" + port},
			{[]string{"tcp://:" + port, "tcp://[::]:" + port}, "tcp://[::]:" + port},
			{[]string{"unix://" + sock, "tcp://127.0.0.1:0", "unix://" + sock}, "unix://" + sock},
		} {
			for _, share := range []bool{false, true} {
				e, err := eddy.New(eddy.BaseHandler{}, tc.addrs, eddy.WithEngine(kind), eddy.WithLoops(2),
					eddy.WithReusePort(share))
				if err == nil {
					serr := e.Start()
					var addrs []net.Addr
					if serr == nil {
						addrs = e.Addrs()
						e.Stop(context.Background())
					}
					t.Errorf("New(%q, WithReusePort(%t)) took an address listed twice (Start: %v, Addrs %v)",
						tc.addrs, share, serr, addrs)
					continue
				}
				if !strings.Contains(err.Error(), strconv.Quote(tc.dup)) {
					t.Errorf("New(%q): %v; want an error naming %q", tc.addrs, err, tc.dup)
				}
			}
		}
		e, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0", "tcp://127.0.0.1:0"},
			eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatalf("New with port 0 twice: %v", err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Stop(context.Background())
		if a := e.Addrs(); len(a) != 2 || a[0].String() == a[1].String() {
			t.Errorf("port 0 twice: Addrs %v; want two ports", a)
		}
	})
}

// An IPv6 zone that names no interface is a bad address on every engine, in New and in Dial. Before
// session 28 epoll and uring failed Start (and the Dial) with it, while std, through package net,
// which takes an unknown zone for none, listened on [::1] and dialled it.
func TestUnknownZone(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no ::1 here: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	const zone = "eddynosuchif0"
	if _, err := net.InterfaceByName(zone); err == nil {
		t.Skipf("this machine has an interface %s", zone)
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := "tcp6://[::1%" + zone + "]:0"
		e, err := eddy.New(eddy.BaseHandler{}, []string{addr}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err == nil {
			serr := e.Start()
			if serr == nil {
				e.Stop(context.Background())
			}
			t.Errorf("New(%q) took a zone that names no interface (Start: %v)", addr, serr)
		} else if !strings.Contains(err.Error(), strconv.Quote(addr)) || !strings.Contains(err.Error(), zone) {
			t.Errorf("New(%q): %v; want an error naming the address and the zone", addr, err)
		}
		// A known zone, by name or index, is taken as before.
		for _, z := range []string{"lo", "1"} {
			ok := "tcp6://[::1%" + z + "]:0"
			if _, ierr := net.InterfaceByName("lo"); ierr != nil {
				break
			}
			if _, err := eddy.New(eddy.BaseHandler{}, []string{ok}, eddy.WithEngine(kind)); err != nil {
				t.Errorf("New(%q): %v", ok, err)
			}
		}

		d, err := eddy.New(eddy.BaseHandler{}, nil, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		defer d.Stop(context.Background())
		target := "tcp6://[::1%" + zone + "]:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.Dial(ctx, target).Await(ctx)
		if err == nil {
			c.Close()
			t.Errorf("Dial(%q) connected", target)
		} else if !strings.Contains(err.Error(), zone) {
			t.Errorf("Dial(%q): %v; want an error naming the zone", target, err)
		}
	})
}

// Unix socket paths on every engine, against package net's behaviour: a missing directory and a
// stale socket file fail Start with an *OpError (listen, unix, the path, the errno) and leave the file
// alone; a second engine on a path in use fails the same way without disturbing the first; an
// abstract name serves and leaves no file; a relative path is taken from the working directory and
// its file removed at Stop. None of the failures leaves a descriptor behind.
func TestUnixSocketPaths(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		start := func(addr string) (*eddy.Engine, error) {
			t.Helper()
			e, err := eddy.New(newEcho(false), []string{addr}, eddy.WithEngine(kind), eddy.WithLoops(2))
			if err != nil {
				t.Fatalf("New(%q): %v", addr, err)
			}
			return e, e.Start()
		}
		wantListenErr := func(err error, path string, errno syscall.Errno) {
			t.Helper()
			var oe *eddy.OpError
			if !errors.As(err, &oe) || oe.Op != "listen" || oe.Net != "unix" || !errors.Is(err, errno) ||
				!strings.Contains(err.Error(), path) {
				t.Errorf("Start on %s = %v; want an *OpError of listen unix naming the path, wrapping %v", path, err, errno)
			}
		}
		base := countFDs(t)

		// A directory that does not exist: ENOENT, as net.Listen.
		missing := filepath.Join(dir, "nodir", "s.sock")
		if e, err := start("unix://" + missing); err == nil {
			e.Stop(context.Background())
			t.Errorf("Start on %s succeeded", missing)
		} else {
			wantListenErr(err, missing, syscall.ENOENT)
		}

		// A stale socket file, as a crashed process leaves it: EADDRINUSE, and the file stays.
		stale := filepath.Join(dir, "stale.sock")
		sl, err := net.Listen("unix", stale)
		if err != nil {
			t.Fatal(err)
		}
		sl.(*net.UnixListener).SetUnlinkOnClose(false)
		sl.Close()
		if e, err := start("unix://" + stale); err == nil {
			e.Stop(context.Background())
			t.Errorf("Start on the stale %s succeeded", stale)
		} else {
			wantListenErr(err, stale, syscall.EADDRINUSE)
		}
		if fi, err := os.Lstat(stale); err != nil || fi.Mode()&os.ModeSocket == 0 {
			t.Errorf("the stale socket file after a failed Start: %v, %v", fi, err)
		}
		os.Remove(stale) // what the documentation tells the user to do
		if e, err := start("unix://" + stale); err != nil {
			t.Errorf("Start on %s once the stale file is removed: %v", stale, err)
		} else {
			e.Stop(context.Background())
		}

		// Two engines on one path: the second fails, the first serves on and keeps its file.
		shared := filepath.Join(dir, "shared.sock")
		first, err := start("unix://" + shared)
		if err != nil {
			t.Fatal(err)
		}
		if e, err := start("unix://" + shared); err == nil {
			e.Stop(context.Background())
			t.Errorf("a second engine started on %s", shared)
		} else {
			wantListenErr(err, shared, syscall.EADDRINUSE)
		}
		if c, err := net.Dial("unix", shared); err != nil {
			t.Errorf("the first engine after the second failed: %v", err)
		} else {
			c.SetDeadline(time.Now().Add(10 * time.Second))
			if err := echoOnce(c, "still here"); err != nil {
				t.Errorf("echo on the first engine: %v", err)
			}
			c.Close()
		}
		if err := first.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Lstat(shared); !os.IsNotExist(err) {
			t.Errorf("%s after Stop: %v; want it removed", shared, err)
		}

		// An abstract name (Linux): served, no file.
		name := "@eddy-abstract-" + string(kind) + "-" + strconv.Itoa(os.Getpid())
		if e, err := start("unix://" + name); err != nil {
			t.Errorf("Start on %s: %v", name, err)
		} else {
			if a := e.Addrs(); len(a) != 1 || a[0].String() != name {
				t.Errorf("Addrs = %v; want [%s]", a, name)
			}
			if c, err := net.Dial("unix", name); err != nil {
				t.Errorf("dial %s: %v", name, err)
			} else {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if err := echoOnce(c, "abstract"); err != nil {
					t.Errorf("echo on %s: %v", name, err)
				}
				c.Close()
			}
			e.Stop(context.Background())
		}

		if n := countFDs(t); n > base {
			t.Errorf("%d descriptors open after the failed and stopped engines, %d before", n, base)
		}
	})
}

// Stop with a context that has already ended still stops the engine: it returns the context's
// error (or nil, when the loops had closed every connection gracefully first), every connection is
// closed (its peer reads EOF) and OnClose runs once for each, with ErrEngineStopped; a second Stop
// returns the first one's result.
func TestStopWithExpiredContext(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newCloseTally()
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		const n = 4
		var cs []net.Conn
		for i := 0; i < n; i++ {
			c, err := net.Dial("tcp", e.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cs = append(cs, c)
			select {
			case <-h.opened:
			case <-time.After(10 * time.Second):
				t.Fatal("OnOpen never ran")
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		// nil when the graceful stop was over before Stop looked at ctx (idle connections close at
		// once), as http.Server.Shutdown returns nil for an expired ctx once nothing is active.
		first := e.Stop(ctx)
		if first != nil && !errors.Is(first, context.Canceled) {
			t.Errorf("Stop(expired) = %v; want context.Canceled or nil", first)
		}
		select {
		case <-e.Done():
		default:
			t.Error("Done not closed after Stop returned")
		}
		h.mu.Lock()
		if len(h.closes) != n {
			t.Errorf("OnClose ran for %d connections, want %d", len(h.closes), n)
		}
		for c, k := range h.closes {
			if k != 1 {
				t.Errorf("OnClose ran %d times for %v", k, c.RemoteAddr())
			}
		}
		for _, r := range h.reasons {
			if !errors.Is(r, eddy.ErrEngineStopped) {
				t.Errorf("OnClose reason %v; want ErrEngineStopped", r)
			}
		}
		h.mu.Unlock()
		for _, c := range cs {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("a client read data after Stop")
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Error("a client's connection is still open after Stop")
			}
		}
		if err := e.Stop(context.Background()); err != first {
			t.Errorf("second Stop = %v; want the first one's result, %v", err, first)
		}
	})
}

type closeTally struct {
	eddy.BaseHandler
	opened  chan struct{}
	mu      sync.Mutex
	closes  map[eddy.Conn]int
	reasons []error
}

func newCloseTally() *closeTally {
	return &closeTally{opened: make(chan struct{}, 16), closes: map[eddy.Conn]int{}}
}

func (h *closeTally) OnOpen(eddy.Conn) { h.opened <- struct{}{} }
func (h *closeTally) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.closes[c]++
	h.reasons = append(h.reasons, err)
	h.mu.Unlock()
}
