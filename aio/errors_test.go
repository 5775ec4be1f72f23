package aio_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestNegativeOffset: ReadAt and WriteAt at a negative offset fail at once with an *os.PathError,
// as os.File's do, and write nothing.
func TestNegativeOffset(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(1, 0, 100)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR)
		for _, off := range []int64{-1, -4096, -1 << 62} {
			n, err := resolvedNow(t, f.ReadAt(ctx, make([]byte, 10), off), "ReadAt at a negative offset")
			if n != 0 {
				t.Fatalf("ReadAt(%d) = %d, %v", off, n, err)
			}
			pathErr(t, "ReadAt at a negative offset", err)
			n, err = resolvedNow(t, f.WriteAt(ctx, []byte("x"), off), "WriteAt at a negative offset")
			if n != 0 {
				t.Fatalf("WriteAt(%d) = %d, %v", off, n, err)
			}
			pathErr(t, "WriteAt at a negative offset", err)
			// Even with an empty buffer, as os.File.
			_, err = resolvedNow(t, f.ReadAt(ctx, nil, off), "empty ReadAt at a negative offset")
			pathErr(t, "empty ReadAt at a negative offset", err)
		}
		checkBytes(t, "file", fileBytes(t, name), content)
	})
}

// TestWriteAtAppend: WriteAt on a file opened with O_APPEND fails, as os.File's does, and leaves
// the file as it was; ReadAt works.
func TestWriteAtAppend(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(2, 0, 1000)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR|os.O_APPEND)
		for _, off := range []int64{0, 10, 1000, 5000} {
			n, err := await(t, f.WriteAt(ctx, []byte("APPEND?"), off))
			if n != 0 || err == nil {
				t.Fatalf("WriteAt(%d) on an O_APPEND file = %d, %v; want an error", off, n, err)
			}
		}
		checkBytes(t, "file", fileBytes(t, name), content)
		buf := make([]byte, 100)
		if n, err := await(t, f.ReadAt(ctx, buf, 900)); n != 100 || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		checkBytes(t, "ReadAt", buf, content[900:])
	})
}

// TestWriteAtReadOnly: WriteAt on a read-only file fails with an *os.PathError wrapping EBADF, and
// ReadAt on a write-only one likewise.
func TestWriteAtReadOnly(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(3, 0, 1000)
		name := tempPath(t, content)
		ro := open(t, a, name, os.O_RDONLY)
		for _, size := range []int{1, 4096, 1 << 20} {
			n, err := await(t, ro.WriteAt(ctx, make([]byte, size), 0))
			if n != 0 {
				t.Fatalf("WriteAt on a read-only file = %d, %v", n, err)
			}
			pe := pathErr(t, "WriteAt on a read-only file", err)
			if !errors.Is(err, syscall.EBADF) {
				t.Fatalf("WriteAt on a read-only file: %v, want EBADF", err)
			}
			if pe.Path != name {
				t.Fatalf("PathError.Path = %q, want %q", pe.Path, name)
			}
		}
		checkBytes(t, "file", fileBytes(t, name), content)

		wo := open(t, a, name, os.O_WRONLY)
		n, err := await(t, wo.ReadAt(ctx, make([]byte, 10), 0))
		if n != 0 || !errors.Is(err, syscall.EBADF) {
			t.Fatalf("ReadAt on a write-only file = %d, %v; want EBADF", n, err)
		}
		pathErr(t, "ReadAt on a write-only file", err)
	})
}

// TestClosedFile: after File.Close, every operation fails at once with an error matching
// os.ErrClosed, and a second Close too.
func TestClosedFile(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := tempPath(t, pattern(4, 0, 100))
		f, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		_, err = resolvedNow(t, f.ReadAt(ctx, make([]byte, 10), 0), "ReadAt after Close")
		checkClosed(t, "ReadAt after Close", err)
		_, err = resolvedNow(t, f.WriteAt(ctx, []byte("x"), 0), "WriteAt after Close")
		checkClosed(t, "WriteAt after Close", err)
		_, err = resolvedNow(t, f.Sync(ctx), "Sync after Close")
		checkClosed(t, "Sync after Close", err)
		_, err = f.Stat()
		checkClosed(t, "Stat after Close", err)
		checkClosed(t, "second Close", f.Close())
		checkClosed(t, "third Close", f.Close())
		// The IO still works.
		g := open(t, a, name, os.O_RDONLY)
		if n, err := await(t, g.ReadAt(ctx, make([]byte, 100), 0)); n != 100 || err != nil {
			t.Fatalf("ReadAt on another file = %d, %v", n, err)
		}
	})
}

func checkClosed(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, os.ErrClosed) {
		t.Fatalf("%s: %v, want an error matching os.ErrClosed", what, err)
	}
	pathErr(t, what, err)
}

