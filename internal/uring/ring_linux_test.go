package uring

import (
	"errors"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestKernelStructSizes(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  uintptr
		want uintptr
	}{
		{"io_uring_params", unsafe.Sizeof(params{}), 120},
		{"io_uring_sqe", unsafe.Sizeof(SQE{}), 64},
		{"io_uring_cqe", unsafe.Sizeof(CQE{}), 16},
		{"io_uring_buf_reg", unsafe.Sizeof(bufReg{}), 40},
		{"io_uring_getevents_arg", unsafe.Sizeof(getEventsArg{}), 24},
		{"io_uring_rsrc_update", unsafe.Sizeof(rsrcUpdate{}), 16},
		{"__kernel_timespec", unsafe.Sizeof(Timespec{}), 16},
	} {
		if tc.got != tc.want {
			t.Errorf("sizeof(%s) = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if off := unsafe.Offsetof(SQE{}.UserData); off != 32 {
		t.Errorf("offsetof(sqe.user_data) = %d, want 32", off)
	}
	if off := unsafe.Offsetof(SQE{}.Addr3); off != 48 {
		t.Errorf("offsetof(sqe.addr3) = %d, want 48", off)
	}
	if off := unsafe.Offsetof(params{}.sqOff); off != 40 {
		t.Errorf("offsetof(params.sq_off) = %d, want 40", off)
	}
}

func TestNewChoosesBestFlags(t *testing.T) {
	r := newRing(t, 8)
	t.Logf("setup flags %v; features %v", r.SetupFlags(), r.Features())
	want := SetupSubmitAll
	if kernelAtLeast(6, 1) {
		want |= SetupSingleIssuer | SetupDeferTaskrun | SetupTaskrunFlag
	}
	if kernelAtLeast(6, 6) {
		want |= SetupNoSQArray
	}
	if got := r.SetupFlags(); got&want != want {
		t.Errorf("SetupFlags() = %v, want at least %v", got, want)
	}
	if got := r.SetupFlags() & (SetupSQPoll | SetupIOPoll); got != 0 {
		t.Errorf("SetupFlags() has %v, which must stay off", got)
	}
	if r.SQEntries() != 8 || r.CQEntries() != 16 {
		t.Errorf("entries sq=%d cq=%d, want 8 and 16", r.SQEntries(), r.CQEntries())
	}
}

func TestNewWithoutSingleIssuerUsesCoopTaskrun(t *testing.T) {
	r := newRing(t, 8, WithoutSingleIssuer())
	got := r.SetupFlags()
	if got&(SetupSingleIssuer|SetupDeferTaskrun) != 0 {
		t.Errorf("SetupFlags() = %v, want no SINGLE_ISSUER or DEFER_TASKRUN", got)
	}
	if kernelAtLeast(5, 19) && got&(SetupCoopTaskrun|SetupTaskrunFlag) != SetupCoopTaskrun|SetupTaskrunFlag {
		t.Errorf("SetupFlags() = %v, want COOP_TASKRUN|TASKRUN_FLAG", got)
	}
}

func TestNewWithCQSize(t *testing.T) {
	r := newRing(t, 8, WithCQSize(1000))
	if r.CQEntries() != 1024 || r.SetupFlags()&SetupCQSize == 0 {
		t.Errorf("CQEntries() = %d with flags %v, want 1024 and CQSIZE", r.CQEntries(), r.SetupFlags())
	}
}

func TestNewRejectsBadSizes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries uint32
		opts    []Option
	}{
		{"zero entries", 0, nil},
		{"too many entries", maxEntries + 1, nil},
		{"cq smaller than sq", 64, []Option{WithCQSize(32)}},
		{"cq too large", 64, []Option{WithCQSize(maxCQEntries + 1)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.entries, tc.opts...); !errors.Is(err, unix.EINVAL) {
				t.Errorf("New = %v, want EINVAL", err)
			}
		})
	}
}

func TestNopRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"default", nil},
		{"sq array", []Option{WithSQArray()}},
		{"without single issuer", []Option{WithoutSingleIssuer()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRing(t, 8, tc.opts...)
			// Two rounds over more SQEs than the ring holds, so indices wrap.
			for round := uint64(0); round < 3; round++ {
				for i := uint64(0); i < 8; i++ {
					sqe := getSQE(t, r)
					sqe.PrepNop()
					sqe.UserData = round<<32 | i
				}
				n, err := r.SubmitAndWait(8, waitLimit)
				if err != nil || n != 8 {
					t.Fatalf("SubmitAndWait = %d, %v; want 8, nil", n, err)
				}
				got := byUserData(t, waitCQEs(t, r, 8))
				for i := uint64(0); i < 8; i++ {
					c, ok := got[round<<32|i]
					if !ok {
						t.Fatalf("no CQE for user_data %#x: %+v", round<<32|i, got)
					}
					wantRes(t, c, 0)
				}
			}
		})
	}
}

