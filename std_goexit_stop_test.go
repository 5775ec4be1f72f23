package eddy_test

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// goexitClosing calls Goexit in OnClosing.
type goexitClosing struct{ *counter }

func (goexitClosing) OnData(c eddy.Conn)                  { c.Discard(-1) }
func (goexitClosing) OnClosing(c eddy.Conn, reason error) { runtime.Goexit() }

// Stop ran the std engine's OnClosing (and the tasks queued with it) on its caller's goroutine: a Goexit
// there ended the caller in the middle of Stop, the engine never finished stopping (Done stayed open, a
// later Stop waited until its context ended) and the connections after that one were never closed.
func TestStdGoexitInOnClosingDuringStop(t *testing.T) {
	h := goexitClosing{newCounter()}
	e := startEngine(t, eddy.EngineStd, h, loopback, eddy.WithLogger(slog.New(slog.DiscardHandler)))
	s := &server{e: e, addr: e.Addrs()[0].String()}
	const n = 3
	for range n {
		s.dial(t)
	}
	waitFor(t, func() bool { return h.opened.Load() == n }, "every OnOpen")
	returned := make(chan bool, 1)
	go func() {
		ok := false
		defer func() { returned <- ok }()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		e.Stop(ctx)
		ok = true
	}()
	if !<-returned {
		t.Error("Stop's caller ended (Goexit) inside Stop")
	}
	select {
	case <-e.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the engine had not stopped 10 s after Stop")
	}
	if got := h.closed.Load(); got != n {
		t.Errorf("%d of %d connections closed", got, n)
	}
}