// TestClosedIO: after IO.Close, operations on its files fail at once with ErrClosed (or, since
// Close closed the files, os.ErrClosed), NewFile and Open fail with ErrClosed, and Close returns nil
// again.
func TestClosedIO(t *testing.T) {
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
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		_, err = resolvedNow(t, f.ReadAt(ctx, make([]byte, 10), 0), "ReadAt after IO.Close")
		if !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("ReadAt after IO.Close: %v, want ErrClosed", err)
		}
		_, err = resolvedNow(t, f.WriteAt(ctx, []byte("x"), 0), "WriteAt after IO.Close")
		if !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("WriteAt after IO.Close: %v, want ErrClosed", err)
		}
		_, err = resolvedNow(t, f.Sync(ctx), "Sync after IO.Close")
		if !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("Sync after IO.Close: %v, want ErrClosed", err)
		}
		// IO.Close closed the file.
		if err := f.Close(); !errors.Is(err, os.ErrClosed) {
			t.Fatalf("File.Close after IO.Close: %v, want os.ErrClosed", err)
		}
		if g, err := a.Open(name, os.O_RDONLY, 0); !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("Open after IO.Close = %v, %v; want ErrClosed", g, err)
		}
		osf, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		defer osf.Close()
		if g, err := a.NewFile(osf); !errors.Is(err, aio.ErrClosed) {
			t.Fatalf("NewFile after IO.Close = %v, %v; want ErrClosed", g, err)
		}
		// NewFile failed: osf is still the caller's, and open.
		if _, err := osf.Stat(); err != nil {
			t.Fatalf("os.File given to a failed NewFile: %v", err)
		}
	})
}

// TestCloseTwice: the second File.Close matches os.ErrClosed, and closes nothing else.
func TestCloseTwice(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := tempPath(t, nil)
		f, err := a.Open(name, os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatalf("first Close: %v", err)
		}
		err = f.Close()
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("second Close: %v, want os.ErrClosed", err)
		}
		pathErr(t, "second Close", err)
		// Concurrent Closes: exactly one succeeds.
		g, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 8)
		for range 8 {
			go func() { errs <- g.Close() }()
		}
		ok := 0
		for range 8 {
			if err := <-errs; err == nil {
				ok++
			} else if !errors.Is(err, os.ErrClosed) {
				t.Fatalf("concurrent Close: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent Closes succeeded, want 1", ok)
		}
	})
}

// TestNewFileNil: NewFile(nil) fails, and so does NewFile of a closed *os.File.
func TestNewFileNil(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, err := a.NewFile(nil)
		if err == nil || f != nil {
			t.Fatalf("NewFile(nil) = %v, %v; want an error", f, err)
		}
		osf, err := os.Open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		osf.Close()
		if f, err := a.NewFile(osf); err == nil {
			f.Close()
			t.Fatalf("NewFile of a closed *os.File succeeded")
		}
	})
}

// TestOpenFails: Open reports os.OpenFile's error.
func TestOpenFails(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, err := a.Open(t.TempDir()+"/missing/file", os.O_RDONLY, 0)
		if f != nil || !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("Open of a missing file = %v, %v; want os.ErrNotExist", f, err)
		}
	})
}

// TestBadOptions: bad options make New fail with an error that names the bad value.
func TestBadOptions(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		cases := []struct {
			opt  aio.Option
			want string
		}{
			{aio.WithBackend("x"), `"x"`},
			{aio.WithBackend(""), `""`},
			{aio.WithBackend("URING"), `"URING"`},
			{aio.WithQueueDepth(0), "0"},
			{aio.WithQueueDepth(-5), "-5"},
			{aio.WithQueueDepth(32769), "32769"},
			{aio.WithWorkers(0), "0"},
			{aio.WithWorkers(-1), "-1"},
			{aio.WithWorkers(65537), "65537"},
		}
		for _, c := range cases {
			// The bad option after the backend, and before it.
			for _, opts := range [][]aio.Option{{aio.WithBackend(be), c.opt}, {c.opt, aio.WithBackend(be)}} {
				a, err := aio.New(opts...)
				if err == nil {
					a.Close()
					t.Fatalf("New with %s: no error", c.want)
				}
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("New: error %q does not name the bad value %s", err, c.want)
				}
			}
		}
		// Good edges, and a nil option, work.
		for _, opts := range [][]aio.Option{
			{aio.WithQueueDepth(1), aio.WithWorkers(1)},
			{aio.WithQueueDepth(32768), aio.WithWorkers(65536)},
			{nil},
		} {
			a, err := aio.New(append([]aio.Option{aio.WithBackend(be)}, opts...)...)
			if err != nil {
				t.Fatalf("New(%s, good options): %v", be, err)
			}
			if a.Backend() != be {
				t.Fatalf("Backend() = %q, want %q", a.Backend(), be)
			}
			name := tempPath(t, []byte("hello"))
			f, err := a.Open(name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			if n, err := await(t, f.ReadAt(context.Background(), buf, 0)); n != 5 || err != nil || string(buf) != "hello" {
				t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
			}
			a.Close()
		}
	})
}

// TestAuto: the default backend is Uring or Pool, never Auto, and it works.
func TestAuto(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		for _, opts := range [][]aio.Option{nil, {aio.WithBackend(aio.Auto)}} {
			a, err := aio.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			got := a.Backend()
			if got != aio.Uring && got != aio.Pool {
				t.Fatalf("Backend() = %q", got)
			}
			if uringUnavailable() == nil && got != aio.Uring {
				t.Errorf("Auto chose %q where io_uring works", got)
			}
			name := tempPath(t, []byte("abc"))
			f, err := a.Open(name, os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 3)
			if n, err := await(t, f.ReadAt(context.Background(), buf, 0)); n != 3 || err != nil {
				t.Fatalf("ReadAt = %d, %v", n, err)
			}
			a.Close()
		}
	})
}