func TestGetSQEReturnsNilWhenFull(t *testing.T) {
	r := newRing(t, 4)
	for i := 0; i < 4; i++ {
		getSQE(t, r).PrepNop()
	}
	if sqe := r.GetSQE(); sqe != nil {
		t.Fatal("GetSQE on a full queue returned an SQE")
	}
	if r.SQSpace() != 0 || r.SQPending() != 4 {
		t.Fatalf("SQSpace %d SQPending %d, want 0 and 4", r.SQSpace(), r.SQPending())
	}
	if n, err := r.Submit(); n != 4 || err != nil {
		t.Fatalf("Submit = %d, %v; want 4, nil", n, err)
	}
	if r.SQSpace() != 4 {
		t.Fatalf("SQSpace after Submit = %d, want 4", r.SQSpace())
	}
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 5)
}

func TestGetSQEReturnsZeroedSQE(t *testing.T) {
	r := newRing(t, 1)
	sqe := getSQE(t, r)
	sqe.PrepRecvMultishot(3, 7, 0)
	sqe.UserData = 9
	sqe.Flags |= SQEIOLink
	// Turn it into a NOP so that submitting it is harmless, then check the slot is cleared on reuse.
	*sqe = SQE{Opcode: OpNop, UserData: 1}
	waitCQEs(t, r, 1)
	if sqe := getSQE(t, r); *sqe != (SQE{}) { // the same slot, as the ring has one
		t.Fatalf("GetSQE returned a dirty SQE: %+v", *sqe)
	}
	waitCQEs(t, r, 1) // the zero SQE is a NOP
}

func TestSetupFallsBackOnEINVAL(t *testing.T) {
	requireURing(t)
	saved := setupModes
	t.Cleanup(func() { setupModes = saved })
	// An unknown flag makes the best mode fail with EINVAL, as DEFER_TASKRUN does before 6.1.
	setupModes[0] |= 1 << 31
	r := newRing(t, 8)
	want := setupModes[1]
	if kernelAtLeast(6, 6) {
		want |= SetupNoSQArray
	}
	if got := r.SetupFlags(); got != want {
		t.Fatalf("SetupFlags() = %v, want the second mode %v", got, want)
	}
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 1)
}

func TestSubmitAndWaitTimeoutIsNotAnError(t *testing.T) {
	r := newRing(t, 4)
	start := time.Now()
	n, err := r.SubmitAndWait(1, 30*time.Millisecond)
	elapsed := time.Since(start)
	if n != 0 || err != nil {
		t.Fatalf("SubmitAndWait = %d, %v; want 0, nil (ETIME is a normal return)", n, err)
	}
	if elapsed < 25*time.Millisecond || elapsed > time.Second {
		t.Fatalf("SubmitAndWait returned after %v, want about 30ms", elapsed)
	}
	if r.CQReady() != 0 {
		t.Fatalf("CQReady = %d, want 0", r.CQReady())
	}
}

func TestSubmitAndWaitZeroTimeoutDoesNotBlock(t *testing.T) {
	r := newRing(t, 4)
	start := time.Now()
	if _, err := r.SubmitAndWait(1, 0); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 10*time.Millisecond {
		t.Fatalf("SubmitAndWait(1, 0) took %v", d)
	}
	// With DEFER_TASKRUN the zero-timeout call must still post completions.
	getSQE(t, r).PrepNop()
	deadline := time.Now().Add(waitLimit)
	for r.CQReady() == 0 && time.Now().Before(deadline) {
		if _, err := r.SubmitAndWait(1, 0); err != nil {
			t.Fatal(err)
		}
	}
	if r.CQReady() != 1 {
		t.Fatalf("CQReady = %d after polling, want 1", r.CQReady())
	}
}

func TestPeekBatchLeavesCQEsUntilAdvance(t *testing.T) {
	r := newRing(t, 8)
	for i := 0; i < 5; i++ {
		sqe := getSQE(t, r)
		sqe.PrepNop()
		sqe.UserData = uint64(100 + i)
	}
	if _, err := r.SubmitAndWait(5, waitLimit); err != nil {
		t.Fatal(err)
	}
	var cqes [3]CQE
	if n := r.PeekBatch(cqes[:]); n != 3 {
		t.Fatalf("PeekBatch = %d, want 3", n)
	}
	if n := r.PeekBatch(cqes[:]); n != 3 || r.CQReady() != 5 {
		t.Fatalf("PeekBatch again = %d with %d ready, want 3 and 5", n, r.CQReady())
	}
	r.Advance(3)
	if n := r.Reap(cqes[:]); n != 2 || r.CQReady() != 0 {
		t.Fatalf("Reap = %d with %d ready, want 2 and 0", n, r.CQReady())
	}
}

