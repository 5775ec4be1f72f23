package aio

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
)

// The io_uring backend's cancellations of an operation that waits in the kernel. A positioned read of a
// regular file does not wait long enough to be caught, and ReadAt refuses files that have no positions
// (pipes: ESPIPE); so these tests let a pipe's read end through (f.stream = false), which io_uring then
// reads at its current position, waiting for data.

// waitingRead returns the read end of a pipe as a File of a, allowed through, with a read of it in
// flight, and the write end.
func waitingRead(t *testing.T, a *IO, ctx context.Context) (*File, *os.File, future.Future[int]) {
	t.Helper()
	f, w := pipeFile(t, a)
	fut := f.ReadAt(ctx, make([]byte, 16), 0)
	time.Sleep(20 * time.Millisecond) // let it reach the kernel and wait there
	if fut.Resolved() {
		v, err := fut.Result()
		t.Fatalf("the read of an empty pipe completed: %d, %v", v, err)
	}
	return f, w, fut
}

func newUringIO(t *testing.T, opts ...Option) *IO {
	t.Helper()
	a, err := New(append([]Option{WithBackend(Uring)}, opts...)...)
	if err != nil {
		t.Skipf("io_uring unavailable: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func awaitWithin[T any](t *testing.T, fut future.Future[T], what string) (T, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := fut.Await(ctx)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
		t.Fatalf("%s: no result within 5 s", what)
	}
	return v, err
}

func TestUringCancelsAWaitingRead(t *testing.T) {
	t.Run("context", func(t *testing.T) {
		a := newUringIO(t)
		ctx, cancel := context.WithCancel(context.Background())
		_, _, fut := waitingRead(t, a, ctx)
		cancel()
		n, err := awaitWithin(t, fut, "a cancelled read")
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled read = %d, %v; want 0, context.Canceled", n, err)
		}
	})
	t.Run("future", func(t *testing.T) {
		a := newUringIO(t)
		_, _, fut := waitingRead(t, a, context.Background())
		fut.Cancel()
		if n, err := awaitWithin(t, fut, "a cancelled read"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled read = %d, %v; want 0, context.Canceled", n, err)
		}
	})
	t.Run("file-close", func(t *testing.T) {
		a := newUringIO(t)
		f, _, fut := waitingRead(t, a, context.Background())
		closed := make(chan error, 1)
		go func() { closed <- f.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("File.Close = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("File.Close did not stop the waiting read")
		}
		if n, err := awaitWithin(t, fut, "a read stopped by File.Close"); n != 0 || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("read = %d, %v; want 0 and os.ErrClosed", n, err)
		}
	})
	t.Run("io-close", func(t *testing.T) {
		a := newUringIO(t)
		_, _, fut1 := waitingRead(t, a, context.Background())
		_, _, fut2 := waitingRead(t, a, context.Background())
		closed := make(chan error, 1)
		go func() { closed <- a.Close() }()
		select {
		case <-closed:
		case <-time.After(5 * time.Second):
			t.Fatal("IO.Close did not stop the waiting reads")
		}
		for _, fut := range []future.Future[int]{fut1, fut2} {
			if n, err := awaitWithin(t, fut, "a read stopped by IO.Close"); n != 0 || !errors.Is(err, ErrClosed) {
				t.Fatalf("read = %d, %v; want 0 and ErrClosed", n, err)
			}
		}
	})
	t.Run("data-after-cancel", func(t *testing.T) {
		// A read cancelled in the kernel took nothing: the next read gets the bytes.
		a := newUringIO(t)
		ctx, cancel := context.WithCancel(context.Background())
		f, w, fut := waitingRead(t, a, ctx)
		cancel()
		awaitWithin(t, fut, "a cancelled read")
		w.Write([]byte("hello"))
		buf := make([]byte, 5)
		if n, err := awaitWithin(t, f.ReadAt(context.Background(), buf, 0), "a read after a cancelled one"); n != 5 || err != nil || string(buf) != "hello" {
			t.Fatalf("read after the cancelled one = %d, %v, %q", n, err, buf[:n])
		}
	})
}

// With every slot taken by a waiting read, an operation in line stops at once when its context ends,
// and one asked for while its file closes is not started after the close's cancellation.
func TestUringStopsOperationsInLine(t *testing.T) {
	a := newUringIO(t, WithQueueDepth(1))
	ctx := context.Background()
	_, w, waiting := waitingRead(t, a, ctx)
	name := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(name, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := a.Open(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithCancel(ctx)
	inLine := f.ReadAt(lctx, make([]byte, 4), 0)
	cancel()
	if n, err := awaitWithin(t, inLine, "a cancelled read in line"); n != 0 || !errors.Is(err, context.Canceled) {
		t.Fatalf("read in line = %d, %v; want 0, context.Canceled", n, err)
	}
	// Close the file with a read of it in line: Close returns without waiting for the slot.
	inLine = f.ReadAt(ctx, make([]byte, 4), 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if n, err := awaitWithin(t, inLine, "a read in line of a closed file"); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read in line = %d, %v; want 0, os.ErrClosed", n, err)
	}
	// The waiting read reads on to its 16 bytes, or to the end of the input.
	w.Write([]byte("x"))
	w.Close()
	if n, err := awaitWithin(t, waiting, "the waiting read"); n != 1 || !errors.Is(err, io.EOF) {
		t.Fatalf("the waiting read = %d, %v; want 1 byte and io.EOF (16 asked)", n, err)
	}
}
