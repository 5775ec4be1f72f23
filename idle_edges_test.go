package eddy_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The idle timeout's edge values on every engine. SetIdleTimeout(0) and a negative d turn
// the timeout off (conn.go), even against the engine's WithIdleTimeout; 1 ns and 1 µs close at once
// with ErrIdleTimeout; math.MaxInt64 and 100 years are "never" (docs/engine.md: deadlines saturate).
func TestIdleEdgeValues(t *testing.T) {
	t.Parallel() // mostly waiting
	const engineIdle = 100 * time.Millisecond
	for _, tc := range []struct {
		name      string
		d         time.Duration
		wantClose bool
	}{
		{"zero", 0, false},
		{"negative", -time.Second, false},
		{"min negative", math.MinInt64, false},
		{"1ns", time.Nanosecond, true},
		{"1us", time.Microsecond, true},
		{"max", math.MaxInt64, false},
		{"100 years", 100 * 365 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				setErr := make(chan error, 1)
				h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
					setErr <- c.SetIdleTimeout(tc.d)
				}, data: echoData}
				s := startServer(t, kind, h, eddy.WithIdleTimeout(engineIdle))
				c := s.dial(t)
				if err := <-setErr; err != nil {
					t.Fatalf("SetIdleTimeout(%v) in OnOpen: %v", tc.d, err)
				}
				if tc.wantClose {
					wantIdleClose(t, h.counter, 10*time.Second)
					wantPeerReads(t, c, "")
					return
				}
				// Several times the engine's timeout, with echoes between (activity) and a quiet
				// stretch at the end.
				if err := idleEcho(c, "ping"); err != nil {
					t.Fatalf("first echo: %v", err)
				}
				for i := 0; i < 2; i++ {
					wantOpenAfterQuiet(t, h.counter, c, 3*engineIdle, fmt.Sprintf("with SetIdleTimeout(%v)", tc.d))
				}
			})
		})
	}
}

// An idle timeout that fires while the handler is busy, and that the handler then sets to
// "never" (math.MaxInt64) before it returns, does not close the connection. On std the runtime timer's
// check, queued behind the callback, computed lastActive + d in int64: with d = math.MaxInt64 the sum
// wrapped into the past and the connection was closed as idle at once, right after being told never.
func TestIdleHugeSetWhileTimerDue(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		d    time.Duration
	}{
		{"max", math.MaxInt64},
		{"250 years", 250 * 365 * 24 * time.Hour}, // past 2^63 ns when added to a Unix time
	} {
		t.Run(tc.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				const idle = 50 * time.Millisecond
				var first atomic.Bool
				setErr := make(chan error, 1)
				h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
					b, _ := c.Next(-1)
					if !first.Swap(true) {
						// The short timeout is armed here, not by the engine at accept: a
						// test goroutine slowed past it under load before its first write
						// saw the connection closed as idle (CI, stop 34).
						if err := c.SetIdleTimeout(idle); err != nil {
							setErr <- err
							return
						}
						// Longer than the timeout: it comes due (on std its timer fires and queues
						// its check behind this callback; on the loop engines it is due at the
						// iteration's timers).
						time.Sleep(6 * idle)
						setErr <- c.SetIdleTimeout(tc.d)
					}
					c.Write(b)
				}}
				s := startServer(t, kind, h, eddy.WithLoops(1))
				c := s.dial(t)
				if err := idleEcho(c, "first"); err != nil {
					t.Fatalf("first echo: %v", err)
				}
				if err := <-setErr; err != nil {
					t.Fatalf("SetIdleTimeout: %v", err)
				}
				wantOpenAfterQuiet(t, h.counter, c, 6*idle, fmt.Sprintf("after SetIdleTimeout(%v)", tc.d))
			})
		})
	}
}

