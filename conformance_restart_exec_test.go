package eddy_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// nibbler takes at most 16 KiB per OnData, pauses reading, and restarts it from another goroutine
// through Execute: a consumer slower than its peer, as a server whose requests wait for a pool is. The
// input it leaves buffered is redelivered at each restart.
type nibbler struct {
	eddy.BaseHandler
	consumed    atomic.Int64
	maxBuffered atomic.Int64
}

func (h *nibbler) OnData(c eddy.Conn) {
	if n := int64(c.Buffered()); n > h.maxBuffered.Load() {
		h.maxBuffered.Store(n)
	}
	n, _ := c.Discard(16 << 10)
	h.consumed.Add(int64(n))
	c.SetReadPaused(true)
	go c.Execute(func(c eddy.Conn) { c.SetReadPaused(false) })
}

// A handler that pauses reading in every OnData and restarts it from an Execute'd function holds its
// peer back on every engine: the engine takes no more input than the handler leaves buffered and a
// read's worth. On uring the restart used to arm the receive at the end of the iteration, before the
// input the handler had left was redelivered, and each restart took up to a receive window past the
// pause: the input piled up in the engine without bound (56 MiB of 64 MiB sent, with 13 MiB consumed).
func TestReadRestartFromExecuteRedeliversBeforeReading(t *testing.T) {
	const limit = 2 << 20 // far above a read, far below what piled up
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			h := &nibbler{}
			e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			c, err := net.Dial("tcp", e.Addrs()[0].String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sent := make(chan struct{})
			go func() {
				defer close(sent)
				c.SetWriteDeadline(time.Now().Add(30 * time.Second))
				buf := make([]byte, 1<<20)
				for range 32 {
					if _, err := c.Write(buf); err != nil {
						return // the deadline, or the close at the end
					}
				}
			}()
			// Enough restarts for the input to pile up (128 of them): the handler takes 16 KiB each.
			for deadline := time.Now().Add(30 * time.Second); h.consumed.Load() < 2<<20 && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if got := h.consumed.Load(); got < 2<<20 {
				t.Fatalf("the handler consumed %d bytes in 30 s", got)
			}
			if m := h.maxBuffered.Load(); m > limit {
				t.Errorf("OnData saw %d bytes buffered, above %d: the engine read on past the pauses", m, limit)
			}
			c.Close()
			<-sent
		})
	}
	skipMissingUring(t)
}
