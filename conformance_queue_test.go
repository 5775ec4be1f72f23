package eddy_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// queueFullHandler fills its connection's task queue from inside OnOpen, where the loop cannot drain it:
// the first cap calls to Execute must be accepted and the next refused with ErrQueueFull; once OnOpen
// returns, the accepted tasks run and the queue takes work again.
type queueFullHandler struct {
	eddy.BaseHandler
	cap      int
	accepted atomic.Int64
	ran      atomic.Int64
	firstErr chan error // the error of the first refused Execute, or nil when none was refused
	again    chan error // the error of an Execute made after the accepted tasks ran
}

func (h *queueFullHandler) OnOpen(c eddy.Conn) {
	var refused error
	for i := 0; i < 4*h.cap && refused == nil; i++ {
		err := c.Execute(func(eddy.Conn) { h.ran.Add(1) })
		if err != nil {
			refused = err
			break
		}
		h.accepted.Add(1)
	}
	h.firstErr <- refused
	go func() {
		deadline := time.Now().Add(10 * time.Second)
		for h.ran.Load() < h.accepted.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		done := make(chan struct{})
		err := c.Execute(func(eddy.Conn) { close(done) })
		if err == nil {
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("the task accepted after the drain never ran")
			}
		}
		h.again <- err
	}()
}

func TestExecuteReturnsErrQueueFullWhenTheQueueIsFull(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const capacity = 8
		h := &queueFullHandler{cap: capacity, firstErr: make(chan error, 1), again: make(chan error, 1)}
		s := startServer(t, kind, h, eddy.WithTaskQueueCapacity(capacity), eddy.WithLoops(1))
		c := s.dial(t)
		defer c.Close()
		select {
		case err := <-h.firstErr:
			if !errors.Is(err, eddy.ErrQueueFull) {
				t.Fatalf("Execute past the capacity: %v, want ErrQueueFull", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("OnOpen never ran")
		}
		if n := h.accepted.Load(); n < 1 || n > capacity {
			t.Fatalf("%d tasks accepted before ErrQueueFull, want 1..%d", n, capacity)
		}
		select {
		case err := <-h.again:
			if err != nil {
				t.Fatalf("Execute after the queue drained: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the queue never drained")
		}
		if ran, acc := h.ran.Load(), h.accepted.Load(); ran != acc {
			t.Fatalf("%d of %d accepted tasks ran", ran, acc)
		}
	})
}
