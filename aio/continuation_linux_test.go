package aio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// onDone runs fn on the Inline executor when fut completes, with its value and error, and returns
// a future that completes after fn has returned.
func onDone[T any](fut future.Future[T], fn func(T, error)) future.Future[struct{}] {
	return future.Map(future.AllSettled(fut), future.Inline, func(o []future.Outcome[T]) (struct{}, error) {
		fn(o[0].Value, o[0].Err)
		return struct{}{}, nil
	})
}

// TestCloseFileFromContinuation: an inline continuation of an operation closes its File (the design
// publishes results from a goroutine that may block for this): nothing deadlocks, the Close
// succeeds, and the file's other operations complete.
func TestCloseFileFromContinuation(t *testing.T) {
	for _, opts := range [][]aio.Option{nil, small} {
		eachBackend(t, opts, func(t *testing.T, a *aio.IO) {
			content := pattern(1, 0, 64*4096)
			f, err := a.Open(tempPath(t, content), os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			// With Map.
			var closeErr error
			m := future.Map(f.ReadAt(context.Background(), make([]byte, 4096), 0), future.Inline, func(n int) (int, error) {
				closeErr = f.Close()
				return n, nil
			})
			if n, err := await(t, m); n != 4096 || err != nil {
				t.Fatalf("Map = %d, %v", n, err)
			}
			if closeErr != nil {
				t.Fatalf("File.Close in a continuation: %v", closeErr)
			}

			// Many operations in flight, each closing the file when it completes: one Close wins.
			f, err = a.Open(tempPath(t, content), os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			var wins atomic.Int32
			var dones []future.Future[struct{}]
			for i := range 64 {
				buf := make([]byte, 4096)
				dones = append(dones, onDone(f.ReadAt(context.Background(), buf, int64(i*4096)), func(n int, err error) {
					if !(n == 4096 && err == nil) && !errors.Is(err, os.ErrClosed) {
						t.Errorf("op %d = %d, %v", i, n, err)
					}
					if f.Close() == nil {
						wins.Add(1)
					}
				}))
			}
			for _, d := range dones {
				await(t, d)
			}
			if wins.Load() != 1 {
				t.Fatalf("%d Closes succeeded, want 1", wins.Load())
			}
		})
	}
}

// TestCloseIOFromContinuation: an inline continuation closes the whole IO, with other operations
// in flight and queued: nothing deadlocks, and every future completes.
func TestCloseIOFromContinuation(t *testing.T) {
	for _, opts := range [][]aio.Option{nil, small} {
		eachBackendName(t, func(t *testing.T, be aio.Backend) {
			a, err := aio.New(append([]aio.Option{aio.WithBackend(be)}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			content := pattern(2, 0, 256*1024)
			f, err := a.Open(tempPath(t, content), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			var dones []future.Future[struct{}]
			var closes atomic.Int32
			for i := range 256 {
				fut := f.ReadAt(context.Background(), make([]byte, 1024), int64(i*1024))
				dones = append(dones, onDone(fut, func(n int, err error) {
					if !(n == 1024 && err == nil) && !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
						t.Errorf("op %d = %d, %v", i, n, err)
					}
					if i%16 == 3 {
						if err := a.Close(); err != nil {
							t.Errorf("IO.Close in a continuation: %v", err)
						}
						closes.Add(1)
					}
				}))
			}
			for _, d := range dones {
				await(t, d)
			}
			if closes.Load() == 0 {
				t.Fatal("no continuation closed the IO")
			}
			// The IO is closed.
			if _, err := resolvedNow(t, f.ReadAt(context.Background(), make([]byte, 1), 0), "ReadAt after IO.Close"); !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
				t.Fatalf("ReadAt after IO.Close in a continuation: %v", err)
			}
			within(t, "IO.Close again", func() { a.Close() })
		})
	}
}

// TestCloseFromThen: a Then step on the Inline executor closes the IO and asks for another
// operation, which fails with ErrClosed; and a Catch step closes the IO after an error.
func TestCloseFromThen(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		name := tempPath(t, pattern(3, 0, 8192))
		f, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		next := future.Then(f.ReadAt(context.Background(), buf, 0), future.Inline, func(n int) future.Future[int] {
			if err := a.Close(); err != nil {
				t.Errorf("IO.Close in Then: %v", err)
			}
			return f.WriteAt(context.Background(), buf[:n], 4096)
		})
		if _, err := await(t, next); !errors.Is(err, aio.ErrClosed) && !errors.Is(err, os.ErrClosed) {
			t.Fatalf("WriteAt after IO.Close in Then: %v", err)
		}

		b, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		ro, err := b.Open(name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		c := future.Catch(ro.WriteAt(context.Background(), []byte("x"), 0), future.Inline, func(err error) (int, error) {
			if cerr := b.Close(); cerr != nil {
				t.Errorf("IO.Close in Catch: %v", cerr)
			}
			return -1, err
		})
		if n, err := await(t, c); n != -1 || err == nil {
			t.Fatalf("Catch = %d, %v", n, err)
		}
	})
}

// TestCloseFromContinuationWhileAnotherWaits: a continuation closes a File, and then the IO, while
// a read of a pipe waits on that IO: the continuation returns, and the read completes with
// os.ErrClosed, then ErrClosed (or was refused with ESPIPE at once).
func TestCloseFromContinuationWhileAnotherWaits(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.Open(tempPath(t, pattern(4, 0, 8192)), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		var pfs []*aio.File
		var waits []future.Future[int]
		for range 2 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			pf, err := a.NewFile(r)
			if err != nil {
				t.Fatal(err)
			}
			pfs = append(pfs, pf)
			waits = append(waits, pf.ReadAt(context.Background(), make([]byte, 10), 0))
		}
		settle()
		d := onDone(f.ReadAt(context.Background(), make([]byte, 4096), 0), func(int, error) {
			if err := pfs[0].Close(); err != nil {
				t.Errorf("File.Close of the pipe in a continuation: %v", err)
			}
			if err := a.Close(); err != nil {
				t.Errorf("IO.Close in a continuation: %v", err)
			}
		})
		await(t, d)
		n, err := await(t, waits[0])
		checkStopped(t, be, n, err, os.ErrClosed, "File.Close in a continuation")
		n, err = await(t, waits[1])
		checkStopped(t, be, n, err, aio.ErrClosed, "IO.Close in a continuation")
	})
}

