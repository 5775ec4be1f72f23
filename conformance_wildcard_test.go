package eddy_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// haveIPv6Loopback reports whether this machine can listen on [::1].
func haveIPv6Loopback() bool {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// freeTCPPort returns a port that no socket listened on a moment ago, on either family's wildcard.
func freeTCPPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

// echoOver dials addr over network and checks one echo round trip.
func echoOver(t *testing.T, network, addr string) error {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return echoOnce(c, "hello over "+network)
}

// "tcp://0.0.0.0:port" listens as net.Listen("tcp", "0.0.0.0:port") does, on every engine: on every
// address of the machine, IPv6 ones too (package net: "if the host in the address parameter is empty
// or a literal unspecified IP address, Listen listens on all available unicast and anycast IP
// addresses of the local system. To only use IPv4, use network tcp4"), and Addrs reports [::]. Before
// session 31 the epoll and uring engines bound an IPv4 socket for it, refusing IPv6 clients that the
// std engine served, and reported 0.0.0.0. tcp4://0.0.0.0 stays IPv4 only, as package net's.
func TestUnspecifiedIPv4OnTCPIsDualStack(t *testing.T) {
	if !haveIPv6Loopback() {
		t.Skip("no IPv6 loopback here")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, loops := range []int{1, 2} {
			for _, tc := range []struct{ addr, network, host string }{
				{"tcp://0.0.0.0:0", "tcp", "0.0.0.0:0"},
				{"0.0.0.0:0", "tcp", "0.0.0.0:0"},
				{"tcp://[::ffff:0.0.0.0]:0", "tcp", "[::ffff:0.0.0.0]:0"},
				{"tcp4://0.0.0.0:0", "tcp4", "0.0.0.0:0"},
			} {
				addr := tc.addr
				e, err := eddy.New(newEcho(false), []string{addr}, eddy.WithEngine(kind), eddy.WithLoops(loops))
				if err != nil {
					t.Fatalf("New(%q): %v", addr, err)
				}
				if err := e.Start(); err != nil {
					t.Fatalf("Start(%q): %v", addr, err)
				}
				bound := e.Addrs()[0].(*net.TCPAddr)
				port := strconv.Itoa(bound.Port)
				v4only := tc.network == "tcp4"
				ref, err := net.Listen(tc.network, tc.host)
				if err != nil {
					t.Fatal(err)
				}
				want := ref.Addr().(*net.TCPAddr).IP // what package net listens on for the same address
				ref.Close()
				if !bound.IP.Equal(want) || (want.To4() == nil) != (bound.IP.To4() == nil) {
					t.Errorf("%s, %d loops: Addrs = %v; package net listens on %v", addr, loops, bound, want)
				}
				if err := echoOver(t, "tcp4", "127.0.0.1:"+port); err != nil {
					t.Errorf("%s, %d loops: an IPv4 client: %v", addr, loops, err)
				}
				err = echoOver(t, "tcp6", "[::1]:"+port)
				if v4only && err == nil {
					t.Errorf("%s, %d loops: an IPv6 client was served on an IPv4 listener", addr, loops)
				} else if !v4only && err != nil {
					t.Errorf("%s, %d loops: an IPv6 client: %v; package net serves it", addr, loops, err)
				}
				e.Stop(context.Background())
			}
		}
	})
}

// The wildcard addresses that open the same socket, or sockets that cannot both be bound, are one
// address listed twice, named by New on every engine: tcp://0.0.0.0:P is tcp://[::]:P (both
// dual-stack), and a dual-stack wildcard takes the port on both families, so tcp4://0.0.0.0:P and
// tcp6://[::]:P beside it are the same address too. Before session 31 New took them: std failed
// Start with EADDRINUSE, while epoll and uring given WithReusePort(true) bound both and served the port
// twice. tcp4://0.0.0.0:P beside tcp6://[::]:P (an IPv6-only socket) is two addresses, served on
// every engine as package net serves them.
func TestWildcardListedTwice(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		p := freeTCPPort(t)
		for _, tc := range [][2]string{
			{"tcp://0.0.0.0:" + p, "tcp://[::]:" + p},
			{"tcp://[::]:" + p, "tcp://0.0.0.0:" + p},
			{"tcp://:" + p, "tcp4://0.0.0.0:" + p},
			{"tcp4://:" + p, "tcp://0.0.0.0:" + p},
			{"tcp://0.0.0.0:" + p, "tcp6://[::]:" + p},
			{"tcp6://:" + p, "tcp://:" + p},
		} {
			for _, share := range []bool{false, true} {
				e, err := eddy.New(eddy.BaseHandler{}, tc[:], eddy.WithEngine(kind), eddy.WithLoops(2),
					eddy.WithReusePort(share))
				if err == nil {
					serr := e.Start()
					var addrs []net.Addr
					if serr == nil {
						addrs = e.Addrs()
						e.Stop(context.Background())
					}
					t.Errorf("New(%q, WithReusePort(%t)) took them (Start: %v, Addrs %v)", tc, share, serr, addrs)
					continue
				}
				if !strings.Contains(err.Error(), strconv.Quote(tc[1])) {
					t.Errorf("New(%q): %v; want an error naming %q", tc, err, tc[1])
				}
			}
		}
		if !haveIPv6Loopback() {
			return
		}
		pair := []string{"tcp4://0.0.0.0:" + p, "tcp6://[::]:" + p}
		e, err := eddy.New(newEcho(false), pair, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatalf("New(%q): %v", pair, err)
		}
		if err := e.Start(); err != nil {
			t.Fatalf("Start(%q): %v", pair, err)
		}
		defer e.Stop(context.Background())
		for _, c := range [][2]string{{"tcp4", "127.0.0.1:" + p}, {"tcp6", "[::1]:" + p}} {
			if err := echoOver(t, c[0], c[1]); err != nil {
				t.Errorf("%q: a client to %s: %v", pair, c[1], err)
			}
		}
	})
}

// A Unix socket file that another process has replaced by the time the engine closes its listener is
// left alone, on every engine: a new server that removed the old one's file and listened on the path
// (the usual restart) keeps being reachable when the old one stops. Before session 31 every engine
// removed whatever the path named then, as package net's UnixListener does, and the new server's
// clients got ENOENT. The engine's own file is still removed (TestUnixSocketPaths).
func TestReplacedSocketFileKeptAtStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, how := range []string{"Stop", "StopAccepting"} {
			path := filepath.Join(t.TempDir(), "s.sock")
			e, err := eddy.New(newEcho(false), []string{"unix://" + path}, eddy.WithEngine(kind), eddy.WithLoops(2))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			if err := echoOver(t, "unix", path); err != nil {
				t.Fatalf("the first server: %v", err)
			}
			// The new server takes the path over.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			repl, err := net.Listen("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			defer repl.Close()
			go func() {
				for {
					c, err := repl.Accept()
					if err != nil {
						return
					}
					go func() { io.Copy(c, c); c.Close() }()
				}
			}()
			if how == "Stop" {
				err = e.Stop(context.Background())
			} else {
				err = e.StopAccepting()
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Errorf("%s: the new server's socket file after the old engine's %s: %v", kind, how, err)
			} else if err := echoOver(t, "unix", path); err != nil {
				t.Errorf("%s: the new server after the old engine's %s: %v", kind, how, err)
			}
			e.Stop(context.Background())
			repl.Close()
			if _, err := os.Lstat(path); !os.IsNotExist(err) {
				t.Errorf("the new server's file after it closed: %v; want it removed", err)
			}
		}
	})
}