// SetIdleTimeout after Close (in the same callback) returns ErrClosed and arms nothing: the
// connection's OnClose runs once, with the Close's nil reason, never ErrIdleTimeout.
func TestIdleSetAfterClose(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		setErr := make(chan error, 2)
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Next(-1)
			c.Write([]byte("bye"))
			c.Close()
			setErr <- c.SetIdleTimeout(time.Nanosecond)
			setErr <- c.SetIdleTimeout(0)
		}}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(time.Hour))
		c := s.dial(t)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		wantPeerReads(t, c, "bye")
		for i := 0; i < 2; i++ {
			if err := <-setErr; !errors.Is(err, eddy.ErrClosed) {
				t.Fatalf("SetIdleTimeout after Close: %v, want ErrClosed", err)
			}
		}
		if err := h.waitClosed(t, 10*time.Second); err != nil {
			t.Fatalf("OnClose(%v), want nil (the handler's Close)", err)
		}
		wantClosedOnce(t, h.counter)
	})
}

// halfIdleHandler keeps a half-closed connection open for writing, and answers the peer's FIN with a
// last word.
type halfIdleHandler struct {
	*funcHandler
	peerClosed atomic.Int32
}

func (h *halfIdleHandler) OnPeerClosed(c eddy.Conn) bool {
	h.peerClosed.Add(1)
	c.Write([]byte("half"))
	return true
}

// A connection the peer has half-closed, kept open for writing by a HalfCloseHandler, is
// still ended by its idle timeout (handler.go: "until the handler closes it or the idle timeout
// fires"), with ErrIdleTimeout, once; the peer gets what was written, then EOF.
func TestIdleHalfClosedByPeer(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		// The timeout runs from accept, so that it is the half-closed connection's own (a FIN that
		// dropped it would be caught): an attempt in which the test goroutine sent its FIN too late
		// (the connection closed as idle, nothing written, OnPeerClosed never ran) proves nothing.
		var h *halfIdleHandler
		conclusive(t, "the FIN came after the idle timeout", func() bool {
			h = &halfIdleHandler{funcHandler: &funcHandler{counter: newCounter()}}
			s := startServer(t, kind, h, eddy.WithIdleTimeout(200*time.Millisecond))
			c := s.dial(t)
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			got, err := io.ReadAll(c)
			if err == nil && len(got) == 0 && h.peerClosed.Load() == 0 {
				wantIdleClose(t, h.counter, 30*time.Second)
				return false
			}
			if err != nil || string(got) != "half" {
				t.Fatalf("the peer read %q, then %v; want %q then EOF", got, err, "half")
			}
			return true
		})
		wantIdleClose(t, h.counter, 30*time.Second)
		wantClosedOnce(t, h.counter)
		if p := h.peerClosed.Load(); p != 1 {
			t.Fatalf("OnPeerClosed ran %d times", p)
		}
	})
}

// A peer that reads nothing while the server's output is held by back-pressure is idle
// (docs/engine.md: "A peer that does not read gets no stamp from writes that cannot go out, so the idle
// timeout still ends it"): the connection closes, and OnClose, once, says it was the idle timeout,
// even though the graceful close then gives up on the unsent output at the flush timeout.
func TestIdleHeldOutputIsIdle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		big := make([]byte, 1<<20)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			for i := 0; i < 16; i++ { // 16 MiB: far past the socket buffers and the high-water mark
				if _, err := c.Write(big); err != nil {
					return
				}
			}
		}}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(200*time.Millisecond), eddy.WithFlushTimeout(500*time.Millisecond))
		c := s.dial(t)
		c.SetReadBuffer(4096)
		wantIdleClose(t, h.counter, 20*time.Second)
		wantClosedOnce(t, h.counter)
		// The client then finds the stream cut short: fewer than the 16 MiB, and no clean EOF.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, rerr := io.Copy(io.Discard, c)
		if n >= 16<<20 {
			t.Fatalf("the client read all %d bytes after the idle close", n)
		}
		var ne net.Error
		if rerr == nil || errors.As(rerr, &ne) && ne.Timeout() {
			t.Fatalf("client read %d bytes, then %v; want a reset", n, rerr)
		}
	})
}

