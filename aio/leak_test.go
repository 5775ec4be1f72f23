package aio_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// openFDs counts the process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	return len(ents) - 1 // the directory ReadDir had open
}

// TestNoDescriptorLeak opens and closes 200 IOs and 2,000 Files (each with an operation, some still
// in flight when their File or IO closes, some Files left for IO.Close to close, some Opens after
// Close that fail), and checks that the descriptor count is back to where it was, and that no
// goroutine is left.
func TestNoDescriptorLeak(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		name := tempPath(t, pattern(1, 0, 64<<10))
		// Warm up whatever the runtime opens once (the netpoller, say).
		if a, err := aio.New(aio.WithBackend(be)); err == nil {
			if f, err := a.Open(name, os.O_RDONLY, 0); err == nil {
				await(t, f.ReadAt(context.Background(), make([]byte, 1), 0))
			}
			a.Close()
		}
		r, w, _ := os.Pipe()
		r.Close()
		w.Close()
		base := openFDs(t)
		for i := range 200 {
			a, err := aio.New(aio.WithBackend(be))
			if err != nil {
				t.Fatal(err)
			}
			var futs []future.Future[int]
			for j := range 10 {
				f, err := a.Open(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				futs = append(futs, f.ReadAt(context.Background(), make([]byte, 4096), int64(j*4096)))
				switch j % 3 {
				case 0:
					f.Close() // at once, maybe with the read in flight
				case 1:
					await(t, futs[len(futs)-1])
					f.Close()
				case 2:
					// left for IO.Close
				}
			}
			var pw *os.File
			if i%10 == 0 {
				// A pipe whose read waits when IO.Close comes (io_uring).
				r, w, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				pw = w
				pf, err := a.NewFile(r)
				if err != nil {
					t.Fatal(err)
				}
				futs = append(futs, pf.ReadAt(context.Background(), make([]byte, 1), 0))
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			for _, fu := range futs {
				await(t, fu)
			}
			if pw != nil {
				pw.Close()
			}
			if f, err := a.Open(name, os.O_RDONLY, 0); !errors.Is(err, aio.ErrClosed) {
				t.Fatalf("Open after Close = %v, %v", f, err)
			}
		}
		if got := openFDs(t); got != base {
			t.Fatalf("%d descriptors open after 200 IOs and 2,000 Files, want the baseline %d", got, base)
		}
	})
}

// TestNoDescriptorLeakPlain is TestNoDescriptorLeak without pipes: the count returns exactly to the
// baseline, and goleak finds nothing after each IO's Close.
func TestNoDescriptorLeakPlain(t *testing.T) {
	eachBackendName(t, func(t *testing.T, be aio.Backend) {
		name := tempPath(t, pattern(1, 0, 64<<10))
		base := openFDs(t)
		for i := range 200 {
			a, err := aio.New(aio.WithBackend(be))
			if err != nil {
				t.Fatal(err)
			}
			for j := range 10 {
				f, err := a.Open(name, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				fut := f.WriteAt(context.Background(), pattern(1, int64(j*100), 100), int64(j*100))
				if j%2 == 0 {
					f.Close()
				}
				await(t, fut)
			}
			a.Close()
			if i%50 == 0 {
				goleak.VerifyNone(t)
			}
		}
		if got := openFDs(t); got != base {
			t.Fatalf("%d descriptors open after 200 IOs and 2,000 Files, want the baseline %d", got, base)
		}
	})
}
