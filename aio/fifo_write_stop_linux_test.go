package aio_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/aio"
)

// TestFIFOWriteStoppedByClose: a Write into a full FIFO, stopped by File.Close or IO.Close,
// reports exactly the bytes the reader then finds, with an error matching os.ErrClosed.
func TestFIFOWriteStoppedByClose(t *testing.T) {
	for _, how := range []string{"file", "io", "ctx"} {
		t.Run(how, func(t *testing.T) {
			eachBackendName(t, func(t *testing.T, be aio.Backend) {
				a := newIO(t, be)
				name := filepath.Join(t.TempDir(), "fifo")
				if err := syscall.Mkfifo(name, 0o644); err != nil {
					t.Skip(err)
				}
				r, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				f, err := a.Open(name, os.O_WRONLY, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				data := pattern(4, 0, 4<<20)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				fut := f.Write(ctx, data)
				// Wait until the Write has filled the FIFO (it then waits for room), so that it is
				// stopped part of the way, whatever the machine's load.
				rc, err := r.SyscallConn()
				if err != nil {
					t.Fatal(err)
				}
				within(t, "the Write filling the FIFO", func() {
					for {
						var queued int
						rc.Control(func(fd uintptr) { queued, _ = unix.IoctlGetInt(int(fd), unix.TIOCINQ) })
						if queued >= 4096 {
							return
						}
						settle()
					}
				})
				settle()
				switch how {
				case "file":
					within(t, "File.Close", func() { f.Close() })
				case "io":
					within(t, "IO.Close", func() { a.Close() })
				case "ctx":
					cancel()
				}
				n, err := awaitWithin(t, fut, prompt, "the stopped Write")
				want := os.ErrClosed
				if how == "ctx" {
					want = context.Canceled
				}
				if n <= 0 || n >= len(data) || !errors.Is(err, want) {
					t.Fatalf("stopped Write = %d, %v; want part of %d and %v", n, err, len(data), want)
				}
				if how == "ctx" {
					f.Close()
				}
				got, err := io.ReadAll(r)
				if err != nil && !errors.Is(err, syscall.EAGAIN) {
					t.Fatal(err)
				}
				if len(got) != n {
					t.Fatalf("the reader found %d bytes; the Write reported %d", len(got), n)
				}
				checkBytes(t, "bytes", got, data[:n])
			})
		})
	}
}
