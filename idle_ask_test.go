package eddy_test

import (
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// After the std engine's idle check asked the reader (a read deadline in the past) and the reader
// answered with input waiting in the socket, the connection stays open and reads on: the ask's
// deadline must not be left in place (the next Read would fail at once and the connection close with
// a read timeout, or the reader spin). Later input is echoed, and the connection closes as idle in
// the end, with ErrIdleTimeout. Every engine behaves so.
func TestIdleAskAnsweredThenReadsOn(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		conclusive(t, "the peer's writes came too late", func() bool {
			return idleAskReadsOnRun(t, kind)
		})
	})
}

func idleAskReadsOnRun(t *testing.T, kind eddy.EngineKind) bool {
	const idle = 600 * time.Millisecond
	hi, inTime := startHeldIdle(t, kind, idle, echoData)
	if !inTime {
		return false
	}
	hi.releaseAt(hi.sentA.Add(2 * idle)) // the idle check is due, and waits for OnData
	c := hi.c
	sentC := time.Now()
	if _, err := c.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, 0, 3)
	buf := make([]byte, 16)
	for len(got) < 3 {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if time.Since(sentC) >= idle*4/5 {
				return false // "c" may have come after a new idle deadline
			}
			err2 := hi.h.waitClosed(t, 30*time.Second)
			t.Fatalf("echo %q, then %v; OnClose(%v)", got, err, err2)
		}
	}
	if string(got) != "abc" {
		t.Fatalf("echo %q, want \"abc\"", got)
	}
	wantIdleClose(t, hi.h.counter, 30*time.Second)
	// The close counts from "c", read after it was sent: a timer that fired on an older stamp closes
	// sooner (a lower bound only; a loaded machine closes later).
	if d := time.Since(sentC); d < idle {
		t.Fatalf("closed as idle %v after \"c\" was sent, sooner than the %v timeout", d, idle)
	}
	wantPeerReads(t, c, "") // after the idle close
	return true
}
