package eddy_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// goexitWhere is a handler that calls runtime.Goexit at one point of a connection's life, chosen by the
// first input ("data", "exec", "async", "close"; "open" for every connection when opened is set), and
// echoes otherwise. It records every OnClose, and whether a callback ran after it.
type goexitWhere struct {
	*counter
	inOpen bool
	mu     sync.Mutex
	closed map[eddy.Conn]bool
	after  chan string // a callback after OnClose, or an AsyncWrite's callback with its error
}

func newGoexitWhere() *goexitWhere {
	return &goexitWhere{counter: newCounter(), closed: map[eddy.Conn]bool{}, after: make(chan string, 16)}
}

func (h *goexitWhere) check(c eddy.Conn, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed[c] {
		h.after <- what + " after OnClose"
	}
}

func (h *goexitWhere) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	if h.inOpen {
		runtime.Goexit()
	}
}

func (h *goexitWhere) OnData(c eddy.Conn) {
	h.check(c, "OnData")
	b, _ := c.Next(-1)
	switch string(b) {
	case "data":
		runtime.Goexit()
	case "exec":
		// From another goroutine, with nothing holding the section: the task runs on a goroutine of
		// its own. An AsyncWrite queued behind it must still have its callback.
		go func() {
			c.Execute(func(eddy.Conn) { runtime.Goexit() })
			if err := c.AsyncWrite([]byte("x"), func(_ eddy.Conn, err error) { h.after <- "async: " + errString(err) }); err != nil {
				h.after <- "async: " + errString(err) // refused at once: the task's Goexit closed the connection first
			}
		}()
	case "async":
		// The completion runs on the writer's goroutine.
		c.AsyncWrite([]byte("async"), func(eddy.Conn, error) { runtime.Goexit() })
	case "close":
		c.SetContext("goexit in OnClose")
		c.Close()
	default:
		c.Write(b)
	}
}

func (h *goexitWhere) OnClose(c eddy.Conn, err error) {
	h.mu.Lock()
	if h.closed[c] {
		h.after <- "OnClose twice"
	}
	h.closed[c] = true
	h.mu.Unlock()
	h.counter.OnClose(c, err)
	if c.Context() == "goexit in OnClose" {
		runtime.Goexit()
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// A callback that calls runtime.Goexit (testing.T.FailNow in a test's handler) on the std engine, whose
// callbacks run on a connection's own goroutines, ended that goroutine holding the connection's section:
// the connection stayed open and silent, its later callbacks and its close waited for ever, and Stop
// waited until its context ended. Now the connection is aborted (OnClose with ErrEngineStopped, as the
// loop engines' connections report when their loop stops), the work queued behind the callback still
// runs, the engine's other connections go on, and Stop returns.
func TestStdGoexitAbortsItsConnection(t *testing.T) {
	for _, where := range []string{"data", "exec", "async", "close", "open"} {
		t.Run(where, func(t *testing.T) {
			var logs syncBuffer
			h := newGoexitWhere()
			h.inOpen = where == "open"
			e := startEngine(t, eddy.EngineStd, h, loopback,
				eddy.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			addr := e.Addrs()[0].String()
			stopped := false
			defer func() {
				if !stopped {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					e.Stop(ctx)
				}
			}()
			dial := func() *net.TCPConn {
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				return c.(*net.TCPConn)
			}

			var other *net.TCPConn
			if where != "open" {
				other = dial()
				if err := echoOnce(other, "hello"); err != nil {
					t.Fatal(err)
				}
			}
			c := dial()
			if where != "open" {
				if err := echoOnce(c, "hello"); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Write([]byte(where)); err != nil {
					t.Fatal(err)
				}
			}
			// The connection ends: the peer reads its end (after "async"'s bytes, perhaps).
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			buf := make([]byte, 64)
			for {
				_, err := c.Read(buf)
				if isTimeout(err) {
					t.Fatal("the connection whose callback called Goexit was still open after 10 s")
				}
				if err != nil {
					break
				}
			}
			select {
			case err := <-h.closedCh:
				if where != "close" && !errors.Is(err, eddy.ErrEngineStopped) {
					t.Errorf("OnClose(%v); want an error matching ErrEngineStopped", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no OnClose within 10 s")
			}
			if where == "exec" {
				select {
				case got := <-h.after:
					if got != "async: "+eddy.ErrClosed.Error() {
						t.Errorf("the AsyncWrite queued behind the task that called Goexit: %q; want its callback with ErrClosed", got)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the AsyncWrite queued behind the task that called Goexit never had its callback")
				}
			}
			if where != "close" && !strings.Contains(logs.String(), "runtime.Goexit") {
				t.Errorf("nothing logged about the Goexit: %q", logs.String())
			}
			if other != nil {
				if err := echoOnce(other, "still here"); err != nil {
					t.Fatalf("another connection after the Goexit: %v", err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped = true
			if err := e.Stop(ctx); err != nil {
				t.Fatalf("Stop: %v", err)
			}
			select {
			case what := <-h.after:
				t.Errorf("%s", what)
			default:
			}
			if n, m := h.opened.Load(), h.counter.closed.Load(); n != m {
				t.Errorf("%d connections opened, %d closed", n, m)
			}
		})
	}
}

// goexitOpenDialled calls Goexit in the OnOpen of a dialled connection.
type goexitOpenDialled struct{ *counter }

func (h goexitOpenDialled) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	if c.Context() == "dialled" {
		runtime.Goexit()
	}
}

func (goexitOpenDialled) OnData(c eddy.Conn) { c.Discard(-1) }

// The Dial future of a connection whose OnOpen called Goexit waited for ever on std; it fails now.
func TestStdGoexitInDialledOnOpenFailsTheDial(t *testing.T) {
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
	e := startServer(t, eddy.EngineStd, h, eddy.WithLogger(slog.New(slog.DiscardHandler))).e
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = e.DialWith(ctx, "tcp://"+ln.Addr().String(), "dialled").Await(ctx)
	if !errors.Is(err, eddy.ErrClosed) {
		t.Fatalf("Dial whose OnOpen called Goexit: %v; want ErrClosed", err)
	}
	if err := h.waitClosed(t, 10*time.Second); !errors.Is(err, eddy.ErrEngineStopped) {
		t.Errorf("OnClose(%v); want an error matching ErrEngineStopped", err)
	}
}
