//go:build unix

package aio_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// Read and Write at the current position, on pipes, sockets and regular files, on every backend.

// pipeFile returns the end of a new pipe made a File of a (the read end when read), and the other
// end, both closed at the end of the test.
func pipeFile(t testing.TB, a *aio.IO, read bool) (*aio.File, *os.File) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	mine, other := pr, pw
	if !read {
		mine, other = pw, pr
	}
	f, err := a.NewFile(mine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); other.Close() })
	return f, other
}

// notDone fails the test if fut has completed: an operation that waits for its file must wait.
func notDone[T any](t testing.TB, fut future.Future[T], what string) {
	t.Helper()
	time.Sleep(20 * time.Millisecond) // only gives a wrong completion the time to show
	select {
	case <-fut.Done():
		v, err := fut.Result()
		t.Fatalf("%s completed with %v, %v; it must wait", what, v, err)
	default:
	}
}

func TestReadPipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		buf := make([]byte, 64)
		fut := f.Read(context.Background(), buf)
		notDone(t, fut, "a Read of an empty pipe")
		if _, err := w.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		if n, err := await(t, fut); n != 5 || err != nil || string(buf[:n]) != "hello" {
			t.Fatalf("Read = %d, %v (%q), want 5, nil (hello)", n, err, buf[:n])
		}
		w.Write([]byte("abc"))
		if n, err := await(t, f.Read(context.Background(), buf[:2])); n != 2 || err != nil || string(buf[:2]) != "ab" {
			t.Fatalf("Read of 2 = %d, %v (%q), want 2, nil (ab)", n, err, buf[:n])
		}
		w.Close()
		if n, err := await(t, f.Read(context.Background(), buf)); n != 1 || err != nil || buf[0] != 'c' {
			t.Fatalf("Read after the writer closed = %d, %v, want the byte left", n, err)
		}
		if n, err := await(t, f.Read(context.Background(), buf)); n != 0 || err != io.EOF {
			t.Fatalf("Read at the end = %d, %v, want 0, io.EOF", n, err)
		}
	})
}

func TestWritePipe(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, r := pipeFile(t, a, false)
		data := bytes.Repeat([]byte("0123456789abcdef"), 256<<10) // 4 MiB: many times the pipe's buffer
		fut := f.Write(context.Background(), data)
		notDone(t, fut, "a Write of more than the pipe holds, nobody reading")
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(r)
			got <- b
		}()
		if n, err := await(t, fut); n != len(data) || err != nil {
			t.Fatalf("Write = %d, %v, want %d, nil", n, err, len(data))
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if b := <-got; !bytes.Equal(b, data) {
			t.Fatalf("the reader got %d bytes, want the %d written", len(b), len(data))
		}
	})
}

// A Read that waits stops when its context is cancelled, and the next Read works.
func TestReadCancelled(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, w := pipeFile(t, a, true)
		ctx, cancel := context.WithCancel(context.Background())
		buf := make([]byte, 16)
		fut := f.Read(ctx, buf)
		notDone(t, fut, "a Read of an empty pipe")
		cancel()
		if n, err := await(t, fut); n != 0 || !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Read = %d, %v, want 0, context.Canceled", n, err)
		}
		next := f.Read(context.Background(), buf)
		notDone(t, next, "the Read after a cancelled one") // its deadline (pool) was cleared
		w.Write([]byte("after"))
		if n, err := await(t, next); n != 5 || err != nil || string(buf[:n]) != "after" {
			t.Fatalf("Read after a cancelled one = %d, %v (%q), want 5, nil (after)", n, err, buf[:n])
		}
	})
}

// A Write that waits for room stops when its context is cancelled, with the bytes written so far.
func TestWriteCancelled(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		f, _ := pipeFile(t, a, false)
		ctx, cancel := context.WithCancel(context.Background())
		data := make([]byte, 4<<20)
		fut := f.Write(ctx, data)
		notDone(t, fut, "a Write to a full pipe")
		cancel()
		n, err := await(t, fut)
		if !errors.Is(err, context.Canceled) || n >= len(data) {
			t.Fatalf("cancelled Write = %d, %v, want fewer than %d bytes and context.Canceled", n, err, len(data))
		}
	})
}

