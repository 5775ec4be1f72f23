package eddy_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// RemoteAddr "returns the peer's address" (conn.go). A Unix client that bound its socket to a path
// before connecting has that path as its address: getpeername(2) and package net report it, and so
// does the std engine; the loop engines reported an unnamed address whatever the client was bound to
// (session 19).
func TestUnixRemoteAddrOfABoundClient(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		dir := t.TempDir()
		path := filepath.Join(dir, "s.sock")
		got := make(chan net.Addr, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) { got <- c.RemoteAddr() }}
		e := startEngine(t, kind, h, []string{"unix://" + path})
		defer e.Stop(context.Background())
		cp := filepath.Join(dir, "client.sock")
		c, err := net.DialUnix("unix", &net.UnixAddr{Name: cp, Net: "unix"}, &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		select {
		case ra := <-got:
			if ra == nil || ra.Network() != "unix" || ra.String() != cp {
				t.Fatalf("RemoteAddr of a client bound to %s = %#v", cp, ra)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen did not run")
		}
		// An unnamed client (the usual one): "@", as package net writes it (std's is package net's).
		u, err := net.Dial("unix", path)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		select {
		case ra := <-got:
			if ra == nil || ra.Network() != "unix" || ra.String() != "@" {
				t.Fatalf("RemoteAddr of an unnamed client = %#v, want \"@\" as package net says", ra)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("OnOpen did not run")
		}
	})
}

// Flushed callbacks complete in the order they were registered, as AsyncWrite's do (one ledger, FIFO,
// shared by every engine: tuning.go). On std, the callback of output the writer sent while a callback
// held the connection waits for that callback's end, and a Flushed registered after it, with nothing
// queued any more, ran at once: before it (session 19; both are queued under wmu now).
func TestFlushedCallbacksKeepTheirOrder(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		var mu sync.Mutex
		var order []string
		note := func(s string) func(eddy.Conn, error) {
			return func(_ eddy.Conn, err error) {
				mu.Lock()
				order = append(order, fmt.Sprintf("%s:%v", s, err))
				mu.Unlock()
			}
		}
		done := make(chan struct{})
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Discard(-1)
			c.Write([]byte("first"))
			c.Flushed(note("first"))
			time.Sleep(100 * time.Millisecond) // a slow callback: an engine may send meanwhile
			c.Flushed(note("second"))
			close(done)
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.Write([]byte("x"))
		<-done
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, make([]byte, 5)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(order) == 2 }, "both callbacks")
		mu.Lock()
		defer mu.Unlock()
		if order[0] != "first:<nil>" || order[1] != "second:<nil>" {
			t.Fatalf("Flushed callbacks ran as %v; want first, then second", order)
		}
	})
}

// SetIdleTimeout on a connection whose Close was called in the same callback: std returns ErrClosed (its
// check is closeReq); the loop engines returned nil (their check was state == connOpen, which the close
// changes only later) and armed an idle timer on a connection that is closing (session 19).
func TestSetIdleTimeoutAfterClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		res := make(chan error, 1)
		h := &funcHandler{counter: newCounter(), open: func(c eddy.Conn) {
			c.Close()
			res <- c.SetIdleTimeout(time.Second)
		}}
		s := startServer(t, kind, h)
		s.dial(t)
		if err := <-res; !errors.Is(err, eddy.ErrClosed) {
			t.Errorf("SetIdleTimeout after Close = %v, want ErrClosed", err)
		}
	})
}

// Stop "flushes the output already accepted on every connection" and closes gracefully. On the loop
// engines the close is a step of the loop, between callbacks, so a callback in progress when Stop is
// called has every Write accepted; on std (without a ClosingHandler) Stop closed each connection from
// its own goroutine, in the middle of the callback: the callback's first Write went out, its second
// failed with ErrClosed, and the peer read half a reply followed by a clean FIN (session 19).
func TestStopDuringACallbackKeepsItsWritesWhole(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		inCB := make(chan struct{})
		proceed := make(chan struct{})
		second := make(chan error, 1)
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Discard(-1)
			c.Write([]byte("head-"))
			close(inCB)
			<-proceed // the callback is still at work when Stop is called
			_, err := c.Write([]byte("tail"))
			second <- err
		}}
		e := startEngine(t, kind, h, loopback)
		c, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("x"))
		<-inCB
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped <- e.Stop(ctx)
		}()
		time.Sleep(200 * time.Millisecond) // Stop has begun
		close(proceed)
		if err := <-second; err != nil {
			t.Errorf("Write in the callback that Stop came during: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if string(got) != "head-tail" || err != nil {
			t.Errorf("peer read %q, %v; want \"head-tail\" and EOF", got, err)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
}
