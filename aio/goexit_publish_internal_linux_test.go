package aio

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// heldSetup is an IO of one backend with a way to keep its operations in line, through the backend's
// counts, so that nothing depends on timing: open returns the IO, a function that fakes a busy worker
// (pool) or a full ring (io_uring), and its undo.
type heldSetup struct {
	name string
	open func(t *testing.T) (*IO, func(), func())
}

// heldSetups returns a heldSetup for each backend.
func heldSetups() []heldSetup {
	return []heldSetup{
		{"pool", func(t *testing.T) (*IO, func(), func()) {
			a, err := New(WithBackend(Pool), WithWorkers(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			b := a.be.(*poolBackend)
			return a, func() {
					b.mu.Lock()
					b.running++ // the only worker, busy
					b.mu.Unlock()
				}, func() {
					b.mu.Lock()
					b.running--
					b.mu.Unlock()
				}
		}},
		{"uring", func(t *testing.T) (*IO, func(), func()) {
			a := newUringIO(t, WithQueueDepth(1))
			b := a.be.(*uringBackend)
			return a, func() {
					b.mu.Lock()
					b.bounded = b.depth // every slot taken
					b.mu.Unlock()
				}, func() {
					b.mu.Lock()
					b.bounded = 0
					b.mu.Unlock()
				}
		}},
	}
}

// TestGoexitInABatchOfCompletions: a backend that completes several futures in a row on
// one goroutine (IO.Close and File.Close of the pool and of io_uring, which stop what waits in line,
// and io_uring's batches of reaped completions) runs their Inline continuations there. One that ends
// that goroutine (runtime.Goexit, as t.FailNow does) must not leave the futures after it pending for
// ever, as a pool worker no longer does (TestContinuationGoexitOnAWorker), and as future's own lists
// of continuations do not. The operations are kept in line by faking a busy worker (pool) or a full
// ring (io_uring) through the backends' counts, so that nothing depends on timing.
func TestGoexitInABatchOfCompletions(t *testing.T) {
	for _, s := range heldSetups() {
		for _, closer := range []string{"IO.Close", "File.Close"} {
			t.Run(s.name+"/"+closer, func(t *testing.T) {
				a, busy, idle := s.open(t)
				name := filepath.Join(t.TempDir(), "f")
				if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
					t.Fatal(err)
				}
				f, err := a.Open(name, os.O_RDONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				busy()
				first := f.ReadAt(context.Background(), make([]byte, 4), 0)
				second := f.ReadAt(context.Background(), make([]byte, 4), 4)
				if first.Resolved() || second.Resolved() {
					t.Fatal("the reads did not wait in line")
				}
				ran := make(chan struct{})
				future.Handle(first, future.Inline, func(int, error) (int, error) {
					close(ran)
					runtime.Goexit()
					return 0, nil
				})
				go func() {
					if closer == "IO.Close" {
						a.Close()
					} else {
						f.Close()
					}
				}()
				select {
				case <-ran:
				case <-time.After(10 * time.Second):
					t.Fatal("the first read's continuation did not run")
				}
				select {
				case <-second.Done():
				case <-time.After(10 * time.Second):
					idle()
					t.Fatalf("%s: the second read stopped in line never completed after the first one's "+
						"continuation ended the goroutine that completed it (runtime.Goexit)", closer)
				}
				if _, err := second.Result(); err == nil {
					t.Errorf("the second read, stopped by %s, succeeded", closer)
				}
				idle()
			})
		}
	}
}
