package eddy_test

import (
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// r2AsyncFull fills the connection's task queue with AsyncWrite from inside OnOpen (the loop cannot drain
// it meanwhile): the writes accepted before ErrQueueFull must all reach the peer, in order, and each
// callback must run once with nil; a write accepted after the drain goes out too.
type r2AsyncFull struct {
	eddy.BaseHandler
	cap      int
	accepted atomic.Int64
	cbOK     atomic.Int64
	cbErr    atomic.Int64
	refused  chan error
}

func (h *r2AsyncFull) OnOpen(c eddy.Conn) {
	var refused error
	for i := 0; i < 4*h.cap; i++ {
		err := c.AsyncWrite([]byte(fmt.Sprintf("%04d", i)), func(_ eddy.Conn, err error) {
			if err != nil {
				h.cbErr.Add(1)
			} else {
				h.cbOK.Add(1)
			}
		})
		if err != nil {
			refused = err
			break
		}
		h.accepted.Add(1)
	}
	h.refused <- refused
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for h.cbOK.Load()+h.cbErr.Load() < h.accepted.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		c.AsyncWrite([]byte("done"), nil)
	}()
}

func TestAsyncWriteErrQueueFull(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const capacity = 8
		h := &r2AsyncFull{cap: capacity, refused: make(chan error, 1)}
		s := startServer(t, kind, h, eddy.WithTaskQueueCapacity(capacity), eddy.WithLoops(1))
		c := s.dial(t)
		select {
		case err := <-h.refused:
			if !errors.Is(err, eddy.ErrQueueFull) {
				t.Fatalf("AsyncWrite past the capacity: %v, want ErrQueueFull", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("OnOpen never ran")
		}
		n := int(h.accepted.Load())
		if n < 1 || n > capacity {
			t.Fatalf("%d AsyncWrites accepted before ErrQueueFull, want 1..%d", n, capacity)
		}
		want := ""
		for i := 0; i < n; i++ {
			want += fmt.Sprintf("%04d", i)
		}
		want += "done"
		got := make([]byte, len(want))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil {
			t.Fatalf("read: %v after %q", err, got)
		}
		if string(got) != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		if h.cbOK.Load() != int64(n) || h.cbErr.Load() != 0 {
			t.Fatalf("callbacks: %d ok, %d errors; want %d ok", h.cbOK.Load(), h.cbErr.Load(), n)
		}
	})
}
