package eddy_test

import (
	"errors"
	"log/slog"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// goexitOnIdleClosing pauses reading in its first OnData and holds it there past the idle deadline, so
// that the std engine's idle check runs when OnData returns (in the reader's section) and asks the
// reader, which answers in waitOutputRoom (it is paused): the answer's check finds the connection idle
// and runs OnClosing on the reader's goroutine, where this handler calls runtime.Goexit.
type goexitOnIdleClosing struct {
	*counter
	idle    time.Duration
	reading bool // not paused: the reader answers from its read (the ask's deadline ends it)
	closing atomic.Int32
}

func (h *goexitOnIdleClosing) OnData(c eddy.Conn) {
	c.Discard(-1)
	if !h.reading {
		c.SetReadPaused(true)
	}
	c.SetIdleTimeout(h.idle)
	time.Sleep(3 * h.idle) // the idle timer fires meanwhile: its check waits for the section
}

func (h *goexitOnIdleClosing) OnClosing(c eddy.Conn, reason error) {
	if h.closing.Add(1) == 1 {
		runtime.Goexit()
	}
}

// A callback that calls runtime.Goexit aborts its connection on the std engine
// (TestStdGoexitAbortsItsConnection); an OnClosing that the idle check's answer ran from waitOutputRoom
// instead killed the process: waitOutputRoom had released wmu around the answer under its deferred
// Unlock, which the Goexit then ran on an unlocked mutex ("fatal error: sync: unlock of unlocked
// mutex"). The same OnClosing run from the answer of a reader that reads (not paused) aborts its
// connection as well. Every engine stops its connection or loop then; OnClose reports it.
func TestGoexitInIdleClosing(t *testing.T) {
	for _, reading := range []bool{false, true} {
		t.Run(map[bool]string{false: "paused", true: "reading"}[reading], func(t *testing.T) {
			goexitInIdleClosing(t, reading)
		})
	}
}

func goexitInIdleClosing(t *testing.T, reading bool) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &goexitOnIdleClosing{counter: newCounter(), idle: 200 * time.Millisecond, reading: reading}
		s := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithLogger(slog.New(slog.DiscardHandler)))
		c := s.dial(t)
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		err := h.waitClosed(t, 30*time.Second)
		if h.closing.Load() == 0 {
			t.Fatalf("OnClosing did not run; OnClose(%v)", err)
		}
		if !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("OnClose(%v); want an error matching ErrEngineStopped (the callback's Goexit)", err)
		}
	})
}
