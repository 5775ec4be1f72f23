package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// A fan-out client as a user writes one: one engine dials many connections (DialWith carries what each
// was dialled for), says hello on each from OnOpen and checks the echo in OnData. The same handler
// echoes on connections it accepted (Context nil at OnOpen), so one engine can be server and client.

// fanDialed is the Context of a dialled connection.
type fanDialed struct {
	id   int
	want string
	got  []byte
	done chan struct{}
}

type fanHandler struct {
	eddy.BaseHandler
	mu             sync.Mutex
	opens, closes  map[eddy.Conn]int
	dialOpens      atomic.Int64
	dialCloses     atomic.Int64
	acceptedOpens  atomic.Int64
	acceptedCloses atomic.Int64
	badCtx         atomic.Int64
}

func newFanHandler() *fanHandler {
	return &fanHandler{opens: map[eddy.Conn]int{}, closes: map[eddy.Conn]int{}}
}

func (h *fanHandler) OnOpen(c eddy.Conn) {
	h.mu.Lock()
	h.opens[c]++
	h.mu.Unlock()
	switch d := c.Context().(type) {
	case nil:
		h.acceptedOpens.Add(1)
	case *fanDialed:
		h.dialOpens.Add(1)
		c.Write([]byte(d.want))
	default:
		h.badCtx.Add(1)
	}
}

func (h *fanHandler) OnData(c eddy.Conn) {
	d, ok := c.Context().(*fanDialed)
	if !ok {
		b, _ := c.Next(-1)
		c.Write(b)
		return
	}
	b, _ := c.Next(-1)
	d.got = append(d.got, b...)
	if len(d.got) >= len(d.want) {
		select {
		case <-d.done:
		default:
			close(d.done)
		}
	}
}

func (h *fanHandler) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.closes[c]++
	h.mu.Unlock()
	if _, ok := c.Context().(*fanDialed); ok {
		h.dialCloses.Add(1)
	} else {
		h.acceptedCloses.Add(1)
	}
}

// check fails t unless every connection had exactly one OnOpen and one OnClose.
func (h *fanHandler) check(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c, n := range h.opens {
		if n != 1 || h.closes[c] != 1 {
			t.Errorf("conn %p: OnOpen %d times, OnClose %d times", c, n, h.closes[c])
		}
	}
	for c, n := range h.closes {
		if h.opens[c] != 1 {
			t.Errorf("conn %p: OnClose %d times without an OnOpen", c, n)
		}
	}
	if h.badCtx.Load() != 0 {
		t.Errorf("%d connections opened with a Context that is not the DialWith value", h.badCtx.Load())
	}
}

func fanStop(t *testing.T, e *eddy.Engine) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

// fanEngine starts an engine that the test's cleanup stops, should the test end first.
func fanEngine(t *testing.T, kind eddy.EngineKind, h eddy.Handler, listeners []string, opts ...eddy.Option) *eddy.Engine {
	t.Helper()
	e := startEngine(t, kind, h, listeners, opts...)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
	})
	return e
}

// settleCount counts how often a future's continuation runs: it must be once.
func settleCount[T any](f future.Future[T], n *atomic.Int64) {
	future.Handle(f, future.Inline, func(T, error) (struct{}, error) { n.Add(1); return struct{}{}, nil })
}