// Reads that each come well before the timeout would fire keep resetting it: the connection
// stays open across several timeouts' worth of time, and once the reads stop it closes with
// ErrIdleTimeout, once, not before the timeout has passed from the last read.
func TestIdleResetByEachRead(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		const idle = time.Second
		const every = idle / 4
		late := watchLateness(t)
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) { c.Next(-1) }}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(idle))
		c := s.dial(t)
		start := time.Now()
		last := start
		for i := 0; i < 8; i++ {
			time.Sleep(every)
			var closed error
			select {
			case closed = <-h.closedCh:
			default:
			}
			now := time.Now() // after the look at OnClose: a close seen came before now
			// Inconclusive when a goroutine (this one, or std's reader) ran later than the slack
			// the timeout leaves: the machine, not the engine, let the timeout pass.
			if gap := now.Sub(last); gap >= idle-every || late() >= idle-every {
				t.Skipf("stalled: %v between writes, goroutines woken up to %v late (timeout %v)", gap, late(), idle)
			}
			if closed != nil {
				t.Fatalf("OnClose(%v) %v in, with a read every %v", closed, now.Sub(start), every)
			}
			if _, err := c.Write([]byte{byte(i)}); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
			last = now
		}
		wantIdleClose(t, h.counter, 30*time.Second)
		if took := time.Since(last); took < idle {
			t.Fatalf("closed %v after the last write, want at least %v", took, idle)
		}
		wantClosedOnce(t, h.counter)
	})
}

// Many connections given the same deadline at once (one SetIdleTimeout each, in one function
// run on their loop, so one clock reading on the loop engines): every one of them closes with
// ErrIdleTimeout, once, each peer reads EOF, and the loop serves another connection meanwhile.
func TestIdleManySameDeadline(t *testing.T) {
	// Not parallel: 10000 descriptors at a time, which other tests beside it could run out of.
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		n := 5000
		if kind == eddy.EngineStd && raceEnabled {
			n = 2000 // two goroutines a connection: the race detector allows 8128 at a time
		}
		const idle = 300 * time.Millisecond
		conns := make(chan eddy.Conn, n+1)
		var idleCloses, otherCloses atomic.Int64
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { conns <- c }, data: echoData}
		cl := &countReasons{funcHandler: h, idle: &idleCloses, other: &otherCloses}
		s := startServer(t, kind, cl, eddy.WithLoops(1))
		probe := s.dial(t) // no idle timeout: it stays
		<-conns
		clients, server := openMany(t, s.addr, n, conns)
		set := func(c eddy.Conn) {
			if err := c.SetIdleTimeout(idle); err != nil {
				t.Errorf("SetIdleTimeout: %v", err)
			}
		}
		if kind == eddy.EngineStd { // a connection's functions run in its own section
			for _, c := range server {
				if err := c.Execute(set); err != nil {
					t.Fatal(err)
				}
			}
		} else {
			server[0].Loop().Execute(func() {
				for _, c := range server {
					set(c)
				}
			})
		}
		// The loop keeps serving while the timeouts come due and the connections close.
		for i := 0; idleCloses.Load() < int64(n); i++ {
			if err := idleEcho(probe, "probe"); err != nil {
				t.Fatalf("probe echo %d with %d of %d idle closes: %v", i, idleCloses.Load(), n, err)
			}
			if i > 2000 {
				t.Fatalf("%d of %d connections closed as idle", idleCloses.Load(), n)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if o := otherCloses.Load(); o != 0 {
			t.Fatalf("%d connections closed with another reason", o)
		}
		for i, c := range clients {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if k, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("client %d: read %d, %v; want EOF", i, k, err)
			}
		}
		if err := idleEcho(probe, "after"); err != nil {
			t.Fatalf("probe echo after the closes: %v", err)
		}
		if got := idleCloses.Load() + otherCloses.Load(); got != int64(n) {
			t.Fatalf("%d OnClose calls, want %d", got, n)
		}
	})
}

