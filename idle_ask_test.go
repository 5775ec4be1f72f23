package eddy_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// After the std engine's idle check asked the reader (a read deadline in the past) and the reader
// answered with input waiting in the socket, the connection stays open and reads on: the ask's
// deadline must not be left in place (the next Read would fail at once and the connection close with
// a read timeout, or the reader spin). Later input is echoed, and the connection closes as idle in
// the end, with ErrIdleTimeout. Every engine behaves so.
func TestIdleAskAnsweredThenReadsOn(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		conclusive(t, "the peer's writes came too late", func() bool {
			return idleAskReadsOnRun(t, kind)
		})
	})
}

func idleAskReadsOnRun(t *testing.T, kind eddy.EngineKind) bool {
	const idle = 600 * time.Millisecond
	held := make(chan struct{}, 1)
	release := make(chan struct{})
	released := false
	defer func() {
		if !released {
			close(release)
		}
	}()
	first := true
	h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
		b, _ := c.Next(-1)
		c.Write(b)
		if first {
			first = false
			if err := c.SetIdleTimeout(idle); err != nil {
				t.Errorf("SetIdleTimeout: %v", err)
			}
			held <- struct{}{}
			<-release
		}
	}}
	s := startServer(t, kind, h, eddy.WithLoops(1))
	c := s.dial(t)
	sentA := time.Now()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("OnData did not run")
	}
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	if time.Since(sentA) >= idle*4/5 {
		return false
	}
	time.Sleep(time.Until(sentA.Add(2 * idle))) // the idle check is due, and waits for OnData
	close(release)
	released = true
	sentC := time.Now()
	if _, err := c.Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got := make([]byte, 0, 3)
	buf := make([]byte, 16)
	for len(got) < 3 {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			if time.Since(sentC) >= idle*4/5 {
				return false // "c" may have come after a new idle deadline
			}
			err2 := h.waitClosed(t, 30*time.Second)
			t.Fatalf("echo %q, then %v; OnClose(%v)", got, err, err2)
		}
	}
	if string(got) != "abc" {
		t.Fatalf("echo %q, want \"abc\"", got)
	}
	err := h.waitClosed(t, 30*time.Second)
	if !errors.Is(err, eddy.ErrIdleTimeout) {
		t.Fatalf("OnClose(%v), want ErrIdleTimeout", err)
	}
	if n, rerr := c.Read(buf); rerr != io.EOF {
		t.Fatalf("after the idle close, the peer reads %d, %v; want EOF", n, rerr)
	}
	return true
}
