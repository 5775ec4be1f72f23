package aio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/future"
)

// The io_uring backend submits an operation from whatever OS thread the asking goroutine runs on,
// and the kernel ties the request to that thread (its io_uring task context): an operation that has
// to wait is completed by task work queued to that thread, and its io-wq workers are that thread's.
// A Go thread ends when a goroutine that locked it (runtime.LockOSThread) returns without unlocking
// it. The kernel then cannot run the task work on it: the completion runs from a kernel worker
// (io_fallback_tw) that fails the request, with -ECANCELED for a poll-driven read (a pipe, a socket)
// and -EFAULT for a buffered read that waited for the disk (io_req_task_submit). aio reported the
// first as context.Canceled although nobody cancelled anything, and the second as a "bad address"
// read error: an operation nobody stopped failed. Now such a completion, which transferred nothing,
// is submitted again from the thread that reaps it (uringBackend.completed, maxRetries).

// onExitingThread runs fn on a goroutine locked to its OS thread that returns without unlocking
// it, and waits until the kernel has removed that thread.
func onExitingThread(t *testing.T, fn func()) {
	t.Helper()
	tids := make(chan int, 1)
	var attempt func()
	attempt = func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if unix.Gettid() == unix.Getpid() {
			// The main thread does not end (the runtime parks it for good). Keep it locked to this
			// goroutine while another tries, or with GOMAXPROCS=1 the next attempt would come back
			// to it, for ever.
			done := make(chan struct{})
			go func() {
				defer close(done)
				attempt()
			}()
			<-done
			runtime.UnlockOSThread()
			return
		}
		fn()
		tids <- unix.Gettid()
	}
	go attempt()
	waitThreadGone(t, <-tids)
}

// waitThreadGone waits until the thread tid of this process has ended.
func waitThreadGone(t *testing.T, tid int) {
	t.Helper()
	task := fmt.Sprintf("/proc/self/task/%d", tid)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(task); errors.Is(err, os.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thread %d still alive 10 s after its locked goroutine returned", tid)
		}
		time.Sleep(time.Millisecond)
	}
}

