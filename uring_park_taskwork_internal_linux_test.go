package eddy

import (
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/uring"
	"golang.org/x/sys/unix"
)

// newTestParker locks the test goroutine to its thread and makes a ring of entries with a parker, all
// closed at the end of the test; it skips the test when the ring lacks the setup flags want.
func newTestParker(t *testing.T, entries uint32, want uring.SetupFlags) (*uring.Ring, *urParker) {
	t.Helper()
	requireUring(t)
	runtime.LockOSThread()
	t.Cleanup(runtime.UnlockOSThread) // cleanups run on the test goroutine, after the two below
	r, err := uring.New(entries)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if r.SetupFlags()&want != want {
		t.Skipf("the ring has %v, not %v", r.SetupFlags(), want)
	}
	k, err := newUrParker(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.close)
	return r, k
}

// A loop about to park runs the work the kernel queued while the eventfd's signal was off, because
// that work signals nothing. One io_uring_enter runs at most 20 items of it (6.18), and an item may post
// no completion (a recv woken for data that is gone when it runs): park took "no CQE after one enter"
// for "nothing to do" and slept beside completions that one more enter would have posted, until new
// work came (for ever, for a server whose clients all waited for those replies). Here 50 recvs whose
// data was taken are queued in front of 10 with data: park must not sleep, and must leave the 10 CQEs.
func TestUringParkRunsAllQueuedWorkBeforeSleeping(t *testing.T) {
	r, k := newTestParker(t, 128, uring.SetupDeferTaskrun)

	const stolen, ready = 50, 10
	var pairs [stolen + ready][2]int
	var bufs [stolen + ready]byte
	var pin runtime.Pinner
	pin.Pin(&bufs[0])
	defer pin.Unpin()
	for i := range pairs {
		p, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		pairs[i] = [2]int{p[0], p[1]}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		sqe := r.GetSQE()
		sqe.PrepRecv(p[0], bufs[i:i+1], 0)
		sqe.UserData = uint64(i)
	}
	if _, err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	// As on a running loop: the signal is off while the work is queued.
	var b [1]byte
	for i, p := range pairs {
		unix.Write(p[1], []byte{1})
		if i < stolen {
			if n, err := unix.Read(p[0], b[:]); n != 1 {
				t.Fatalf("read from pair %d: %d, %v", i, n, err)
			}
		}
	}

	start := time.Now()
	slept, err := k.park(5 * time.Second)
	if err != nil || k.failed != nil {
		t.Fatalf("park: %v (poller: %v)", err, k.failed)
	}
	if slept {
		t.Errorf("park slept (%v) with %d recvs' data in the kernel's queue", time.Since(start).Round(time.Millisecond), ready)
	}
	if got := r.CQReady(); got != ready {
		t.Errorf("after park %d CQEs are ready, want %d", got, ready)
	}
}

// The kernel can leave IORING_SQ_TASKRUN set with no work queued. park took it for work left and
// returned without sleeping, and the loop, with nothing to do, came back to park: 100 % of a CPU while
// idle, until I/O came (found by a reviewer). park must sleep its timeout.
func TestUringParkSleepsThroughAStaleTaskrunFlag(t *testing.T) {
	r, k := newTestParker(t, 8, uring.SetupTaskrunFlag)
	r.StaleTaskrunFlagForTest()
	slept, err := k.park(50 * time.Millisecond)
	if err != nil || k.failed != nil {
		t.Fatalf("park: %v (poller: %v)", err, k.failed)
	}
	if !slept {
		t.Error("park did not sleep: a stale IORING_SQ_TASKRUN passed for work left")
	}
}
