package aio_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// stream is a non-seekable file with nothing to read yet: the read end goes to the IO, the write end
// stays with the test.
type stream struct {
	name string
	make func(t *testing.T) (r, w *os.File)
}

var streams = []stream{
	{"pipe", func(t *testing.T) (r, w *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		return r, w
	}},
	{"fifo", func(t *testing.T) (r, w *os.File) {
		name := filepath.Join(t.TempDir(), "fifo")
		if err := unix.Mkfifo(name, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		// O_RDWR does not wait for a writer on Linux.
		r, err := os.OpenFile(name, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		w, err = os.OpenFile(name, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return r, w
	}},
	{"socketpair", func(t *testing.T) (r, w *os.File) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fds[0]), "sock0"), os.NewFile(uintptr(fds[1]), "sock1")
	}},
}

// eachStream runs fn for every kind of stream, with its read end as a File of a and its write end.
// rfd is the read end's descriptor, for FIONREAD.
func eachStream(t *testing.T, a *aio.IO, fn func(t *testing.T, f *aio.File, w *os.File, rfd int)) {
	for _, s := range streams {
		t.Run(s.name, func(t *testing.T) {
			r, w := s.make(t)
			t.Cleanup(func() { w.Close() })
			rfd := sysfd(t, r)
			f, err := a.NewFile(r)
			if err != nil {
				r.Close()
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			fn(t, f, w, rfd)
		})
	}
}

// sysfd returns f's descriptor without making it blocking (as Fd would).
func sysfd(t testing.TB, f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	rc.Control(func(u uintptr) { fd = int(u) })
	return fd
}

// isESPIPE reports whether err is the refusal os.File.ReadAt gives on a non-seekable file; it fails
// the test if such a refusal is not an *os.PathError or came with bytes.
func isESPIPE(t testing.TB, n int, err error) bool {
	t.Helper()
	if !errors.Is(err, syscall.ESPIPE) {
		return false
	}
	pathErr(t, "ESPIPE", err)
	if n != 0 {
		t.Fatalf("ReadAt/WriteAt = %d, %v: %d bytes of the stream were transferred (and are lost to the caller of a "+
			"ReadAt that should wait for the rest) and then the operation failed with ESPIPE; want either ESPIPE at "+
			"once with no bytes, as os.File, or a transfer that goes on for the rest", n, err, n)
	}
	return true
}

// checkStopped checks the outcome of a read of an empty stream that was stopped: either the backend
// refused the read at once with ESPIPE, as os.File.ReadAt does on a non-seekable file (the pool
// does), or it waited (io_uring may) and the stop made it complete with no bytes and an error
// matching want.
func checkStopped(t *testing.T, be aio.Backend, n int, err error, want error, how string) {
	t.Helper()
	if isESPIPE(t, n, err) {
		t.Logf("%s: ReadAt at 0 of a stream refused with ESPIPE (as os.File)", be)
		return
	}
	if n != 0 || !errors.Is(err, want) {
		t.Fatalf("%s: read stopped by %s = %d, %v; want 0 and an error matching %v", be, how, n, err, want)
	}
}

// TestCancelBeforeCall: with a context done before the call, ReadAt, WriteAt and Sync fail at once
// with the context's error and do nothing.
func TestCancelBeforeCall(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(1, 0, 100)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR)
		canceled, cancel := context.WithCancel(context.Background())
		cancel()
		expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel2()
		for _, c := range []struct {
			ctx  context.Context
			want error
		}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
			buf := make([]byte, 10)
			n, err := resolvedNow(t, f.ReadAt(c.ctx, buf, 0), "ReadAt with a done context")
			if n != 0 || !errors.Is(err, c.want) {
				t.Fatalf("ReadAt = %d, %v; want 0, %v", n, err, c.want)
			}
			if string(buf) != string(make([]byte, 10)) {
				t.Fatalf("ReadAt with a done context wrote into the buffer")
			}
			n, err = resolvedNow(t, f.WriteAt(c.ctx, []byte("XXXX"), 0), "WriteAt with a done context")
			if n != 0 || !errors.Is(err, c.want) {
				t.Fatalf("WriteAt = %d, %v; want 0, %v", n, err, c.want)
			}
			_, err = resolvedNow(t, f.Sync(c.ctx), "Sync with a done context")
			if !errors.Is(err, c.want) {
				t.Fatalf("Sync = %v; want %v", err, c.want)
			}
		}
		checkBytes(t, "file", fileBytes(t, name), content)
		// A nil context means Background.
		var nilCtx context.Context
		buf := make([]byte, 100)
		if n, err := await(t, f.ReadAt(nilCtx, buf, 0)); n != 100 || err != nil {
			t.Fatalf("ReadAt with a nil context = %d, %v", n, err)
		}
	})
}