// 1,000 dials at once from one engine to a server engine, each echoing its own greeting; then the
// client closes half and Stop closes the rest. Every dialled connection opens and closes once, with
// its DialWith value; every future settles once; no descriptor is left.
func TestFanoutThousandDials(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		runtime.GC()
		base := r2FDs()
		srv := newFanHandler()
		s := fanEngine(t, kind, srv, loopback)
		addr := "tcp://" + s.Addrs()[0].String()
		cl := newFanHandler()
		e := fanEngine(t, kind, cl, nil)
		const n = 1000
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		fs := make([]future.Future[eddy.Conn], n)
		ds := make([]*fanDialed, n)
		var settled atomic.Int64
		for i := range fs {
			ds[i] = &fanDialed{id: i, want: fmt.Sprintf("hello from %d\n", i), done: make(chan struct{})}
			fs[i] = e.DialWith(ctx, addr, ds[i])
			settleCount(fs[i], &settled)
		}
		conns, err := future.All(fs...).Await(ctx)
		if err != nil {
			t.Fatalf("dials: %v", err)
		}
		for i, d := range ds {
			select {
			case <-d.done:
			case <-ctx.Done():
				t.Fatalf("conn %d: no echo", i)
			}
			if string(d.got) != d.want {
				t.Fatalf("conn %d: echo %q, want %q", i, d.got, d.want)
			}
			if conns[i].Context() != any(d) {
				t.Fatalf("conn %d: Context is not its DialWith value", i)
			}
		}
		for i := 0; i < n; i += 2 {
			conns[i].Close()
		}
		waitFor(t, func() bool { return cl.dialCloses.Load() == n/2 }, "OnClose of the closed half")
		fanStop(t, e)
		waitFor(t, func() bool { return srv.acceptedCloses.Load() == n }, "the server to see every close")
		fanStop(t, s)
		if got := settled.Load(); got != n {
			t.Errorf("futures settled %d times, want %d", got, n)
		}
		if cl.dialOpens.Load() != n || cl.dialCloses.Load() != n || srv.acceptedOpens.Load() != n {
			t.Errorf("client OnOpen %d OnClose %d, server OnOpen %d; want %d", cl.dialOpens.Load(), cl.dialCloses.Load(), srv.acceptedOpens.Load(), n)
		}
		cl.check(t)
		srv.check(t)
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// One engine both serves and dials: it dials its own listener 300 times; the accepted ends echo, the
// dialled ends check the echo. Stop closes both sides of each pair; each side opens and closes once.
func TestFanoutMixedEngine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		runtime.GC()
		base := r2FDs()
		h := newFanHandler()
		e := fanEngine(t, kind, h, loopback)
		addr := "tcp://" + e.Addrs()[0].String()
		const n = 300
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		fs := make([]future.Future[eddy.Conn], n)
		ds := make([]*fanDialed, n)
		for i := range fs {
			ds[i] = &fanDialed{id: i, want: fmt.Sprintf("self %d\n", i), done: make(chan struct{})}
			fs[i] = e.DialWith(ctx, addr, ds[i])
		}
		if _, err := future.All(fs...).Await(ctx); err != nil {
			t.Fatal(err)
		}
		for i, d := range ds {
			select {
			case <-d.done:
			case <-ctx.Done():
				t.Fatalf("conn %d: no echo", i)
			}
		}
		fanStop(t, e)
		if h.dialOpens.Load() != n || h.acceptedOpens.Load() != n || h.dialCloses.Load() != n || h.acceptedCloses.Load() != n {
			t.Errorf("dialled %d/%d, accepted %d/%d (opened/closed), want %d each",
				h.dialOpens.Load(), h.dialCloses.Load(), h.acceptedOpens.Load(), h.acceptedCloses.Load(), n)
		}
		h.check(t)
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// Refused dials (a closed port; an address of 127.0.0.0/8 nobody listens on) fail with an *OpError that
// reads as package net's, run no callback and leave no descriptor; the same goes for 200 at once.
func TestFanoutRefused(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		closed := ln.Addr().String()
		ln.Close()
		_, port, _ := net.SplitHostPort(closed)
		other := net.JoinHostPort("127.0.83.17", port)
		h := newFanHandler()
		e := fanEngine(t, kind, h, nil)
		runtime.GC()
		base := r2FDs()
		for _, a := range []string{closed, other} {
			_, nerr := net.Dial("tcp", a)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := e.Dial(ctx, "tcp://"+a).Await(ctx)
			cancel()
			var oe *eddy.OpError
			if !errors.As(err, &oe) || oe.Op != "dial" || oe.Net != "tcp" || oe.Addr == nil || oe.Addr.String() != a {
				t.Errorf("%s: Dial = %v (%T), want an *OpError dial tcp %s", a, err, err, a)
				continue
			}
			if !errors.Is(err, syscall.ECONNREFUSED) || nerr == nil || err.Error() != nerr.Error() {
				t.Errorf("%s: Dial = %q, package net says %q", a, err, nerr)
			}
		}
		const n = 200
		fs := make([]future.Future[eddy.Conn], n)
		var settled atomic.Int64
		for i := range fs {
			a := closed
			if i%2 == 1 {
				a = other
			}
			fs[i] = e.Dial(context.Background(), "tcp://"+a)
			settleCount(fs[i], &settled)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		outs, err := future.AllSettled(fs...).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			if !errors.Is(o.Err, syscall.ECONNREFUSED) {
				t.Errorf("dial %d: %v, want ECONNREFUSED", i, o.Err)
			}
		}
		if settled.Load() != n {
			t.Errorf("futures settled %d times, want %d", settled.Load(), n)
		}
		if h.dialOpens.Load() != 0 || h.dialCloses.Load() != 0 {
			t.Errorf("OnOpen %d, OnClose %d for refused dials", h.dialOpens.Load(), h.dialCloses.Load())
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// Dials that hang (SYNs dropped by a full accept queue) end at their context's deadline with an
// *OpError that is a timeout (as package net's "i/o timeout" is), or with context.Canceled when the
// context is cancelled midway; no callback, no descriptor left.
func TestFanoutTimeoutAndCancel(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		hole := r2Blackhole(t)
		h := newFanHandler()
		e := fanEngine(t, kind, h, nil)
		runtime.GC()
		base := r2FDs()
		const n = 50
		dctx, dcancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer dcancel()
		cctx, ccancel := context.WithCancel(context.Background())
		fs := make([]future.Future[eddy.Conn], 2*n)
		for i := 0; i < n; i++ {
			fs[i] = e.Dial(dctx, "tcp://"+hole)
			fs[n+i] = e.Dial(cctx, "tcp://"+hole)
		}
		time.Sleep(50 * time.Millisecond)
		ccancel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		outs, err := future.AllSettled(fs...).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, o := range outs {
			var oe *eddy.OpError
			if !errors.As(o.Err, &oe) || oe.Op != "dial" || oe.Addr == nil || oe.Addr.String() != hole {
				t.Errorf("dial %d: %v (%T), want an *OpError dial naming %s", i, o.Err, o.Err, hole)
				continue
			}
			if i < n && (!errors.Is(o.Err, context.DeadlineExceeded) || !oe.Timeout()) {
				t.Errorf("dial %d: %v, want a timeout (context.DeadlineExceeded)", i, o.Err)
			}
			if i >= n && (!errors.Is(o.Err, context.Canceled) || oe.Timeout()) {
				t.Errorf("dial %d: %v, want context.Canceled", i, o.Err)
			}
		}
		if h.dialOpens.Load() != 0 || h.dialCloses.Load() != 0 {
			t.Errorf("OnOpen %d, OnClose %d for dials that never connected", h.dialOpens.Load(), h.dialCloses.Load())
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// Unix-socket fan-out: 200 dials to an engine listening on a unix path, each echoed.
func TestFanoutUnix(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		runtime.GC()
		base := r2FDs()
		path := filepath.Join(t.TempDir(), "fan.sock")
		srv := newFanHandler()
		s := fanEngine(t, kind, srv, []string{"unix://" + path})
		cl := newFanHandler()
		e := fanEngine(t, kind, cl, nil)
		const n = 200
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		fs := make([]future.Future[eddy.Conn], n)
		ds := make([]*fanDialed, n)
		for i := range fs {
			ds[i] = &fanDialed{id: i, want: fmt.Sprintf("unix %d\n", i), done: make(chan struct{})}
			fs[i] = e.DialWith(ctx, "unix://"+path, ds[i])
		}
		conns, err := future.All(fs...).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range ds {
			select {
			case <-d.done:
			case <-ctx.Done():
				t.Fatalf("conn %d: no echo", i)
			}
			if ra := conns[i].RemoteAddr(); ra == nil || ra.Network() != "unix" || ra.String() != path {
				t.Errorf("conn %d: RemoteAddr %v", i, ra)
			}
		}
		fanStop(t, e)
		waitFor(t, func() bool { return srv.acceptedCloses.Load() == n }, "the server to see every close")
		fanStop(t, s)
		cl.check(t)
		srv.check(t)
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// Dials in flight when Stop runs (to a live server, to a black hole, and new ones made from other
// goroutines during Stop): every future settles once; a dial that opened closes once; a failed one is
// an *OpError (ErrEngineStopped for those Stop abandoned) or ErrClosed (opened, then closed by Stop
// before the future resolved); no descriptor is left.
func TestFanoutDialsDuringStop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		hole := r2Blackhole(t)
		srv := newFanHandler()
		s := fanEngine(t, kind, srv, loopback)
		live := "tcp://" + s.Addrs()[0].String()
		runtime.GC()
		base := r2FDs()
		h := newFanHandler()
		e := fanEngine(t, kind, h, nil)
		const n = 300
		var settled, ok, closedEarly, failed atomic.Int64
		var wg sync.WaitGroup
		dial := func(i int) {
			a := live
			if i%3 == 0 {
				a = "tcp://" + hole
			}
			d := &fanDialed{id: i, want: "x", done: make(chan struct{})}
			f := e.DialWith(context.Background(), a, d)
			settleCount(f, &settled)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, err := f.Await(ctx)
				var oe *eddy.OpError
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil:
					t.Errorf("dial %d never settled", i)
				case errors.Is(err, eddy.ErrClosed):
					closedEarly.Add(1)
				case errors.As(err, &oe) && oe.Op == "dial":
					failed.Add(1)
					if a == "tcp://"+hole && !errors.Is(err, eddy.ErrEngineStopped) {
						t.Errorf("dial %d to the black hole: %v, want ErrEngineStopped", i, err)
					}
				default:
					t.Errorf("dial %d: %v (%T)", i, err, err)
				}
			}()
		}
		for i := 0; i < n/2; i++ {
			dial(i)
		}
		var dialers sync.WaitGroup
		stopping := make(chan struct{})
		for g := 0; g < 3; g++ {
			dialers.Add(1)
			go func() {
				defer dialers.Done()
				<-stopping
				for i := n/2 + g; i < n; i += 3 {
					dial(i)
				}
			}()
		}
		time.Sleep(20 * time.Millisecond)
		close(stopping)
		fanStop(t, e)
		dialers.Wait()
		wg.Wait()
		if settled.Load() != n {
			t.Errorf("futures settled %d times, want %d", settled.Load(), n)
		}
		if o, c := h.dialOpens.Load(), h.dialCloses.Load(); o != ok.Load()+closedEarly.Load() || c != o {
			t.Errorf("%d resolved, %d closed before resolving, %d failed: OnOpen %d, OnClose %d",
				ok.Load(), closedEarly.Load(), failed.Load(), o, c)
		}
		h.check(t)
		t.Logf("%d resolved, %d closed early, %d failed", ok.Load(), closedEarly.Load(), failed.Load())
		waitFor(t, func() bool { return srv.acceptedCloses.Load() == srv.acceptedOpens.Load() }, "the server to see every close")
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// fanRedial keeps one connection to target up: OnClose of it, or a failed dial, dials again after a
// back-off (Loop.AfterFunc, doubling from 1 ms to 16 ms), until stop is set or the engine stops.
type fanRedial struct {
	fanHandler
	e        *eddy.Engine
	target   atomic.Pointer[string]
	attempts atomic.Int64
	failures atomic.Int64
	stopped  atomic.Bool // a dial failed with ErrEngineStopped: the loop has ended
	ended    chan struct{}
	badErr   atomic.Pointer[error]
}

type fanRedialCtx struct {
	fanDialed
	backoff time.Duration
}

func (h *fanRedial) dial(l eddy.Loop, backoff time.Duration) {
	h.attempts.Add(1)
	d := &fanRedialCtx{fanDialed: fanDialed{want: "ping\n", done: make(chan struct{})}, backoff: backoff}
	f := h.e.DialWith(context.Background(), *h.target.Load(), d)
	future.Handle(f, future.Inline, func(c eddy.Conn, err error) (struct{}, error) {
		if err == nil {
			return struct{}{}, nil
		}
		h.failures.Add(1)
		if errors.Is(err, eddy.ErrEngineStopped) {
			if h.stopped.CompareAndSwap(false, true) {
				close(h.ended)
			}
			return struct{}{}, nil
		}
		var oe *eddy.OpError
		if !errors.As(err, &oe) {
			h.badErr.Store(&err)
		}
		next := min(2*backoff, 16*time.Millisecond)
		l.AfterFunc(backoff, func() { h.dial(l, next) })
		return struct{}{}, nil
	})
}

func (h *fanRedial) OnOpen(c eddy.Conn) {
	h.mu.Lock()
	h.opens[c]++
	h.mu.Unlock()
	d, ok := c.Context().(*fanRedialCtx)
	if !ok {
		h.badCtx.Add(1) // this engine only dials
		return
	}
	h.dialOpens.Add(1)
	c.Write([]byte(d.want))
}

func (h *fanRedial) OnData(c eddy.Conn) { c.Discard(-1) }

func (h *fanRedial) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.closes[c]++
	h.mu.Unlock()
	h.dialCloses.Add(1)
	l := c.Loop()
	l.AfterFunc(time.Millisecond, func() { h.dial(l, time.Millisecond) })
}

// fanHangUp closes every connection once it has read a line.
type fanHangUp struct{ fanHandler }

func (h *fanHangUp) OnData(c eddy.Conn) {
	if b, _ := c.Peek(-1); len(b) > 0 && b[len(b)-1] == '\n' {
		c.Close()
	}
}

// A reconnect loop as a user writes one, driven from OnClose and from failed dials with a back-off
// through Loop.AfterFunc: a server that hangs up after each ping is redialled again and again; when
// the target becomes a closed port the loop backs off on refusals; Stop ends it (the dial after the
// last back-off fails with ErrEngineStopped). Each connection opened and closed once, no descriptor
// or goroutine left.
func TestFanoutReconnectLoop(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		srv := &fanHangUp{fanHandler: *newFanHandler()}
		s := fanEngine(t, kind, srv, loopback)
		live := "tcp://" + s.Addrs()[0].String()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		refused := "tcp://" + ln.Addr().String()
		ln.Close()
		runtime.GC()
		base := r2FDs()
		h := &fanRedial{fanHandler: *newFanHandler(), ended: make(chan struct{})}
		h.target.Store(&live)
		e := fanEngine(t, kind, h, nil, eddy.WithLoops(1))
		h.e = e
		e.Loops()[0].Execute(func() { h.dial(e.Loops()[0], time.Millisecond) })
		waitFor(t, func() bool { return h.dialCloses.Load() >= 20 }, "20 reconnections")
		h.target.Store(&refused)
		f0 := h.failures.Load()
		waitFor(t, func() bool { return h.failures.Load() >= f0+5 }, "5 refused redials")
		fanStop(t, e)
		select {
		case <-h.ended:
		case <-time.After(10 * time.Second):
			t.Fatal("the reconnect loop did not end after Stop")
		}
		if p := h.badErr.Load(); p != nil {
			t.Errorf("a failed dial's error is not an *OpError: %v", *p)
		}
		if h.dialOpens.Load() != h.dialCloses.Load() {
			t.Errorf("OnOpen %d, OnClose %d", h.dialOpens.Load(), h.dialCloses.Load())
		}
		h.check(t)
		t.Logf("%d attempts, %d failures, %d connections", h.attempts.Load(), h.failures.Load(), h.dialOpens.Load())
		waitFor(t, func() bool { return srv.acceptedCloses.Load() == srv.acceptedOpens.Load() }, "the server to see every close")
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
	})
}

// A user who gives up on a dial through the future combinators (future.WithTimeout, or future.Any
// over dials to several addresses, as Happy Eyeballs does) expects the losers to stop, as the
// combinators cancel them. A dial cancelled so fails with context.Canceled and runs no callback; it
// does not go on to open a connection nobody holds.
func TestFanoutFutureCancelStopsDial(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		hole := r2Blackhole(t)
		h := newFanHandler()
		e := fanEngine(t, kind, h, nil)
		runtime.GC()
		base := r2FDs()
		f := e.Dial(context.Background(), "tcp://"+hole)
		_, err := future.WithTimeout(f, 50*time.Millisecond).Await(context.Background())
		if !errors.Is(err, future.ErrTimeout) {
			t.Fatalf("WithTimeout(Dial) = %v, want future.ErrTimeout", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err = f.Await(ctx)
		var oe *eddy.OpError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "dial" {
			t.Fatalf("the dial WithTimeout gave up on: %v (%T), want an *OpError dial wrapping context.Canceled", err, err)
		}
		waitFor(t, func() bool { return r2FDs() <= base }, "descriptors back to the baseline")
		if h.dialOpens.Load() != 0 {
			t.Errorf("OnOpen ran %d times", h.dialOpens.Load())
		}
	})
}
