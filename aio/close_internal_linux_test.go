package aio

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// gateCtx blocks the first call of its Done method until release is closed. ReadAt calls it (start,
// which asks whether the context can be done) after the file has counted the operation in flight and
// before the backend's submit: it holds an operation in exactly that window.
type gateCtx struct {
	context.Context
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func newGateCtx() (*gateCtx, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	return &gateCtx{Context: ctx, entered: make(chan struct{}), release: make(chan struct{})}, cancel
}

func (g *gateCtx) Done() <-chan struct{} {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.Context.Done()
}

// waitForGoroutine waits until some goroutine's stack shows state (such as "chan receive") with fn
// (such as "aio.(*File).Close") among its frames.
func waitForGoroutine(t *testing.T, state, fn string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(10 * time.Second); ; {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			if strings.Contains(header, "["+state) && strings.Contains(g, fn) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %s in %s after 10 s", state, fn)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFileCloseDoesNotWaitForASlot: File.Close comes between a ReadAt's count of the operation
// (hold) and its submit, while every slot is taken by an operation of another file that waits (a pipe
// read). Close finds nothing of its file to cancel and waits for the count to drop; submit then puts
// the read in line without looking at the file (start does, but only when a slot is free). The read
// stays in line, and File.Close blocks, until the unrelated pipe read ends, which may be never.
// File.Close must stop the file's operations and return (package doc), as it does when the read was
// in line before Close came (TestUringStopsOperationsInLine).
func TestFileCloseDoesNotWaitForASlot(t *testing.T) {
	a := newUringIO(t, WithQueueDepth(1))
	ub := a.be.(*uringBackend)
	_, w, waiting := waitingRead(t, a, context.Background()) // the only slot, until data comes
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	gate, cancel := newGateCtx()
	defer cancel()
	futs := make(chan future.Future[int], 1)
	go func() { futs <- f.ReadAt(gate, make([]byte, 4), 0) }()
	<-gate.entered // counted in flight, not submitted yet
	closed := make(chan error, 1)
	go func() { closed <- f.Close() }()
	waitForGoroutine(t, "chan receive", "aio.(*File).Close") // cancelFile done, waiting for the count
	close(gate.release)
	fut := <-futs

	ub.mu.Lock()
	stuck := len(ub.line) > 0 && ub.line[0].f == f
	ub.mu.Unlock()
	if stuck {
		t.Errorf("the read of a closing file went in line behind an unrelated read that waits: File.Close " +
			"cannot return until that read ends")
		w.Write(make([]byte, 16)) // end the pipe read: the slot frees, start settles the read in line
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("File.Close = %v", err)
		}
	case <-time.After(10 * time.Second):
		w.Write(make([]byte, 16))
		<-closed
		t.Errorf("File.Close did not return in 10 s; it did once the unrelated pipe read ended")
	}
	if n, err := awaitWithin(t, fut, "the read of the closed file"); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("the read of the closed file = %d, %v; want 0, os.ErrClosed", n, err)
	}
	w.Write(make([]byte, 16))
	awaitWithin(t, waiting, "the pipe read")
}

// TestSecondIOCloseWaits: IO.Close promises that when it returns no operation uses its buffer
// any more. A second Close that comes while the first is still stopping operations returns nil at
// once (a.closed is set before the backend is closed), with a read still in the kernel, which then
// writes into its buffer. The first Close is held inside the backend here by its mutex; in a program
// it waits there for operations to end (an fsync running in io-wq cannot be cancelled, say).
func TestSecondIOCloseWaits(t *testing.T) {
	a := newUringIO(t)
	ub := a.be.(*uringBackend)
	_, w, fut := waitingRead(t, a, context.Background())
	ub.mu.Lock()
	locked := true
	defer func() {
		if locked {
			ub.mu.Unlock()
		}
	}()
	first := make(chan error, 1)
	go func() { first <- a.Close() }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		a.mu.Lock()
		c := a.closed
		a.mu.Unlock()
		if c {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first Close did not start")
		}
	}
	second := make(chan error, 1)
	go func() { second <- a.Close() }()
	select {
	case err := <-second:
		second <- err // for the wait below
		if !fut.Resolved() {
			// The read still owns its buffer: show the kernel writing it after Close returned.
			w.Write([]byte("written after Close returned"))
			for deadline := time.Now().Add(10 * time.Second); ub.ring.CQReady() == 0 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			t.Errorf("a second IO.Close returned while a read was still in the kernel (it completed into its "+
				"buffer afterwards: CQE ready = %v)", ub.ring.CQReady() > 0)
		}
	case <-time.After(200 * time.Millisecond):
		// Waiting for the first, as it should: let it go on.
	}
	ub.mu.Unlock()
	locked = false
	for _, c := range []chan error{first, second} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("IO.Close hangs")
		}
	}
	awaitWithin(t, fut, "the read")
}