// TestCancelWaitingRead stops a read of an empty pipe, FIFO or socket by cancelling its context,
// by Future.Cancel and by a deadline: the future completes promptly with the context's error (or
// the backend refused the read at once with ESPIPE), and the IO still works afterwards.
func TestCancelWaitingRead(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		be := a.Backend()
		eachStream(t, a, func(t *testing.T, f *aio.File, w *os.File, rfd int) {
			// Context cancelled.
			ctx, cancel := context.WithCancel(context.Background())
			fut := f.ReadAt(ctx, make([]byte, 10), 0)
			settle()
			cancel()
			n, err := awaitWithin(t, fut, prompt, "read stopped by its context")
			checkStopped(t, be, n, err, context.Canceled, "cancelling its context")

			// Future.Cancel.
			fut = f.ReadAt(context.Background(), make([]byte, 10), 0)
			settle()
			fut.Cancel()
			n, err = awaitWithin(t, fut, prompt, "read stopped by Future.Cancel")
			checkStopped(t, be, n, err, context.Canceled, "Future.Cancel")

			// A deadline.
			dctx, dcancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			fut = f.ReadAt(dctx, make([]byte, 10), 0)
			n, err = awaitWithin(t, fut, prompt+time.Second, "read stopped by its deadline")
			dcancel()
			checkStopped(t, be, n, err, context.DeadlineExceeded, "a deadline")

			// Several at once, stopped together by one context.
			ctx, cancel = context.WithCancel(context.Background())
			var futs []future.Future[int]
			for range 8 {
				futs = append(futs, f.ReadAt(ctx, make([]byte, 10), 0))
			}
			settle()
			cancel()
			for _, fu := range futs {
				n, err := awaitWithin(t, fu, prompt, "one of several reads stopped by their context")
				checkStopped(t, be, n, err, context.Canceled, "cancelling their context")
			}

			// Nothing was consumed, and the file still reads what comes.
			if _, err := w.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			n, err = await(t, f.ReadAt(context.Background(), buf, 0))
			if isESPIPE(t, n, err) {
				return
			}
			if n != 10 || err != nil || string(buf) != "0123456789" {
				t.Fatalf("ReadAt after stopped reads = %d, %v, %q; want 10, nil, %q", n, err, buf, "0123456789")
			}
		})
	})
}

// TestStreamReadGetsData: a read of a stream that waits completes when data comes, and reads to
// the end of the stream with io.EOF (or the backend refuses it at once with ESPIPE).
func TestStreamReadGetsData(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		eachStream(t, a, func(t *testing.T, f *aio.File, w *os.File, rfd int) {
			buf := make([]byte, 10)
			fut := f.ReadAt(context.Background(), buf, 0)
			settle()
			// In two pieces: the read waits for the whole buffer, as io.ReaderAt says.
			w.Write([]byte("01234"))
			settle()
			w.Write([]byte("56789"))
			n, err := await(t, fut)
			if isESPIPE(t, n, err) {
				return
			}
			if n != 10 || err != nil || string(buf) != "0123456789" {
				t.Fatalf("ReadAt = %d, %v, %q", n, err, buf)
			}
			if filepath.Base(f.Name()) == "fifo" {
				return // the IO's end is also a writer: no EOF
			}
			fut = f.ReadAt(context.Background(), buf, 0)
			w.Write([]byte("abc"))
			w.Close()
			n, err = await(t, fut)
			if n != 3 || err != io.EOF || string(buf[:3]) != "abc" {
				t.Fatalf("ReadAt of a stream that ends = %d, %v, %q; want 3, io.EOF, %q", n, err, buf[:n], "abc")
			}
		})
	})
}

