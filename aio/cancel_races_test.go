package aio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestCancelRacesTheStart: WriteAts cancelled right after the call, by their context or by
// Future.Cancel (also of one whose context is context.Background, which no backend watches), with one
// worker or one slot so that most wait for it, and some not cancelled at all. Each completes either in
// full (a worker or the kernel had begun it) or with context.Canceled, no bytes and its block of the
// file untouched; the ones not cancelled complete in full. The file ends with exactly the blocks of the
// writes that report success. Nothing is left running (goleak, eachBackend).
func TestCancelRacesTheStart(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		const ops, block = 120, 512
		old := pattern(7, 0, ops*block)
		name := tempPath(t, old)
		f := open(t, a, name, os.O_RDWR)
		fresh := pattern(8, 0, ops*block)
		futs := make([]future.Future[int], ops)
		var cancels []context.CancelFunc
		defer func() {
			for _, c := range cancels {
				c()
			}
		}()
		for i := range ops {
			off := int64(i * block)
			p := fresh[off : off+block]
			switch i % 4 {
			case 0: // its context
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				futs[i] = f.WriteAt(ctx, p, off)
				cancel()
			case 1: // Future.Cancel, a context that cannot be done
				futs[i] = f.WriteAt(context.Background(), p, off)
				futs[i].Cancel()
			case 2: // Future.Cancel, a context that can be done
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				futs[i] = f.WriteAt(ctx, p, off)
				futs[i].Cancel()
			default: // not cancelled
				futs[i] = f.WriteAt(context.Background(), p, off)
			}
		}
		want := append([]byte(nil), old...)
		cancelled := 0
		for i, fut := range futs {
			n, err := await(t, fut)
			off := i * block
			switch {
			case err == nil && n == block:
				copy(want[off:off+block], fresh[off:off+block])
			case i%4 != 3 && errors.Is(err, context.Canceled) && n == 0:
				cancelled++
			default:
				t.Fatalf("WriteAt %d (cancelled: %v) = %d, %v", i, i%4 != 3, n, err)
			}
		}
		t.Logf("%d of %d cancelled in time", cancelled, ops*3/4)
		checkBytes(t, "file", fileBytes(t, name), want)
	})
}

// TestCancelAfterCompletionOnBothBackends: cancelling an operation that has completed, by its future or its
// context, changes nothing, on every kind of operation, and leaves nothing running.
func TestCancelAfterCompletionOnBothBackends(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(9, 0, 1000)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR)
		for i, ctxKind := range []string{"Background", "cancellable"} {
			ctx, cancel := context.Background(), context.CancelFunc(func() {})
			if ctxKind == "cancellable" {
				ctx, cancel = context.WithCancel(context.Background())
			}
			buf := make([]byte, 1000)
			r := f.ReadAt(ctx, buf, 0)
			w := f.WriteAt(ctx, content[:100], 0)
			s := f.Sync(ctx)
			if n, err := await(t, r); n != 1000 || err != nil {
				t.Fatalf("%s: ReadAt = %d, %v", ctxKind, n, err)
			}
			if n, err := await(t, w); n != 100 || err != nil {
				t.Fatalf("%s: WriteAt = %d, %v", ctxKind, n, err)
			}
			if _, err := await(t, s); err != nil {
				t.Fatalf("%s: Sync = %v", ctxKind, err)
			}
			r.Cancel()
			w.Cancel()
			s.Cancel()
			cancel()
			if n, err := r.Result(); n != 1000 || err != nil {
				t.Fatalf("%s: ReadAt after Cancel = %d, %v", ctxKind, n, err)
			}
			if n, err := w.Result(); n != 100 || err != nil {
				t.Fatalf("%s: WriteAt after Cancel = %d, %v", ctxKind, n, err)
			}
			if _, err := s.Result(); err != nil {
				t.Fatalf("%s: Sync after Cancel = %v", ctxKind, err)
			}
			checkBytes(t, fmt.Sprint("ReadAt ", i), buf, content)
		}
		checkBytes(t, "file", fileBytes(t, name), content)
	})
}
