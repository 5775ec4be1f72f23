package eddy_test

import (
	"io"
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
//
// The slow handler arms the timeout itself (SetIdleTimeout, its first step), so that the run does not
// depend on when the request reaches it. The timeout used to be the engine's (WithIdleTimeout), armed at
// the connection's open: the request then had to reach the handler within the timeout of the open, and
// under extreme load (CI beside a fuzzing campaign, 2 cores) the test goroutine's dial-to-write or the
// server's read-to-Execute took longer than 500 ms in each of the three attempts (review h46). What the
// test proves is unchanged: the timeout comes due during the handler's sleep, the write after it stamps
// the connection, and the close must count from that stamp. Its only bound is a lower one, which load
// cannot break (load only makes the sleep, and everything after the write, longer); the echo's deadline
// (echoOnce's 3 s, half of it the handler's sleep) is now only a guard against a hang. The timeout is due
// here after the iteration's clock was read, so the loop engines run it in the next iteration: the form
// in which it is due within the writing iteration is TestIdleDueAtIterationStartCountsFromLateWrite.
func TestIdleTimeoutCountsFromLateWrite(t *testing.T) {
	t.Parallel() // mostly waiting for timeouts
	for _, via := range []string{"OnData", "Execute"} {
		t.Run(via, func(t *testing.T) {
			t.Parallel()
			forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
				t.Parallel() // each run its own server with one loop, and a lower bound only: side by side
				lateWriteRun(t, kind, via)
			})
		})
	}
}

// lateWriteRun runs TestIdleTimeoutCountsFromLateWrite on one engine, with the slow handler run in
// OnData or in an Execute from it.
func lateWriteRun(t *testing.T, kind eddy.EngineKind, via string) {
	const idle = 500 * time.Millisecond
	const busy = 3 * idle // past the timeout: it is due when the handler writes
	wrote := make(chan time.Time, 1)
	setErr := make(chan error, 1)
	slow := func(c eddy.Conn, msg []byte) {
		setErr <- c.SetIdleTimeout(idle) // from now: due during the sleep
		time.Sleep(busy)                 // keeps the loop busy before the write
		wrote <- time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write: %v", err)
		}
	}
	h := newCloseTimeHandler(func(c eddy.Conn) {
		msg, _ := c.Next(-1)
		msg = append([]byte(nil), msg...)
		if via == "OnData" {
			slow(c, msg)
			return
		}
		if err := c.Execute(func(c eddy.Conn) { slow(c, msg) }); err != nil {
			t.Errorf("Execute: %v", err)
		}
	})
	c := startServer(t, kind, h, eddy.WithLoops(1)).dial(t)
	defer c.Close()
	// No timeout is armed until the handler runs, so the reply comes whenever the machine lets it:
	// the deadline only keeps a broken run from hanging.
	c.SetDeadline(time.Now().Add(busy + 30*time.Second))
	if _, err := c.Write([]byte("late")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len("late"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "late" {
		t.Fatalf("echo: %q, %v", got, err)
	}
	if err := <-setErr; err != nil {
		t.Fatalf("SetIdleTimeout: %v", err)
	}
	h.wantIdleCloseFrom(t, <-wrote, idle) // wrote was sent before the Write, whose reply came
}
