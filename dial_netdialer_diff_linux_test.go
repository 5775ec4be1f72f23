package eddy_test

import (
	"context"
	"errors"
	"fmt"
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

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/testdns"
	"github.com/eddyio/eddy/internal/testtls"
)

// Engine.Dial compared with net.Dialer.DialContext, the reference, for the same addresses and
// circumstances, on every engine (session 31).

// ddAddr describes an address for comparison: its type, network and text.
func ddAddr(a net.Addr) string {
	if a == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%T %s %q", a, a.Network(), a.String())
}

// ddHost is a TCP address without its port (the local ports of two dials differ), or a Unix address.
func ddHost(a net.Addr) string {
	if ta, ok := a.(*net.TCPAddr); ok {
		return fmt.Sprintf("%T %s %s%%%s", a, a.Network(), ta.IP, ta.Zone)
	}
	return ddAddr(a)
}

// ddClasses lists the errors err matches of those a dial may fail with.
func ddClasses(err error) string {
	var s []string
	for _, e := range []error{syscall.ECONNREFUSED, syscall.ENOENT, syscall.ENOTDIR, syscall.ENETUNREACH,
		syscall.EHOSTUNREACH, syscall.EACCES, syscall.EINVAL, syscall.EADDRNOTAVAIL, syscall.EAFNOSUPPORT,
		context.DeadlineExceeded, context.Canceled} {
		if errors.Is(err, e) {
			s = append(s, e.Error())
		}
	}
	var dns *net.DNSError
	var ae *net.AddrError
	if errors.As(err, &dns) {
		s = append(s, "*net.DNSError")
	}
	if errors.As(err, &ae) {
		s = append(s, "*net.AddrError")
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		s = append(s, "timeout")
	}
	return strings.Join(s, ",")
}

// ddDial dials addr (eddy's form network://address) with net.Dialer and with the engine, under the
// same bound, and returns both results.
func ddDial(t *testing.T, cl *eddy.Engine, network, address string) (net.Conn, error, eddy.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, nerr := (&net.Dialer{}).DialContext(ctx, network, address)
	ec, eerr := cl.Dial(ctx, network+"://"+address).Await(ctx)
	return nc, nerr, ec, eerr
}

// A dial that connects reports the addresses package net reports for the same dial: the peer the
// socket is connected to (for no host or an unspecified one the local system's address, for an
// address with a zone the address the kernel connected to, for a relative or abstract Unix name the
// name the listener bound) and the local end (an unnamed Unix client: "@").
func TestDialDiffAddrs(t *testing.T) {
	ln, err := net.Listen("tcp", ":0") // dual-stack where there is IPv6
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	t.Chdir(dir)
	uln, err := net.Listen("unix", filepath.Join(dir, "s.sock"))
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, uln)
	abstract := fmt.Sprintf("@eddy-dialdiff-%d", os.Getpid())
	aln, err := net.Listen("unix", abstract)
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, aln)
	hp := func(h string) string { return net.JoinHostPort(h, fmt.Sprint(port)) }
	cases := []struct{ network, address string }{
		{"tcp", hp("127.0.0.1")},
		{"tcp4", hp("127.0.0.1")},
		{"tcp", hp("localhost")}, // the hosts file: no name server
		{"tcp", hp("")},
		{"tcp4", hp("")},
		{"tcp6", hp("")},
		{"tcp", hp("0.0.0.0")},
		{"tcp", hp("::")},
		{"tcp", hp("::ffff:127.0.0.1")},
		{"tcp6", hp("::1")},
		{"tcp", hp("::1")},
		{"tcp6", hp("::1%lo")},
		{"tcp6", hp("::1%1")},
		{"unix", filepath.Join(dir, "s.sock")},
		{"unix", "s.sock"},
		{"unix", "./s.sock"},
		{"unix", abstract},
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, c := range cases {
			nc, nerr, ec, eerr := ddDial(t, cl, c.network, c.address)
			if nerr != nil {
				if eerr == nil {
					ec.Close()
				}
				t.Logf("%s %s: package net cannot dial it here (%v): skipped", c.network, c.address, nerr)
				continue
			}
			nl, nr := nc.LocalAddr(), nc.RemoteAddr()
			nc.Close()
			if eerr != nil {
				t.Errorf("%s://%s: %v; package net connects", c.network, c.address, eerr)
				continue
			}
			el, er := ec.LocalAddr(), ec.RemoteAddr()
			ec.Close()
			if ddAddr(er) != ddAddr(nr) {
				t.Errorf("%s://%s: RemoteAddr %s, package net: %s", c.network, c.address, ddAddr(er), ddAddr(nr))
			}
			if ddHost(el) != ddHost(nl) {
				t.Errorf("%s://%s: LocalAddr %s, package net: %s", c.network, c.address, ddAddr(el), ddAddr(nl))
			}
		}
	})
}