// pipeFile returns the read end of a new pipe as a File of a, let through to io_uring (stream =
// false), and the write end.
func pipeFile(t *testing.T, a *IO) (*File, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	f, err := a.NewFile(r)
	if err != nil {
		r.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if !f.stream {
		t.Fatal("a pipe's read end was not taken for a file without positions")
	}
	f.stream = false
	return f, w
}

// TestReadOfExitedThreadIsNotCancelled: a read of a pipe asked for by a goroutine locked to a
// thread that then ends. Nobody cancels it, so when data comes it must read it. It completes with
// 0 bytes and context.Canceled (or ECANCELED) instead, and the data stays in the pipe.
func TestReadOfExitedThreadIsNotCancelled(t *testing.T) {
	a := newUringIO(t)
	f, w := pipeFile(t, a)
	ctx := context.Background()
	buf := make([]byte, 4)
	var fut future.Future[int]
	onExitingThread(t, func() { fut = f.ReadAt(ctx, buf, 0) })
	if fut.Resolved() {
		n, err := fut.Result()
		t.Fatalf("a read of an empty pipe completed: %d, %v", n, err)
	}
	if _, err := w.Write([]byte("abcd")); err != nil {
		t.Fatal(err)
	}
	n, err := awaitWithin(t, fut, "the read of a thread that ended")
	if n != 4 || err != nil || string(buf) != "abcd" {
		t.Errorf("read asked for on a thread that has ended, nothing cancelled = %d, %v (context err %v), %q; "+
			"want 4, nil, %q", n, err, ctx.Err(), buf[:n], "abcd")
	}
	// Whatever happened, nothing hangs: the IO still reads what is in the pipe, and closes.
	rest := make([]byte, 4)
	fut2 := f.ReadAt(ctx, rest, 0)
	if n == 0 {
		n2, err2 := awaitWithin(t, fut2, "a read after the failed one")
		t.Logf("the next read took what the failed one left in the pipe: %d, %v, %q", n2, err2, rest[:n2])
	}
}

// TestInnocentReadStartedByExitingThread: the goroutine that happens to reap a completion
// starts the next operation in line on its own thread. So a goroutine that never locked its thread
// loses its read to another goroutine that did: the locked goroutine's ReadAt (of a regular file,
// which cannot fail this way) starts the innocent read waiting in line, then the locked goroutine
// returns and its thread ends. When data comes, the innocent read fails (context.Canceled, or
// ECANCELED).
func TestInnocentReadStartedByExitingThread(t *testing.T) {
	a := newUringIO(t, WithQueueDepth(1))
	ub := a.be.(*uringBackend)
	ctx := context.Background()
	f1, w1 := pipeFile(t, a)
	f2, w2 := pipeFile(t, a)
	name := filepath.Join(t.TempDir(), "regular")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	reg, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()

	first := f1.ReadAt(ctx, make([]byte, 4), 0) // takes the only slot and waits
	innocent := make(chan future.Future[int])
	buf := make([]byte, 4)
	go func() { innocent <- f2.ReadAt(ctx, buf, 0) }() // a goroutine that never locks its thread
	r2 := <-innocent
	ub.mu.Lock()
	inLine := len(ub.line) == 1
	ub.mu.Unlock()
	if !inLine || first.Resolved() || r2.Resolved() {
		t.Fatalf("setup: want the first read in the slot and the innocent one in line")
	}

	// The first read completes while the eventfd's signal is off, as it is during any pump: the
	// reaper is not woken, and the next goroutine to pump reaps it and starts the read in line.
	ub.mu.Lock()
	ub.ring.SetEventFDEnabled(false)
	w1.Write([]byte("wxyz"))
	for deadline := time.Now().Add(10 * time.Second); ub.ring.CQReady() == 0; {
		if time.Now().After(deadline) {
			ub.ring.SetEventFDEnabled(true)
			ub.mu.Unlock()
			t.Fatal("the first read did not complete")
		}
		time.Sleep(time.Millisecond)
	}
	ub.mu.Unlock()

	var regFut future.Future[int]
	var startedByLocked bool
	onExitingThread(t, func() {
		regFut = reg.ReadAt(ctx, make([]byte, 10), 0) // its pump starts the innocent read
		ub.mu.Lock()
		startedByLocked = ub.table[0] != nil && ub.table[0].f == f2
		ub.mu.Unlock()
	})
	if !startedByLocked {
		t.Fatal("setup: the locked goroutine's pump did not start the innocent read")
	}
	if n, err := awaitWithin(t, first, "the first read"); n != 4 || err != nil {
		t.Fatalf("the first read = %d, %v", n, err)
	}
	w2.Write([]byte("abcd"))
	n, err := awaitWithin(t, r2, "the innocent read")
	if n != 4 || err != nil || string(buf) != "abcd" {
		t.Errorf("read of a goroutine that never locked its thread, started by one that did and ended = %d, %v; "+
			"want 4, nil, %q", n, err, "abcd")
	}
	if n, err := awaitWithin(t, regFut, "the regular read"); n != 10 || err != nil {
		t.Errorf("the locked goroutine's regular read = %d, %v", n, err)
	}
}

// TestColdReadOfExitedThread: a plain ReadAt of a regular file whose pages are not in the page
// cache, asked for by a goroutine whose locked thread then ends: the read waits for the disk, and its
// retry runs as task work of a thread that no longer exists. It fails with EFAULT ("bad address").
// It needs a file system on a block device (not tmpfs), where POSIX_FADV_DONTNEED drops the pages.
func TestColdReadOfExitedThread(t *testing.T) {
	a := newUringIO(t)
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || uint32(st.Type) == unix.TMPFS_MAGIC || uint32(st.Type) == unix.RAMFS_MAGIC { // uint32: Type is int32 on 386, where RAMFS_MAGIC overflows it
		t.Skipf("%s is not on a block device (statfs %v, type %#x): no cold reads", dir, err, st.Type)
	}
	name := filepath.Join(dir, "cold")
	const size = 8 << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*7 + i>>9)
	}
	if err := os.WriteFile(name, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const tries = 20
	var failed []string
	for i := range tries {
		osf, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		unix.Fdatasync(int(osf.Fd()))
		unix.Fadvise(int(osf.Fd()), 0, 0, unix.FADV_DONTNEED)
		osf.Close()
		buf := make([]byte, 1<<20)
		off := int64(i%8) << 20
		var fut future.Future[int]
		onExitingThread(t, func() { fut = f.ReadAt(context.Background(), buf, off) })
		n, err := awaitWithin(t, fut, "a cold read")
		if n != len(buf) || err != nil || string(buf) != string(data[off:off+int64(len(buf))]) {
			failed = append(failed, fmt.Sprintf("%d, %v", n, err))
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d cold 1 MiB reads asked for on threads that then ended failed; first: %s",
			len(failed), tries, failed[0])
	}
}

// TestExitedThreadOpsStillStop: reads asked for on a thread that has ended, with no data coming,
// are still stopped by File.Close, IO.Close and their context (the kernel runs their cancellation
// from a worker, io_fallback_tw): nothing hangs. It passes.
func TestExitedThreadOpsStillStop(t *testing.T) {
	for _, how := range []string{"file", "io", "ctx"} {
		t.Run(how, func(t *testing.T) {
			a := newUringIO(t)
			f1, _ := pipeFile(t, a)
			f2, _ := pipeFile(t, a)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var fut1, fut2 future.Future[int]
			onExitingThread(t, func() {
				fut1 = f1.ReadAt(ctx, make([]byte, 4), 0)
				fut2 = f2.ReadAt(ctx, make([]byte, 4), 0)
			})
			var want error
			switch how {
			case "file":
				f1.Close()
				f2.Close()
				want = os.ErrClosed
			case "io":
				a.Close()
				want = ErrClosed
			case "ctx":
				cancel()
				want = context.Canceled
			}
			for _, fut := range []future.Future[int]{fut1, fut2} {
				if n, err := awaitWithin(t, fut, "a stopped read of a thread that ended"); n != 0 || !errors.Is(err, want) {
					t.Errorf("read stopped by %s = %d, %v; want 0, %v", how, n, err, want)
				}
			}
		})
	}
}
