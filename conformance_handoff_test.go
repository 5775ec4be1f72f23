package eddy_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A single acceptor (WithReusePort(false)) hands every other connection to loop 1 through its task
// queue. That hand-over is the engine's own work and never refused for the queue's capacity
// (WithTaskQueueCapacity bounds AsyncWrite and Execute only): while loop 1's queue is full, the
// connections for it are still served.
func TestHandOffIsNotRefusedWhenTheQueueIsFull(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := newEcho(false)
		s := startServer(t, kind, h, eddy.WithReusePort(false), eddy.WithTaskQueueCapacity(1))
		loops := s.e.Loops()
		if len(loops) < 2 {
			t.Skip("one loop")
		}
		held, release := make(chan struct{}), make(chan struct{})
		loops[1].Execute(func() { close(held); <-release })
		<-held
		loops[1].Execute(func() {}) // loop 1's queue now holds one task: at capacity
		released := false
		defer func() {
			if !released {
				close(release)
			}
		}()
		const n = 4
		conns := make([]io.ReadWriter, n)
		for i := range conns {
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(5 * time.Second))
			conns[i] = c
		}
		time.Sleep(100 * time.Millisecond) // loop 0 accepts and hands over meanwhile
		close(release)
		released = true
		for i, c := range conns {
			msg := []byte{'a' + byte(i)}
			if _, err := c.Write(msg); err != nil {
				t.Fatalf("connection %d: write: %v", i, err)
			}
			got := make([]byte, 1)
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("connection %d of %d: no echo (%v): the accepted socket was dropped", i, n, err)
			}
		}
	})
}
