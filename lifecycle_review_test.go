package eddy_test

// Found by the review of session 19's own changes (engine lifecycle, std write completions): each test
// failed on the code before its fix.

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/future"
)

// bootDialFail dials from OnBoot and then fails the start; given accepted, only once the Dial's
// connect has been accepted by the peer (accepted closed), and some time after: long enough for an
// engine that opens the connection during OnBoot to run OnOpen.
type bootDialFail struct {
	eddy.BaseHandler
	target   string
	accepted chan struct{}
	fut      future.Future[eddy.Conn]
	opened   atomic.Int32
}

func (h *bootDialFail) OnOpen(eddy.Conn) { h.opened.Add(1) }

// BootHandler's doc (handler.go, changed today): "A non-nil error stops the start: the loops then end
// as at a Stop, so what OnBoot queued on them ... still runs, and its Dials fail." Since today a Dial
// made in OnBoot goes ahead (Engine.running is set before OnBoot). On std, a failed Start did not close
// g.quit (only Stop did, and Stop returns at once on a failed engine): the dial's goroutine connected,
// adopt accepted the connection, OnOpen ran and the future resolved, on an engine whose Start failed
// and that nothing would ever stop.
func TestFailedStartFailsADialMadeInOnBoot(t *testing.T) { failedStartDial(t, false) }

func (h *bootDialFail) OnBoot(e *eddy.Engine) error {
	h.fut = e.Dial(context.Background(), h.target)
	if h.accepted != nil {
		select {
		case <-h.accepted:
			time.Sleep(200 * time.Millisecond)
		case <-time.After(5 * time.Second):
		}
	}
	return errors.New("boot refused")
}

// The std engine dials on a goroutine of its own, so the connect of a Dial made in OnBoot can finish
// while OnBoot still runs. It then opened the connection at once (OnOpen ran, the future resolved),
// even when OnBoot went on to fail the start: TestFailedStartFailsADialMadeInOnBoot failed 2 times in
// 40 on std under load (session 30). Here OnBoot waits for the connect, which made it fail every time.
// The connection now opens only once OnBoot has succeeded, as on the loop engines, whose loops start
// then.
func TestFailedStartFailsADialThatConnectedDuringOnBoot(t *testing.T) { failedStartDial(t, true) }

// failedStartDial starts, on every engine, an engine whose OnBoot dials a listener of the test's and
// then fails the start, once the peer has accepted the connection when waitConnect is set, and checks
// that the Dial fails with ErrEngineStopped and that OnOpen never runs.
func failedStartDial(t *testing.T, waitConnect bool) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		h := &bootDialFail{target: "tcp://" + ln.Addr().String()}
		if waitConnect {
			h.accepted = make(chan struct{})
		}
		var peers sync.WaitGroup
		peers.Add(1)
		go func() { // the peer closes what it gets, so that a connection the engine kept ends
			defer peers.Done()
			ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
			if c, err := ln.Accept(); err == nil {
				if waitConnect {
					close(h.accepted)
				}
				time.Sleep(500 * time.Millisecond)
				c.Close()
			}
		}()
		defer peers.Wait()
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err == nil {
			e.Stop(context.Background())
			t.Fatal("Start succeeded although OnBoot failed")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if c, err := h.fut.Await(ctx); err == nil {
			t.Errorf("the Dial made in OnBoot resolved with a connection (%v -> %v) after Start failed",
				c.LocalAddr(), c.RemoteAddr())
		} else if ctx.Err() != nil {
			t.Errorf("the Dial made in OnBoot is still pending 3s after Start failed")
		} else if !errors.Is(err, eddy.ErrEngineStopped) {
			t.Errorf("the Dial failed with %v, want ErrEngineStopped", err)
		}
		if n := h.opened.Load(); n != 0 {
			t.Errorf("OnOpen ran %d time(s) on an engine whose Start failed", n)
		}
	})
}

// Conn.Flushed (conn.go): "at once, before Flushed returns, when nothing is queued." The first version of
// std's ordering fix deferred the callback whenever the section had any task waiting (an Execute from
// another goroutine, say), not only an earlier write completion (donePending now). epoll and uring run
// it at once.
func TestFlushedWithNothingQueuedRunsAtOnceBesideAPendingExecute(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		res := make(chan string, 1)
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Discard(-1)
			// Another goroutine queues work for this connection while the callback runs (a hub
			// broadcasting, say): it waits for the callback's end.
			queued := make(chan error)
			go func() { queued <- c.Execute(func(eddy.Conn) {}) }()
			if err := <-queued; err != nil {
				res <- "Execute: " + err.Error()
				return
			}
			ran := false
			c.Flushed(func(eddy.Conn, error) { ran = true })
			if !ran {
				res <- "Flushed with nothing queued returned before its callback ran"
				return
			}
			res <- ""
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.Write([]byte("x"))
		select {
		case msg := <-res:
			if msg != "" {
				t.Error(msg)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("OnData did not run")
		}
	})
}
