package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// stopMixHandler drives connections into the states a Stop meets: idle, stuffed (a large output the
// peer does not read), closing (a large output, then Close: the flush waits for a peer that does not
// read), closed-clean (a short answer, then Close: the output is out, the connection lingers), each
// told by the peer's first bytes. OnClosing writes a goodbye.
type stopMixHandler struct {
	eddy.BaseHandler
	big   []byte
	ready chan struct{}

	mu      sync.Mutex
	closing map[eddy.Conn]int
	closed  map[eddy.Conn][]error
}

const stopMixGoodbye = "bye (OnClosing)"

func (h *stopMixHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	switch {
	case bytes.Contains(b, []byte("stuff")):
		c.Write(h.big)
	case bytes.Contains(b, []byte("close-big")):
		c.Write(h.big)
		c.Close()
	case bytes.Contains(b, []byte("close-small")):
		c.Write([]byte("answer"))
		c.Close()
	case bytes.Contains(b, []byte("hello")):
	}
	h.ready <- struct{}{}
}

func (h *stopMixHandler) OnClosing(c eddy.Conn, reason error) {
	h.mu.Lock()
	h.closing[c]++
	h.mu.Unlock()
	c.Write([]byte(stopMixGoodbye))
}

func (h *stopMixHandler) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.closed[c] = append(h.closed[c], err)
	h.mu.Unlock()
}

// A Stop whose context ends at some moment of the graceful part (before it, at once, a little later)
// over connections in every state: it returns, each connection gets OnClose exactly once and
// OnClosing at most once, an idle connection's peer reads the goodbye then EOF, a connection closed
// with its answer out reads the answer then EOF, never a reset.
func TestStopMixedStatesExpiring(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, after := range []time.Duration{-1, 0, time.Millisecond, 5 * time.Millisecond, 30 * time.Millisecond} {
			stopMixRound(t, kind, after)
		}
	})
}

func stopMixRound(t *testing.T, kind eddy.EngineKind, after time.Duration) {
	kinds := []string{"hello", "stuff", "close-big", "close-small", "hello", "close-small", "stuff", "hello"}
	h := &stopMixHandler{
		big:     make([]byte, 8<<20),
		ready:   make(chan struct{}, len(kinds)),
		closing: make(map[eddy.Conn]int),
		closed:  make(map[eddy.Conn][]error),
	}
	e := startEngine(t, kind, h, loopback)
	addr := e.Addrs()[0].String()
	peers := make([]net.Conn, len(kinds))
	for i, k := range kinds {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetReadBuffer(64 << 10)
		}
		if _, err := c.Write([]byte(k)); err != nil {
			t.Fatal(err)
		}
		peers[i] = c
	}
	for range kinds {
		select {
		case <-h.ready:
		case <-time.After(10 * time.Second):
			t.Fatal("not every connection got its OnData")
		}
	}
	// The small answers are out before the stop (read them now: the connection lingers).
	for i, k := range kinds {
		if k != "close-small" {
			continue
		}
		peers[i].SetReadDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, len("answer"))
		if _, err := io.ReadFull(peers[i], b); err != nil {
			t.Fatalf("%v conn %d: answer: %v", after, i, err)
		}
	}
	var ctx context.Context
	var cancel context.CancelFunc
	switch {
	case after < 0:
		ctx, cancel = context.WithCancel(context.Background())
		cancel()
	default:
		ctx, cancel = context.WithTimeout(context.Background(), after)
	}
	defer cancel()
	stopErr := make(chan error, 1)
	go func() { stopErr <- e.Stop(ctx) }()
	select {
	case <-stopErr:
	case <-time.After(20 * time.Second):
		t.Fatalf("ctx ends after %v: Stop did not return", after)
	}
	h.mu.Lock()
	if len(h.closed) != len(kinds) {
		t.Errorf("after %v: OnClose for %d connections; want %d", after, len(h.closed), len(kinds))
	}
	for c, errs := range h.closed {
		if len(errs) != 1 {
			t.Errorf("after %v: %v: OnClose %d times (%v)", after, c.RemoteAddr(), len(errs), errs)
		}
		if n := h.closing[c]; n > 1 {
			t.Errorf("after %v: %v: OnClosing %d times", after, c.RemoteAddr(), n)
		}
	}
	h.mu.Unlock()
	for i, k := range kinds {
		c := peers[i]
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		switch k {
		case "hello":
			b, err := io.ReadAll(c)
			if err != nil || string(b) != stopMixGoodbye {
				t.Errorf("after %v: idle conn %d read %q, then %v; want the goodbye and EOF", after, i, b, err)
			}
		case "close-small":
			b, err := io.ReadAll(c)
			if err != nil || len(b) != 0 {
				t.Errorf("after %v: closed conn %d read %q more, then %v; want EOF", after, i, b, err)
			}
		default:
			n, err := io.Copy(io.Discard, c)
			if err == nil && n >= int64(len(h.big)) {
				t.Errorf("after %v: stuffed conn %d (%s) read all %d bytes; want it cut", after, i, k, n)
			}
			if err != nil && !errors.Is(err, syscall.ECONNRESET) {
				t.Logf("after %v: conn %d (%s): %v", after, i, k, err)
			}
		}
	}
}
