package http1_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestShutdownCloseRepeatAndServeAfter: as in net/http, a second Shutdown returns nil, Close after
// Shutdown returns nil, and Serve after Shutdown returns ErrServerClosed and closes its listener;
// RegisterOnShutdown hooks run once.
func TestShutdownCloseRepeatAndServeAfter(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var hooks atomic.Int32
		hookRan := make(chan struct{}, 4)
		srv := &http1.Server{Handler: hello}
		srv.RegisterOnShutdown(func() { hooks.Add(1); hookRan <- struct{}{} })
		addr := startBare(t, engine, srv)
		exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("first Shutdown: %v", err)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("Close after Shutdown: %v", err)
		}
		<-hookRan
		time.Sleep(20 * time.Millisecond)
		if n := hooks.Load(); n != 1 {
			t.Fatalf("hook ran %d times", n)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve after Shutdown = %v", err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Fatal("Serve after Shutdown left its listener open")
		}
		if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			t.Fatal("the server still accepts after Shutdown")
		}
	})
}

// TestCloseCancelsRunningHandlers: Close, without Shutdown, cancels the contexts of running
// handlers, closes their connections and makes ListenAndServe return ErrServerClosed.
func TestCloseCancelsRunningHandlers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		started := make(chan struct{}, 2)
		cancelled := make(chan error, 2)
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			select {
			case <-r.Context().Done():
				cancelled <- r.Context().Err()
			case <-release:
				cancelled <- errors.New("not cancelled")
			}
		})
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, Handler: h}
		served := make(chan error, 1)
		go func() { served <- srv.ListenAndServe() }()
		for srv.Addrs() == nil {
			time.Sleep(time.Millisecond)
		}
		addr := srv.Addrs()[0].String()
		c1, c2 := dial(t, addr), dial(t, addr)
		io.WriteString(c1, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		io.WriteString(c2, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
		<-started
		<-started
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for range 2 {
			select {
			case err := <-cancelled:
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("handler context: %v", err)
				}
			case <-time.After(3 * time.Second):
				close(release)
				t.Fatal("a handler's context was not cancelled by Close")
			}
		}
		waitClosed(t, c1, 3*time.Second)
		waitClosed(t, c2, 3*time.Second)
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("ListenAndServe = %v", err)
		}
	})
}

// TestShutdownAfterCloseReturns: as in net/http, a Shutdown after Close returns nil at once,
// whether or not a handler still runs (its context cancelled): Close has ended the connections, and
// there is nothing left to wait for.
func TestShutdownAfterCloseReturns(t *testing.T) {
	for _, busy := range []bool{false, true} {
		name := "idle"
		if busy {
			name = "handler running"
		}
		t.Run(name, func(t *testing.T) {
			started := make(chan struct{}, 1)
			release := make(chan struct{})
			defer close(release)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				started <- struct{}{}
				<-release
			})
			run := func(t *testing.T, addr string, closeFn func() error, shutdown func(context.Context) error) (time.Duration, error) {
				if busy {
					c := dial(t, addr)
					io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
					<-started
				}
				if err := closeFn(); err != nil {
					t.Fatalf("Close: %v", err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				began := time.Now()
				err := shutdown(ctx)
				return time.Since(began), err
			}
			ref := &http.Server{Handler: h}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go ref.Serve(ln)
			if took, err := run(t, ln.Addr().String(), ref.Close, ref.Shutdown); err != nil || took > 500*time.Millisecond {
				t.Skipf("net/http: %v after %v", err, took)
			}
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				srv := &http1.Server{Handler: h}
				addr := startBare(t, engine, srv)
				if took, err := run(t, addr, srv.Close, srv.Shutdown); err != nil || took > 500*time.Millisecond {
					t.Fatalf("Shutdown after Close: %v after %v; net/http returns nil at once", err, took)
				}
			})
		})
	}
}
