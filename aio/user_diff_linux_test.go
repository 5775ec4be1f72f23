package aio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// zzErrStr is an error's text with the temporary path made comparable.
func zzErrStr(err error) string {
	if err == nil {
		return "<nil>"
	}
	s := fmt.Sprintf("%T:%v", errors.Unwrap(err), err)
	return strings.NewReplacer("/a-", "/x-", "/o-", "/x-").Replace(s)
}

type zzRes struct {
	n   int
	err string
}

func (r zzRes) String() string { return fmt.Sprintf("%d, %s", r.n, r.err) }

// zzCmp compares an aio result with the os.File one: counts and error texts.
func zzCmp(t *testing.T, what string, n int, err error, on int, oerr error) {
	t.Helper()
	got, want := zzRes{n, zzErrStr(err)}, zzRes{on, zzErrStr(oerr)}
	if got != want {
		t.Errorf("%s: aio %v; os.File %v", what, got, want)
	}
}

// TestUserDifferential runs the API the way the docs promise against os.File on each backend.
func TestUserDifferential(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		dir := t.TempDir()
		base := pattern(9, 0, 100)
		mk := func(name string, flag int) (*aio.File, *os.File) {
			an, on := filepath.Join(dir, "a-"+name), filepath.Join(dir, "o-"+name)
			os.WriteFile(an, base, 0o644)
			os.WriteFile(on, base, 0o644)
			f, err := a.Open(an, flag, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			o, err := os.OpenFile(on, flag, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close(); o.Close() })
			return f, o
		}
		check := func(what string, f *aio.File, o *os.File) {
			t.Helper()
			ab, _ := os.ReadFile(f.Name())
			ob, _ := os.ReadFile(o.Name())
			checkBytes(t, what, ab, ob)
		}
		f, o := mk("rw", os.O_RDWR)
		// Reads past, at and across EOF.
		for _, c := range []struct {
			n   int
			off int64
		}{{10, 100}, {10, 1000}, {10, 95}, {10, 90}, {0, 0}, {0, 1 << 40}, {0, 100}, {200, 0}, {1, 1<<63 - 1}, {10, 1<<63 - 5}} {
			p, q := make([]byte, c.n), make([]byte, c.n)
			n, err := await(t, f.ReadAt(ctx, p, c.off))
			on, oerr := o.ReadAt(q, c.off)
			zzCmp(t, fmt.Sprintf("ReadAt(%d, %d)", c.n, c.off), n, err, on, oerr)
			checkBytes(t, "ReadAt bytes", p[:n], q[:on])
		}
		// Writes past EOF, empty, negative.
		for _, c := range []struct {
			n   int
			off int64
		}{{10, 150}, {0, 1 << 30}, {5, 0}, {0, -1}, {5, -1}, {3, 1<<63 - 2}, {1, 1<<63 - 1}} {
			p := pattern(3, c.off, c.n)
			n, err := await(t, f.WriteAt(ctx, p, c.off))
			on, oerr := o.WriteAt(p, c.off)
			zzCmp(t, fmt.Sprintf("WriteAt(%d, %d)", c.n, c.off), n, err, on, oerr)
		}
		check("after WriteAts", f, o)
		for _, off := range []int64{-1, -1 << 62} {
			for _, n := range []int{0, 4} {
				p := make([]byte, n)
				an, aerr := await(t, f.ReadAt(ctx, p, off))
				on, oerr := o.ReadAt(p, off)
				zzCmp(t, fmt.Sprintf("ReadAt(%d, %d)", n, off), an, aerr, on, oerr)
			}
		}
		// Read/Write at the position.
		for i, n := range []int{0, 7, 1000, 0} {
			p, q := make([]byte, n), make([]byte, n)
			an, aerr := await(t, f.Read(ctx, p))
			on, oerr := o.Read(q)
			zzCmp(t, fmt.Sprintf("Read #%d (%d)", i, n), an, aerr, on, oerr)
			checkBytes(t, "Read bytes", p[:an], q[:on])
		}
		an, aerr := await(t, f.Write(ctx, []byte("tail")))
		on, oerr := o.Write([]byte("tail"))
		zzCmp(t, "Write", an, aerr, on, oerr)
		_, aerr = await(t, f.Sync(ctx))
		zzCmp(t, "Sync", 0, aerr, 0, o.Sync())
		check("after Write", f, o)
		ast, aerr := f.Stat()
		ost, oerr := o.Stat()
		zzCmp(t, "Stat", 0, aerr, 0, oerr)
		if ast.Size() != ost.Size() || ast.Mode() != ost.Mode() {
			t.Errorf("Stat: %v %v; os %v %v", ast.Size(), ast.Mode(), ost.Size(), ost.Mode())
		}

		// O_APPEND.
		f, o = mk("app", os.O_RDWR|os.O_APPEND)
		an, aerr = await(t, f.WriteAt(ctx, []byte("x"), 3))
		on, oerr = o.WriteAt([]byte("x"), 3)
		zzCmp(t, "append WriteAt", an, aerr, on, oerr)
		an, aerr = await(t, f.WriteAt(ctx, nil, 3))
		on, oerr = o.WriteAt(nil, 3)
		zzCmp(t, "append WriteAt empty", an, aerr, on, oerr)
		an, aerr = await(t, f.Write(ctx, []byte("appended")))
		on, oerr = o.Write([]byte("appended"))
		zzCmp(t, "append Write", an, aerr, on, oerr)
		p, q := make([]byte, 10), make([]byte, 10)
		an, aerr = await(t, f.Read(ctx, p))
		on, oerr = o.Read(q)
		zzCmp(t, "append Read after Write", an, aerr, on, oerr)
		check("append", f, o)

		// Read-only written to, write-only read from.
		f, o = mk("ro", os.O_RDONLY)
		for _, n := range []int{0, 3} {
			an, aerr = await(t, f.WriteAt(ctx, make([]byte, n), 0))
			on, oerr = o.WriteAt(make([]byte, n), 0)
			zzCmp(t, fmt.Sprintf("ro WriteAt %d", n), an, aerr, on, oerr)
			an, aerr = await(t, f.Write(ctx, make([]byte, n)))
			on, oerr = o.Write(make([]byte, n))
			zzCmp(t, fmt.Sprintf("ro Write %d", n), an, aerr, on, oerr)
		}
		_, aerr = await(t, f.Sync(ctx))
		zzCmp(t, "ro Sync", 0, aerr, 0, o.Sync())
		f, o = mk("wo", os.O_WRONLY)
		for _, n := range []int{0, 3} {
			an, aerr = await(t, f.ReadAt(ctx, make([]byte, n), 0))
			on, oerr = o.ReadAt(make([]byte, n), 0)
			zzCmp(t, fmt.Sprintf("wo ReadAt %d", n), an, aerr, on, oerr)
			an, aerr = await(t, f.Read(ctx, make([]byte, n)))
			on, oerr = o.Read(make([]byte, n))
			zzCmp(t, fmt.Sprintf("wo Read %d", n), an, aerr, on, oerr)
		}

		// Closed file.
		f, o = mk("closed", os.O_RDWR)
		zzCmp(t, "Close", 0, f.Close(), 0, o.Close())
		zzCmp(t, "second Close", 0, f.Close(), 0, o.Close())
		an, aerr = await(t, f.ReadAt(ctx, make([]byte, 3), 0))
		on, oerr = o.ReadAt(make([]byte, 3), 0)
		zzCmp(t, "closed ReadAt", an, aerr, on, oerr)
		an, aerr = await(t, f.WriteAt(ctx, make([]byte, 3), 0))
		on, oerr = o.WriteAt(make([]byte, 3), 0)
		zzCmp(t, "closed WriteAt", an, aerr, on, oerr)
		an, aerr = await(t, f.Read(ctx, make([]byte, 3)))
		on, oerr = o.Read(make([]byte, 3))
		zzCmp(t, "closed Read", an, aerr, on, oerr)
		an, aerr = await(t, f.Read(ctx, nil))
		on, oerr = o.Read(nil)
		zzCmp(t, "closed Read empty", an, aerr, on, oerr)
		an, aerr = await(t, f.Write(ctx, make([]byte, 3)))
		on, oerr = o.Write(make([]byte, 3))
		zzCmp(t, "closed Write", an, aerr, on, oerr)
		an, aerr = await(t, f.Write(ctx, nil))
		on, oerr = o.Write(nil)
		zzCmp(t, "closed Write empty", an, aerr, on, oerr)
		_, aerr = await(t, f.Sync(ctx))
		zzCmp(t, "closed Sync", 0, aerr, 0, o.Sync())
		_, aerr = f.Stat()
		_, oerr = o.Stat()
		zzCmp(t, "closed Stat", 0, aerr, 0, oerr)

		// A directory.
		dn := filepath.Join(dir, "d")
		os.Mkdir(dn, 0o755)
		df, err := a.Open(dn, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		do, _ := os.Open(dn)
		an, aerr = await(t, df.ReadAt(ctx, make([]byte, 3), 0))
		on, oerr = do.ReadAt(make([]byte, 3), 0)
		zzCmp(t, "dir ReadAt", an, aerr, on, oerr)
		an, aerr = await(t, df.Read(ctx, make([]byte, 3)))
		on, oerr = do.Read(make([]byte, 3))
		zzCmp(t, "dir Read", an, aerr, on, oerr)
		an, aerr = await(t, df.WriteAt(ctx, make([]byte, 3), 0))
		on, oerr = do.WriteAt(make([]byte, 3), 0)
		zzCmp(t, "dir WriteAt", an, aerr, on, oerr)
		_, aerr = await(t, df.Sync(ctx))
		zzCmp(t, "dir Sync", 0, aerr, 0, do.Sync())
		df.Close()
		do.Close()

		// /dev/null.
		nf, err := a.Open(os.DevNull, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		no, _ := os.OpenFile(os.DevNull, os.O_RDWR, 0)
		an, aerr = await(t, nf.ReadAt(ctx, make([]byte, 3), 5))
		on, oerr = no.ReadAt(make([]byte, 3), 5)
		zzCmp(t, "null ReadAt", an, aerr, on, oerr)
		an, aerr = await(t, nf.Read(ctx, make([]byte, 3)))
		on, oerr = no.Read(make([]byte, 3))
		zzCmp(t, "null Read", an, aerr, on, oerr)
		an, aerr = await(t, nf.WriteAt(ctx, make([]byte, 3), 5))
		on, oerr = no.WriteAt(make([]byte, 3), 5)
		zzCmp(t, "null WriteAt", an, aerr, on, oerr)
		an, aerr = await(t, nf.Write(ctx, make([]byte, 1<<20)))
		on, oerr = no.Write(make([]byte, 1<<20))
		zzCmp(t, "null Write", an, aerr, on, oerr)
		_, aerr = await(t, nf.Sync(ctx))
		zzCmp(t, "null Sync", 0, aerr, 0, no.Sync())
		nf.Close()
		no.Close()
	})
}