// TestCancelPartialRead: a read that got some bytes and then waits for the rest, when cancelled,
// completes with the bytes done so far and the context's error (package doc).
func TestCancelPartialRead(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		eachStream(t, a, func(t *testing.T, f *aio.File, w *os.File, rfd int) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			buf := make([]byte, 10)
			fut := f.ReadAt(ctx, buf, 0)
			w.Write([]byte("abc"))
			// Wait until the read has taken the three bytes, or has completed.
			deadline := time.Now().Add(hang)
			for !fut.Resolved() {
				if avail, err := unix.IoctlGetInt(rfd, unix.TIOCINQ); err == nil && avail == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the read did not take the bytes written")
				}
				time.Sleep(time.Millisecond)
			}
			cancel()
			n, err := awaitWithin(t, fut, prompt, "partial read stopped by its context")
			if isESPIPE(t, n, err) {
				return
			}
			if n != 3 || !errors.Is(err, context.Canceled) || string(buf[:3]) != "abc" {
				t.Fatalf("cancelled partial read = %d, %v, %q; want 3, context.Canceled, %q", n, err, buf[:n], "abc")
			}
		})
	})
}

// TestCancelPartialWrite: a write to a full pipe writes what fits and waits; cancelled, it
// completes with the count written and the context's error, and exactly those bytes are in the
// pipe.
func TestCancelPartialWrite(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		f, err := a.NewFile(w)
		if err != nil {
			t.Fatal(err)
		}
		data := pattern(9, 0, 1<<20) // more than a pipe holds
		ctx, cancel := context.WithCancel(context.Background())
		fut := f.WriteAt(ctx, data, 0)
		settle()
		cancel()
		n, err := awaitWithin(t, fut, prompt, "write to a full pipe stopped by its context")
		if !isESPIPE(t, n, err) {
			if n >= len(data) || !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled write to a full pipe = %d, %v; want a short count and context.Canceled", n, err)
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("the pipe holds %d bytes; the write reported %d", len(got), n)
		}
		checkBytes(t, "bytes in the pipe", got, data[:n])
	})
}

// TestFileCloseStopsWaitingRead: File.Close while a read of a stream waits returns promptly, and the
// read completes with an error matching os.ErrClosed (or was refused at once with ESPIPE).
func TestFileCloseStopsWaitingRead(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		be := a.Backend()
		eachStream(t, a, func(t *testing.T, f *aio.File, w *os.File, rfd int) {
			futs := []future.Future[int]{
				f.ReadAt(context.Background(), make([]byte, 10), 0),
				f.ReadAt(context.Background(), make([]byte, 10), 0),
			}
			settle()
			var err error
			within(t, "File.Close of a file with a waiting read", func() { err = f.Close() })
			if err != nil {
				t.Fatalf("File.Close: %v", err)
			}
			for _, fut := range futs {
				n, err := awaitWithin(t, fut, prompt, "read stopped by File.Close")
				checkStopped(t, be, n, err, os.ErrClosed, "File.Close")
				if !isESPIPE(t, n, err) {
					pathErr(t, "read stopped by File.Close", err)
				}
			}
		})
	})
}

