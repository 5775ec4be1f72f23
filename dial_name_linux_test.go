package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/internal/testdns"
	"github.com/eddyio/eddy/internal/testtls"
)

// The asynchronous name lookup of Engine.Dial (session 31): ports checked at once, Stop and a failed
// Start racing lookups, many slow lookups, the address chosen.

// rvSettle waits (generously) for f and returns its error; it fails the test if f never settles.
func rvSettle(t *testing.T, f future.Future[eddy.Conn], what string) (eddy.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := f.Await(ctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		t.Fatalf("%s: the future did not settle in 10 s", what)
	}
	return c, err
}

// rvWaitLookups waits until no goroutine looks a dial's name up.
func rvWaitLookups(t *testing.T) {
	t.Helper()
	waitFor(t, func() bool { return ddLookups() == 0 }, "the lookups' goroutines to end")
}

// A port that is no port (out of range, or a service name that does not exist) is a malformed
// address whatever the host: Dial fails at once, with the error that names the address (not an
// *OpError), as it does for 127.0.0.1:99999, and without asking a name server. With a host name, the
// port was only looked at once the name had been looked up, on the lookup's goroutine.
func TestDialNameBadPort(t *testing.T) {
	queries := testdns.NoLookups(t)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		for _, addr := range []string{
			"tcp://eddy-dialname.test:99999",
			"tcp4://eddy-dialname.test:-1",
			"tcp://eddy-dialname.test:eddy-no-such-service",
		} {
			f := cl.Dial(context.Background(), addr)
			if !f.Resolved() {
				t.Errorf("%s: the future is pending; want it failed at once, as for a numeric host", addr)
			}
			_, err := rvSettle(t, f, addr)
			var oe *eddy.OpError
			if err == nil || errors.As(err, &oe) || !strings.Contains(err.Error(), addr) {
				t.Errorf("%s: %v (%T), want the bad address error naming it, not an *OpError", addr, err, err)
			}
		}
	})
	if n := queries.Load(); n != 0 {
		t.Errorf("%d queries sent to a name server for addresses whose port is bad", n)
	}
}

// A host name with a service name for its port ("http") and with a numeric port: the port is the
// service's (80) or the number, and the address the one New would choose (127.0.0.1 here, testdns).
func TestDialNameServicePort(t *testing.T) {
	testdns.Loopback(t)
	want, err := net.ResolveTCPAddr("tcp", "eddy-dialname.test:http")
	if err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		_, err := rvSettle(t, cl.Dial(context.Background(), "tcp://eddy-dialname.test:http"), "http")
		var oe *eddy.OpError
		if err == nil {
			t.Skip("something listens on 127.0.0.1:80 here")
		}
		if !errors.As(err, &oe) || oe.Addr == nil || oe.Addr.String() != want.String() {
			t.Errorf("dial of a service name port: %v, want an *OpError naming %s", err, want)
		}
	})
}

// A name that has no address of the family the network asks for (tcp6 for a name testdns gives only
// an IPv4 address) fails as net.Dialer's dial does: the same error classes, an *OpError naming no
// address.
func TestDialNameWrongFamily(t *testing.T) {
	testdns.Loopback(t)
	const address = "eddy-dialname.test:9"
	nctx, ncancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, nerr := (&net.Dialer{}).DialContext(nctx, "tcp6", address)
	ncancel()
	if nerr == nil {
		t.Skip("package net connects")
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		_, err := rvSettle(t, cl.Dial(context.Background(), "tcp6://"+address), "tcp6")
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Addr != nil || oe.Net != "tcp6" {
			t.Errorf("%v (%T), want an *OpError dial tcp6 naming no address", err, err)
		}
		if got, want := ddClasses(err), ddClasses(nerr); got != want {
			t.Errorf("%v matches [%s]; package net's %v matches [%s]", err, got, nerr, want)
		}
		if err != nil && nerr != nil && err.Error() != nerr.Error() {
			t.Errorf("%q, package net: %q", err, nerr)
		}
	})
}

// "localhost" comes from the hosts file, with no name server: the dial connects to the address New
// would listen on for it.
func TestDialNameLocalhost(t *testing.T) {
	queries := testdns.NoLookups(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, ln)
	port := ln.Addr().(*net.TCPAddr).Port
	want, err := net.ResolveTCPAddr("tcp", fmt.Sprintf("localhost:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		cl := r2Client(t, kind, &r2Counter{})
		c, err := rvSettle(t, cl.Dial(context.Background(), fmt.Sprintf("tcp://localhost:%d", port)), "localhost")
		if err != nil {
			if want.IP.To4() == nil {
				t.Skipf("localhost is %s here: %v", want, err)
			}
			t.Fatal(err)
		}
		if c.RemoteAddr().String() != want.String() {
			t.Errorf("RemoteAddr %s, want %s (New's choice)", c.RemoteAddr(), want)
		}
		c.Close()
	})
	if n := queries.Load(); n != 0 {
		t.Errorf("%d queries sent to a name server for localhost", n)
	}
}