// TestHuge: 64 MiB WriteAt, ReadAt, Write and Read on each backend against the bytes.
func TestHuge(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := tempPath(t, nil)
		defer os.Remove(name)
		f := open(t, a, name, os.O_RDWR|os.O_CREATE)
		const size = 64 << 20
		data := pattern(7, 0, size)
		n, err := await(t, f.WriteAt(ctx, data, 1<<20))
		if n != size || err != nil {
			t.Fatalf("WriteAt 64 MiB = %d, %v", n, err)
		}
		got := make([]byte, size+(2<<20))
		n, err = await(t, f.ReadAt(ctx, got, 0))
		if n != size+(1<<20) || err != io.EOF {
			t.Fatalf("ReadAt = %d, %v; want %d, EOF", n, err, size+(1<<20))
		}
		checkBytes(t, "hole", got[:1<<20], make([]byte, 1<<20))
		checkBytes(t, "64 MiB", got[1<<20:n], data)
		n, err = await(t, f.Write(ctx, data))
		if n != size || err != nil {
			t.Fatalf("Write 64 MiB = %d, %v", n, err)
		}
		n, err = await(t, f.Read(ctx, got))
		if n == 0 || err != nil {
			t.Fatalf("Read = %d, %v", n, err)
		}
		checkBytes(t, "Read after Write", got[:n], data[size-(1<<20):][:n]) // the position is 64 MiB, where the WriteAt's last MiB is
	})
}