// TestIOCloseStopsWaitingRead: IO.Close while reads of streams wait returns promptly, and the reads
// complete with ErrClosed (or were refused at once with ESPIPE).
func TestIOCloseStopsWaitingRead(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		a, err := aio.New(aio.WithBackend(be))
		if err != nil {
			t.Fatal(err)
		}
		var futs []future.Future[int]
		var ws []*os.File
		for _, s := range streams {
			r, w := s.make(t)
			ws = append(ws, w)
			f, err := a.NewFile(r)
			if err != nil {
				t.Fatal(err)
			}
			futs = append(futs, f.ReadAt(context.Background(), make([]byte, 10), 0))
		}
		defer func() {
			for _, w := range ws {
				w.Close()
			}
		}()
		settle()
		within(t, "IO.Close with waiting reads", func() { err = a.Close() })
		if err != nil {
			t.Fatalf("IO.Close: %v", err)
		}
		for _, fut := range futs {
			n, err := awaitWithin(t, fut, prompt, "read stopped by IO.Close")
			checkStopped(t, be, n, err, aio.ErrClosed, "IO.Close")
		}
	})
}

// TestCancelWhileWaitingForASlot: an operation that waits for a place in the queue (the io_uring
// backend's only slot, or the pool's only worker, is taken by a read that waits) is stopped
// promptly when its context is cancelled, when its future is cancelled and when its deadline
// passes: "Cancelling the context given to an operation, or its future (Future.Cancel), asks the
// backend to stop it"; the pool "stops one that has not started yet".
func TestCancelWhileWaitingForASlot(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		pf, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		blocker := pf.ReadAt(context.Background(), make([]byte, 1), 0)
		settle()
		content := pattern(4, 0, 4096)
		f := open(t, a, tempPath(t, content), os.O_RDONLY)

		check := func(how string, fut future.Future[int], buf []byte, want error) {
			t.Helper()
			n, err := awaitWithin(t, fut, prompt, "ReadAt waiting for a slot, stopped by "+how)
			if err == nil && n == len(buf) {
				checkBytes(t, "ReadAt that ran before "+how, buf, content[:len(buf)])
				return
			}
			if n != 0 || !errors.Is(err, want) {
				t.Fatalf("ReadAt waiting for a slot, stopped by %s = %d, %v; want %v", how, n, err, want)
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		buf := make([]byte, 100)
		fut := f.ReadAt(ctx, buf, 0)
		cancel()
		check("its context", fut, buf, context.Canceled)

		buf = make([]byte, 100)
		fut = f.ReadAt(context.Background(), buf, 0)
		fut.Cancel()
		check("Future.Cancel", fut, buf, context.Canceled)

		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
		defer dcancel()
		buf = make([]byte, 100)
		fut = f.ReadAt(dctx, buf, 0)
		check("its deadline", fut, buf, context.DeadlineExceeded)

		w.Write([]byte{1})
		if n, err := await(t, blocker); !isESPIPE(t, n, err) && (n != 1 || err != nil) {
			t.Fatalf("the blocking read = %d, %v", n, err)
		}
	})
}

// TestFileCloseWhileWaitingForASlot: closing a File whose operation waits for a place in the queue
// behind another file's waiting read stops it promptly with an error matching os.ErrClosed.
func TestFileCloseWhileWaitingForASlot(t *testing.T) {
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		pf, err := a.NewFile(r)
		if err != nil {
			t.Fatal(err)
		}
		defer pf.Close()
		blocker := pf.ReadAt(context.Background(), make([]byte, 1), 0)
		settle()
		content := pattern(4, 0, 4096)
		f, err := a.Open(tempPath(t, content), os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		fut := f.ReadAt(context.Background(), buf, 0)
		within(t, "File.Close", func() { err = f.Close() })
		if err != nil {
			t.Fatal(err)
		}
		n, err := awaitWithin(t, fut, prompt, "ReadAt waiting for a slot, stopped by File.Close")
		if !(err == nil && n == 100) && !errors.Is(err, os.ErrClosed) {
			t.Fatalf("ReadAt waiting for a slot, stopped by File.Close = %d, %v", n, err)
		}
		w.Write([]byte{1})
		await(t, blocker)
	})
}

