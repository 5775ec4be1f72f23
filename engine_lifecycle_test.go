package eddy_test

// The Engine's life-cycle and configuration API: defects found by a review in session 19, each test
// failing on the code before it.

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// bootDialer dials from OnBoot, which has the *Engine for that (a proxy connecting to its
// backend as it starts, say).
type bootDialer struct {
	eddy.BaseHandler
	target string
}

func (h *bootDialer) OnBoot(e *eddy.Engine) error {
	e.Dial(context.Background(), h.target) // the future is not waited for: Dial never blocks
	return nil
}

// Engine.Start holds e.mu while it calls OnBoot, and DialWith took e.mu too, so a Dial made in OnBoot
// blocked for ever and Start never returned. Nothing in the docs forbids it: OnBoot gets the *Engine,
// and Dial never blocks. DialWith now reads an atomic flag (Engine.running).
func TestDialInOnBootDoesNotHangStart(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		e, err := eddy.New(&bootDialer{target: "tcp://" + ln.Addr().String()}, []string{"tcp://127.0.0.1:0"},
			eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		started := make(chan error, 1)
		go func() { started <- e.Start() }()
		select {
		case err := <-started:
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			e.Stop(ctx)
		case <-time.After(5 * time.Second):
			t.Fatal("Start has not returned after 5s: Engine.Dial called in OnBoot deadlocks on the engine's mutex, which Start holds")
		}
	})
}

// tickDialer dials from a callback on the loop (OnTick here; OnData of a proxy is the same) just
// as another goroutine calls StopAccepting.
type tickDialer struct {
	eddy.BaseHandler
	e        atomic.Pointer[eddy.Engine]
	target   string
	inTick   chan struct{}
	stopping atomic.Bool
	dialled  chan struct{}
}

func (h *tickDialer) OnBoot(e *eddy.Engine) error { h.e.Store(e); return nil }

func (h *tickDialer) OnTick() time.Duration {
	close(h.inTick)
	for !h.stopping.Load() {
		time.Sleep(time.Millisecond)
	}
	// StopAccepting is called by now; give it ample time to take the engine's mutex. (The sleep only
	// widens the window: a callback that dials while StopAccepting runs is all it takes.)
	time.Sleep(100 * time.Millisecond)
	h.e.Load().Dial(context.Background(), h.target)
	close(h.dialled)
	return -1
}

// StopAccepting holds e.mu while it waits for every loop to close its listeners (onEveryLoop). A
// callback that called Engine.Dial meanwhile blocked on e.mu on the loop StopAccepting waited for: a
// deadlock, on epoll and uring (std's StopAccepting does not wait for its loops). The docs ask only that StopAccepting itself not be called on a loop; calling it from a
// goroutine of its own, as here (and as http1's Shutdown does), while a handler dials out (a proxy),
// hangs the engine for good.
func TestStopAcceptingWhileACallbackDials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		h := &tickDialer{target: "tcp://" + ln.Addr().String(), inTick: make(chan struct{}), dialled: make(chan struct{})}
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		<-h.inTick
		done := make(chan error, 1)
		h.stopping.Store(true)
		go func() { done <- e.StopAccepting() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("StopAccepting: %v", err)
			}
		case <-time.After(5 * time.Second):
			dialled := false
			select {
			case <-h.dialled:
				dialled = true
			default:
			}
			t.Fatalf("StopAccepting has not returned after 5s (the callback's Dial returned: %v): deadlock between StopAccepting, holding the engine's mutex while it waits for the loop, and Engine.Dial on that loop", dialled)
		}
		select {
		case <-h.dialled:
		case <-time.After(5 * time.Second):
			t.Fatal("the callback's Dial has not returned")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
}

// bootQueueFail queues work on a loop in OnBoot and then fails the start.
type bootQueueFail struct {
	eddy.BaseHandler
	loops []eddy.Loop
	ran   chan struct{}
	fired chan struct{}
}

func (h *bootQueueFail) OnBoot(e *eddy.Engine) error {
	h.loops = e.Loops()
	h.loops[0].Execute(func() { close(h.ran) })
	h.loops[0].AfterFunc(10*time.Millisecond, func() { close(h.fired) })
	return errors.New("boot refused")
}

