package uring

import (
	"testing"
	"time"
)

// SubmitAndWait's doc: it "waits ... until at least minComplete completions are ready or timeout has
// passed". With a min wait (SetMinWait) longer than the timeout, the kernel arms only the min-wait
// timer (io_cqring_schedule_timeout), so the call lasted the min wait, not the timeout, until enter
// left such a min wait out (session 19).
func TestMinWaitLongerThanTheTimeoutIsLeftOut(t *testing.T) {
	r := newRing(t, 8)
	requireMinWait(t, r)
	if err := r.SetMinWait(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := r.SubmitAndWait(2, 10*time.Millisecond)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 0, nil", n, err)
	}
	if elapsed > 150*time.Millisecond {
		t.Fatalf("SubmitAndWait(2, 10ms) with a 300ms min wait returned after %v: the timeout was overshot by the min wait", elapsed)
	}
}

// SubmitAndWait's doc: "A negative timeout waits without limit", and with a min wait "the wait also
// ends once the min wait has passed and at least one completion is ready". The kernel treats a min
// wait without a general timeout as the timeout (io_cqring_min_timer_wakeup: "no general timeout ...
// we are done"), so an unbounded wait for a batch returned after the min wait with no completion at
// all (ETIME, turned into 0, nil). It is now given a long timeout and waits on (session 19).
func TestUnboundedWaitWithAMinWaitWaitsOn(t *testing.T) {
	r := newRing(t, 8)
	requireMinWait(t, r)
	if err := r.SetMinWait(10 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	ts := pinned(t, &Timespec{Nsec: int64(300 * time.Millisecond)})
	sqe := getSQE(t, r)
	sqe.PrepTimeout(ts, 0, 0)
	sqe.UserData = 7
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	n, err := r.SubmitAndWait(2, -1)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if r.CQReady() == 0 {
		t.Fatalf("SubmitAndWait(2, -1) with a 10ms min wait returned %d, nil after %v with no completion ready (want: wait until the 300ms timeout op completes)", n, elapsed)
	}
	waitCQEs(t, r, 1)
}

// The held part of a wait (SetHeldWait) is a raw system call that the runtime's own signals (SIGURG,
// preemption) interrupt. SubmitAndWait then set minComplete to 1 ("the min wait is over") although
// the min wait had not passed, and the rest of the wait returned with the one completion ready: the
// batch was abandoned before the min wait. The rest now keeps what is left of the min wait. (A signal
// in the rest of the wait still ends it: the kernel returns 0 when completions are ready.) If no
// signal comes in the held part, the test passes on any code.
func TestHeldWaitCutShortKeepsTheMinWait(t *testing.T) {
	r := newRing(t, 8)
	requireMinWait(t, r)
	const minWait = 200 * time.Millisecond
	if err := r.SetMinWait(minWait); err != nil {
		t.Fatal(err)
	}
	r.SetHeldWait(time.Second)
	getSQE(t, r).PrepNop()
	// No signal is sent here: the runtime's monitor preempts the goroutine, which looks busy in the
	// raw held call, within about 10-20 ms (SIGURG). A signal sent by the test could come late, in the
	// rest of the wait, which it ends (the kernel returns once completions are ready).
	start := time.Now()
	_, err := r.SubmitAndWait(8, 5*time.Second)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed < minWait-10*time.Millisecond {
		t.Fatalf("SubmitAndWait(8) with 1 completion ready and a %v min wait returned after %v (a signal hit the held part)", minWait, elapsed)
	}
}

// MSG_RING to a full CQ is no error: with NODROP the message goes to the target's overflow backlog,
// the sender's CQE has Res 0, and the target reaps the message after the CQEs ahead of it.
// PrepMsgRing's doc promised -EOVERFLOW (found in session 19).
func TestMsgRingToAFullTargetOverflows(t *testing.T) {
	src := newRing(t, 4)
	dst, err := New(2, WithCQSize(2)) // same thread as src (newRing locked it)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for i := 0; i < 2; i++ {
		sqe := dst.GetSQE()
		sqe.PrepNop()
		sqe.UserData = uint64(i)
	}
	if _, err := dst.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if dst.CQReady() != dst.CQEntries() {
		t.Fatalf("target CQ holds %d of %d", dst.CQReady(), dst.CQEntries())
	}
	sqe := getSQE(t, src)
	sqe.PrepMsgRing(dst.Fd(), 5, 99, 0)
	sqe.UserData = 1
	if c := waitCQEs(t, src, 1)[0]; c.Res != 0 || !dst.NeedsEnter() {
		t.Fatalf("MSG_RING to a full CQ: sender CQE res %d (%v), target's overflow flag %v; want 0, true",
			c.Res, c.Err(), dst.NeedsEnter())
	}
	got := waitCQEs(t, dst, 3)
	if last := got[2]; last.UserData != 99 || last.Res != 5 {
		t.Fatalf("the target's CQEs: %+v; want the message (99, 5) after the two NOPs", got)
	}
}
