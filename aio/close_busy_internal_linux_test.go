package aio

import (
	"context"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/uring"
)

// TestUringCloseWaitsThroughBusyEnters: IO.Close waits for the operations it cancelled, and an
// io_uring_enter that fails with EBUSY (completions held back: the CQ is full) or EAGAIN (the kernel
// short of memory for the moment) is one to reap and make again, as pump treats it. The backend gave
// up at the first such error, with the cancelled read still in the kernel and the ring open, and
// IO.Close then waited for ever in the File.Close of the read's file, for a read nothing would reap.
func TestUringCloseWaitsThroughBusyEnters(t *testing.T) {
	// The cancel of the read often completes inside Close's first reap, and then Close has nothing
	// to wait for: try until a Close waits.
	for range 50 {
		if closeWaitedThroughErrors(t) {
			return
		}
	}
	t.Skip("no Close had to wait for its cancelled read in 50 tries")
}

// closeWaitedThroughErrors closes an IO whose read waits in the kernel, the first two waits of Close
// refused with EBUSY and EAGAIN, and checks what Close left; it reports whether Close waited at all.
func closeWaitedThroughErrors(t *testing.T) bool {
	a := newUringIO(t)
	ub := a.be.(*uringBackend)
	_, w, waiting := waitingRead(t, a, context.Background())
	defer w.Close()
	injected := []error{os.NewSyscallError("io_uring_enter", unix.EBUSY), os.NewSyscallError("io_uring_enter", unix.EAGAIN)}
	calls := 0
	old := closeWait
	closeWait = func(r *uring.Ring) error {
		calls++
		if len(injected) > 0 {
			err := injected[0]
			injected = injected[1:]
			return err
		}
		return old(r)
	}
	defer func() { closeWait = old }()
	closed := make(chan error, 1)
	go func() { closed <- a.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("IO.Close has not returned after 10 s (%d waits)", calls)
	}
	if calls == 0 {
		return false
	}
	ub.mu.Lock()
	inflight, open := ub.inflight, ub.ring != nil
	ub.mu.Unlock()
	if inflight != 0 || open {
		t.Fatalf("after Close (%d waits): %d operations in flight, ring open %v; want none, and the ring closed",
			calls, inflight, open)
	}
	if _, err := awaitWithin(t, waiting, "the cancelled read"); err == nil {
		t.Fatalf("the read stopped by Close succeeded")
	}
	return true
}