// Loop.Execute "never drops fn: on a loop that has stopped, fn runs on the calling goroutine", and an
// AfterFunc timer "still pending when the loop stops ... is not lost" (loop.go). When OnBoot queued
// work on a loop and then failed the start, the epoll engine released its loops without closing or
// running their task queues: the function, the timer and every later Execute on those loops were
// dropped. The uring engine ran the queued function but put the timer on the wheel of a loop that
// never runs. Both now end such loops as a stop does (closeAll, abort). std ran all three.
func TestFailedStartRunsWorkQueuedInOnBoot(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &bootQueueFail{ran: make(chan struct{}), fired: make(chan struct{})}
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(2))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err == nil {
			e.Stop(context.Background())
			t.Fatal("Start succeeded although OnBoot failed")
		}
		select {
		case <-h.ran:
		case <-time.After(30 * time.Second):
			t.Error("a function given to Loop.Execute in OnBoot never ran after the failed Start")
		}
		select {
		case <-h.fired:
		case <-time.After(30 * time.Second):
			t.Error("a Loop.AfterFunc(10ms) timer made in OnBoot never fired after the failed Start")
		}
		later := make(chan struct{})
		h.loops[1].Execute(func() { close(later) })
		select {
		case <-later:
		case <-time.After(30 * time.Second):
			t.Error("Loop.Execute on a loop of the failed Start never ran its function")
		}
	})
}

// linkLocalIPv6 returns a link-local IPv6 address of an interface that is up, with its zone.
func linkLocalIPv6(t *testing.T) (ip net.IP, zone string) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Skip(err)
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() == nil && ipn.IP.IsLinkLocalUnicast() {
				if c, err := net.Listen("tcp6", net.JoinHostPort(ipn.IP.String()+"%"+ifc.Name, "0")); err == nil {
					c.Close()
					return ipn.IP, ifc.Name
				}
			}
		}
	}
	t.Skip("no usable link-local IPv6 address here")
	return nil, ""
}

// New accepts a scoped IPv6 address (tcp6://[fe80::1%eth0]:port, the only way to name a link-local
// address), ResolveTCPAddr keeps its zone, but internal/socket's sockaddr built the SockaddrInet6
// without ZoneId: the epoll and uring engines failed to listen on it ("bind: invalid argument") or to
// Dial it ("connect: invalid argument"), while std (package net) served and dialled it. The address is the machine's own, so the traffic stays on the host.
func TestIPv6ZoneListenAndDial(t *testing.T) {
	ip, zone := linkLocalIPv6(t)
	host := ip.String() + "%" + zone
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		// Listen.
		addr := "tcp6://" + net.JoinHostPort(host, "0")
		e, err := eddy.New(newEcho(false), []string{addr}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatalf("New(%q): %v", addr, err)
		}
		if err := e.Start(); err != nil {
			t.Errorf("Start on %s: %v (std serves it)", addr, err)
		} else {
			port := e.Addrs()[0].(*net.TCPAddr).Port
			c, err := net.DialTimeout("tcp6", net.JoinHostPort(host, strconv.Itoa(port)), 5*time.Second)
			if err != nil {
				t.Errorf("dial the engine on %s: %v", addr, err)
			} else {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := echoOnce(c, "zone"); err != nil {
					t.Errorf("echo on %s: %v", addr, err)
				}
				c.Close()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			e.Stop(ctx)
			cancel()
		}

		// Dial.
		ln, err := net.Listen("tcp6", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			if c, err := ln.Accept(); err == nil {
				c.Close()
			}
		}()
		d, err := eddy.New(eddy.BaseHandler{}, nil, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			d.Stop(ctx)
		}()
		target := "tcp6://" + net.JoinHostPort(host, strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if c, err := d.Dial(ctx, target).Await(ctx); err != nil {
			t.Errorf("Dial(%s): %v (std dials it)", target, err)
		} else {
			c.Close()
		}
	})
}
