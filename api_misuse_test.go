package eddy_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A user's misuses of the engine: what they get must be an error or a clear panic on their own
// call, never a fault on a loop later (which ends the program) or an engine left wedged.

// reviewOpenHandler hands each opened connection to the test.
type reviewOpenHandler struct {
	eddy.BaseHandler
	opened chan eddy.Conn
}

func (h *reviewOpenHandler) OnOpen(c eddy.Conn) { h.opened <- c }

// recoverFrom runs f and returns what it panicked with, or nil.
func recoverFrom(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestMisuseNilFunctions(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &reviewOpenHandler{opened: make(chan eddy.Conn, 1)}
		e, err := eddy.New(h, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		defer e.Stop(context.Background())
		nc, err := net.Dial("tcp", e.Addrs()[0].String())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		var c eddy.Conn
		select {
		case c = <-h.opened:
		case <-time.After(5 * time.Second):
			t.Fatal("no OnOpen")
		}

		// Conn.Execute returns an error: it has one to return.
		if err := c.Execute(nil); err == nil || !strings.Contains(err.Error(), "nil function") {
			t.Errorf("Conn.Execute(nil) = %v, want an error naming the nil function", err)
		}
		// Loop.Execute and Loop.AfterFunc panic on the caller, with a message that says why.
		for name, f := range map[string]func(){
			"Loop.Execute":   func() { c.Loop().Execute(nil) },
			"Loop.AfterFunc": func() { c.Loop().AfterFunc(time.Millisecond, nil) },
		} {
			v := recoverFrom(f)
			if s, _ := v.(string); !strings.Contains(s, name) || !strings.Contains(s, "nil function") {
				t.Errorf("%s(nil) panicked with %v, want a message naming it and the nil function", name, v)
			}
		}
		// Flushed(nil) is no callback, as AsyncWrite's nil callback is.
		done := make(chan any, 1)
		if err := c.Execute(func(c eddy.Conn) {
			done <- recoverFrom(func() {
				c.Write([]byte("x"))
				c.Flushed(nil)
			})
		}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-done:
			if v != nil {
				t.Fatalf("Flushed(nil) panicked: %v", v)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Execute did not run")
		}
		// The loop is still serving: a fault left behind would have ended the program by now.
		ran := make(chan struct{})
		c.Loop().AfterFunc(20*time.Millisecond, func() { close(ran) })
		select {
		case <-ran:
		case <-time.After(5 * time.Second):
			t.Fatal("the loop stopped serving")
		}
	})
}

func TestMisuseNilContext(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln := acceptOnce(t, "tcp")
		e, err := eddy.New(eddy.BaseHandler{}, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(kind), eddy.WithLoops(1))
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(); err != nil {
			t.Fatal(err)
		}
		var c eddy.Conn
		if v := recoverFrom(func() {
			c, err = e.Dial(nil, ln.Addr().String()).Await(context.Background())
		}); v != nil {
			e.Stop(context.Background())
			t.Fatalf("Dial(nil ctx) panicked: %v", v)
		}
		if err != nil {
			t.Errorf("Dial(nil ctx) = %v, want a connection (nil means Background)", err)
		} else {
			c.Close()
		}
		if v := recoverFrom(func() {
			err = e.Stop(nil)
		}); v != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			t.Fatalf("Stop(nil ctx) panicked: %v (and a Stop after it: %v)", v, e.Stop(ctx))
		}
		if err != nil {
			t.Errorf("Stop(nil ctx) = %v", err)
		}
		select {
		case <-e.Done():
		default:
			t.Error("Stop(nil ctx) returned with the engine not stopped")
		}
	})
}

// Dialling ":port" (no host) reaches a listener on 127.0.0.1, as net.Dial and the std engine do.
func TestMisuseDialNoHost(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln := acceptOnce(t, "tcp4")
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		cl := startClient(t, kind, eddy.BaseHandler{})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, addr := range []string{":" + port, "tcp://:" + port} {
			c, err := cl.Dial(ctx, addr).Await(ctx)
			if err != nil {
				t.Errorf("Dial(%q) to a listener on 127.0.0.1 = %v; net.Dial connects", addr, err)
				continue
			}
			c.Close()
		}
	})
}

// acceptOnce listens on 127.0.0.1 over network and accepts one connection, which it closes; the
// listener is closed when the test ends.
func acceptOnce(t *testing.T, network string) net.Listener {
	t.Helper()
	ln, err := net.Listen(network, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	return ln
}
