package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// onCloseProbe calls the outbound methods from inside OnClose, on a connection that is closed by
// definition, and reports what they returned.
type onCloseProbe struct {
	*counter
	mu      sync.Mutex
	report  []string
	execRan chan struct{}
	cbRan   chan error
}

func (h *onCloseProbe) OnData(c eddy.Conn) { c.Discard(-1) }

func (h *onCloseProbe) OnClose(c eddy.Conn, reason error) {
	var r []string
	if n, err := c.Write([]byte("after close")); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("Write = (%d, %v), want ErrClosed", n, err))
	}
	if n, err := c.Writev([][]byte{[]byte("after"), []byte("close")}); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("Writev = (%d, %v), want ErrClosed", n, err))
	}
	if err := c.Execute(func(eddy.Conn) { close(h.execRan) }); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("Execute = %v, want ErrClosed", err))
	}
	if err := c.AsyncWrite([]byte("late"), func(_ eddy.Conn, err error) { h.cbRan <- err }); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("AsyncWrite = %v, want ErrClosed", err))
	}
	if err := c.CloseWrite(); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("CloseWrite = %v, want ErrClosed", err))
	}
	if err := c.Close(); !errors.Is(err, eddy.ErrClosed) {
		r = append(r, fmt.Sprintf("Close = %v, want ErrClosed", err))
	}
	h.mu.Lock()
	h.report = r
	h.mu.Unlock()
	h.counter.OnClose(c, reason)
}

// On a connection that the peer reset while it was idle, OnClose reports the read error; inside OnClose the
// connection is closed, so Write, Writev, Execute, AsyncWrite and CloseWrite must fail with ErrClosed
// (conn.go: "It returns len(b), or ErrClosed on a closed or closing connection"; "Execute ... returns
// ErrClosed on a closed connection"; "AsyncWrite returns ErrClosed at once on a closed connection").
// The graceful paths (local Close, peer FIN) are checked as a control.
func TestOutboundInsideOnCloseFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, how := range []string{"peer reset", "peer FIN", "local Close"} {
			t.Run(how, func(t *testing.T) {
				opened := make(chan eddy.Conn, 1)
				h := &onCloseProbe{counter: newCounter(), execRan: make(chan struct{}), cbRan: make(chan error, 1)}
				s := startServer(t, kind, &openNotify{onCloseProbe: h, opened: opened})
				c := s.dial(t)
				var sc eddy.Conn
				select {
				case sc = <-opened:
				case <-time.After(5 * time.Second):
					t.Fatal("OnOpen did not run")
				}
				switch how {
				case "peer reset":
					c.SetLinger(0)
					c.Close()
				case "peer FIN":
					c.CloseWrite()
				case "local Close":
					sc.Close()
				}
				reason := h.waitClosed(t, 5*time.Second)
				if how == "peer reset" {
					var oe *eddy.OpError
					if !errors.As(reason, &oe) || !errors.Is(reason, syscall.ECONNRESET) {
						t.Errorf("OnClose reason = %v (%T), want an *OpError wrapping ECONNRESET", reason, reason)
					}
				}
				h.mu.Lock()
				report := h.report
				h.mu.Unlock()
				select {
				case <-h.execRan:
					report = append(report, "the function given to Execute in OnClose ran")
				case <-time.After(100 * time.Millisecond):
				}
				if len(report) > 0 {
					t.Errorf("inside OnClose (reason %v):\n\t%s", reason, strings.Join(report, "\n\t"))
				}
			})
		}
	})
}

type openNotify struct {
	*onCloseProbe
	opened chan eddy.Conn
}

func (h *openNotify) OnOpen(c eddy.Conn) {
	h.onCloseProbe.OnOpen(c)
	h.opened <- c
}

