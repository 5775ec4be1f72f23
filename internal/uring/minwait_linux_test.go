package uring

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// requireMinWait skips on a kernel without IORING_FEAT_MIN_TIMEOUT, after checking that SetMinWait
// says so.
func requireMinWait(t *testing.T, r *Ring) {
	t.Helper()
	if r.Features()&FeatMinTimeout == 0 {
		if err := r.SetMinWait(time.Millisecond); !errors.Is(err, unix.ENOTSUP) {
			t.Fatalf("SetMinWait without FEAT_MIN_TIMEOUT = %v, want ENOTSUP", err)
		}
		t.Skip("the kernel has no IORING_FEAT_MIN_TIMEOUT (6.12)")
	}
}

// A wait for a batch that does not come returns with what there is once the min wait has passed, in
// every shape of SubmitAndWait's wait: unbounded, bounded, and with a held part before or after the
// min wait.
func TestMinWaitEndsAWaitForMoreThanThereIs(t *testing.T) {
	const minWait = 5 * time.Millisecond
	for _, tc := range []struct {
		name    string
		held    time.Duration
		timeout time.Duration
	}{
		{"unbounded", 0, -1},
		{"bounded", 0, 10 * time.Second},
		{"held longer", 20 * time.Millisecond, -1},
		{"held shorter", time.Millisecond, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireURing(t)
			type result struct {
				ready   uint32
				elapsed time.Duration
				err     error
			}
			done := make(chan result, 1)
			go func() { // the ring is the goroutine's (SINGLE_ISSUER), so that the test can time it out
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				r, err := New(8)
				if err != nil {
					done <- result{err: err}
					return
				}
				defer r.Close()
				if r.Features()&FeatMinTimeout == 0 {
					done <- result{err: errSkip}
					return
				}
				if err := r.SetMinWait(minWait); err != nil {
					done <- result{err: err}
					return
				}
				r.SetHeldWait(tc.held)
				r.GetSQE().PrepNop()
				start := time.Now()
				_, err = r.SubmitAndWait(8, tc.timeout)
				done <- result{r.CQReady(), time.Since(start), err}
			}()
			var res result
			select {
			case res = <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("SubmitAndWait(8) with one completion ready and a 5ms min wait still waits after 5s")
			}
			switch {
			case res.err == errSkip:
				t.Skip("the kernel has no IORING_FEAT_MIN_TIMEOUT (6.12)")
			case res.err != nil:
				t.Fatal(res.err)
			case res.ready != 1:
				t.Fatalf("%d completions ready, want 1", res.ready)
			case res.elapsed < minWait-time.Millisecond:
				t.Fatalf("returned after %v, before the min wait (%v): the batch was not waited for", res.elapsed, minWait)
			}
		})
	}
}

var errSkip = errors.New("skip")

// Without a min wait, the same call waits for all it asked for, up to its timeout.
func TestNoMinWaitWaitsForTheWholeBatch(t *testing.T) {
	r := newRing(t, 8)
	sqe := getSQE(t, r)
	sqe.PrepNop()
	sqe.UserData = 1
	start := time.Now()
	if _, err := r.SubmitAndWait(8, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 45*time.Millisecond {
		t.Fatalf("returned after %v with 1 of 8 completions and no min wait, want the 50ms timeout", elapsed)
	}
}

// A full batch ends the wait at once, min wait or not; a min wait of zero turns it off.
func TestMinWaitFullBatchAndOff(t *testing.T) {
	r := newRing(t, 8)
	requireMinWait(t, r)
	if err := r.SetMinWait(time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		sqe := getSQE(t, r)
		sqe.PrepNop()
		sqe.UserData = uint64(i)
	}
	start := time.Now()
	if _, err := r.SubmitAndWait(4, -1); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > 500*time.Millisecond {
		t.Fatalf("a full batch returned after %v, want at once (the min wait is 1s)", elapsed)
	}
	waitCQEs(t, r, 4)
	if err := r.SetMinWait(0); err != nil {
		t.Fatal(err)
	}
	sqe := getSQE(t, r)
	sqe.PrepNop()
	start = time.Now()
	if _, err := r.SubmitAndWait(2, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 25*time.Millisecond {
		t.Fatalf("with the min wait off, returned after %v, want the 30ms timeout", elapsed)
	}
}
