package eddy_test

import (
	"errors"
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
				// The request must come within the idle timeout of the connection's opening: when
				// the test goroutine was starved that long (a CI run under -race saw EOF on std at
				// 100 ms), the run proves nothing and goes again.
				conclusive(t, "the request came late and found the connection closed", func() bool {
					return lateWriteRun(t, kind, via)
				})
			})
		})
	}
}

// lateWriteRun runs one attempt of TestIdleTimeoutCountsFromLateWrite; it reports false if the
// connection closed before the request was answered and the request came late.
func lateWriteRun(t *testing.T, kind eddy.EngineKind, via string) bool {
	// 500 ms: at 200 ms the request came too late three attempts in a row in a CI run under -race
	// (std, session 18; once on older code too).
	const idle = 500 * time.Millisecond
	const busy = 3 * idle
	wrote := make(chan time.Time, 1)
	slow := func(c eddy.Conn, msg []byte) {
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
	dialed := time.Now()
	c := s.dial(t)
	defer c.Close()
	late := time.Since(dialed) >= idle/2
	if err := echoOnce(c, "late"); err != nil {
		if late {
			return false
		}
		t.Fatalf("echo: %v", err)
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
