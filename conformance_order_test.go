package eddy_test

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// orderHandler checks the order of each connection's callbacks: OnOpen first and once, OnData only
// between OnOpen and OnClose, OnClose exactly once, and nothing after OnShutdown.
type orderHandler struct {
	mu       sync.Mutex
	state    map[eddy.Conn]int // 1 open, 2 closed
	opened   int
	closed   int
	shutdown bool
	bad      []string
}

func (h *orderHandler) fail(format string, a ...any) {
	if len(h.bad) < 10 {
		h.bad = append(h.bad, fmt.Sprintf(format, a...))
	}
}

func (h *orderHandler) OnOpen(c eddy.Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		h.fail("OnOpen after OnShutdown")
	}
	switch h.state[c] {
	case 1:
		h.fail("OnOpen twice")
	case 2:
		h.fail("OnOpen after OnClose")
	}
	h.state[c] = 1
	h.opened++
}

func (h *orderHandler) OnData(c eddy.Conn) {
	c.Discard(-1)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state[c] != 1 {
		h.fail("OnData in state %d", h.state[c])
	}
}

func (h *orderHandler) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		h.fail("OnClose after OnShutdown")
	}
	switch h.state[c] {
	case 0:
		h.fail("OnClose before OnOpen (reason %v)", err)
	case 2:
		h.fail("OnClose twice")
	}
	h.state[c] = 2
	h.closed++
}

func (h *orderHandler) OnShutdown(*eddy.Engine) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutdown = true
	if h.opened != h.closed {
		h.fail("OnShutdown with %d connections opened and %d closed", h.opened, h.closed)
	}
}

// Connections arriving while the engine stops: handler.go says OnOpen runs "before any OnData", OnClose
// "exactly once, after the last other callback", and OnShutdown "after every connection was closed".
func TestCallbackOrderWhileStopping(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for round := 0; round < 30; round++ {
			h := &orderHandler{state: map[eddy.Conn]int{}}
			e := startEngine(t, kind, h, loopback)
			addr := e.Addrs()[0].String()
			var wg sync.WaitGroup
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c, err := net.DialTimeout("tcp", addr, 2*time.Second)
					if err != nil {
						return
					}
					defer c.Close()
					c.Write([]byte("hello"))
					c.SetReadDeadline(time.Now().Add(2 * time.Second))
					c.Read(make([]byte, 1))
				}()
			}
			time.Sleep(time.Duration(round%5) * 200 * time.Microsecond)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			e.Stop(ctx)
			cancel()
			wg.Wait()
			time.Sleep(10 * time.Millisecond)
			h.mu.Lock()
			bad := h.bad
			h.mu.Unlock()
			if len(bad) > 0 {
				t.Fatalf("round %d: %v", round, bad)
			}
		}
	})
}