// File.Close and IO.Close stop a Read that waits: Close returns, and the Read fails.
func TestCloseStopsRead(t *testing.T) {
	for _, which := range []string{"File", "IO"} {
		t.Run(which, func(t *testing.T) {
			eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
				f, _ := pipeFile(t, a, true)
				fut := f.Read(context.Background(), make([]byte, 16))
				notDone(t, fut, "a Read of an empty pipe")
				closed := make(chan error, 1)
				go func() {
					if which == "File" {
						closed <- f.Close()
					} else {
						closed <- a.Close()
					}
				}()
				select {
				case err := <-closed:
					if err != nil {
						t.Fatalf("%s.Close: %v", which, err)
					}
				case <-time.After(hang):
					t.Fatalf("%s.Close waited for a Read of an empty pipe", which)
				}
				n, err := await(t, fut)
				want := os.ErrClosed
				if which == "IO" {
					want = aio.ErrClosed
				}
				if n != 0 || !errors.Is(err, want) {
					t.Fatalf("Read stopped by %s.Close = %d, %v, want 0 and %v", which, n, err, want)
				}
			})
		})
	}
}

// One Read and one Write of a File may be in flight at once; a second of either kind is refused.
func TestReadWriteInFlight(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range fds { // non-blocking: os.NewFile has the runtime poll them
			unix.CloseOnExec(fd)
			if err := unix.SetNonblock(fd, true); err != nil {
				t.Fatal(err)
			}
		}
		f, err := a.NewFile(os.NewFile(uintptr(fds[0]), "sock"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		peer := os.NewFile(uintptr(fds[1]), "peer")
		defer peer.Close()

		buf := make([]byte, 16)
		rd := f.Read(context.Background(), buf)
		notDone(t, rd, "a Read of a quiet socket")
		if n, err := await(t, f.Read(context.Background(), make([]byte, 1))); n != 0 || !errors.Is(err, aio.ErrInFlight) {
			t.Fatalf("a second Read = %d, %v, want 0, ErrInFlight", n, err)
		}
		if n, err := await(t, f.Write(context.Background(), []byte("ping"))); n != 4 || err != nil {
			t.Fatalf("Write beside the Read = %d, %v, want 4, nil", n, err)
		}
		got := make([]byte, 4)
		if _, err := io.ReadFull(peer, got); err != nil || string(got) != "ping" {
			t.Fatalf("the peer read %q, %v, want ping", got, err)
		}
		peer.Write([]byte("pong"))
		if n, err := await(t, rd); n != 4 || err != nil || string(buf[:4]) != "pong" {
			t.Fatalf("Read = %d, %v (%q), want 4, nil (pong)", n, err, buf[:n])
		}
		// The busy mark is gone before the future completes: a continuation can ask for the next one.
		next := future.Then(rd, future.Inline, func(int) future.Future[int] {
			return f.Read(context.Background(), buf)
		})
		peer.Write([]byte("more"))
		if n, err := await(t, next); n != 4 || err != nil {
			t.Fatalf("Read from the previous one's continuation = %d, %v, want 4, nil", n, err)
		}
	})
}

// On a regular file, Read and Write go on from the file's position, as os.File's do.
func TestReadWriteRegularFile(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		path := filepath.Join(t.TempDir(), "f")
		f, err := a.Open(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, s := range []string{"hello, ", "world"} {
			if n, err := await(t, f.Write(context.Background(), []byte(s))); n != len(s) || err != nil {
				t.Fatalf("Write(%q) = %d, %v", s, n, err)
			}
		}
		if n, err := await(t, f.Read(context.Background(), make([]byte, 8))); n != 0 || err != io.EOF {
			t.Fatalf("Read at the end of what was written = %d, %v, want 0, io.EOF", n, err)
		}
		if b, err := os.ReadFile(path); err != nil || string(b) != "hello, world" {
			t.Fatalf("the file holds %q, %v, want hello, world", b, err)
		}
		g, err := a.Open(path, os.O_RDONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		var got []byte
		buf := make([]byte, 5)
		for {
			n, err := await(t, g.Read(context.Background(), buf))
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil || n == 0 {
				t.Fatalf("Read = %d, %v", n, err)
			}
		}
		if string(got) != "hello, world" {
			t.Fatalf("Reads of 5 bytes gave %q, want hello, world", got)
		}
		if n, err := await(t, g.Write(context.Background(), []byte("x"))); n != 0 || err == nil {
			t.Fatalf("Write to a read-only file = %d, %v, want an error", n, err)
		}
	})
}
