package eddy_test

import (
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// obHandler writes total bytes to each connection it opens, then reports OutboundBuffered as the
// test asks for it (through Execute), and in OnClose.
type obHandler struct {
	eddy.BaseHandler
	total   int
	conns   chan eddy.Conn
	flushed chan int // OutboundBuffered inside the Flushed callback of the write
	closed  chan int // OutboundBuffered in OnClose
}

func (h *obHandler) OnOpen(c eddy.Conn) {
	if got := c.OutboundBuffered(); got != 0 {
		h.flushed <- -got // nothing written yet
		return
	}
	c.Write(make([]byte, h.total))
	c.Flushed(func(c eddy.Conn, err error) {
		if err != nil {
			h.flushed <- -1
			return
		}
		h.flushed <- c.OutboundBuffered()
	})
	h.conns <- c
}

func (h *obHandler) OnClose(c eddy.Conn, err error) { h.closed <- c.OutboundBuffered() }

// outboundOf reads c.OutboundBuffered on its loop.
func outboundOf(t *testing.T, c eddy.Conn) int {
	t.Helper()
	got := make(chan int, 1)
	if err := c.Execute(func(c eddy.Conn) { got <- c.OutboundBuffered() }); err != nil {
		t.Fatalf("Execute: %v", err)
	}
	select {
	case n := <-got:
		return n
	case <-time.After(10 * time.Second):
		t.Fatal("Execute's function never ran")
		return 0
	}
}

// OutboundBuffered tells a server what a peer that does not read has left waiting: what was written
// less what the kernel took, shrinking to 0 as the peer drains it, and 0 in the Flushed callback of the
// write and in OnClose. A broadcast server drops a subscriber that does not read with it (docs/engine.md,
// "Fan-out").
func TestOutboundBuffered(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const total = 16 << 20 // past what loopback's socket buffers take
		h := &obHandler{total: total, conns: make(chan eddy.Conn, 1), flushed: make(chan int, 1), closed: make(chan int, 1)}
		srv := startServer(t, kind, h)
		nc := srv.dial(t)
		defer nc.Close()
		var c eddy.Conn
		select {
		case c = <-h.conns:
		case n := <-h.flushed:
			t.Fatalf("OnOpen: OutboundBuffered %d before any write, or the write failed", -n)
		case <-time.After(10 * time.Second):
			t.Fatal("no OnOpen")
		}
		// The peer reads nothing: what the kernel took stops growing, and the rest is held.
		var held int
		waitFor(t, func() bool {
			n := outboundOf(t, c)
			stable := n == held
			held = n
			time.Sleep(20 * time.Millisecond)
			return stable && n > 0
		}, "the output held for a peer that does not read to settle")
		if held <= 0 || held > total {
			t.Fatalf("OutboundBuffered = %d with the peer not reading, want in (0, %d]", held, total)
		}
		// The peer reads half of it: what is held shrinks.
		var read atomic.Int64
		n, err := io.CopyN(io.Discard, nc, total/2)
		read.Add(n)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return outboundOf(t, c) < held }, "the output held to shrink as the peer reads")
		// The peer reads the rest: nothing is held, as the Flushed callback saw.
		nc.SetReadDeadline(time.Now().Add(20 * time.Second))
		if n, err := io.CopyN(io.Discard, nc, total-read.Load()); err != nil {
			t.Fatalf("read %d of the last %d bytes: %v", n, total-read.Load(), err)
		}
		select {
		case n := <-h.flushed:
			if n != 0 {
				t.Errorf("OutboundBuffered in the write's Flushed callback = %d, want 0", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Flushed callback never ran")
		}
		if n := outboundOf(t, c); n != 0 {
			t.Errorf("OutboundBuffered after the peer read everything = %d, want 0", n)
		}
		c.Abort(nil)
		select {
		case n := <-h.closed:
			if n != 0 {
				t.Errorf("OutboundBuffered in OnClose = %d, want 0", n)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no OnClose")
		}
	})
}

// A connection closed with output held, by Abort or by a Close whose flush the peer never lets
// finish: OnClose sees 0 on every engine (epoll and uring reported what was left unsent, std 0).
func TestOutboundBufferedInOnClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, graceful := range []bool{false, true} {
			h := &obHandler{total: 16 << 20, conns: make(chan eddy.Conn, 1), flushed: make(chan int, 1), closed: make(chan int, 1)}
			srv := startServer(t, kind, h, eddy.WithFlushTimeout(200*time.Millisecond))
			nc := srv.dial(t)
			defer nc.Close()
			c := <-h.conns
			waitFor(t, func() bool { return outboundOf(t, c) > 0 }, "output to be held")
			if graceful {
				c.Close()
			} else {
				c.Abort(nil)
			}
			select {
			case n := <-h.closed:
				if n != 0 {
					t.Errorf("graceful %v: OutboundBuffered in OnClose = %d, want 0", graceful, n)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
		}
	})
}
