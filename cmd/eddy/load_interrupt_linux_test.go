//go:build linux

package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// stuckListener listens on loopback with a backlog of 0 and never accepts: once its accept queue holds
// its one connection, the kernel drops the SYNs of the others, whose connects then wait. It returns
// the address.
func stuckListener(t *testing.T) string {
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
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
}

// A load run interrupted (SIGINT, SIGTERM) while it opens its connections says so and fails (exit 1):
// it said "no connection could be opened to ...; first error: " with no error after, or, with one
// connection open, ran a window of no time and failed it for completing no round trip.
func TestLoadInterruptedWhileDialing(t *testing.T) {
	for _, mode := range [][]string{
		{"--duration", "10s"},
		{"--hold", "10s"},
		{"--requests", "100"},
	} {
		t.Run(strings.Join(mode, " "), func(t *testing.T) {
			addr := stuckListener(t)
			args := append([]string{"--addr", addr, "--conns", "4", "--timeout", "30s"}, mode...)
			code, stderr := runLoadInterrupted(t, args...)
			if code != exitFail || !strings.Contains(stderr, "eddy: load: interrupted while opening the connections (") ||
				strings.Contains(stderr, "first error") || strings.Contains(stderr, "no round trip") {
				t.Errorf("exit %d, stderr %q; want %d and interrupted while opening the connections", code, stderr, exitFail)
			}
		})
	}
}

// A dial that --timeout cut short says so, rather than only "context deadline exceeded".
func TestLoadDialTimeoutNamesTheFlag(t *testing.T) {
	addr := stuckListener(t)
	c, err := net.Dial("tcp", addr) // takes the one place in the accept queue
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, _, stderr := runCmd(t, t.Context(), "load", "--addr", addr, "--conns", "2", "--timeout", "300ms", "--duration", "1s")
	if code != exitFail || !strings.Contains(stderr, "no connection could be opened to "+addr+"; first error: dial tcp ") ||
		!strings.Contains(stderr, "(not connected within --timeout 300ms)") {
		t.Errorf("exit %d, stderr %q; want %d and a dial error that names --timeout", code, stderr, exitFail)
	}
}

// --hold interrupted while the first echoes are unanswered (the connections open, the server silent) is
// interrupted while opening the connections too, as its log line says ("opening N connections to ...,
// echoing once on each"): it said "holding N connections" and failed a window of no time.
func TestLoadHoldInterruptedBeforeTheHold(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	}()
	go func() { // accepts and never answers
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	code, stderr := runLoadInterrupted(t, "--addr", ln.Addr().String(), "--conns", "3", "--timeout", "30s", "--hold", "10s")
	if code != exitFail || !strings.Contains(stderr, "eddy: load: interrupted while opening the connections (") ||
		strings.Contains(stderr, "holding") || strings.Contains(stderr, "no round trip") {
		t.Errorf("exit %d, stderr %q; want %d and interrupted while opening the connections", code, stderr, exitFail)
	}
}
