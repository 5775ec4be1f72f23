package eddy_test

import (
	"context"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy"
)

// sockoptFD returns the descriptor of this process's socket whose local port is local and, when
// remote is not 0, whose peer port is remote; with remote 0 it wants a listening socket. The engines
// expose no descriptor of their own (Conn has none), so the test finds it by its ports; -1 when none.
func sockoptFD(t *testing.T, local, remote int) int {
	t.Helper()
	port := func(sa unix.Sockaddr) int {
		switch a := sa.(type) {
		case *unix.SockaddrInet4:
			return a.Port
		case *unix.SockaddrInet6:
			return a.Port
		}
		return -1
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	for _, en := range ents {
		fd, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil || port(sa) != local {
			continue
		}
		if remote == 0 {
			if v, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err == nil && v == 1 {
				return fd
			}
			continue
		}
		if pa, err := unix.Getpeername(fd); err == nil && port(pa) == remote {
			return fd
		}
	}
	return -1
}

// tcpOpts are the options of an accepted socket that the engine's options decide.
type tcpOpts struct{ noDelay, keepAlive, idle, intvl, cnt int }

func readTCPOpts(t *testing.T, fd int) tcpOpts {
	t.Helper()
	get := func(level, opt int) int {
		v, err := unix.GetsockoptInt(fd, level, opt)
		if err != nil {
			t.Fatalf("getsockopt(%d, %d): %v", level, opt, err)
		}
		return v
	}
	return tcpOpts{
		noDelay:   get(unix.IPPROTO_TCP, unix.TCP_NODELAY),
		keepAlive: get(unix.SOL_SOCKET, unix.SO_KEEPALIVE),
		idle:      get(unix.IPPROTO_TCP, unix.TCP_KEEPIDLE),
		intvl:     get(unix.IPPROTO_TCP, unix.TCP_KEEPINTVL),
		cnt:       get(unix.IPPROTO_TCP, unix.TCP_KEEPCNT),
	}
}

type sockoptOpens struct {
	eddy.BaseHandler
	ch chan eddy.Conn
}

func (h *sockoptOpens) OnOpen(c eddy.Conn) { h.ch <- c }

// acceptedOpts starts an engine of kind with opts (on addrs, or only on adopted listeners), connects to
// it and returns the options of the socket it accepted, read while the connection is open.
func acceptedOpts(t *testing.T, kind eddy.EngineKind, addrs []string, opts ...eddy.Option) (tcpOpts, int) {
	t.Helper()
	h := &sockoptOpens{ch: make(chan eddy.Conn, 1)}
	e := startEngine(t, kind, h, addrs, opts...)
	defer e.Stop(context.Background())
	c, err := net.Dial("tcp", e.Addrs()[0].String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var ec eddy.Conn
	select {
	case ec = <-h.ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnOpen")
	}
	fd := sockoptFD(t, ec.LocalAddr().(*net.TCPAddr).Port, ec.RemoteAddr().(*net.TCPAddr).Port)
	if fd < 0 {
		t.Fatalf("no socket for %v -> %v", ec.LocalAddr(), ec.RemoteAddr())
	}
	lfd := sockoptFD(t, e.Addrs()[0].(*net.TCPAddr).Port, 0)
	reuse := -1
	if lfd >= 0 {
		reuse, _ = unix.GetsockoptInt(lfd, unix.SOL_SOCKET, unix.SO_REUSEADDR)
	}
	return readTCPOpts(t, fd), reuse
}

// The options of an accepted TCP connection, on every engine: TCP_NODELAY on and keep-alive off by
// default (WithTCPNoDelay, WithTCPKeepAlive; package net's Accept turns keep-alive on, 15 s and 15 s,
// 9 probes), SO_REUSEADDR on the listener as package net sets it, and WithTCPKeepAlive(d) gives d and d
// with 9 probes, as net.KeepAliveConfig with Count 0 does.
//
// An adopted listener (WithListeners) with TCP_NODELAY, SO_KEEPALIVE and TCP_KEEPCNT set (through
// net.ListenConfig.Control) passed them on to the sockets epoll and uring accepted: the kernel copies
// them from the listener, and those engines set TCP_NODELAY and keep-alive only when the options turn
// them on, so WithTCPNoDelay(false) and the default keep-alive off gave connections with both on, and
// WithTCPKeepAlive(d) the listener's probe count, where std, which sets them either way, gave what the
// options say (session 32). A connection queued before Start has them too.
func TestAcceptedSocketOptions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		got, reuse := acceptedOpts(t, kind, []string{"tcp://127.0.0.1:0"})
		if got.noDelay != 1 || got.keepAlive != 0 {
			t.Errorf("default options: TCP_NODELAY %d, SO_KEEPALIVE %d; want 1 and 0 (documented defaults)", got.noDelay, got.keepAlive)
		}
		if reuse != 1 {
			t.Errorf("listener's SO_REUSEADDR = %d, want 1 as package net sets it", reuse)
		}
		got, _ = acceptedOpts(t, kind, []string{"tcp://127.0.0.1:0"}, eddy.WithTCPKeepAlive(21500*time.Millisecond))
		if want := (tcpOpts{noDelay: 1, keepAlive: 1, idle: 22, intvl: 22, cnt: 9}); got != want {
			t.Errorf("WithTCPKeepAlive(21.5s): %+v, want %+v", got, want)
		}

		adopt := func() net.Listener {
			lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
				return rc.Control(func(fd uintptr) {
					unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_KEEPALIVE, 1)
					unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_KEEPCNT, 3)
				})
			}}
			ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return ln
		}
		got, _ = acceptedOpts(t, kind, nil, eddy.WithListeners(adopt()), eddy.WithTCPNoDelay(false))
		if got.noDelay != 0 || got.keepAlive != 0 {
			t.Errorf("adopted listener with TCP_NODELAY and SO_KEEPALIVE set, WithTCPNoDelay(false) and keep-alive off: "+
				"the connection has TCP_NODELAY %d, SO_KEEPALIVE %d; want 0 and 0", got.noDelay, got.keepAlive)
		}

		// A connection already waiting in the adopted listener's queue when the engine starts: the
		// kernel made its socket, with the listener's options, before the engine saw the listener.
		ln := adopt()
		early, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer early.Close()
		h := &sockoptOpens{ch: make(chan eddy.Conn, 1)}
		e := startEngine(t, kind, h, nil, eddy.WithListeners(ln), eddy.WithTCPNoDelay(false))
		defer e.Stop(context.Background())
		select {
		case ec := <-h.ch:
			fd := sockoptFD(t, ec.LocalAddr().(*net.TCPAddr).Port, ec.RemoteAddr().(*net.TCPAddr).Port)
			if fd < 0 {
				t.Fatalf("no socket for %v -> %v", ec.LocalAddr(), ec.RemoteAddr())
			}
			if got := readTCPOpts(t, fd); got.noDelay != 0 || got.keepAlive != 0 {
				t.Errorf("a connection queued on the adopted listener before Start: TCP_NODELAY %d, SO_KEEPALIVE %d; want 0 and 0",
					got.noDelay, got.keepAlive)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no OnOpen for the queued connection")
		}
		got, _ = acceptedOpts(t, kind, nil, eddy.WithListeners(adopt()), eddy.WithTCPKeepAlive(30*time.Second))
		if want := (tcpOpts{noDelay: 1, keepAlive: 1, idle: 30, intvl: 30, cnt: 9}); got != want {
			t.Errorf("adopted listener with TCP_KEEPCNT 3, WithTCPKeepAlive(30s): %+v, want %+v", got, want)
		}
	})
}

