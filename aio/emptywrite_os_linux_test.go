package aio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/eddyio/eddy/aio"
)

// TestEmptyWriteAsOSFile: Write of an empty buffer gives what os.File.Write gives, which makes a
// write(2) of nothing: EBADF on a file opened read-only (aio said 0, nil: found by the differential
// against os.File), 0 and no error on a file open for writing, ErrClosed once closed.
func TestEmptyWriteAsOSFile(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		content := pattern(5, 0, 100)
		name := tempPath(t, content)
		for _, flag := range []int{os.O_RDONLY, os.O_WRONLY, os.O_RDWR, os.O_RDWR | os.O_APPEND} {
			twin, err := os.OpenFile(name, flag, 0)
			if err != nil {
				t.Fatal(err)
			}
			on, oerr := twin.Write(nil)
			twin.Close()
			f := open(t, a, name, flag)
			for _, p := range [][]byte{nil, {}} {
				n, err := resolvedNow(t, f.Write(ctx, p), "empty Write")
				if n != on || !sameErr(err, oerr) {
					t.Errorf("Write(%v) of a file opened with %#x = %d, %v; os.File.Write gives %d, %v", p, flag, n, err, on, oerr)
				}
			}
			if flag == os.O_RDONLY {
				if n, err := resolvedNow(t, f.Write(ctx, nil), "empty Write"); n != 0 || !errors.Is(err, syscall.EBADF) {
					t.Errorf("empty Write of a read-only file = %d, %v; want EBADF", n, err)
				} else if pe := pathErr(t, "empty Write", err); pe.Op != "write" || pe.Path != name {
					t.Errorf("empty Write of a read-only file: %#v", pe)
				}
			}
			f.Close()
			if n, err := resolvedNow(t, f.Write(ctx, nil), "empty Write after Close"); n != 0 || !errors.Is(err, os.ErrClosed) {
				t.Errorf("empty Write after Close = %d, %v; want os.ErrClosed", n, err)
			}
		}
		checkBytes(t, "file", fileBytes(t, name), content)
	})
}

// TestEmptyWriteBesideAWaitingWrite: an empty Write of a pipe whose Write waits for room completes at
// once (it makes its write(2) of nothing without the os.File's write lock, which the pool's waiting
// Write holds), and does not disturb the waiting one.
func TestEmptyWriteBesideAWaitingWrite(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		ctx := context.Background()
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pr.Close()
		w, err := a.NewFile(pw)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		big := pattern(7, 0, 1<<20) // more than the pipe holds: the Write waits for room
		fut := w.Write(ctx, big)
		settle()
		if n, err := resolvedNow(t, w.Write(ctx, nil), "empty Write beside a waiting Write"); n != 0 || err != nil {
			t.Fatalf("empty Write beside a waiting Write = %d, %v; want 0, nil", n, err)
		}
		got := make([]byte, len(big))
		if _, err := io.ReadFull(pr, got); err != nil {
			t.Fatal(err)
		}
		if n, err := await(t, fut); n != len(big) || err != nil {
			t.Fatalf("the waiting Write = %d, %v", n, err)
		}
		checkBytes(t, "what the pipe carried", got, big)
	})
}
