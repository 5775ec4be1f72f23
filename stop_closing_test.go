package eddy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// stopHookHandler records, per connection, the callbacks the engine makes around a Stop: OnClosing
// (a goodbye written to the peer) and OnClose. A connection whose peer sends "stuff" gets a large
// output it does not read, which stays queued.
type stopHookHandler struct {
	eddy.BaseHandler
	big    []byte
	opened chan eddy.Conn
	stuffd chan eddy.Conn

	mu     sync.Mutex
	events map[eddy.Conn][]string
	closes map[eddy.Conn][]error
	hooks  map[eddy.Conn][]error
}

const stopHookGoodbye = "goodbye from OnClosing"

func newStopHookHandler(conns int) *stopHookHandler {
	return &stopHookHandler{
		big:    make([]byte, 16<<20),
		opened: make(chan eddy.Conn, conns),
		stuffd: make(chan eddy.Conn, conns),
		events: make(map[eddy.Conn][]string),
		closes: make(map[eddy.Conn][]error),
		hooks:  make(map[eddy.Conn][]error),
	}
}

func (h *stopHookHandler) note(c eddy.Conn, ev string) {
	h.mu.Lock()
	h.events[c] = append(h.events[c], ev)
	h.mu.Unlock()
}

func (h *stopHookHandler) OnOpen(c eddy.Conn) {
	h.note(c, "open")
	h.opened <- c
}

func (h *stopHookHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	if bytes.Contains(b, []byte("stuff")) {
		h.note(c, "stuffed")
		c.Write(h.big) // the peer reads none of it: most of it stays queued
		h.stuffd <- c
	}
}

func (h *stopHookHandler) OnClosing(c eddy.Conn, reason error) {
	h.mu.Lock()
	h.events[c] = append(h.events[c], "closing")
	h.hooks[c] = append(h.hooks[c], reason)
	h.mu.Unlock()
	c.Write([]byte(stopHookGoodbye))
}

func (h *stopHookHandler) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	h.events[c] = append(h.events[c], "close")
	h.closes[c] = append(h.closes[c], err)
	h.mu.Unlock()
}

// A Stop whose context is done before it begins (http1's Server.Close passes such a context) still
// gives a ClosingHandler its last word on every open connection, before OnClose, with
// ErrEngineStopped, as the ClosingHandler doc says and the loop engines do (their loop runs the graceful
// part of the stop, OnClosing included, before the forced one). An idle connection's goodbye goes out
// and its peer then reads EOF; a connection whose output the peer does not read is reset, and Stop does
// not wait for it. The std engine aborted connections from Stop's goroutine while the task that runs
// OnClosing waited on another: OnClosing was skipped (closeReq was set) on most of them, and a goodbye
// written was taken for output dropped and reset.
func TestStopDoneContextRunsOnClosing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const idle, stuffed = 6, 2
		const conns = idle + stuffed
		h := newStopHookHandler(conns)
		e := startEngine(t, kind, h, loopback)
		stopped := false
		defer func() {
			if !stopped {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				e.Stop(ctx)
			}
		}()
		addr := e.Addrs()[0].String()
		peers := make([]net.Conn, conns)
		for i := range peers {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetReadBuffer(64 << 10) // the stuffed ones' output stays queued on the server
			}
			peers[i] = c
		}
		for range conns {
			select {
			case <-h.opened:
			case <-time.After(10 * time.Second):
				t.Fatal("not every connection opened")
			}
		}
		for _, c := range peers[idle:] {
			if _, err := c.Write([]byte("stuff")); err != nil {
				t.Fatal(err)
			}
		}
		for range stuffed {
			var sc eddy.Conn
			select {
			case sc = <-h.stuffd:
			case <-time.After(10 * time.Second):
				t.Fatal("a stuffed connection got no OnData")
			}
			// The output is still queued (the peer reads none of 16 MiB).
			q := make(chan int, 1)
			if err := sc.Execute(func(c eddy.Conn) { q <- c.OutboundBuffered() }); err != nil {
				t.Fatal(err)
			}
			if n := <-q; n == 0 {
				t.Fatal("the stuffed connection's output is all out; want it queued")
			}
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		stopErr := make(chan error, 1)
		go func() { stopErr <- e.Stop(ctx) }()
		select {
		case err := <-stopErr:
			stopped = true
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("Stop: %v; want nil or context.Canceled", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("Stop with a done context did not return (it must stay bounded)")
		}

		h.mu.Lock()
		if len(h.events) != conns {
			t.Errorf("%d connections seen; want %d", len(h.events), conns)
		}
		for c, evs := range h.events {
			closing, closed := -1, -1
			for i, ev := range evs {
				switch ev {
				case "closing":
					if closing < 0 {
						closing = i
					}
				case "close":
					if closed < 0 {
						closed = i
					}
				}
			}
			hooks, closes := h.hooks[c], h.closes[c]
			switch {
			case len(hooks) != 1:
				t.Errorf("%v: OnClosing ran %d times (events %v); want once", c.RemoteAddr(), len(hooks), evs)
			case !errors.Is(hooks[0], eddy.ErrEngineStopped):
				t.Errorf("%v: OnClosing's reason %v; want ErrEngineStopped", c.RemoteAddr(), hooks[0])
			}
			if len(closes) != 1 {
				t.Errorf("%v: OnClose ran %d times (events %v); want once", c.RemoteAddr(), len(closes), evs)
			} else if !errors.Is(closes[0], eddy.ErrEngineStopped) {
				t.Errorf("%v: OnClose reported %v; want ErrEngineStopped", c.RemoteAddr(), closes[0])
			}
			if closing >= 0 && closed >= 0 && closing > closed {
				t.Errorf("%v: OnClosing after OnClose (events %v)", c.RemoteAddr(), evs)
			}
		}
		h.mu.Unlock()

		for i, c := range peers {
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			b, err := io.ReadAll(c)
			if i < idle {
				// Nothing else was pending: the goodbye and a clean end.
				if err != nil || string(b) != stopHookGoodbye {
					t.Errorf("idle conn %d: the peer read %q, then %v; want %q and EOF", i, b, err, stopHookGoodbye)
				}
				continue
			}
			// Output the peer never got was dropped: a reset, not a clean end after a cut stream.
			if err == nil {
				t.Errorf("stuffed conn %d: the peer read %d bytes and a clean EOF; want a reset", i, len(b))
			} else if !errors.Is(err, syscall.ECONNRESET) {
				t.Logf("stuffed conn %d: %v", i, fmt.Sprint(err))
			}
		}
	})
}
