package eddy_test

import (
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A restart of reading made in a Loop.AfterFunc timer, on a loop with nothing else to do (the client
// wrote while reading was paused, and waits), reads: on uring the recv it asks for is armed by the
// submission of that iteration (armRecvs), not left for a later one that nothing would start.
func TestRestartInTimerOnIdleLoopReads(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("a Loop's timer may call SetReadPaused on the epoll and uring engines only")
		}
		h, c, sc := dialPaused(t, kind)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte("held")); err != nil {
			t.Fatal(err)
		}
		onConn(t, sc, func(c eddy.Conn) {
			c.Loop().AfterFunc(20*time.Millisecond, func() { c.SetReadPaused(false) })
		})
		waitFor(t, func() bool { return h.size.Load() == 4 }, "OnData of the input written while paused")
		if _, err := c.Write([]byte("more")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return h.size.Load() == 8 }, "OnData of the input written after the restart")
		if got := string(h.received()); got != "heldmore" {
			t.Fatalf("received %q", got)
		}
	})
}
