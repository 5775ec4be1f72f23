package aio_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestStatAfterIOClose: after IO.Close every operation asked of one of its Files fails with an
// *os.PathError wrapping aio.ErrClosed (IO.Close's doc; TestClosedIOErrorsArePathErrors checks
// ReadAt, WriteAt, Read, Write and Sync). Stat reported os.ErrClosed, which does not match
// aio.ErrClosed, for a File open when its IO closed and for one closed before.
func TestStatAfterIOClose(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		name := tempPath(t, pattern(7, 0, 100))
		f, err := a.Open(name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		g, err := a.Open(name, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if st, err := f.Stat(); err != nil || st.Size() != 100 {
			t.Fatalf("Stat = %v, %v; want a size of 100", st, err)
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Stat(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Stat after File.Close = %v; want os.ErrClosed", err)
		}
		within(t, "IO.Close", func() { a.Close() })
		for _, h := range []*aio.File{f, g} {
			_, err := h.Stat()
			pe := pathErr(t, "Stat after IO.Close", err)
			if pe.Op != "stat" || pe.Path != name {
				t.Errorf("Stat after IO.Close: %v; want Op %q, Path %q", err, "stat", name)
			}
			if !errors.Is(err, aio.ErrClosed) || !errors.Is(err, os.ErrClosed) {
				t.Errorf("Stat after IO.Close: %v matches aio.ErrClosed %v, os.ErrClosed %v; want both", err,
					errors.Is(err, aio.ErrClosed), errors.Is(err, os.ErrClosed))
			}
		}
	})
}

// TestCancelledReadOfAPipe: a Read waiting on a pipe, stopped by its context, completes with
// the context's error and no bytes; data written to the pipe afterwards is not taken by it (the next
// Read gets all of it) and its buffer is never written after its future completed.
func TestCancelledReadOfAPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		f, err := a.NewFile(r)
		if err != nil {
			r.Close()
			t.Fatal(err)
		}
		defer f.Close()
		ctx, cancel := context.WithCancel(context.Background())
		buf := bytes.Repeat([]byte{0xAA}, 16)
		fut := f.Read(ctx, buf)
		settle()
		cancel()
		n, err := awaitWithin(t, fut, prompt, "the cancelled Read")
		if n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read = %d, %v; want 0, context.Canceled", n, err)
		}
		if _, err := w.Write([]byte("hello, pipe")); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, 32)
		n, err = await(t, f.Read(context.Background(), got))
		if err != nil || string(got[:n]) != "hello, pipe" {
			t.Fatalf("next Read = %q, %v; want %q", got[:n], err, "hello, pipe")
		}
		if !bytes.Equal(buf, bytes.Repeat([]byte{0xAA}, 16)) {
			t.Fatalf("the cancelled Read's buffer was written after its future completed: %q", buf)
		}
	})
}