// countReasons counts OnClose calls by reason.
type countReasons struct {
	*funcHandler
	idle, other *atomic.Int64
}

func (h *countReasons) OnClose(c eddy.Conn, err error) {
	if errors.Is(err, eddy.ErrIdleTimeout) {
		h.idle.Add(1)
	} else {
		h.other.Add(1)
	}
}

// A connection whose reading the handler paused (SetReadPaused) is idle however much its peer
// sends: nothing is read ("the idle timeout still runs", conn.go), so the timeout ends it with
// ErrIdleTimeout, once.
func TestIdleReadPausedPeerSending(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { c.SetReadPaused(true) }}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(200*time.Millisecond))
		c := s.dial(t)
		stop := tick(20*time.Millisecond, func() error {
			_, err := c.Write([]byte("x"))
			return err
		})
		defer stop()
		wantIdleClose(t, h.counter, 10*time.Second)
		stop()
		wantClosedOnce(t, h.counter)
	})
}

// closingRecorder is a ClosingHandler that says goodbye.
type closingRecorder struct {
	*funcHandler
	reasons chan error
}

func (h *closingRecorder) OnClosing(c eddy.Conn, reason error) {
	h.reasons <- reason
	c.Write([]byte("bye"))
}

// An idle timeout shortened from OnData (to 1 ns: at once) closes through the ClosingHandler
// hook with ErrIdleTimeout, once: OnClosing's goodbye reaches the peer after the reply, then EOF.
func TestIdleShortenedInOnDataClosesThroughHook(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &closingRecorder{funcHandler: &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			echoData(c)
			if err := c.SetIdleTimeout(time.Nanosecond); err != nil {
				t.Errorf("SetIdleTimeout: %v", err)
			}
		}}, reasons: make(chan error, 4)}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(time.Hour))
		c := s.dial(t)
		if _, err := c.Write([]byte("hi ")); err != nil {
			t.Fatal(err)
		}
		wantPeerReads(t, c, "hi bye")
		wantIdleClose(t, h.counter, 10*time.Second)
		if r := <-h.reasons; !errors.Is(r, eddy.ErrIdleTimeout) {
			t.Fatalf("OnClosing(%v), want ErrIdleTimeout", r)
		}
		wantClosedOnce(t, h.counter)
		if k := len(h.reasons); k != 0 {
			t.Fatalf("OnClosing ran %d more times", k)
		}
	})
}

// A handler that keeps writing to a peer that reads nothing does not keep the connection
// alive: writes that cannot go out are no activity (docs/engine.md, "The loop's clock"), so the idle
// timeout ends the connection, with ErrIdleTimeout, once, however often the handler writes.
func TestIdleWritesToStuckPeerAreIdle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		opened := make(chan eddy.Conn, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { opened <- c }}
		s := startServer(t, kind, h, eddy.WithIdleTimeout(300*time.Millisecond), eddy.WithFlushTimeout(500*time.Millisecond))
		c := s.dial(t)
		c.SetReadBuffer(4096)
		sc := <-opened
		// 8 MiB at once fills the socket buffers and reaches the high-water mark; then a trickle.
		if err := sc.AsyncWrite(make([]byte, 8<<20), nil); err != nil {
			t.Fatal(err)
		}
		chunk := make([]byte, 4<<10)
		var writes atomic.Int64
		stop := tick(10*time.Millisecond, func() error { // a publisher: 4 KiB every 10 ms, until the connection refuses
			err := sc.AsyncWrite(chunk, nil)
			if err == nil {
				writes.Add(1)
			}
			return err
		})
		defer stop()
		wantIdleClose(t, h.counter, 20*time.Second)
		stop()
		t.Logf("the publisher wrote %d times", writes.Load())
		wantClosedOnce(t, h.counter)
	})
}