// TestFIFO: a FIFO never hangs: ESPIPE for ReadAt and WriteAt, Read and Write through it, a Read
// stopped by its context and by Close.
func TestFIFO(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		name := filepath.Join(t.TempDir(), "fifo")
		if err := syscall.Mkfifo(name, 0o644); err != nil {
			t.Skip(err)
		}
		base := openFDs(t)
		f, err := a.Open(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		o, _ := os.OpenFile(name, os.O_RDWR, 0)
		an, aerr := await(t, f.ReadAt(ctx, make([]byte, 3), 0))
		on, oerr := o.ReadAt(make([]byte, 3), 0)
		zzCmp(t, "fifo ReadAt", an, aerr, on, oerr)
		an, aerr = await(t, f.WriteAt(ctx, make([]byte, 3), 0))
		on, oerr = o.WriteAt(make([]byte, 3), 0)
		zzCmp(t, "fifo WriteAt", an, aerr, on, oerr)
		_, aerr = await(t, f.Sync(ctx))
		zzCmp(t, "fifo Sync", 0, aerr, 0, o.Sync())
		o.Close()
		// Through itself.
		if n, err := await(t, f.Write(ctx, []byte("hello"))); n != 5 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
		p := make([]byte, 10)
		if n, err := await(t, f.Read(ctx, p)); n != 5 || err != nil || string(p[:5]) != "hello" {
			t.Fatalf("Read = %d, %v %q", n, err, p[:n])
		}
		cctx, cancel := context.WithCancel(ctx)
		fut := f.Read(cctx, p)
		settle()
		cancel()
		if n, err := awaitWithin(t, fut, prompt, "cancelled Read"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read = %d, %v", n, err)
		}
		fut = f.Read(ctx, p)
		fut2 := f.Read(ctx, p)
		if _, err := await(t, fut2); !errors.Is(err, aio.ErrInFlight) {
			t.Fatalf("second Read: %v", err)
		}
		fut.Cancel()
		if n, err := awaitWithin(t, fut, prompt, "Future.Cancel Read"); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("Future.Cancel Read = %d, %v", n, err)
		}
		fut = f.Read(ctx, p)
		settle()
		within(t, "File.Close with a Read waiting", func() { f.Close() })
		if n, err := awaitWithin(t, fut, prompt, "Read stopped by Close"); n != 0 || !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read stopped by Close = %d, %v", n, err)
		}
		// Read-only, non-blocking, no writer: end of file at once as os.File.
		f, err = a.Open(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		o, err = os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			t.Fatal(err)
		}
		an, aerr = await(t, f.Read(ctx, p))
		on, oerr = o.Read(p)
		zzCmp(t, "fifo without writer Read", an, aerr, on, oerr)
		f.Close()
		o.Close()
		if got := openFDs(t); got != base {
			t.Errorf("descriptors: %d, were %d", got, base)
		}
	})
}

