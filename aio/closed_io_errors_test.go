package aio_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestClosedIOErrorsArePathErrors: whatever stops an operation of a File because its IO closed
// (asked after IO.Close, or in flight when it came) reports an *os.PathError naming the operation and
// the file, as every other error of a File does (doc.go: "errors are *os.PathError values"), and it
// matches both aio.ErrClosed (IO.Close's doc) and os.ErrClosed (File.Close's doc: "Operations asked for
// afterwards fail with os.ErrClosed", which also holds when the IO was closed after the File). Open
// after IO.Close fails with an *os.PathError too, as os.OpenFile's errors are. Before the fix these were
// the bare aio.ErrClosed, which does not match os.ErrClosed.
func TestClosedIOErrorsArePathErrors(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		name := tempPath(t, pattern(5, 0, 100))
		f, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		g, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		// A Read waiting on a pipe when the IO closes.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		pf, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		waiting := pf.Read(ctx, make([]byte, 8))
		settle()
		if err := g.Close(); err != nil { // g: closed before its IO
			t.Fatal(err)
		}
		within(t, "IO.Close", func() { a.Close() })

		check := func(what, op, path string, err error) {
			t.Helper()
			pe := pathErr(t, what, err)
			if pe.Op != op || pe.Path != path {
				t.Errorf("%s: %v; want Op %q, Path %q", what, err, op, path)
			}
			if !errors.Is(err, aio.ErrClosed) || !errors.Is(err, os.ErrClosed) {
				t.Errorf("%s: %v matches aio.ErrClosed %v, os.ErrClosed %v; want both", what, err,
					errors.Is(err, aio.ErrClosed), errors.Is(err, os.ErrClosed))
			}
		}
		n, err := awaitWithin(t, waiting, prompt, "the Read IO.Close stopped")
		if n != 0 {
			t.Errorf("the Read IO.Close stopped = %d", n)
		}
		check("the Read IO.Close stopped", "read", r.Name(), err)
		for _, h := range []*aio.File{f, g} {
			_, err = await(t, h.ReadAt(ctx, make([]byte, 10), 0))
			check("ReadAt after IO.Close", "read", name, err)
			_, err = await(t, h.WriteAt(ctx, []byte("x"), 0))
			check("WriteAt after IO.Close", "write", name, err)
			_, err = await(t, h.Read(ctx, make([]byte, 10)))
			check("Read after IO.Close", "read", name, err)
			_, err = await(t, h.Write(ctx, []byte("x")))
			check("Write after IO.Close", "write", name, err)
			var serr error
			_, serr = await(t, future.Future[struct{}](h.Sync(ctx)))
			check("Sync after IO.Close", "sync", name, serr)
		}
		_, err = a.Open(name, os.O_RDONLY, 0)
		check("Open after IO.Close", "open", name, err)
	})
}
