package uring

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRegisterRingFD(t *testing.T) {
	r := newRing(t, 8)
	if err := r.RegisterRingFD(); err != nil {
		t.Fatal(err)
	}
	if !r.RingFDRegistered() || r.enterFd == r.Fd() {
		t.Fatalf("registered %v, enter fd %d, ring fd %d", r.RingFDRegistered(), r.enterFd, r.Fd())
	}
	for i := 0; i < 3; i++ {
		getSQE(t, r).PrepNop()
		wantRes(t, waitCQEs(t, r, 1)[0], 0)
	}
	if err := r.UnregisterRingFD(); err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepNop()
	wantRes(t, waitCQEs(t, r, 1)[0], 0)
}

func TestCloseUnregistersRingFD(t *testing.T) {
	// A registered ring fd is per thread and would hold the ring's file past Close, and the thread has
	// only 16 slots: 40 rings registered and closed in turn must all succeed.
	requireURing(t)
	for i := 0; i < 40; i++ {
		r := newRing(t, 4)
		if err := r.RegisterRingFD(); err != nil {
			t.Fatalf("ring %d: %v", i, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("ring %d: %v", i, err)
		}
	}
}

func TestRegisterEventFDSignalsCompletions(t *testing.T) {
	r := newRing(t, 8)
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(efd)
	if err := r.RegisterEventFD(efd); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		getSQE(t, r).PrepNop()
	}
	waitCQEs(t, r, 2)
	var b [8]byte
	if n, err := unix.Read(efd, b[:]); n != 8 || err != nil || binary.NativeEndian.Uint64(b[:]) == 0 {
		t.Fatalf("eventfd read = %d, %v, count %d; want a positive count", n, err, binary.NativeEndian.Uint64(b[:]))
	}
	if err := r.UnregisterEventFD(); err != nil {
		t.Fatal(err)
	}
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 1)
	if _, err := unix.Read(efd, b[:]); err != unix.EAGAIN {
		t.Fatalf("eventfd read after unregister = %v, want EAGAIN", err)
	}
}

func TestRegisterFilesFixedFileRead(t *testing.T) {
	r := newRing(t, 8)
	f := tempFile(t, []byte("fixed file data"))
	if err := r.RegisterFiles([]int32{-1, int32(f.Fd())}); err != nil {
		t.Fatal(err)
	}
	buf := pinnedBytes(t, 64)
	sqe := getSQE(t, r)
	sqe.PrepRead(1, buf, 0) // index 1 of the registered files
	sqe.Flags |= SQEFixedFile
	c := waitCQEs(t, r, 1)[0]
	wantRes(t, c, 15)
	if !bytes.Equal(buf[:15], []byte("fixed file data")) {
		t.Fatalf("read %q", buf[:15])
	}
	if err := r.UnregisterFiles(); err != nil {
		t.Fatal(err)
	}
}

// registeredEventFD creates a non-blocking eventfd, registers it with r and closes it at cleanup.
func registeredEventFD(t *testing.T, r *Ring) int {
	t.Helper()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(efd) })
	if err := r.RegisterEventFD(efd); err != nil {
		t.Fatal(err)
	}
	return efd
}

// readCount reads efd's counter: 0 when it is not signalled (EAGAIN).
func readCount(t *testing.T, efd int) uint64 {
	t.Helper()
	var b [8]byte
	n, err := unix.Read(efd, b[:])
	if err == unix.EAGAIN {
		return 0
	}
	if n != 8 || err != nil {
		t.Fatalf("eventfd read = %d, %v", n, err)
	}
	return binary.NativeEndian.Uint64(b[:])
}

func TestSetEventFDEnabledSilencesTheSignal(t *testing.T) {
	r := newRing(t, 8)
	efd := registeredEventFD(t, r)
	if !r.SetEventFDEnabled(false) {
		t.Skip("the kernel has no IORING_CQ_EVENTFD_DISABLED (5.8)")
	}
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 1)
	if c := readCount(t, efd); c != 0 {
		t.Fatalf("disabled: eventfd count %d, want no signal", c)
	}
	r.SetEventFDEnabled(true)
	getSQE(t, r).PrepNop()
	waitCQEs(t, r, 1)
	if c := readCount(t, efd); c == 0 {
		t.Fatal("enabled again: no signal")
	}
}

// With DEFER_TASKRUN the signal comes when a completion's work is queued for the ring's thread, before
// its CQE is posted, and only when that queue was empty: work queued while the signal was off must be
// run before waiting on the eventfd, or the wait misses it (what SetEventFDEnabled's comment says).
func TestEventFDSignalsDeferredWorkOnlyWhenTheQueueWasEmpty(t *testing.T) {
	r := newRing(t, 8)
	if r.SetupFlags()&SetupDeferTaskrun == 0 {
		t.Skip("the ring has no DEFER_TASKRUN")
	}
	efd := registeredEventFD(t, r)
	fds := unixPair(t)
	buf := pinnedBytes(t, 64)
	recv := func(ud uint64) {
		sqe := getSQE(t, r)
		sqe.PrepRecv(fds[0], buf, 0)
		sqe.UserData = ud
		if _, err := r.SubmitAndWait(0, 0); err != nil {
			t.Fatal(err)
		}
	}
	send := func() {
		if _, err := unix.Write(fds[1], []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	// waitSignal polls the eventfd for up to d and returns its count.
	waitSignal := func(d time.Duration) uint64 {
		for end := time.Now().Add(d); ; time.Sleep(100 * time.Microsecond) {
			if c := readCount(t, efd); c != 0 || time.Now().After(end) {
				return c
			}
		}
	}

	// Enabled: the data's work signals before any CQE is posted.
	recv(1)
	send()
	if waitSignal(waitLimit) == 0 {
		t.Fatal("no signal for a recv's data")
	}
	if n := r.CQReady(); n != 0 {
		t.Fatalf("%d CQEs posted before the ring's thread entered the kernel", n)
	}
	wantRes(t, waitCQEs(t, r, 1)[0], 1)
	readCount(t, efd) // posting the CQE may signal again

	// Disabled while the work is queued; enabled again, a second completion finds the queue not empty
	// and signals nothing; running the work posts both.
	// Both recvs are armed first: with TASKRUN_FLAG, Submit asks the kernel to run the deferred work it
	// reports pending (NeedsEnter), which would empty the queue.
	r.SetEventFDEnabled(false)
	recv(2)
	fds2 := unixPair(t)
	buf2 := pinnedBytes(t, 64)
	sqe := getSQE(t, r)
	sqe.PrepRecv(fds2[0], buf2, 0)
	sqe.UserData = 3
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	send()
	time.Sleep(20 * time.Millisecond)
	if c := readCount(t, efd); c != 0 {
		t.Fatalf("disabled: eventfd count %d for deferred work, want no signal", c)
	}
	r.SetEventFDEnabled(true)
	if _, err := unix.Write(fds2[1], []byte("y")); err != nil {
		t.Fatal(err)
	}
	if c := waitSignal(20 * time.Millisecond); c != 0 {
		t.Fatalf("eventfd count %d: the queue was not empty, want no signal", c)
	}
	got := byUserData(t, waitCQEs(t, r, 2))
	wantRes(t, got[2], 1)
	wantRes(t, got[3], 1)
}
