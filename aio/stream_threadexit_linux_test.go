package aio_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy/aio"
	"github.com/eddyio/eddy/future"
)

// TestAdvThreadExitsUnderWaitingOps: a Read of an empty pipe, or a Write to a full one, asked from a
// goroutine whose thread then exits, waits on, and completes with its data once the other end acts
// (the kernel fails such a request when its file wakes it, and the io_uring backend must submit it
// again, not report ECANCELED or context.Canceled). Then a Read waits while goroutines locked to
// threads that exit in turn pump the ring (one of them may have resubmitted it).
func TestAdvThreadExitsUnderWaitingOps(t *testing.T) {
	eachBackend(t, nil, func(t *testing.T, a *aio.IO) {
		bg := context.Background()
		f, w := pipeFile(t, a, true)
		buf := make([]byte, 32)
		for i := range 20 {
			var rd future.Future[int]
			aio.OnExitingThread(t, func() { rd = f.Read(bg, buf) })
			msg := fmt.Sprintf("after exit %d", i)
			w.Write([]byte(msg))
			if n, err := await(t, rd); err != nil || string(buf[:n]) != msg {
				t.Fatalf("Read asked from a thread that exited = %q, %v, want %q", buf[:n], err, msg)
			}
		}
		g, r := pipeFile(t, a, false)
		data := randBytes(rand.New(rand.NewPCG(151, 152)), 1<<20)
		for i := range 5 {
			var wr future.Future[int]
			aio.OnExitingThread(t, func() { wr = g.Write(bg, data) })
			got := make(chan []byte, 1)
			go func() {
				b := make([]byte, len(data))
				_, err := io.ReadFull(r, b)
				if err != nil {
					t.Errorf("reading the pipe: %v", err)
				}
				got <- b
			}()
			if n, err := await(t, wr); n != len(data) || err != nil {
				t.Fatalf("round %d: Write asked from a thread that exited = %d, %v", i, n, err)
			}
			checkBytes(t, "what the pipe carried", <-got, data)
		}

		// A Read that waits while locked goroutines pump the ring and exit in turn, with a byte
		// written now and then to wake it.
		h := open(t, a, tempPath(t, pattern(7, 0, 4096)), os.O_RDONLY)
		var want, read []byte
		for round := range 30 {
			rd := f.Read(bg, buf)
			aio.OnExitingThread(t, func() {
				small := make([]byte, 64)
				end := time.Now().Add(2 * time.Millisecond)
				for time.Now().Before(end) {
					h.ReadAt(bg, small, 0).Await(bg)
				}
				if round%3 == 0 {
					w.Write([]byte{byte(round)})
				}
			})
			if round%3 == 0 {
				want = append(want, byte(round))
			} else {
				w.Write([]byte{byte(round)})
				want = append(want, byte(round))
			}
			n, err := await(t, rd)
			if err != nil {
				t.Fatalf("round %d: Read = %d, %v", round, n, err)
			}
			read = append(read, buf[:n]...)
		}
		for len(read) < len(want) {
			n, err := await(t, f.Read(bg, buf))
			if err != nil {
				t.Fatal(err)
			}
			read = append(read, buf[:n]...)
		}
		checkBytes(t, "the bytes read while threads exited", read, want)
	})
}
