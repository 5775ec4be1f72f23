package aio

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// poolFile returns a pool IO with one worker, closed at the end of the test, and a File of it
// holding content.
func poolFile(t *testing.T, content []byte) (*IO, *poolBackend, *File, string) {
	t.Helper()
	a, err := New(WithBackend(Pool), WithWorkers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := a.Open(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return a, a.be.(*poolBackend), f, name
}

// inLine reports how many operations wait in the pool's line, and whether the last one watches its
// context.
func inLine(b *poolBackend) (n int, watched bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n = len(b.line) - b.head
	if n > 0 {
		watched = b.line[len(b.line)-1].stop != nil
	}
	return n, watched
}

// checkCanceled checks that fut failed with context.Canceled and no bytes, and that the file still
// holds content.
func checkCanceled(t *testing.T, what string, n int, err error, name string, content []byte) {
	t.Helper()
	if n != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("%s = %d, %v; want 0, context.Canceled", what, n, err)
	}
	if got, err := os.ReadFile(name); err != nil || !bytes.Equal(got, content) {
		t.Errorf("%s: the file holds %q (%v), want it untouched: %q", what, got, err, content)
	}
}

// TestPoolWatchesOnlyWhatWaits: the pool watches the context of an operation (context.AfterFunc)
// only when it waits in line for a worker to end another operation, not when a worker that is idle
// (started for it, or back at the line) takes it. Either way cancelling the operation before a
// worker takes it fails it with the context's error and leaves the file untouched: one that waits,
// at once (its watch, or Future.Cancel); one an idle worker takes, when that worker finds its context
// done. The workers are faked through the pool's counts, so that nothing depends on timing.
func TestPoolWatchesOnlyWhatWaits(t *testing.T) {
	content := []byte("0123456789")
	_, b, f, name := poolFile(t, content)

	t.Run("waiting", func(t *testing.T) {
		b.mu.Lock()
		b.running++ // the only worker, busy: the operation waits for it
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			b.running--
			b.mu.Unlock()
		}()

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		fut := f.WriteAt(ctx, []byte("abc"), 0)
		if n, watched := inLine(b); n != 1 || !watched {
			t.Fatalf("a WriteAt waiting for the only worker: %d in line, watched %v; want 1, true", n, watched)
		}
		cancel()
		n, err := awaitWithin(t, fut, "a WriteAt waiting in line, its context cancelled")
		checkCanceled(t, "WriteAt waiting in line, its context cancelled", n, err, name, content)

		// A context that cannot be done is not watched; Future.Cancel stops the operation all the same.
		fut = f.WriteAt(context.Background(), []byte("abc"), 0)
		if n, watched := inLine(b); n != 1 || watched {
			t.Fatalf("a WriteAt with context.Background waiting for the only worker: %d in line, watched %v; "+
				"want 1, false", n, watched)
		}
		fut.Cancel()
		n, err = awaitWithin(t, fut, "a WriteAt waiting in line, its future cancelled")
		checkCanceled(t, "WriteAt waiting in line, its future cancelled", n, err, name, content)
		if n, _ := inLine(b); n != 0 {
			t.Fatalf("%d operations left in line after their cancellation", n)
		}
	})

	t.Run("idle worker", func(t *testing.T) {
		for _, how := range []string{"context", "Future.Cancel"} {
			b.mu.Lock()
			b.running++ // a worker started (go b.work below), not at the line yet
			b.idle++
			b.mu.Unlock()
			ctx, cancel := context.WithCancel(context.Background())
			fut := f.WriteAt(ctx, []byte("abc"), 0)
			if n, watched := inLine(b); n != 1 || watched {
				cancel()
				go b.work()
				t.Fatalf("a WriteAt an idle worker takes: %d in line, watched %v; want 1, false", n, watched)
			}
			if how == "context" {
				cancel()
				// Nothing watches it: the worker finds its context done.
				time.Sleep(10 * time.Millisecond)
				if fut.Resolved() {
					t.Errorf("an unwatched WriteAt completed before a worker took it")
				}
			} else {
				fut.Cancel() // the backend's cancel takes it out of the line, or the worker finds it cancelled
			}
			go b.work()
			n, err := awaitWithin(t, fut, "a WriteAt an idle worker takes, cancelled by its "+how)
			cancel()
			checkCanceled(t, "WriteAt cancelled by its "+how+" before an idle worker took it", n, err, name, content)
		}
	})

	// The counts are back where they were: the workers left once the line was empty.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		running, idle, active := b.running, b.idle, b.active
		b.mu.Unlock()
		if running == 0 && idle == 0 && active == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool counts: running %d, idle %d, active %d; want 0, 0, 0", running, idle, active)
		}
	}
	// And the pool still works.
	if n, err := awaitWithin(t, f.WriteAt(context.Background(), []byte("abc"), 0), "a WriteAt"); n != 3 || err != nil {
		t.Fatalf("WriteAt = %d, %v; want 3, nil", n, err)
	}
}

// TestStaleCancel: a future's cancel function may run after the operation completed (a
// Future.Cancel that loaded it just before the completion cleared it). It must not stop the file's
// next operation, which may run where the first one did: the pool's File.running slot, io_uring's
// table slot (a queue depth of 1).
func TestStaleCancel(t *testing.T) {
	for _, be := range []Backend{Uring, Pool} {
		t.Run(string(be), func(t *testing.T) {
			a, err := New(WithBackend(be), WithQueueDepth(1), WithWorkers(1))
			if err != nil {
				if be == Uring {
					t.Skipf("io_uring unavailable: %v", err)
				}
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			f, w := pipeFile(t, a)
			running := func() *op { // the Read of f in flight
				for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
					var o *op
					if ub, ok := a.be.(*uringBackend); ok {
						ub.mu.Lock()
						for _, x := range ub.table {
							if x != nil && x.f == f {
								o = x
							}
						}
						ub.mu.Unlock()
					} else {
						f.smu.Lock()
						o = f.running[0]
						f.smu.Unlock()
					}
					if o != nil {
						return o
					}
				}
				t.Fatal("the Read never started")
				return nil
			}
			buf := make([]byte, 8)
			first := f.Read(context.Background(), buf)
			o := running()
			w.Write([]byte("a"))
			if n, err := awaitWithin(t, first, "the first Read"); n != 1 || err != nil || buf[0] != 'a' {
				t.Fatalf("the first Read = %d, %v (%q); want 1, nil, \"a\"", n, err, buf[:n])
			}
			second := f.Read(context.Background(), buf)
			running()
			o.requestCancel() // the first one's, late
			time.Sleep(20 * time.Millisecond)
			if second.Resolved() {
				n, err := second.Result()
				t.Fatalf("a late cancel of the first Read stopped the second: %d, %v", n, err)
			}
			w.Write([]byte("b"))
			if n, err := awaitWithin(t, second, "the second Read"); n != 1 || err != nil || buf[0] != 'b' {
				t.Fatalf("the second Read = %d, %v (%q); want 1, nil, \"b\"", n, err, buf[:n])
			}
		})
	}
}