const backlogChildEnv = "EDDY_TEST_BACKLOG_CHILD"

// listenBacklog returns the accept queue length of the listening socket on port (TCP_INFO's
// tcpi_sacked of a listener, what ss -ltn shows as Send-Q).
func listenBacklog(t *testing.T, port int) int {
	t.Helper()
	fd := sockoptFD(t, port, 0)
	if fd < 0 {
		t.Fatalf("no listener on port %d", port)
	}
	ti, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	return int(ti.Sacked)
}

// A listener's accept queue is net.core.somaxconn long on every engine, as package net asks for it:
// epoll and uring asked for 4096 whatever the system allowed, so on a system with a larger somaxconn
// their listeners had a shorter queue than std's (net.Listen's) and than a Go server's (session 32).
// somaxconn is set to 8192 in a network namespace of a child process of its own (root only), so the
// host's setting is left alone.
func TestListenBacklogIsSomaxconn(t *testing.T) {
	const want = 8192
	if os.Getenv(backlogChildEnv) == "" {
		if os.Geteuid() != 0 {
			t.Skip("a network namespace needs root")
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestListenBacklogIsSomaxconn$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), backlogChildEnv+"=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child in its own network namespace: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestListenBacklogIsSomaxconn/std") {
			t.Fatalf("the child did not check the engines:\n%s", out)
		}
		return
	}
	// The child: before anything listens (package net reads somaxconn once).
	if err := os.WriteFile("/proc/sys/net/core/somaxconn", []byte(strconv.Itoa(want)), 0); err != nil {
		t.Skipf("somaxconn: %v", err)
	}
	ln, err := net.Listen("tcp4", "0.0.0.0:0") // loopback is down in the new namespace
	if err != nil {
		t.Fatal(err)
	}
	if n := listenBacklog(t, ln.Addr().(*net.TCPAddr).Port); n != want {
		t.Errorf("net.Listen's backlog = %d, want somaxconn, %d", n, want)
	}
	ln.Close()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e := startEngine(t, kind, eddy.BaseHandler{}, []string{"tcp4://0.0.0.0:0"})
		defer e.Stop(context.Background())
		if n := listenBacklog(t, e.Addrs()[0].(*net.TCPAddr).Port); n != want {
			t.Errorf("listener's backlog = %d, want somaxconn, %d, as net.Listen's", n, want)
		}
	})
}