// A dial that fails fails as package net's: an *OpError "dial" of the network, naming the address
// dialled (none for a name that did not resolve), with the same text and matching the same errors
// (errno, *net.DNSError); a malformed address fails before any connect with an error that names it
// and matches net's *net.AddrError (not an *OpError: a documented difference).
func TestDialDiffFailures(t *testing.T) {
	down := testdns.Loopback(t)
	down.Store(true) // every name outside the hosts file fails to resolve
	dir := t.TempDir()
	regular := filepath.Join(dir, "regular")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "stale.sock")
	sl, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	sl.(*net.UnixListener).SetUnlinkOnClose(false)
	sl.Close()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cases := []struct {
		network, address string
		opError          bool // an *OpError, as net's
	}{
		{"tcp", fmt.Sprintf("127.0.0.1:%d", closed), true},
		{"tcp4", fmt.Sprintf(":%d", closed), true},
		{"tcp6", fmt.Sprintf("[::1]:%d", closed), true},
		{"tcp", "224.0.0.1:9", true},       // multicast: ENETUNREACH, no packet leaves
		{"tcp", "255.255.255.255:9", true}, // broadcast: likewise
		{"tcp6", "[fe80::1%lo]:9", true},   // no such address on lo
		{"unix", filepath.Join(dir, "missing.sock"), true},
		{"unix", stale, true},
		{"unix", regular, true},
		{"unix", dir, true},
		{"unix", filepath.Join(regular, "x"), true},
		{"unix", "@eddy-dialdiff-nobody", true},
		{"tcp4", "eddy-dialdiff-unresolvable.test:80", true},
		{"tcp", "eddy-dialdiff-unresolvable.test:80", true},
		{"tcp", "127.0.0.1", false},
		{"tcp4", "[::1]:80", false},
		{"tcp6", "[::ffff:127.0.0.1]:80", false},
		{"tcp", "127.0.0.1:99999", false},
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &r2Counter{}
		cl := r2Client(t, kind, h)
		for _, c := range cases {
			nc, nerr, ec, eerr := ddDial(t, cl, c.network, c.address)
			if nerr == nil {
				nc.Close()
				if eerr == nil {
					ec.Close()
				}
				t.Logf("%s %s: package net connects here: skipped", c.network, c.address)
				continue
			}
			name := c.network + "://" + c.address
			if eerr == nil {
				ec.Close()
				t.Errorf("%s: connected; package net: %v", name, nerr)
				continue
			}
			if got, want := ddClasses(eerr), ddClasses(nerr); got != want {
				t.Errorf("%s: %v matches [%s]; package net's %v matches [%s]", name, eerr, got, nerr, want)
			}
			var noe *net.OpError
			errors.As(nerr, &noe)
			var oe *eddy.OpError
			if !c.opError {
				if !strings.Contains(eerr.Error(), name) {
					t.Errorf("%s: %q does not name the address", name, eerr)
				}
				continue
			}
			if !errors.As(eerr, &oe) {
				t.Errorf("%s: %v (%T), want an *OpError as net's %v", name, eerr, eerr, nerr)
				continue
			}
			if oe.Op != noe.Op || oe.Net != noe.Net || fmt.Sprint(oe.Addr) != fmt.Sprint(noe.Addr) {
				t.Errorf("%s: *OpError{%s %s %v}, net's {%s %s %v}", name, oe.Op, oe.Net, oe.Addr, noe.Op, noe.Net, noe.Addr)
			}
			if eerr.Error() != nerr.Error() {
				t.Errorf("%s: %q, package net: %q", name, eerr, nerr)
			}
		}
		if h.opened.Load() != 0 {
			t.Errorf("OnOpen ran %d times for dials that failed", h.opened.Load())
		}
	})
}

// A host name is looked up with net.DefaultResolver, as net.Dialer's is (here a name server inside the
// process, testdns), and the dial connects to the address found, as net's.
func TestDialDiffNameResolves(t *testing.T) {
	testdns.Loopback(t) // every name outside the hosts file is 127.0.0.1
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, ln)
	address := fmt.Sprintf("eddy-dialdiff-name.test:%d", ln.Addr().(*net.TCPAddr).Port)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, network := range []string{"tcp", "tcp4"} {
			nc, nerr, ec, eerr := ddDial(t, cl, network, address)
			if nerr != nil {
				t.Fatalf("net: %v", nerr)
			}
			nc.Close()
			if eerr != nil {
				t.Errorf("%s://%s: %v; package net connects", network, address, eerr)
				continue
			}
			if ddAddr(ec.RemoteAddr()) != ddAddr(nc.RemoteAddr()) {
				t.Errorf("%s://%s: RemoteAddr %s, net %s", network, address, ddAddr(ec.RemoteAddr()), ddAddr(nc.RemoteAddr()))
			}
			ec.Close()
		}
	})
}

