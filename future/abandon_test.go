package future_test

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eddyio/eddy/future"
)

// blob is a large value: a future of a blob has a state of more than 1 MiB.
type blob [blobSize]byte

const blobSize = 1 << 20

// liveHeap returns the bytes of the heap still in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestAbandonedCallsAreCollected makes calls whose results hold 1 MiB each and complete
// while their input stays pending, drops them, and checks that the memory is freed: the
// pending input must hold nothing of a call that gave up on it.
func TestAbandonedCallsAreCollected(t *testing.T) {
	const calls = 16
	cases := []struct {
		name    string
		abandon func(f future.Future[blob]) <-chan struct{}
	}{
		{"WithTimeout", func(f future.Future[blob]) <-chan struct{} {
			return future.WithTimeout(f, time.Second).Done()
		}},
		{"WithContext", func(f future.Future[blob]) <-chan struct{} {
			ctx, cancel := context.WithCancel(context.Background())
			g := future.WithContext(ctx, f)
			cancel()
			return g.Done()
		}},
		{"Race", func(f future.Future[blob]) <-chan struct{} {
			q := future.NewPromise[blob]()
			g := future.Race(f, q.Future())
			q.Reject(errBoom)
			return g.Done()
		}},
		{"Any", func(f future.Future[blob]) <-chan struct{} {
			q := future.NewPromise[blob]()
			g := future.Any(f, q.Future())
			q.Resolve(blob{})
			return g.Done()
		}},
		{"All", func(f future.Future[blob]) <-chan struct{} {
			q := future.NewPromise[blob]()
			g := future.All(f, q.Future())
			q.Reject(errBoom)
			return g.Done()
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := future.NewPromise[blob]()
				before := liveHeap()
				for range calls {
					<-tc.abandon(p.Future())
				}
				synctest.Wait() // timer and context callbacks have returned
				after := liveHeap()
				if grown := int64(after) - int64(before); grown > calls*blobSize/4 {
					t.Errorf("%d abandoned calls still hold %d KiB; want them collected", calls, grown>>10)
				}
				if p.Future().Resolved() {
					t.Fatal("the input completed")
				}
				p.Reject(errBoom)
			})
		})
	}
}
