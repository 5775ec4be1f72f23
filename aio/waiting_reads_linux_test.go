package aio_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestThousandsOfWaitingReads: far more Reads waiting than the ring's queues hold, all answered at
// once, then all stopped at once by IO.Close.
func TestThousandsOfWaitingReads(t *testing.T) {
	const pipes = 3000
	eachBackend(t, []aio.Option{aio.WithQueueDepth(1), aio.WithWorkers(1)}, func(t *testing.T, a *aio.IO) {
		base := openFDs(t)
		files := make([]*aio.File, pipes)
		ws := make([]*os.File, pipes)
		for i := range pipes {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			ws[i] = w
			t.Cleanup(func() { w.Close() })
			if files[i], err = a.NewFile(r); err != nil {
				t.Fatal(err)
			}
		}
		bufs := make([][]byte, pipes)
		futs := make([]future.Future[int], pipes)
		for i := range pipes {
			bufs[i] = make([]byte, 32)
			futs[i] = files[i].Read(context.Background(), bufs[i])
		}
		for i := range pipes {
			fmt.Fprintf(ws[i], "pipe %d", i)
		}
		for i := range pipes {
			n, err := await(t, futs[i])
			if want := fmt.Sprintf("pipe %d", i); err != nil || string(bufs[i][:n]) != want {
				t.Fatalf("Read of pipe %d = %q, %v, want %q", i, bufs[i][:n], err, want)
			}
		}
		for i := range pipes {
			futs[i] = files[i].Read(context.Background(), bufs[i])
		}
		within(t, "IO.Close with thousands of waiting Reads", func() { a.Close() })
		for i := range pipes {
			if n, err := await(t, futs[i]); n != 0 || !errors.Is(err, aio.ErrClosed) {
				t.Fatalf("Read %d after IO.Close = %d, %v", i, n, err)
			}
		}
		for _, w := range ws {
			w.Close()
		}
		if got := openFDs(t); got > base {
			t.Errorf("descriptors: %d, were %d", got, base)
		}
	})
}