func TestCQOverflowIsKeptAndFlushed(t *testing.T) {
	r := newRing(t, 8, WithCQSize(8))
	// 24 NOPs into a CQ of 8 without reaping: the kernel keeps the rest in its backlog (NODROP).
	for i := 0; i < 3; i++ {
		for j := 0; j < 8; j++ {
			sqe := getSQE(t, r)
			sqe.PrepNop()
			sqe.UserData = uint64(i*8 + j)
		}
		if _, err := r.SubmitAndWait(0, 0); err != nil {
			t.Fatal(err)
		}
	}
	if !r.NeedsEnter() {
		t.Fatal("NeedsEnter() = false with an overflowed CQ")
	}
	got := byUserData(t, waitCQEs(t, r, 24))
	if len(got) != 24 || r.CQOverflow() != 0 {
		t.Fatalf("got %d distinct CQEs, %d dropped; want 24 and 0", len(got), r.CQOverflow())
	}
}

func TestCloseTwiceAndUseAfterClose(t *testing.T) {
	requireURing(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	r, err := New(8)
	if err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepNop()
	if err := r.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := r.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close = %v, want ErrClosed", err)
	}
	if sqe := r.GetSQE(); sqe != nil {
		t.Fatal("GetSQE after Close returned an SQE")
	}
	if _, err := r.Submit(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close = %v, want ErrClosed", err)
	}
	if _, err := r.SubmitAndWait(1, time.Millisecond); !errors.Is(err, ErrClosed) {
		t.Fatalf("SubmitAndWait after Close = %v, want ErrClosed", err)
	}
	var cqes [4]CQE
	if n := r.Reap(cqes[:]); n != 0 || r.CQReady() != 0 || r.Fd() != -1 {
		t.Fatalf("after Close: Reap %d, CQReady %d, Fd %d; want 0, 0, -1", n, r.CQReady(), r.Fd())
	}
}

func TestCreateAndClose200RingsLeaksNothing(t *testing.T) {
	requireURing(t)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	fdsBefore, mapsBefore := countFDs(t), countRingMappings(t)
	for i := 0; i < 200; i++ {
		opts := []Option{WithCQSize(256)}
		if i%2 == 1 {
			opts = append(opts, WithSQArray())
		}
		r, err := New(64, opts...)
		if err != nil {
			t.Fatalf("ring %d: %v", i, err)
		}
		if i == 0 && countRingMappings(t) == mapsBefore {
			t.Fatal("a ring's mappings are not visible in /proc/self/maps; the leak check would be blind")
		}
		getSQE(t, r).PrepNop()
		waitCQEs(t, r, 1)
		if err := r.Close(); err != nil {
			t.Fatalf("ring %d Close: %v", i, err)
		}
	}
	if fds, maps := countFDs(t), countRingMappings(t); fds != fdsBefore || maps != mapsBefore {
		t.Fatalf("after 200 rings: %d fds and %d ring mappings, want %d and %d", fds, maps, fdsBefore, mapsBefore)
	}
}

func TestSingleIssuerBindsRingToItsThread(t *testing.T) {
	r := newRing(t, 8)
	if r.SetupFlags()&SetupSingleIssuer == 0 {
		t.Skipf("no SINGLE_ISSUER on this kernel (flags %v)", r.SetupFlags())
	}
	// Another goroutine locked to its own thread: the test goroutine holds this one.
	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.UserData = 7
		_, err := r.Submit()
		errc <- err
	}()
	if err := <-errc; !errors.Is(err, unix.EEXIST) {
		t.Fatalf("Submit from another thread = %v, want EEXIST", err)
	}
	// The SQE is still queued, and the owning thread submits it.
	c := waitCQEs(t, r, 1)[0]
	if c.UserData != 7 || c.Res != 0 {
		t.Fatalf("CQE %+v, want user_data 7 res 0", c)
	}
}

func TestSubmitAndWaitResumesAfterEINTR(t *testing.T) {
	waitThroughSignals(t, 0)
}

// WithPlainTaskrun sets up a ring with none of the task-running modes, which any thread may use.
func TestWithPlainTaskrun(t *testing.T) {
	r, err := New(8, WithPlainTaskrun())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if f := r.SetupFlags(); f&(SetupDeferTaskrun|SetupCoopTaskrun|SetupSingleIssuer|SetupTaskrunFlag) != 0 {
		t.Fatalf("setup flags %v: want no task-running mode", f)
	}
	// Another thread may submit: a NOP from a fresh goroutine, not locked anywhere.
	done := make(chan error, 1)
	go func() {
		sqe := r.GetSQE()
		sqe.PrepNop()
		sqe.UserData = 7
		_, err := r.SubmitAndWait(1, time.Second)
		done <- err
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var cqes [1]CQE
	if n := r.Reap(cqes[:]); n != 1 || cqes[0].UserData != 7 || cqes[0].Res != 0 {
		t.Fatalf("reaped %d: %+v", n, cqes[0])
	}
}