// TestConcurrentOnce: many concurrent ops on one file, each future completes exactly once with
// the right bytes, with Close among them.
func TestConcurrentOnce(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(4), aio.WithWorkers(2)}, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		const blk, count = 512, 2000
		name := tempPath(t, pattern(1, 0, blk*count))
		f := open(t, a, name, os.O_RDWR)
		var calls atomic.Int64
		var wg sync.WaitGroup
		futs := make([]future.Future[int], count)
		bufs := make([][]byte, count)
		for i := range count {
			bufs[i] = make([]byte, blk)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var fut future.Future[int]
				if i%2 == 0 {
					fut = f.ReadAt(ctx, bufs[i], int64(i*blk))
				} else {
					fut = f.WriteAt(ctx, pattern(1, int64(i*blk), blk), int64(i*blk))
				}
				futs[i] = fut
				future.Handle(fut, future.Inline, func(n int, _ error) (int, error) {
					calls.Add(1)
					return n, nil
				})
			}()
		}
		wg.Wait()
		for i, fut := range futs {
			n, err := await(t, fut)
			if n != blk || err != nil {
				t.Fatalf("op %d = %d, %v", i, n, err)
			}
			if i%2 == 0 {
				checkBytes(t, "read", bufs[i], pattern(1, int64(i*blk), blk))
			}
		}
		within(t, "callbacks", func() {
			for calls.Load() != count {
				settle()
			}
		})
		settle()
		if c := calls.Load(); c != count {
			t.Fatalf("callbacks ran %d times, want %d", c, count)
		}
	})
}
