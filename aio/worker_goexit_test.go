package aio_test

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestContinuationGoexitOnAWorker: a continuation on future.Inline that a pool worker runs
// may end its goroutine (runtime.Goexit: future turns it into ErrGoexit on the continuation's future,
// but cannot stop it). The worker was lost with its count: with one worker, every later ReadAt
// waited for ever. Another worker must take over. (On io_uring continuations run on the caller, or
// on a goroutine started for a batch of completions.)
func TestContinuationGoexitOnAWorker(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		if be != aio.Pool {
			t.Skip("pool workers only")
		}
		a := newIO(t, be, aio.WithWorkers(1))
		name := tempPath(t, pattern(3, 0, 1<<20))
		f := open(t, a, name, os.O_RDONLY)
		onWorker := 0
		for i := 0; i < 10 || onWorker == 0 && i < 100; i++ {
			fut := f.ReadAt(context.Background(), make([]byte, 1<<20), 0)
			returned := make(chan bool, 1)
			ran := make(chan struct{})
			go func() {
				ok := false
				defer func() { returned <- ok }() // false: the continuation ran (and ended) here
				future.Map(fut, future.Inline, func(int) (int, error) {
					close(ran)
					runtime.Goexit()
					return 0, nil
				})
				ok = true
			}()
			if <-returned {
				onWorker++
			}
			<-ran
			next := f.ReadAt(context.Background(), make([]byte, 10), 0)
			select {
			case <-next.Done():
			case <-time.After(hang):
				t.Fatalf("iteration %d: a ReadAt did not complete within %v after a continuation on the only "+
					"worker called runtime.Goexit", i, hang)
			}
			if n, err := next.Result(); n != 10 || err != nil {
				t.Fatalf("ReadAt = %d, %v; want 10, nil", n, err)
			}
		}
		if onWorker == 0 {
			t.Skip("every continuation ran where it was attached: the worker's path was not taken")
		}
		t.Logf("%d continuations ended the worker's goroutine", onWorker)
	})
}
