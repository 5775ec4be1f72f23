package aio

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAsyncCompletionsDuringPumps looks for lost wake-ups: pipe reads that wait in the kernel
// complete in task work (their data written, or their context cancelled, a few microseconds after
// they are asked for) while other goroutines keep pumping the ring with page-cache reads, so that
// many completions are posted while a pump has the eventfd's signal off. The queue is short (4), so
// that reads also wait in line and start from other goroutines' pumps. Every read must complete with
// its data, or with context.Canceled when it was cancelled. (The existing tests use regular files,
// whose reads complete inline, and stop waiting reads one at a time.) It passes.
func TestAsyncCompletionsDuringPumps(t *testing.T) {
	a := newUringIO(t, WithQueueDepth(4))
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, make([]byte, 1<<16), 0o644); err != nil {
		t.Fatal(err)
	}
	rf, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			buf := make([]byte, 512)
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := rf.ReadAt(ctx, buf, int64(rand.IntN(100))*512).Await(ctx)
				cancel()
				if err != nil {
					t.Errorf("page-cache read: %v", err)
					return
				}
			}
		})
	}
	var reads atomic.Int64
	for range 6 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		f.stream = false
		wg.Go(func() {
			defer w.Close()
			defer f.Close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithCancel(context.Background())
				buf := make([]byte, 8)
				fut := f.ReadAt(ctx, buf, 0)
				byCancel := rand.IntN(4) == 0
				delay := time.Duration(rand.IntN(100)) * time.Microsecond
				var act sync.WaitGroup
				act.Go(func() {
					time.Sleep(delay)
					if byCancel {
						cancel()
					} else {
						w.Write([]byte("01234567"))
					}
				})
				actx, acancel := context.WithTimeout(context.Background(), 10*time.Second)
				n, err := fut.Await(actx)
				timedOut := actx.Err() != nil
				acancel()
				act.Wait()
				cancel()
				switch {
				case timedOut:
					t.Errorf("a pipe read not complete 10 s after its data or cancellation (lost wake-up)")
					return
				case byCancel && n == 0 && errors.Is(err, context.Canceled):
				case !byCancel && n == 8 && err == nil && string(buf) == "01234567":
				default:
					t.Errorf("pipe read (cancelled: %v) = %d, %v, %q", byCancel, n, err, buf[:n])
					return
				}
				reads.Add(1)
			}
		})
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d pipe reads", reads.Load())
}
