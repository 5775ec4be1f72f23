package eddy

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadRuns returns how many times thread tid of this process has been scheduled (schedstat).
func threadRuns(t *testing.T, tid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/task/" + strconv.Itoa(tid) + "/schedstat")
	if err != nil {
		t.Skipf("no schedstat: %v", err)
	}
	f := strings.Fields(string(b))
	n, _ := strconv.ParseInt(f[2], 10, 64)
	return n
}

// After a burst grew the receive window, the trim shrinks it back over a few periods and then, the
// loop being idle with nothing left to discard, stops: "after that, the next receive schedules the
// trim" (urTrimBufs). The buffers the kernel took during the burst stay posted (posted counts down
// only as receives use them), and the trim used to re-arm itself for as long as w.posted > w.window,
// so every urBufTrimPeriod for ever on an idle loop (2 wake-ups a second per loop). Not a spin, but a
// timer that a quiet loop should not have.
//
// The test counts the trim's runs (urStats.trims). It used to count the loop thread's wake-ups
// (schedstat), which strays from outside the engine also raise: a CI run saw 5 in 4 s, and a process
// stopped and continued (SIGSTOP, as a stalled machine) wakes every thread each time.
func TestUringIdleLoopStopsTrimming(t *testing.T) {
	requireUring(t)
	e, addr := startUring(t, plainEcho{}, WithReadBufferSize(16<<10))
	l := e.impl.(*uringEngine).loops[0]
	echoConcurrently(t, addr, 64, 256<<10)
	w := &l.bufWin
	var grown int
	onLoop(t, l, func() { grown = w.window })
	if l.stats.recvENOBUFS == 0 || grown <= w.minWindow {
		t.Skipf("the traffic did not outrun the window (%d ENOBUFS, window %d)", l.stats.recvENOBUFS, grown)
	}
	// The window halves once per quiet period down to its floor, then one more period finds the loop
	// idle and the trim stops: 7 periods from 512 buffers, counted in the loop's own periods however
	// late its thread runs. A trim that re-arms for ever is never found stopped.
	var window, posted, trims int
	var pending bool
	look := func() {
		onLoop(t, l, func() { window, posted, pending, trims = w.window, w.posted, w.trim.Pending(), l.stats.trims })
	}
	for waited := 0; ; waited++ {
		look()
		if !pending {
			break
		}
		if waited == 60 {
			t.Fatalf("an idle loop still trims every %v after %d periods: window %d (floor %d, grew to %d), %d buffers posted, %d trims",
				urBufTrimPeriod, waited, window, w.minWindow, grown, posted, trims)
		}
		time.Sleep(urBufTrimPeriod)
	}
	stopped := trims
	time.Sleep(4 * urBufTrimPeriod)
	look()
	t.Logf("window %d grew to %d, now %d with %d posted; %d trims, then %d in %v idle",
		w.minWindow, grown, window, posted, stopped, trims-stopped, 4*urBufTrimPeriod)
	if pending || trims != stopped {
		t.Errorf("the trim started again on an idle loop (pending %v, %d runs in %v): window %d, %d buffers posted",
			pending, trims-stopped, 4*urBufTrimPeriod, window, posted)
	}
}

// On kernels whose eventfd cannot be read without blocking through io_uring, the loop's wake-up read
// (the eventfd is O_NONBLOCK) ends with EAGAIN at once instead of waiting; re-armed at once, it made
// the loop spin. RWF_NOWAIT (urWakeNoWait) gives this kernel the same behaviour: the idle loop must
// stay asleep, and wake-ups from other goroutines must still reach it.
func TestUringWakeReadEndingWithEAGAINDoesNotSpin(t *testing.T) {
	requireUring(t)
	urWakeNoWait = true
	t.Cleanup(func() { urWakeNoWait = false })
	e, _ := startUring(t, plainEcho{})
	l := e.impl.(*uringEngine).loops[0]
	var tid int
	onLoop(t, l, func() { tid = unix.Gettid() })
	time.Sleep(100 * time.Millisecond)
	before := threadRuns(t, tid)
	time.Sleep(500 * time.Millisecond)
	if woke := threadRuns(t, tid) - before; woke > 20 {
		t.Fatalf("the idle loop ran %d times in 500 ms", woke)
	}
	for i := range 20 { // each Execute must wake the sleeping loop
		time.Sleep(5 * time.Millisecond)
		done := make(chan struct{})
		l.Execute(func() { close(done) })
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("wake-up %d did not reach the loop", i)
		}
	}
	var polls int
	onLoop(t, l, func() { polls = l.stats.wakePolls })
	if polls == 0 {
		t.Fatal("no wake-up went through the poll: the read did not end with EAGAIN, the test tests nothing")
	}
}
