package eddy_test

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The form of the session-13 bug that TestIdleTimeoutCountsFromLateWrite does not reach. Its
// timeout comes due during the handler's sleep, after the iteration's clock was read, so the loop engines
// run it only in the next iteration, when uring has reaped the send's completion (which stamps the
// connection afresh): on uring, neither the stamp taken when the send is submitted nor the clock read
// again before the flush is needed there. Here the timeout is already due when an iteration starts (the
// previous one, a first slow OnData, outlasted it, and the second request came meanwhile), and that
// iteration's OnData is slow too before it writes: the timers of that same iteration see the connection
// with the write's stamp, and must not close it right behind its reply (docs/engine.md, "The loop's
// clock": "On uring the stamp is taken when the send is submitted, since its CQE comes after the
// iteration's timers").
func TestIdleDueAtIterationStartCountsFromLateWrite(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		t.Parallel()
		conclusive(t, "the second request was sent only after the first reply", func() bool {
			return dueAtStartRun(t, kind)
		})
	})
}

// dueAtStartRun runs one attempt of TestIdleDueAtIterationStartCountsFromLateWrite; it reports
// false if the client's second request reached the kernel only after the server began its first reply
// (the test goroutine starved for longer than the first handler's sleep), so that it came in an
// iteration of its own.
func dueAtStartRun(t *testing.T, kind eddy.EngineKind) bool {
	const idle = 500 * time.Millisecond
	const busy = idle + idle/2 // past the timeout
	var rounds atomic.Int32
	armed := make(chan struct{})
	wrote := make(chan time.Time, 2)
	setErr := make(chan error, 1)
	h := newCloseTimeHandler(func(c eddy.Conn) {
		msg, _ := c.Next(-1)
		msg = append([]byte(nil), msg...)
		if rounds.Add(1) == 1 {
			setErr <- c.SetIdleTimeout(idle) // due during this sleep
			close(armed)
		}
		time.Sleep(busy)
		wrote <- time.Now()
		if _, err := c.Write(msg); err != nil {
			t.Errorf("Write: %v", err)
		}
	})
	c := startServer(t, kind, h, eddy.WithLoops(1)).dial(t)
	defer c.Close()
	c.SetDeadline(time.Now().Add(2*busy + 30*time.Second))
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-armed:
	case <-time.After(30 * time.Second):
		t.Fatal("the first request did not reach the handler")
	}
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	sent := time.Now() // "b" is in the kernel
	got := make([]byte, 2)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ab" {
		t.Fatalf("replies %q, %v; want \"ab\"", got, err)
	}
	if err := <-setErr; err != nil {
		t.Fatalf("SetIdleTimeout: %v", err)
	}
	first, last := <-wrote, <-wrote
	if !sent.Before(first) {
		return false
	}
	h.wantIdleCloseFrom(t, last, idle) // last is before the second Write
	return true
}