// ddSlowResolver makes net.DefaultResolver, for the rest of the test, a resolver whose name server
// answers nothing until release is closed or the lookup's context ends, when it fails.
func ddSlowResolver(t *testing.T) (release chan struct{}) {
	release = make(chan struct{})
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("the name server said nothing")
	}}
	t.Cleanup(func() {
		net.DefaultResolver = saved
		select {
		case <-release:
		default:
			close(release)
		}
	})
	return release
}

// ddLookups counts the goroutines looking a dial's name up.
func ddLookups() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "eddy.(*Engine).dialName")
}

// ddLookupsLeft reports the lookups' goroutines still there a moment after Stop (or a failed Start)
// waited for them: one that has just told Stop it is done may still be on its way out (its deferred
// calls), for microseconds; one Stop did not end waits on the slow name server for the whole test.
func ddLookupsLeft() int {
	n := ddLookups()
	for deadline := time.Now().Add(2 * time.Second); n != 0 && time.Now().Before(deadline); n = ddLookups() {
		time.Sleep(5 * time.Millisecond)
	}
	return n
}

// net.Dialer looks a name up without holding any other goroutine, bounded by the dial's context. So
// does Dial: made on a loop (in a callback), it returns at once and the loop runs on while the name
// server takes its time; ctx's deadline ends the lookup (an *OpError wrapping
// context.DeadlineExceeded, a timeout, as net's error is); Future.Cancel and Stop end it too (Canceled,
// ErrEngineStopped), and no goroutine is left. Dial looked names up on the caller's goroutine, with no
// bound: the loop stood still for the resolver's own timeouts (10 s here) and ctx was not heeded.
func TestDialDiffLookupDoesNotBlock(t *testing.T) {
	ddSlowResolver(t)
	const name = "tcp4://eddy-dialdiff-slow.test:80"
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{}, eddy.WithLoops(1))
		l := cl.Loops()[0]

		// A deadline, against net's.
		nctx, ncancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, nerr := (&net.Dialer{}).DialContext(nctx, "tcp4", strings.TrimPrefix(name, "tcp4://"))
		ncancel()
		fs := make(chan future.Future[eddy.Conn], 1)
		l.Execute(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			f := cl.Dial(ctx, name)
			future.Handle(f, future.Inline, func(eddy.Conn, error) (struct{}, error) { cancel(); return struct{}{}, nil })
			fs <- f
		})
		ran := make(chan struct{})
		l.Execute(func() { close(ran) })
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("the loop did not run a function for 5 s after a Dial made on it looked a name up")
		}
		actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer acancel()
		_, err := (<-fs).Await(actx)
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "tcp4" || oe.Addr != nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("dial whose lookup outlived ctx: %v (%T), want an *OpError dial tcp4 wrapping context.DeadlineExceeded", err, err)
		}
		if got, want := ddClasses(err), ddClasses(nerr); got != want {
			t.Errorf("%v matches [%s]; package net's %v matches [%s]", err, got, nerr, want)
		}

		// Future.Cancel.
		f := cl.Dial(context.Background(), name)
		f.Cancel()
		if _, err := f.Await(actx); !errors.Is(err, context.Canceled) || !errors.As(err, &oe) {
			t.Errorf("dial cancelled while looking up: %v (%T), want an *OpError wrapping context.Canceled", err, err)
		}

		// Stop.
		f = cl.Dial(context.Background(), name)
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		if err := cl.Stop(sctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
		if _, err := f.Await(actx); !errors.Is(err, eddy.ErrEngineStopped) || !errors.As(err, &oe) {
			t.Errorf("dial looking up at Stop: %v (%T), want an *OpError wrapping ErrEngineStopped", err, err)
		}
		if n := ddLookupsLeft(); n != 0 {
			t.Errorf("%d lookups left after Stop", n)
		}
	})
}

// ddSocketOpts finds the socket of this process whose local and remote addresses are la and ra and
// returns its TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPIDLE.
func ddSocketOpts(t *testing.T, la, ra net.Addr) [3]int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, ent := range ents {
		var fd int
		if _, err := fmt.Sscan(ent.Name(), &fd); err != nil {
			continue
		}
		if link, _ := os.Readlink("/proc/self/fd/" + ent.Name()); !strings.HasPrefix(link, "socket:") {
			continue
		}
		ls, err1 := unix.Getsockname(fd)
		ps, err2 := unix.Getpeername(fd)
		if err1 != nil || err2 != nil {
			continue
		}
		l4, ok1 := ls.(*unix.SockaddrInet4)
		p4, ok2 := ps.(*unix.SockaddrInet4)
		if !ok1 || !ok2 || l4.Port != la.(*net.TCPAddr).Port || p4.Port != ra.(*net.TCPAddr).Port {
			continue
		}
		nd, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY)
		ka, _ := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_KEEPALIVE)
		idle, _ := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_KEEPIDLE)
		return [3]int{nd, ka, idle}
	}
	t.Fatalf("no socket %s -> %s", la, ra)
	return [3]int{}
}

