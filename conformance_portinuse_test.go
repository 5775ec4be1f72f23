package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// startOn makes and starts an engine of kind on addr, and returns Start's (or New's) error; an engine
// that started is stopped at the end of the test.
func startOn(t *testing.T, kind eddy.EngineKind, h eddy.Handler, addr string, opts ...eddy.Option) (*eddy.Engine, error) {
	t.Helper()
	e, err := eddy.New(h, []string{"tcp://" + addr}, append([]eddy.Option{eddy.WithEngine(kind)}, opts...)...)
	if err != nil {
		return nil, err
	}
	if err := e.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e, nil
}

// An engine fails to start on a port another engine listens on, as net.Listen would, whatever its
// number of loops: the loops' SO_REUSEPORT group must not join another process's (or engine's) group
// and split the connections with it in silence. A fresh user found two `eddy echo` on one port both
// running, and an `eddy hello` beside them answering half of the requests.
func TestStartFailsOnAPortInUse(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		a := startServer(t, kind, newEcho(false)) // two loops: a group of two listeners
		plain, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		for _, held := range []struct{ name, addr string }{{"an engine", a.addr}, {"package net", plain.Addr().String()}} {
			for _, opts := range [][]eddy.Option{
				{eddy.WithLoops(1)},
				{eddy.WithLoops(2)},
				{eddy.WithLoops(2), eddy.WithReusePort(false)},
			} {
				_, err := startOn(t, kind, newEcho(false), held.addr, opts...)
				if err == nil {
					t.Fatalf("started on %s held by %s (%d options)", held.addr, held.name, len(opts))
				}
				if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), held.addr) {
					t.Fatalf("on %s held by %s: %v; want EADDRINUSE naming the address", held.addr, held.name, err)
				}
			}
		}
		// The first engine serves on.
		c := a.dial(t)
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatalf("echo after the failed starts: %v", err)
		}
	})
}

// Asked for explicitly, WithReusePort(true) lets two engines share a port, as SO_REUSEPORT does (a new
// process taking over a port before the old one stops); both then serve connections. std listens
// through package net and never shares: it fails as by default.
func TestWithReusePortTrueSharesThePort(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SO_REUSEPORT groups are the Linux engines'")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ha, hb := newEcho(false), newEcho(false)
		a := startServer(t, kind, ha, eddy.WithReusePort(true))
		_, err := startOn(t, kind, hb, a.addr, eddy.WithLoops(2), eddy.WithReusePort(true))
		if kind == eddy.EngineStd {
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatalf("std sharing a port: %v; want EADDRINUSE", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("a second engine asking to share the port: %v", err)
		}
		for i := 0; i < 64; i++ {
			c := a.dial(t)
			c.Write([]byte{byte(i)})
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			c.Close()
		}
		if a, b := ha.opened.Load(), hb.opened.Load(); a == 0 || b == 0 || a+b != 64 {
			t.Fatalf("connections served: %d by the first engine, %d by the second; want both, 64 in all", a, b)
		}
	})
}