// TestStreamOffset: ReadAt and WriteAt at an offset other than 0 on a pipe, FIFO or socket must not
// ignore the offset: os.File fails them with ESPIPE ("The contract of every operation is the one of
// package os, whatever the backend"). Reading the stream's first bytes for ReadAt(p, 5), or
// appending for WriteAt(p, 5), is silently wrong data.
func TestStreamOffset(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		be := a.Backend()
		eachStream(t, a, func(t *testing.T, f *aio.File, w *os.File, rfd int) {
			if _, err := w.Write([]byte("0123456789")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 5)
			ctx, cancel := context.WithTimeout(context.Background(), prompt)
			defer cancel()
			n, err := await(t, f.ReadAt(ctx, buf, 5))
			if !isESPIPE(t, n, err) {
				t.Errorf("%s: ReadAt(5 B at offset 5) of a %s holding %q = %d, %v, %q; want ESPIPE as os.File.ReadAt",
					be, f.Name(), "0123456789", n, err, buf[:n])
			}
		})
		// WriteAt at an offset, on the write end of a pipe.
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rfd := sysfd(t, r)
		wf, err := a.NewFile(w)
		if err != nil {
			t.Fatal(err)
		}
		defer wf.Close()
		n, err := await(t, wf.WriteAt(context.Background(), []byte("hello"), 5))
		avail, _ := unix.IoctlGetInt(rfd, unix.TIOCINQ)
		if !isESPIPE(t, n, err) || avail != 0 {
			t.Errorf("%s: WriteAt(%q at offset 5) of a pipe = %d, %v, and the pipe holds %d bytes; want ESPIPE and nothing written",
				be, "hello", n, err, avail)
		}
	})
}

// TestCancelRegularFile cancels half of many operations on a regular file right after asking for
// them: each completes, either with its full result (and right data) or with context.Canceled and
// no more bytes than asked.
func TestCancelRegularFile(t *testing.T) {
	eachBackend(t, small, func(t *testing.T, a *aio.IO) {
		const ops, block = 400, 4096
		content := pattern(5, 0, ops*block)
		name := tempPath(t, content)
		f := open(t, a, name, os.O_RDWR)
		futs := make([]future.Future[int], ops)
		bufs := make([][]byte, ops)
		for i := range ops {
			ctx, cancel := context.WithCancel(context.Background())
			off := int64(i * block)
			if i%3 == 0 {
				futs[i] = f.WriteAt(ctx, content[off:off+block], off) // the same bytes: the file stays as it is
			} else {
				bufs[i] = make([]byte, block)
				futs[i] = f.ReadAt(ctx, bufs[i], off)
			}
			if i%2 == 0 {
				cancel()
			} else if i%4 == 1 {
				futs[i].Cancel()
			}
			defer cancel()
		}
		cancelled := 0
		for i, fut := range futs {
			n, err := await(t, fut)
			switch {
			case err == nil:
				if n != block {
					t.Fatalf("op %d = %d, nil", i, n)
				}
			case errors.Is(err, context.Canceled):
				cancelled++
				if n < 0 || n > block {
					t.Fatalf("op %d = %d, %v", i, n, err)
				}
				if i%2 == 1 && i%4 != 1 {
					t.Fatalf("op %d was not cancelled, but failed with %v", i, err)
				}
			default:
				t.Fatalf("op %d = %d, %v", i, n, err)
			}
			if bufs[i] != nil {
				off := int64(i * block)
				checkBytes(t, fmt.Sprintf("read %d", i), bufs[i][:n], content[off:off+int64(n)])
			}
		}
		t.Logf("%d of %d cancelled in time", cancelled, ops)
		checkBytes(t, "file", fileBytes(t, name), content)
	})
}

// TestCancelAfterCompletion: cancelling a complete future changes nothing.
func TestCancelAfterCompletion(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		content := pattern(6, 0, 1000)
		f := open(t, a, tempPath(t, content), os.O_RDONLY)
		ctx, cancel := context.WithCancel(context.Background())
		buf := make([]byte, 1000)
		fut := f.ReadAt(ctx, buf, 0)
		if n, err := await(t, fut); n != 1000 || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
		fut.Cancel()
		cancel()
		if n, err := fut.Result(); n != 1000 || err != nil {
			t.Fatalf("Result after Cancel = %d, %v", n, err)
		}
		checkBytes(t, "ReadAt", buf, content)
	})
}