// ddAccepted records the accepted connections' addresses.
type ddAccepted struct {
	eddy.BaseHandler
	got chan [2]net.Addr
}

func (h *ddAccepted) OnOpen(c eddy.Conn) { h.got <- [2]net.Addr{c.LocalAddr(), c.RemoteAddr()} }

// A dialled TCP connection gets the socket options an accepted one gets, as WithTCPNoDelay and
// WithTCPKeepAlive say (TCP_NODELAY on by default, as net.Dialer's; keep-alive off unless asked for,
// where net.Dialer turns it on: a documented difference).
func TestDialDiffSocketOptions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, tc := range []struct {
			name string
			opts []eddy.Option
			want [3]int // TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE (when on)
		}{
			{"default", nil, [3]int{1, 0, -1}},
			{"no delay off, keep-alive 30s", []eddy.Option{eddy.WithTCPNoDelay(false), eddy.WithTCPKeepAlive(30 * time.Second)}, [3]int{0, 1, 30}},
		} {
			srv := &ddAccepted{got: make(chan [2]net.Addr, 1)}
			s := startServer(t, kind, srv, tc.opts...)
			cl := r2Client(t, kind, &r2Counter{}, tc.opts...)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			c, err := cl.Dial(ctx, "tcp://"+s.addr).Await(ctx)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			acc := <-srv.got
			dialled := ddSocketOpts(t, c.LocalAddr(), c.RemoteAddr())
			accepted := ddSocketOpts(t, acc[0], acc[1])
			c.Close()
			if tc.want[2] < 0 {
				dialled[2], accepted[2] = -1, -1
			}
			if dialled != tc.want || accepted != tc.want {
				t.Errorf("%s: dialled socket TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE = %v, accepted %v, want %v", tc.name, dialled, accepted, tc.want)
			}
		}
	})
}

// A connect that hangs (the listener's accept queue is full) fails at ctx's deadline as net's does
// (an *OpError matching context.DeadlineExceeded, a timeout), and leaves no descriptor.
func TestDialDiffConnectDeadline(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		addr := r2Blackhole(t)
		cl := r2Client(t, kind, &r2Counter{})
		runtime.GC()
		base := r2FDs()
		nctx, ncancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, nerr := (&net.Dialer{}).DialContext(nctx, "tcp", addr)
		ncancel()
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		actx, acancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer acancel()
		_, err := cl.Dial(ctx, "tcp://"+addr).Await(actx)
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || oe.Addr == nil || oe.Addr.String() != addr {
			t.Errorf("%v (%T), want an *OpError dial naming %s", err, err, addr)
		}
		// net's error matches context.DeadlineExceeded or not, as its own deadline on the socket or
		// the context's end stops the connect first; eddy's always does (the caller's reason, as the
		// std engine's comment says), and is a timeout as net's.
		got := ddClasses(err)
		if got != "context deadline exceeded,timeout" || !strings.Contains(got, ddClasses(nerr)) {
			t.Errorf("%v matches [%s]; package net's %v matches [%s]", err, got, nerr, ddClasses(nerr))
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// 1,000 dials made at once from a loop (in a function it runs) to one listener all connect, and the
// loops run other functions meanwhile.
func TestDialDiffThousandFromLoop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, ln)
	addr := "tcp://" + ln.Addr().String()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &r2Counter{}
		cl := r2Client(t, kind, h)
		const n = 1000
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var ok, failed atomic.Int64
		var wg sync.WaitGroup
		wg.Add(n)
		cl.Loops()[0].Execute(func() {
			for range n {
				f := cl.Dial(ctx, addr)
				future.Handle(f, future.Inline, func(c eddy.Conn, err error) (struct{}, error) {
					var oe *eddy.OpError
					switch {
					case err == nil:
						ok.Add(1)
						c.Close()
					case errors.As(err, &oe):
						failed.Add(1)
					default:
						t.Errorf("dial: %v (%T)", err, err)
					}
					wg.Done()
					return struct{}{}, nil
				})
			}
		})
		for _, l := range cl.Loops() {
			ran := make(chan struct{})
			l.Execute(func() { close(ran) })
			select {
			case <-ran:
			case <-ctx.Done():
				t.Fatal("a loop ran no function while its dials were in flight")
			}
		}
		wg.Wait()
		if ok.Load() != n {
			t.Errorf("%d dials connected, %d failed; want %d connected", ok.Load(), failed.Load(), n)
		}
		waitFor(t, func() bool { return h.closed.Load() == ok.Load() }, "OnClose of every dialled connection")
	})
}
