package uring

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A held wait (SetHeldWait) is only the first part of SubmitAndWait's wait: these tests check that the
// call as a whole keeps its contract, whichever part the completion, the timeout or a signal falls in.

func TestHeldWaitLastsTheWholeTimeout(t *testing.T) {
	r := newRing(t, 4)
	r.SetHeldWait(2 * time.Millisecond)
	start := time.Now()
	n, err := r.SubmitAndWait(1, 30*time.Millisecond)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 0, nil", n, err)
	}
	if elapsed < 25*time.Millisecond || elapsed > time.Second {
		t.Fatalf("SubmitAndWait returned after %v, want about 30ms: the held part's ETIME ended the wait", elapsed)
	}
}

func TestHeldWaitLongerThanTheTimeoutEndsAtTheTimeout(t *testing.T) {
	r := newRing(t, 4)
	r.SetHeldWait(2 * time.Second)
	start := time.Now()
	n, err := r.SubmitAndWait(1, 10*time.Millisecond)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 0, nil", n, err)
	}
	if elapsed < 8*time.Millisecond || elapsed > time.Second {
		t.Fatalf("SubmitAndWait returned after %v, want about 10ms", elapsed)
	}
}

// A completion that comes after the held part, with one P: the wait goes on through the scheduler and
// returns with it, also when the call submitted something (the kernel then returns the count submitted,
// not ETIME, at the end of the held part).
func TestHeldWaitReturnsACompletionAfterTheHeldPart(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	r := newRing(t, 4)
	r.SetHeldWait(2 * time.Millisecond)
	ts := Timespec{Nsec: int64(20 * time.Millisecond)}
	sqe := getSQE(t, r)
	sqe.PrepTimeout(&ts, 0, 0)
	sqe.UserData = 9
	start := time.Now()
	n, err := r.SubmitAndWait(1, -1)
	elapsed := time.Since(start)
	runtime.KeepAlive(&ts)
	if n != 1 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 1, nil", n, err)
	}
	if r.CQReady() != 1 {
		t.Fatalf("SubmitAndWait returned after %v with %d CQEs ready, want 1: it stopped waiting after the held part", elapsed, r.CQReady())
	}
	cqes := waitCQEs(t, r, 1)
	if c := cqes[0]; c.UserData != 9 || c.Res != -int32(unix.ETIME) {
		t.Fatalf("CQE %+v, want user_data 9 res -ETIME (the timeout op expired)", c)
	}
	if elapsed < 15*time.Millisecond {
		t.Fatalf("the wait returned after %v, before the 20ms timeout op could complete", elapsed)
	}
}

// Signals during the held part (the runtime's preemption requests) do not cut the wait short either.
func TestHeldWaitInterruptedBySignalsLastsTheWholeTimeout(t *testing.T) {
	waitThroughSignals(t, 50*time.Millisecond)
}
