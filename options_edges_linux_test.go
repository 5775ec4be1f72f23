package eddy_test

import (
	"context"
	"errors"
	"math"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Bad option values not covered by TestNewRejectsBadOptions: each is an error from New (and Serve, before
// anything listens) that names the value.
func TestNewRejectsMoreBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opt  eddy.Option
		want string
	}{
		{eddy.WithLoops(1025), "WithLoops(1025)"},
		{eddy.WithLoops(math.MinInt), "WithLoops(-9223372036854775808)"},
		{eddy.WithReadBufferSize(511), "WithReadBufferSize(511)"},
		{eddy.WithReadBufferSize(16<<20 + 1), "WithReadBufferSize(16777217)"},
		{eddy.WithReadBufferSize(-1), "WithReadBufferSize(-1)"},
		{eddy.WithWriteBufferWaterMarks(-1, 10), "WithWriteBufferWaterMarks(-1, 10)"},
		{eddy.WithWriteBufferWaterMarks(5, 5), "WithWriteBufferWaterMarks(5, 5)"},
		{eddy.WithWriteBufferWaterMarks(0, 0), "WithWriteBufferWaterMarks(0, 0)"},
		{eddy.WithWriteBufferWaterMarks(0, -1), "WithWriteBufferWaterMarks(0, -1)"},
		{eddy.WithTaskQueueCapacity(-5), "WithTaskQueueCapacity(-5)"},
		{eddy.WithStopTimeout(-time.Second), "WithStopTimeout(-1s)"},
		{eddy.WithEngine(""), `""`},
		{eddy.WithEngine("EPOLL"), `"EPOLL"`},
		{nil, "nil Option"},
	} {
		_, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New: error %v, want one naming %s", err, tc.want)
		}
		ln, lerr := net.Listen("tcp", "127.0.0.1:0")
		if lerr != nil {
			t.Fatal(lerr)
		}
		addr := ln.Addr().String()
		ln.Close()
		err = eddy.Serve(context.Background(), eddy.BaseHandler{}, []string{"tcp://" + addr}, tc.opt)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Serve: error %v, want one naming %s", err, tc.want)
		}
	}
	// the largest accepted values are accepted
	for _, opt := range []eddy.Option{eddy.WithLoops(1024), eddy.WithReadBufferSize(16 << 20), eddy.WithReadBufferSize(512),
		eddy.WithWriteBufferWaterMarks(0, 1), eddy.WithTaskQueueCapacity(1)} {
		if _, err := eddy.New(eddy.BaseHandler{}, nil, opt); err != nil {
			t.Errorf("New with a valid bound: %v", err)
		}
	}
}

// WithIdleTimeout with a huge duration ("never", as math.MaxInt64 is often used) must not close
// connections at once.
func TestHugeIdleTimeoutDoesNotCloseAtOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		s := startServer(t, kind, h, eddy.WithIdleTimeout(math.MaxInt64))
		c := s.dial(t)
		time.Sleep(100 * time.Millisecond)
		if err := echoOnce(c, "still open"); err != nil {
			t.Fatalf("echo on a connection with WithIdleTimeout(MaxInt64): %v", err)
		}
		select {
		case err := <-h.closedCh:
			t.Fatalf("OnClose(%v) with an idle timeout of 292 years", err)
		default:
		}
	})
}

// StopAccepting on an engine serving an adopted listener: a client that connects afterwards is refused by
// the kernel (engine.go), and the connections accepted before are served on.
func TestStopAcceptingAdoptedListener(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		e := startEngine(t, kind, newEcho(false), nil, eddy.WithListeners(ln))
		defer e.Stop(context.Background())
		old, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer old.Close()
		if err := echoOnce(old, "before"); err != nil {
			t.Fatal(err)
		}
		if err := e.StopAccepting(); err != nil {
			t.Fatal(err)
		}
		if err := echoOnce(old, "after"); err != nil {
			t.Fatalf("old connection after StopAccepting: %v", err)
		}
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err == nil {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			c.Write([]byte("x"))
			_, rerr := c.Read(make([]byte, 1))
			t.Fatalf("a connection to the adopted listener's address was accepted by the kernel after StopAccepting (read: %v); it is never served", rerr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial after StopAccepting: %v, want connection refused", err)
		}
	})
}

// An adopted listener that is already closed makes Start fail (it cannot serve anything), with no
// descriptor left behind, rather than an engine that silently never accepts.
func TestAdoptedClosedListener(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln.Close()
		e, err := eddy.New(newEcho(false), nil, eddy.WithEngine(kind), eddy.WithLoops(1), eddy.WithListeners(ln))
		if err != nil {
			return // refused by New: fine
		}
		base := r2FDs()
		if err := e.Start(); err == nil {
			e.Stop(context.Background())
			t.Fatal("Start succeeded with a closed adopted listener: the engine serves nothing")
		}
		if n := r2FDs(); n > base {
			t.Errorf("%d descriptors after the failed Start, %d before", n, base)
		}
	})
}

// Serve with a context that is already done starts, stops and returns nil; with a busy address it returns
// the listen error; Engine.Addrs and Loops before Start are empty, not a panic.
func TestServeDoneContextAndAddrsBeforeStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		base := r2FDs()
		done := make(chan error, 1)
		go func() {
			done <- eddy.Serve(ctx, newEcho(false), []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind))
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve with a done context: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve with a done context did not return")
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
		e, err := eddy.New(newEcho(false), []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind))
		if err != nil {
			t.Fatal(err)
		}
		if a := e.Addrs(); len(a) != 0 {
			t.Errorf("Addrs before Start = %v", a)
		}
		if l := e.Loops(); len(l) != 0 {
			t.Errorf("Loops before Start = %v", l)
		}
	})
}