// Close inside OnData right after a large Write, while the peer keeps sending: the peer must read every
// byte written and then EOF (no reset), and OnClose must run once with nil.
func TestCloseInOnDataAfterWriteWhilePeerSends(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		reply := pattern(3<<20, 77)
		var once sync.Once
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Discard(-1)
			once.Do(func() {
				if n, err := c.Write(reply); n != len(reply) || err != nil {
					panic(fmt.Sprintf("Write = %d, %v", n, err))
				}
				if err := c.Close(); err != nil {
					panic(err)
				}
			})
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // keep sending until the server is done
			defer wg.Done()
			chunk := make([]byte, 4096)
			for {
				select {
				case <-stop:
					return
				default:
				}
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write(chunk); err != nil {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		close(stop)
		wg.Wait()
		if err != nil || len(got) != len(reply) {
			t.Fatalf("peer read %d of %d bytes, then %v; want all of them and EOF", len(got), len(reply), err)
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil {
			t.Fatalf("OnClose reason = %v, want nil", err)
		}
		time.Sleep(50 * time.Millisecond)
		if n := h.closed.Load(); n != 1 {
			t.Fatalf("OnClose ran %d times", n)
		}
	})
}

// Close on a connection whose peer never reads: docs/engine.md says "A flush that makes no progress for
// the flush timeout aborts" (WithFlushTimeout, here 2 s), and that the std engine's "Close, linger and
// back-pressure follow the epoll engine's rules". So OnClose runs (once) within a few seconds, not only
// when the engine stops.
func TestCloseWithStuckFlushIsBounded(t *testing.T) {
	t.Parallel() // mostly waiting for the 2 s bound
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel() // each engine its own server: the three waits side by side
		h := &openHandler{counter: newCounter(), write: pattern(32<<20, 5)}
		late := watchLateness(t)
		e := startEngine(t, kind, h, loopback, eddy.WithLoops(1), eddy.WithFlushTimeout(2*time.Second))
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			e.Stop(ctx)
		}()
		c, err := net.Dial("tcp", e.Addrs()[0].String()) // never reads
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		waitFor(t, func() bool { return h.opened.Load() == 1 }, "OnOpen")
		time.Sleep(100 * time.Millisecond) // the socket buffers fill
		h.mu.Lock()
		sc := h.conns[0]
		h.mu.Unlock()
		start := time.Now()
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		// The bound is 6 s for the 2 s timeout, plus how late this process's goroutines ran (CI runs
		// every package under -race on 2 cores: a loop or timer goroutine may wait seconds for a P).
		select {
		case err := <-h.closedCh:
			took := time.Since(start)
			if !errors.Is(err, eddy.ErrFlushTimeout) {
				t.Errorf("OnClose(%v); want ErrFlushTimeout", err)
			}
			if took > 6*time.Second+late() {
				t.Errorf("OnClose ran %v after Close, with the peer not reading (goroutines up to %v late)", took, late())
			}
			t.Logf("OnClose(%v) after %v", err, took)
		case <-time.After(30 * time.Second):
			t.Fatalf("OnClose has not run %v after Close, with the peer not reading", time.Since(start))
		}
		// The output was cut short: the peer must learn it (a reset), not read a clean end.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if n, err := io.Copy(io.Discard, c); err == nil {
			t.Errorf("the peer read %d bytes and a clean EOF from a connection whose output was dropped", n)
		}
	})
}

// abortHandler writes a large answer to every new connection, then hands the connection to the test.
type abortHandler struct {
	*counter
	opened chan eddy.Conn
}

func (h *abortHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	c.Write(abortAnswer())
	h.opened <- c
}

// abortAnswer is abortHandler's answer, made once: 32 MiB of pattern for each connection cost time under
// -race. Nobody writes to it.
var abortAnswer = sync.OnceValue(func() []byte { return pattern(32<<20, 8) })

func (h *abortHandler) OnData(c eddy.Conn) { c.Discard(-1) }

var errTestAbort = errors.New("test: abort")

// Abort, from another goroutine, ends a connection at once: OnClose reports the reason given, once,
// however often Abort is called and whether a graceful close was waiting for a slow reader or not;
// the peer learns of the cut (a reset), and never reads a clean end.
func TestAbortResetsAtOnce(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel() // each engine its own servers: side by side
		for _, closeFirst := range []bool{false, true} {
			h := &abortHandler{counter: newCounter(), opened: make(chan eddy.Conn, 1)}
			s := startServer(t, kind, h)
			c := s.dial(t)
			sc := <-h.opened
			time.Sleep(50 * time.Millisecond) // the buffers fill: the peer does not read
			if closeFirst {
				if err := sc.Close(); err != nil { // graceful: it would wait for the peer
					t.Fatal(err)
				}
			}
			start := time.Now()
			sc.Abort(errTestAbort)
			sc.Abort(errors.New("second"))
			// "At once" against the 10 s a graceful close waits for a peer that reads nothing
			// (WithFlushTimeout's default), with room for a loaded machine.
			if err := h.waitClosed(t, 5*time.Second); !errors.Is(err, errTestAbort) {
				t.Errorf("close first %v: OnClose(%v) after Abort; want the reason given", closeFirst, err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("close first %v: OnClose %v after Abort", closeFirst, took)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, err := io.Copy(io.Discard, c); err == nil {
				t.Errorf("close first %v: the peer read %d bytes and a clean EOF after Abort", closeFirst, n)
			}
			time.Sleep(50 * time.Millisecond)
			if n := h.closed.Load(); n != 1 {
				t.Errorf("close first %v: OnClose ran %d times", closeFirst, n)
			}
		}
	})
}

// A graceful close whose peer resets before the output is out ends at once, and OnClose reports the
// failed write, not a clean close: the output was lost.
func TestCloseThenPeerResetReportsTheFailure(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &abortHandler{counter: newCounter(), opened: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		sc := <-h.opened
		time.Sleep(50 * time.Millisecond) // the buffers fill: the peer does not read
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond) // the close waits for the flush
		c.SetLinger(0)
		c.Close() // a reset
		start := time.Now()
		err := h.waitClosed(t, 5*time.Second)
		var oe *eddy.OpError
		if !errors.As(err, &oe) {
			t.Errorf("OnClose(%v) after the peer reset a flushing close; want the write's *OpError", err)
		}
		if took := time.Since(start); took > time.Second {
			t.Errorf("OnClose %v after the reset", took)
		}
	})
}
