package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// TestStopExpiredClosesAnsweredConnectionsCleanly: a Stop whose context is done from the start (as
// http1's Server.Close passes) closes a connection whose output all went out with a plain close: the
// peer reads io.EOF, not a reset. The std engine reset it now and then: the writer's last write had
// put the bytes out but not yet taken them off the queue, and Stop took them for output dropped.
func TestStopExpiredClosesAnsweredConnectionsCleanly(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const conns = 8
		h := newEcho(false)
		e := startEngine(t, kind, h, loopback)
		addr := e.Addrs()[0].String()
		cs := make([]net.Conn, conns)
		for i := range cs {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			msg := []byte("ping, answered in full before the stop")
			if _, err := c.Write(msg); err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
				t.Fatalf("conn %d: echo: %v", i, err)
			}
			cs[i] = c
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := e.Stop(ctx); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("Stop: %v", err)
		}
		for i, c := range cs {
			b, err := io.ReadAll(c)
			switch {
			case errors.Is(err, syscall.ECONNRESET):
				t.Errorf("conn %d: reset instead of a clean close", i)
			case err != nil || len(b) != 0:
				t.Errorf("conn %d: read %q, then %v; want io.EOF", i, b, err)
			}
		}
		if n := h.closed.Load(); n != conns {
			t.Errorf("OnClose ran %d times, want %d", n, conns)
		}
	})
}
