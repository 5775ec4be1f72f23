package eddy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"
)

// Abort while a connection reads on after a failed write (the peer's input is still offered to
// OnData, connCore.readOn and stdConn.failSendLocked) ends it at once, with a reset and Abort's reason, on
// the engines that read on (uring, std); before, std kept reading until the linger bound and reported
// the write's error. The epoll engine reads what the socket holds within the failed write's own
// handling (epConn.sendFailed, which stops at an Abort made in its OnData), so there is no later reading
// on to inject there: TestAbortEndsReadingOnAfterFailedSend covers it.
func TestAbortWhileReadingOnAfterAFailedWrite(t *testing.T) {
	for _, kind := range []EngineKind{EngineUring, EngineStd} {
		t.Run(string(kind), func(t *testing.T) {
			if kind == EngineUring {
				requireUring(t)
			}
			h := &readOnHandler{conn: make(chan Conn, 1), closed: make(chan error, 1)}
			e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(kind), WithLoops(1))
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			defer e.Stop(context.Background())
			c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			conn := <-h.conn
			injected := fmt.Errorf("injected write failure")
			fail := func(c Conn) {
				switch c := c.(type) {
				case *urConn:
					c.sendFailed(injected)
				case *stdConn: // as its writer does
					c.wmu.Lock()
					abort := c.failSendLocked(injected)
					c.wmu.Unlock()
					c.afterSendFailed(injected, abort)
				}
			}
			if err := conn.Execute(fail); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Write([]byte("after")); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(time.Second)
			for h.received() != "after" && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if got := h.received(); got != "after" {
				t.Fatalf("OnData got %q after the failed write, want %q: not reading on", got, "after")
			}
			reason := errors.New("aborted by the test")
			start := time.Now()
			conn.Abort(reason)
			select {
			case err := <-h.closed:
				if err != reason {
					t.Fatalf("OnClose reason = %v, want Abort's", err)
				}
				if d := time.Since(start); d > lingerTimeout/2 {
					t.Fatalf("OnClose came %v after Abort: it waited for the linger bound", d)
				}
			case <-time.After(lingerTimeout + 3*time.Second):
				t.Fatal("no OnClose after Abort")
			}
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
				t.Fatalf("the peer read %v after Abort, want a reset", err)
			}
		})
	}
}