// TestFileCloseCompletesFutures: once File.Close has returned, every operation of the file asked for
// before it has ended (its buffer is free, its result decided), and its future completes promptly with
// its result or an error matching os.ErrClosed. (Close does not wait for the futures themselves: their
// continuations may be the ones closing the file, and a later future of the same batch would wait
// for them.) IO.Close likewise, with aio.ErrClosed.
func TestFileCloseCompletesFutures(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		name := tempPath(t, pattern(7, 0, 1<<16))
		for round := range 50 {
			f, err := a.Open(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			var futs []future.Future[int]
			var bufs [][]byte
			for i := range 4 {
				bufs = append(bufs, make([]byte, 4096))
				futs = append(futs, f.ReadAt(context.Background(), bufs[i], int64(i*4096)))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			for i, fut := range futs {
				n, err := awaitWithin(t, fut, prompt, "a read asked for before File.Close")
				if !(n == 4096 && err == nil) && !errors.Is(err, os.ErrClosed) {
					t.Fatalf("round %d: op %d = %d, %v", round, i, n, err)
				}
			}
		}
	})
}

// TestIOCloseCompletesFutures: once IO.Close has returned, every future of an operation asked for
// before it completes promptly.
func TestIOCloseCompletesFutures(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		name := tempPath(t, pattern(8, 0, 1<<16))
		for round := range 50 {
			a, err := aio.New(aio.WithBackend(be))
			if err != nil {
				t.Fatal(err)
			}
			f, err := a.Open(name, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			var futs []future.Future[int]
			for i := range 16 {
				futs = append(futs, f.ReadAt(context.Background(), make([]byte, 4096), int64(i*4096)))
			}
			a.Close()
			for i, fut := range futs {
				n, err := awaitWithin(t, fut, prompt, "a read asked for before IO.Close")
				if !(n == 4096 && err == nil) && !errors.Is(err, aio.ErrClosed) {
					t.Fatalf("round %d: op %d = %d, %v", round, i, n, err)
				}
			}
		}
	})
}

// TestFileCloseRacesWithStreamReads closes a File while another goroutine keeps asking for reads of
// it, a pipe with nothing to read: Close must stop every read asked for before it (an operation that
// got past the closed check counts as in flight, and Close waits for it), so it returns promptly;
// every read completes with an error matching os.ErrClosed (or ESPIPE at once).
func TestFileCloseRacesWithStreamReads(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		for round := range 60 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			pf, err := a.NewFile(r)
			if err != nil {
				t.Fatal(err)
			}
			var futs []future.Future[int]
			asking := make(chan struct{})
			go func() {
				defer close(asking)
				for {
					fut := pf.ReadAt(ctx, make([]byte, 1), 0)
					if _, err := fut.Result(); errors.Is(err, os.ErrClosed) {
						return // asked after Close: refused at once
					}
					futs = append(futs, fut)
				}
			}()
			time.Sleep(time.Duration(round%40) * time.Microsecond)
			closed := make(chan error, 1)
			go func() { closed <- pf.Close() }()
			select {
			case err := <-closed:
				if err != nil {
					t.Fatalf("round %d: File.Close: %v", round, err)
				}
			case <-time.After(prompt):
				// A read went to the kernel after Close had stopped the others: free it so the test ends.
				w.Write(make([]byte, 1<<16))
				<-closed
				<-asking
				w.Close()
				t.Fatalf("round %d: File.Close did not return within %v while reads of the pipe raced with it: "+
					"a read asked for just before Close was started after Close's cancellation and waited", round, prompt)
			}
			<-asking
			for i, fut := range futs {
				n, err := awaitWithin(t, fut, prompt, "read racing with File.Close")
				if !isESPIPE(t, n, err) && !errors.Is(err, os.ErrClosed) {
					t.Fatalf("round %d: read %d = %d, %v; want os.ErrClosed", round, i, n, err)
				}
			}
			w.Close()
		}
	})
}
