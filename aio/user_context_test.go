package aio_test

import (
	"context"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy/aio"
)

// zzCtx is a context of the caller's own type (not package context's), as some frameworks have.
type zzCtx struct {
	done chan struct{}
}

func (c *zzCtx) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *zzCtx) Done() <-chan struct{}       { return c.done }
func (c *zzCtx) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
func (c *zzCtx) Value(any) any { return nil }

func TestCustomContext(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := &zzCtx{done: make(chan struct{})}
		defer close(ctx.done)
		name := tempPath(t, pattern(2, 0, 4096))
		f := open(t, a, name, os.O_RDWR)
		before := goleak.IgnoreCurrent()
		for i := range 100 {
			p := make([]byte, 100)
			n, err := await(t, f.ReadAt(ctx, p, int64(i)))
			if n != 100 || err != nil {
				t.Fatal(n, err)
			}
			if _, err := await(t, f.Sync(ctx)); err != nil {
				t.Fatal(err)
			}
		}
		// Before ctx ends: nothing may still wait on it.
		goleak.VerifyNone(t, before)
	})
}

func TestDepths(t *testing.T) {
	for _, d := range []int{1, 3, 32768} {
		eachBackend(t, []aio.Option{aio.WithQueueDepth(d), aio.WithWorkers(d)}, func(t *testing.T, a *aio.IO) {
			name := tempPath(t, pattern(2, 0, 4096))
			f := open(t, a, name, os.O_RDWR)
			p := make([]byte, 100)
			if n, err := await(t, f.ReadAt(context.Background(), p, 0)); n != 100 || err != nil {
				t.Fatal(n, err)
			}
		})
	}
}