// rvBoot dials a name in OnBoot and fails the Start.
type rvBoot struct {
	eddy.BaseHandler
	f future.Future[eddy.Conn]
}

func (h *rvBoot) OnBoot(e *eddy.Engine) error {
	h.f = e.Dial(context.Background(), "tcp://eddy-dialname-boot.test:9")
	return errors.New("boot fails")
}

// A Dial of a name made in OnBoot, whose Start then fails: the future fails with ErrEngineStopped by
// the time Start returns, and no lookup goroutine is left.
func TestDialNameBootFails(t *testing.T) {
	ddSlowResolver(t)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &rvBoot{}
		e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err == nil {
			t.Fatal("Start succeeded")
		}
		if !h.f.Resolved() {
			t.Error("the dial made in OnBoot is pending after the failed Start returned")
		}
		_, err = rvSettle(t, h.f, "OnBoot's dial")
		if !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("OnBoot's dial: %v, want ErrEngineStopped", err)
		}
		if n := ddLookupsLeft(); n != 0 {
			t.Errorf("%d lookups left after the failed Start", n)
		}
		if err := e.Stop(context.Background()); err != nil {
			t.Errorf("Stop after the failed Start: %v", err)
		}
	})
}

// 500 dials of names made at once (half from a loop, half from goroutines) with a name server that
// never answers and a deadline each: all fail with an *OpError matching context.DeadlineExceeded, and
// no goroutine is left; the engine then stops at once.
func TestDialNameManySlow(t *testing.T) {
	ddSlowResolver(t)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &r2Counter{}
		cl := r2Client(t, kind, h)
		const n = 500
		results := make(chan error, n)
		dial := func(i int) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(50+i%200)*time.Millisecond)
			f := cl.Dial(ctx, fmt.Sprintf("tcp://eddy-dialname-%d.test:80", i%7))
			future.Handle(f, future.Inline, func(_ eddy.Conn, err error) (struct{}, error) {
				cancel()
				results <- err
				return struct{}{}, nil
			})
		}
		cl.Loops()[0].Execute(func() {
			for i := 0; i < n/2; i++ {
				dial(i)
			}
		})
		var wg sync.WaitGroup
		for i := n / 2; i < n; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); dial(i) }()
		}
		wg.Wait()
		deadline := time.After(20 * time.Second)
		for i := 0; i < n; i++ {
			select {
			case err := <-results:
				var oe *eddy.OpError
				if !errors.As(err, &oe) || !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("dial %d: %v (%T), want an *OpError matching context.DeadlineExceeded", i, err, err)
				}
			case <-deadline:
				t.Fatalf("%d of %d dials settled in 20 s", i, n)
			}
		}
		rvWaitLookups(t)
		if h.opened.Load() != 0 {
			t.Errorf("OnOpen ran %d times", h.opened.Load())
		}
	})
}

// Dials of a name made on a loop over and over while Stop runs on another goroutine: Stop returns,
// every future settles, every connection that opened is closed (OnClose), no lookup is left.
func TestDialNameStopRacesLookups(t *testing.T) {
	testdns.Loopback(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	testtls.Hold(t, ln)
	addr := fmt.Sprintf("tcp://eddy-dialname-race.test:%d", ln.Addr().(*net.TCPAddr).Port)
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for round := 0; round < 5; round++ {
			h := &r2Counter{}
			cl := r2Client(t, kind, h)
			var mu sync.Mutex
			var fs []future.Future[eddy.Conn]
			var stopping atomic.Bool
			var redial func(l eddy.Loop)
			redial = func(l eddy.Loop) {
				for range 20 {
					f := cl.Dial(context.Background(), addr)
					mu.Lock()
					fs = append(fs, f)
					mu.Unlock()
				}
				mu.Lock()
				more := !stopping.Load() && len(fs) < 2000
				mu.Unlock()
				if more {
					l.AfterFunc(time.Millisecond, func() { redial(l) })
				}
			}
			for _, l := range cl.Loops() {
				l.Execute(func() { redial(l) })
			}
			waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(fs) > 40*(round+1) }, "dials")
			stopping.Store(true)
			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				done <- cl.Stop(ctx)
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Stop: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("Stop did not return in 15 s")
			}
			mu.Lock()
			all := append([]future.Future[eddy.Conn](nil), fs...)
			mu.Unlock()
			for i, f := range all {
				c, err := rvSettle(t, f, fmt.Sprint("dial ", i))
				if err == nil {
					c.Close()
				} else if !errors.Is(err, eddy.ErrEngineStopped) && !errors.Is(err, eddy.ErrClosed) {
					t.Errorf("dial %d: %v", i, err)
				}
			}
			waitFor(t, func() bool { return h.opened.Load() == h.closed.Load() }, "OnClose of every connection that opened")
			rvWaitLookups(t)
		}
	})
}
