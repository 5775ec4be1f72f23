//go:build linux

package eddy

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

type abortStopHandler struct {
	BaseHandler
	conn   chan Conn
	closed chan error
}

func (h *abortStopHandler) OnOpen(c Conn)             { h.conn <- c }
func (h *abortStopHandler) OnClose(_ Conn, err error) { h.closed <- err }

// An Abort made in an Execute (its task runs in the next iteration) just before the engine's Stop is
// seen by the loop: the output written before the Abort must be dropped and the connection reset, as
// Conn.Abort promises. beginStop's engineClose started a graceful close of the connection instead,
// whose flush sent the output and a FIN before the Abort's task ran (epoll; found by a review of
// session 20's changes). beginClose leaves a connection with an Abort pending to it.
func TestAbortThenStopDropsOutput(t *testing.T) {
	for _, kind := range []EngineKind{EngineEpoll, EngineUring} {
		t.Run(string(kind), func(t *testing.T) {
			if kind == EngineUring {
				requireUring(t)
			}
			h := &abortStopHandler{conn: make(chan Conn, 1), closed: make(chan error, 1)}
			e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(kind), WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			stopped := make(chan error, 1)
			defer func() {
				select {
				case <-stopped:
				case <-time.After(10 * time.Second):
					t.Error("Stop did not return")
				}
			}()
			c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn := <-h.conn
			reason := errors.New("aborted by the test")
			payload := make([]byte, 1000)
			if err := conn.Execute(func(c Conn) {
				c.Write(payload)
				c.Abort(reason)
				go func() { stopped <- e.Stop(context.Background()) }()
				l := c.(loopConn).loopCore()
				deadline := time.Now().Add(10 * time.Second)
				for l.stopRq.Load() == stopNone && time.Now().Before(deadline) {
					time.Sleep(time.Millisecond)
				}
			}); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-h.closed:
				if err != reason {
					t.Errorf("OnClose reason = %v, want Abort's", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose")
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the peer read %d bytes and then %v after Abort and Stop; want the output dropped and a reset", len(got), err)
			}
		})
	}
}
