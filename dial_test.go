package eddy_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// clientHandler forwards what the dialled connections receive.
type clientHandler struct {
	eddy.BaseHandler
	got            chan string
	opened, closed atomic.Int64
}

func (h *clientHandler) OnOpen(eddy.Conn)         { h.opened.Add(1) }
func (h *clientHandler) OnClose(eddy.Conn, error) { h.closed.Add(1) }
func (h *clientHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	h.got <- string(b)
}

func startClient(t *testing.T, kind eddy.EngineKind, h eddy.Handler) *eddy.Engine {
	t.Helper()
	e, err := eddy.New(h, nil, eddy.WithEngine(kind), eddy.WithLoops(2))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Stop(context.Background()) })
	return e
}

func TestDialEchoes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		s := startServer(t, kind, newEcho(false))
		h := &clientHandler{got: make(chan string, 10)}
		cl := startClient(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := cl.Dial(ctx, "tcp://"+s.addr).Await(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.opened.Load() != 1 {
			t.Fatal("the future resolved before OnOpen")
		}
		if got := c.RemoteAddr().String(); got != s.addr {
			t.Fatalf("RemoteAddr = %s, want %s", got, s.addr)
		}
		if err := c.AsyncWrite([]byte("dialled"), nil); err != nil {
			t.Fatal(err)
		}
		select {
		case m := <-h.got:
			if m != "dialled" {
				t.Fatalf("got %q", m)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no echo")
		}
		c.Close()
		waitFor(t, func() bool { return h.closed.Load() == 1 }, "OnClose of the dialled connection")
	})
}

func TestDialRefusedIsOpError(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		h := &clientHandler{got: make(chan string, 1)}
		cl := startClient(t, kind, h)
		_, err = cl.Dial(context.Background(), "tcp://"+addr).Await(context.Background())
		var oe *eddy.OpError
		if !errors.As(err, &oe) || oe.Op != "dial" || !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("Dial = %v, want an *OpError dial wrapping ECONNREFUSED", err)
		}
		if h.opened.Load() != 0 || h.closed.Load() != 0 {
			t.Fatal("callbacks ran for a connection that never opened")
		}
	})
}

func TestDialTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		// A listener that never accepts, with its queue full: further SYNs are dropped, so a connect hangs.
		fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer syscall.Close(fd)
		syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}})
		syscall.Listen(fd, 0)
		sa, _ := syscall.Getsockname(fd)
		addr := (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sa.(*syscall.SockaddrInet4).Port}).String()
		var fillers []net.Conn
		defer func() {
			for _, c := range fillers {
				c.Close()
			}
		}()
		for i := 0; i < 4; i++ {
			c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
			if err != nil {
				break
			}
			fillers = append(fillers, c)
		}
		h := &clientHandler{got: make(chan string, 1)}
		cl := startClient(t, kind, h)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err = cl.Dial(ctx, "tcp://"+addr).Await(context.Background())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Dial = %v, want a deadline error", err)
		}
		var oe *eddy.OpError
		if !errors.As(err, &oe) {
			t.Fatalf("Dial error %T is not an *OpError", err)
		}
	})
}

func TestDialOnStoppedEngineFails(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		e, err := eddy.New(eddy.BaseHandler{}, nil, eddy.WithEngine(kind))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Dial(context.Background(), "tcp://127.0.0.1:1").Await(context.Background())
		if !errors.Is(err, eddy.ErrEngineStopped) {
			t.Fatalf("Dial before Start = %v, want ErrEngineStopped", err)
		}
	})
}
