package eddy_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A write made late in a long loop iteration (behind a slow handler or task) is activity at the time it
// is made, not at the start of the iteration: the idle timeout counts from it. Before the loops refreshed
// their clock ahead of the iteration's flush, a connection that wrote after the loop had been busy for
// longer than its timeout was closed as idle in the same iteration, right behind its reply (seen by the
// etls soak under load with timeouts of 20-100 ms). Here the connection's own handler keeps the loop
// busy, which makes the order certain; under load it is other connections' callbacks.
func TestIdleTimeoutCountsFromLateWrite(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	for _, via := range []string{"OnData", "Execute"} {
		t.Run(via, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				// The request must reach the handler within the idle timeout of the connection's
				// opening; when it did not (lateWriteRun), the run goes again.
				conclusive(t, "the request came late and found the connection closed", func() bool {
					return lateWriteRun(t, kind, via)
				})
			})
		})
	}
}

// lateWriteRun runs one attempt of TestIdleTimeoutCountsFromLateWrite; it reports false if the
// idle timeout closed the connection before the slow handler started.
func lateWriteRun(t *testing.T, kind eddy.EngineKind, via string) bool {
	// 500 ms: at 200 ms the request came too late three attempts in a row in a CI run under -race
	// (std, session 18; once on older code too).
	const idle = 500 * time.Millisecond
	const busy = 3 * idle
	wrote := make(chan time.Time, 1)
	var started atomic.Bool // the request reached the slow handler (in OnData, or in its Execute)
	slow := func(c eddy.Conn, msg []byte) {
		started.Store(true)
		time.Sleep(busy) // keeps the loop busy before the write
		wrote <- time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	h := &closeTimeHandler{closed: make(chan closeAt, 1)}
	h.funcHandler = funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
		msg, _ := c.Next(-1)
		msg = append([]byte(nil), msg...)
		if via == "OnData" {
			slow(c, msg)
			return
		}
		if err := c.Execute(func(c eddy.Conn) { slow(c, msg) }); err != nil {
			t.Errorf("Execute: %v", err)
		}
	}}
	s := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithIdleTimeout(idle))
	c := s.dial(t)
	defer c.Close()
	if err := echoOnce(c, "late"); err != nil {
		// The run proves nothing if the slow handler started only after the idle timeout had run
		// from the connection's last read: the test goroutine, or the server's (on std the reader
		// feeds the loop, and an Execute runs after OnData), was starved that long. CI runs under
		// -race saw EOF on std at 100 ms and at 500 ms, the dial itself having been quick, and an
		// Execute that had not started 500 ms after its OnData (skipped then, as the closing
		// connection's task).
		select {
		case cl := <-h.closed:
			if !started.Load() && errors.Is(cl.err, eddy.ErrIdleTimeout) {
				return false
			}
			t.Fatalf("echo: %v (closed with %v; request handled: %v)", err, cl.err, started.Load())
		case <-time.After(10 * time.Second):
			t.Fatalf("echo: %v, and the connection did not close", err)
		}
	}
	var at time.Time
	select {
	case at = <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not finish")
	}
	select {
	case cl := <-h.closed:
		// Both instants are taken on the loop; at is before the Write.
		if took := cl.at.Sub(at); !errors.Is(cl.err, eddy.ErrIdleTimeout) || took < idle {
			t.Fatalf("closed %v after the handler's last write (reason %v); want ErrIdleTimeout, not before %v", took, cl.err, idle)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	return true
}

// closeAt is when OnClose ran, and its error.
type closeAt struct {
	at  time.Time
	err error
}

// closeTimeHandler is a funcHandler that reports when OnClose ran.
type closeTimeHandler struct {
	funcHandler
	closed chan closeAt
}

func (h *closeTimeHandler) OnClose(c eddy.Conn, err error) {
	h.closed <- closeAt{time.Now(), err}
	h.funcHandler.OnClose(c, err)
}
