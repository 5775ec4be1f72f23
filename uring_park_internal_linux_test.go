package eddy

import (
	"context"
	"io"
	"net"
	"runtime"
	"testing"
	"time"
)

// heldWaitSoon calls heldWait until it returns want, for up to 5 s: other goroutines of the test binary
// may be runnable for a moment (timers), and heldWait never holds then.
func heldWaitSoon(t *testing.T, l *urLoop, want time.Duration) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := l.heldWait()
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("heldWait = %v (active %d, now %v, no hold until %v), want %v",
				got, l.active, time.Duration(l.now), time.Duration(l.noHoldUntil), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// A loop that parks pauses holding its P, longer each time, after held waits that found nothing, until a
// held wait brings data; the completions of its own sends do not count.
func TestUringParkingLoopPausesHoldingAfterEmptyHeldWaits(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	l := &urLoop{parking: true, holdPause: 1}
	l.base = time.Now()
	l.runnable[0].Name = "/sched/goroutines/runnable:goroutines"

	heldWaitSoon(t, l, urHeldWait)

	epoch := int64(urEpoch)
	for _, pause := range []int64{1, 2, 4, 8, 16, 32, 64, 64} {
		l.now = l.clock()
		l.heldEmpty()
		if got := l.noHoldUntil - l.now; got < pause*epoch || got > pause*epoch+epoch/2 {
			t.Fatalf("after an empty held wait: no hold for %v, want %v", time.Duration(got), time.Duration(pause*epoch))
		}
		l.now = l.noHoldUntil - 1
		if d := l.heldWait(); d != 0 {
			t.Fatalf("heldWait = %v during the pause, want 0", d)
		}
		l.now = l.noHoldUntil
		heldWaitSoon(t, l, urHeldWait)
	}

	// A held wait that ended with the completions of sends only leaves the pause as it is; one that
	// brought data ends it.
	l.heldFound, l.recvSeen = true, false
	l.afterHeld()
	if l.holdPause != urHoldPauseMax {
		t.Fatalf("after a held wait with sends only: pause %d, want %d", l.holdPause, urHoldPauseMax)
	}
	l.heldFound, l.recvSeen = true, false
	l.countActive(&urConn{l: l})
	l.afterHeld()
	if l.holdPause != 1 || l.heldFound {
		t.Fatalf("after a held wait that brought data: pause %d (found %v), want 1", l.holdPause, l.heldFound)
	}

	// A loop that does not park holds whenever nothing is runnable, paused or not.
	l.parking = false
	l.now = l.noHoldUntil - 1
	heldWaitSoon(t, l, urHeldWait)
}

// With one P, which the loop holds, a client in the same process is served by a loop that parks: its held
// waits find nothing (the client cannot run meanwhile), so it pauses holding and parks, and the
// wake-ups that Stop and a task need reach it where it sleeps. With two Ps and one loop it does not
// park: a P is free for the client.
func TestUringLoopParksWhenItHoldsTheOnlyP(t *testing.T) {
	requireUring(t)
	for _, tc := range []struct {
		procs int
		park  bool
	}{{1, true}, {2, false}} {
		t.Run(map[bool]string{true: "parks", false: "waits in the kernel"}[tc.park], func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(tc.procs))
			e, addr := startUring(t, plainEcho{})
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(30 * time.Second))
			start := time.Now()
			msg, got := []byte("ping"), make([]byte, 4)
			for i := 0; i < 200; i++ {
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, got); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(5 * time.Millisecond) // the loop goes back to sleep
			wakeAndStop(t, e)
			elapsed := time.Since(start)
			l := e.impl.(*uringEngine).loops[0]
			t.Logf("loop counters after %v: %+v", elapsed, l.stats)
			if l.parker == nil { // the engine needs 6.0 or later, and the parker 5.8
				t.Fatal("the loop has no parker")
			}
			switch {
			case tc.park && (l.stats.parks < 100 || l.stats.heldEmpty > maxEmpty(elapsed)):
				t.Fatalf("%d parks and %d empty held waits in %v, want parks and at most %d empty held waits",
					l.stats.parks, l.stats.heldEmpty, elapsed, maxEmpty(elapsed))
			case !tc.park && l.stats.parks != 0:
				t.Fatalf("%d parks with a P free, want none", l.stats.parks)
			}
		})
	}
}

// wakeAndStop checks that a task and then Stop wake the engine's (sleeping) loop.
func wakeAndStop(t *testing.T, e *Engine) {
	t.Helper()
	ran := make(chan struct{})
	e.Loops()[0].Execute(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("a task did not wake the loop")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
}

// maxEmpty bounds the empty held waits of a loop whose held waits never bring data, over d: the pauses
// between them double from one epoch up to urHoldPauseMax (1 + 2 + ... + 64 = 127 epochs for the first
// eight), then stay there; two more for the rounding of the epochs.
func maxEmpty(d time.Duration) int {
	n, pause, spent := 1, 1, time.Duration(0)
	for spent += time.Duration(pause) * urEpoch; spent <= d; spent += time.Duration(pause) * urEpoch {
		n++
		pause = min(2*pause, urHoldPauseMax)
	}
	return n + 2
}

// If the runtime's poller fails the parked loop (here: its descriptor is closed under it), the loop logs
// it, waits in io_uring_enter from then on, and keeps serving.
func TestUringLoopSurvivesAFailedPark(t *testing.T) {
	requireUring(t)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	e, addr := startUring(t, plainEcho{})
	l := e.impl.(*uringEngine).loops[0]
	if l.parker == nil {
		t.Fatal("the loop has no parker")
	}
	echo := func(c net.Conn) {
		t.Helper()
		msg, got := []byte("ping"), make([]byte, 4)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatal(err)
		}
	}
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	echo(c)
	time.Sleep(5 * time.Millisecond) // the loop parks
	l.parker.pf.close()
	for i := 0; i < 100; i++ {
		echo(c)
	}
	wakeAndStop(t, e)
	if l.parker.failed == nil || l.parking {
		t.Fatalf("after the poller failed: failed %v, parking %v; want the failure kept and no parking", l.parker.failed, l.parking)
	}
}
