package uring

import (
	"testing"

	"golang.org/x/sys/unix"
)

// armStolenRecvs arms a recv on each of stolen+ready socket pairs, then makes the first stolen ones
// readable and takes their byte away with a plain read, so that their recv's deferred work finds
// nothing and posts no CQE, and then makes the other ready ones readable: deferred work for every
// recv, the stolen first, and ready completions behind them. It returns the ready recvs' user data
// (stolen..stolen+ready-1).
func armStolenRecvs(t *testing.T, r *Ring, stolen, ready int) {
	t.Helper()
	n := stolen + ready
	pairs := make([][2]int, n)
	bufs := pinnedBytes(t, n)
	for i := range pairs {
		pairs[i] = unixPair(t)
		sqe := getSQE(t, r)
		sqe.PrepRecv(pairs[i][0], bufs[i:i+1], 0)
		sqe.UserData = uint64(i)
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	for i, p := range pairs {
		if _, err := unix.Write(p[1], []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
		if i < stolen {
			if k, err := unix.Read(p[0], b[:]); k != 1 {
				t.Fatalf("read from pair %d: %d, %v", i, k, err)
			}
		}
	}
}

// With DEFER_TASKRUN one enter runs at most 20 items of deferred work. When those post nothing,
// SubmitAndWait(0, 0) returns no CQE while completions wait behind them, and only TASKRUN_FLAG says so:
// SubmitAndRun must go on until they are posted.
func TestSubmitAndRunPostsWorkBeyondOneEnter(t *testing.T) {
	r := newRing(t, 128)
	if r.SetupFlags()&SetupDeferTaskrun == 0 {
		t.Skipf("no DEFER_TASKRUN (%v)", r.SetupFlags())
	}
	const stolen, ready = 50, 10
	armStolenRecvs(t, r, stolen, ready)

	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if got := r.CQReady(); got != 0 {
		t.Logf("one enter posted %d CQEs: this kernel ran more than %d items in it", got, stolen)
	} else if !r.TaskWorkPending() {
		t.Fatal("one enter posted nothing and TaskWorkPending is false: the ready recvs would be lost to a sleeper")
	}

	if _, err := r.SubmitAndRun(); err != nil {
		t.Fatal(err)
	}
	if got := r.CQReady(); got != ready {
		t.Fatalf("after SubmitAndRun %d CQEs are ready, want the %d recvs that had data", got, ready)
	}
	if r.TaskWorkPending() {
		t.Error("TaskWorkPending after all the work ran")
	}
	for user, c := range byUserData(t, waitCQEs(t, r, ready)) {
		if user < stolen {
			t.Errorf("CQE for a recv whose data was taken: %+v", c)
		}
		wantRes(t, c, 1)
	}
}

// Without TASKRUN_FLAG the kernel never sets IORING_SQ_TASKRUN for deferred work: TaskWorkPending
// cannot know and says false.
func TestTaskWorkPendingIsFalseWithoutTheFlag(t *testing.T) {
	requireURing(t)
	saved := setupModes
	t.Cleanup(func() { setupModes = saved })
	setupModes[0] = setupModes[1] // DEFER_TASKRUN without TASKRUN_FLAG
	r := newRing(t, 64)
	if r.SetupFlags()&SetupTaskrunFlag != 0 {
		t.Fatalf("SetupFlags() = %v, want no TASKRUN_FLAG", r.SetupFlags())
	}
	armStolenRecvs(t, r, 30, 0)
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if r.TaskWorkPending() {
		t.Error("TaskWorkPending is true on a ring without TASKRUN_FLAG")
	}
	if _, err := r.SubmitAndRun(); err != nil || r.CQReady() != 0 {
		t.Errorf("SubmitAndRun = %v with %d CQEs, want nil and none (every recv's data was taken)", err, r.CQReady())
	}
}

// A flag left set with no work queued (a race in the kernel leaves it so) must not make SubmitAndRun's
// caller believe work is left for ever: an enter with nothing to run does not clear it.
func TestSubmitAndRunClearsAStaleFlag(t *testing.T) {
	r := newRing(t, 64)
	if r.SetupFlags()&SetupTaskrunFlag == 0 {
		t.Skipf("no TASKRUN_FLAG (%v)", r.SetupFlags())
	}
	r.StaleTaskrunFlagForTest()
	if _, err := r.SubmitAndWait(0, 0); err != nil {
		t.Fatal(err)
	}
	if !r.TaskWorkPending() {
		t.Log("an enter cleared the stale flag on this kernel")
	}
	r.StaleTaskrunFlagForTest()
	if _, err := r.SubmitAndRun(); err != nil {
		t.Fatal(err)
	}
	if r.TaskWorkPending() {
		t.Error("TaskWorkPending after SubmitAndRun with no work queued: a parking loop would spin")
	}
	// Work queued afterwards is seen again.
	armStolenRecvs(t, r, 30, 2)
	if _, err := r.SubmitAndRun(); err != nil {
		t.Fatal(err)
	}
	if got := r.CQReady(); got != 2 {
		t.Errorf("%d CQEs after SubmitAndRun, want 2", got)
	}
}
