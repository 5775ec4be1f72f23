package eddy_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A callback that calls runtime.Goexit before the engine has done its own part.

// The Dial future of a connection whose OnOpen called Goexit waited for ever on epoll and uring (std
// fails it, TestStdGoexitInDialledOnOpenFailsTheDial).
func TestGoexitInDialledOnOpenFailsTheDial(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := goexitOpenDialled{newCounter()}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				defer c.Close()
				c.Read(make([]byte, 1))
			}
		}()
		e := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithLogger(slog.New(slog.DiscardHandler))).e
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err = e.DialWith(ctx, "tcp://"+ln.Addr().String(), "dialled").Await(ctx)
		if !errors.Is(err, eddy.ErrClosed) {
			t.Fatalf("Dial whose OnOpen called Goexit: %v; want ErrClosed", err)
		}
		if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("OnClose(%v); want an error matching ErrEngineStopped", err)
		}
	})
}

// goexitInFailedWrite queues an AsyncWrite that cannot complete (the peer reads nothing) and whose
// callback calls runtime.Goexit, then aborts the connection: the close fails the write first.
type goexitInFailedWrite struct{ *counter }

func (h goexitInFailedWrite) OnData(c eddy.Conn) {
	c.Discard(-1)
	c.AsyncWrite(make([]byte, 32<<20), func(eddy.Conn, error) { runtime.Goexit() })
	c.Execute(func(c eddy.Conn) { c.Abort(errors.New("test abort")) })
}

// The close runs the callbacks of the writes it fails, then OnClose; one of them that called Goexit
// ended that, and OnClose never ran for the connection: the loop's stop found it notified already.
func TestGoexitInAWriteCallbackFailedByTheCloseStillGetsOnClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		if kind == eddy.EngineStd {
			t.Skip("std runs callbacks on per-connection goroutines (TestStdGoexitAbortsItsConnection)")
		}
		h := goexitInFailedWrite{newCounter()}
		s := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithLogger(slog.New(slog.DiscardHandler)))
		c := s.dial(t)
		c.Write([]byte("go"))
		if err := h.waitClosed(t, 10*time.Second); err == nil {
			t.Errorf("OnClose(nil) for an aborted connection")
		}
	})
}
