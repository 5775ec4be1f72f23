package eddy_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// openCounter counts OnOpen and closes nothing.
type openCounter struct {
	eddy.BaseHandler
	opens atomic.Int64
}

func (h *openCounter) OnOpen(eddy.Conn) { h.opens.Add(1) }

// Two dials race to one server (future.Race over them, as a client of several replicas writes it) and
// both connects complete in the kernel before the loop hears of either: the loop finishes them in one
// batch, the first opens, resolves and wins, and the Race cancels the other. That one must then fail
// with context.Canceled and open nothing, not open a connection nobody holds: on epoll and uring the
// loop finished its connect anyway, for the cancellation reached it as a task queued behind the batch
// (the watch of the dial's context had started, and finishConnect did not ask). The std engine dials
// on goroutines of their own: its loser fails only if the Race settles before its connect returns.
func TestDialRaceLoserOpensNothing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		accepted := make(chan net.Conn, 2)
		go func() {
			for range 2 {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				accepted <- c
			}
		}()
		h := &openCounter{}
		e := fanEngine(t, kind, h, nil, eddy.WithLoops(1))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()

		// Hold the loop while both connects complete, so that it finishes them in one batch.
		entered, release := make(chan struct{}), make(chan struct{})
		e.Loops()[0].Execute(func() {
			close(entered)
			<-release
		})
		<-entered
		a := e.Dial(ctx, ln.Addr().String())
		b := e.Dial(ctx, ln.Addr().String())
		for range 2 {
			select {
			case c := <-accepted:
				defer c.Close()
			case <-ctx.Done():
				close(release)
				t.Fatal("the server did not accept both connects")
			}
		}
		won := future.Race(a, b)
		close(release)
		c, err := won.Await(ctx)
		if err != nil {
			t.Fatalf("Race: %v", err)
		}
		defer c.Close()
		lost := b
		if r, _ := a.Result(); r != c {
			lost = a
		}
		lc, err := lost.Await(ctx)
		if kind == eddy.EngineStd && err == nil {
			lc.Close() // its connect returned before the Race settled: it is the caller's
			return
		}
		var oe *eddy.OpError
		if !errors.Is(err, context.Canceled) || !errors.As(err, &oe) || oe.Op != "dial" {
			if lc != nil {
				lc.Close()
			}
			t.Fatalf("the dial that lost the Race: %T, %v, want an *OpError dial wrapping context.Canceled", lc, err)
		}
		if n := h.opens.Load(); n != 1 {
			t.Fatalf("OnOpen ran %d times, want once (the winner)", n)
		}
	})
}

// The context of a Dial's future ends when the future resolves, and a Cancel of the resolved future
// reaches nothing: neither may end the connection, which goes on carrying bytes both ways.
func TestDialCancelAfterCompletion(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		h := &openCounter{}
		e := fanEngine(t, kind, h, nil, eddy.WithLoops(1))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		f := e.Dial(ctx, ln.Addr().String())
		sc, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		c, err := f.Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		f.Cancel()
		sleepDone := eddy.Sleep(ctx, c.Loop(), 10*time.Millisecond) // let a stray cancellation land
		if _, err := sleepDone.Await(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.AsyncWrite([]byte("ping"), nil); err != nil {
			t.Fatalf("AsyncWrite after Cancel: %v", err)
		}
		sc.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4)
		if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("the server read %q, %v", buf, err)
		}
		if got, err := f.Result(); got != c || err != nil {
			t.Fatalf("the future after Cancel: %v", err)
		}
	})
}