// TestContinuationOfStoppedOpClosesIO: the continuation of an operation that File.Close stops
// closes the IO: neither Close deadlocks.
func TestContinuationOfStoppedOpClosesIO(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be), aio.WithQueueDepth(1), aio.WithWorkers(1))
		if err != nil {
			t.Fatal(err)
		}
		f, err := a.Open(tempPath(t, pattern(5, 0, 1<<20)), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		var dones []future.Future[struct{}]
		for i := range 100 {
			dones = append(dones, onDone(f.ReadAt(context.Background(), make([]byte, 4096), int64(i*4096)), func(n int, err error) {
				if errors.Is(err, os.ErrClosed) {
					a.Close()
				}
			}))
		}
		within(t, "File.Close", func() { f.Close() })
		for _, d := range dones {
			await(t, d)
		}
		within(t, "IO.Close", func() { a.Close() })
	})
}

// TestCrossIOCloseFromContinuation: a continuation of an operation of one IO closes another IO
// whose read of a pipe waits.
func TestCrossIOCloseFromContinuation(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a := newIO(t, be)
		b, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		pf, err := b.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		wait := pf.ReadAt(context.Background(), make([]byte, 10), 0)
		settle()
		f := open(t, a, tempPath(t, pattern(6, 0, 4096)), os.O_RDONLY)
		await(t, onDone(f.ReadAt(context.Background(), make([]byte, 4096), 0), func(int, error) { b.Close() }))
		n, err := await(t, wait)
		checkStopped(t, be, n, err, aio.ErrClosed, "the other IO's Close")
	})
}

// TestInlineContinuationMayAwaitAnotherOp: an inline continuation may start another operation of the
// same IO; a read of a page-cached file completes inline there, so even awaiting it works. (Awaiting
// an operation that has to wait is what the package's doc forbids Inline continuations: it would hold
// the reaper, which completes it.)
func TestInlineContinuationMayAwaitAnotherOp(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(7, 0, 8192)
		f := open(t, a, tempPath(t, content), os.O_RDONLY)
		var got error
		d := onDone(f.ReadAt(context.Background(), make([]byte, 10), 0), func(int, error) {
			ctx, cancel := context.WithTimeout(context.Background(), prompt)
			defer cancel()
			buf := make([]byte, 4096)
			n, err := f.ReadAt(ctx, buf, 4096).Await(ctx)
			if err == nil && (n != 4096 || string(buf) != string(content[4096:])) {
				err = fmt.Errorf("%d bytes, or wrong data", n)
			}
			got = err
		})
		await(t, d)
		if got != nil {
			t.Fatalf("an inline continuation waiting for another ReadAt of the same IO: %v (the other result is "+
				"published only after the continuation returns)", got)
		}
	})
}
