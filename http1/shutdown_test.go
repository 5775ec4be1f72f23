package http1_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// startBare starts srv without the cleanup of start, for tests that end the server themselves.
func startBare(t *testing.T, engine eddy.EngineKind, srv *http1.Server) string {
	t.Helper()
	srv.Addr, srv.Engine, srv.Loops = "127.0.0.1:0", engine, 2
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	return srv.Addrs()[0].String()
}

func TestShutdownLetsRequestsInFlightFinish(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		const inFlight = 5
		var started sync.WaitGroup
		started.Add(inFlight)
		release := make(chan struct{})
		body := strings.Repeat("payload ", 20000) // 160 KB: several batches, written after Shutdown began
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started.Done()
			<-release
			io.WriteString(w, body)
		})
		srv := &http1.Server{Handler: h}
		addr := startBare(t, engine, srv)

		type result struct {
			resp *rawResponse
			err  error
		}
		results := make(chan result, inFlight)
		for range inFlight {
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			go func() {
				r, err := readResponse(bufio.NewReader(c), "GET")
				results <- result{r, err}
			}()
		}
		idle := dial(t, addr) // an idle keep-alive connection
		started.Wait()

		shutdownErr := make(chan error, 1)
		begun := make(chan struct{})
		srv.RegisterOnShutdown(func() { close(begun) })
		go func() { shutdownErr <- srv.Shutdown(context.Background()) }()
		// A connection made before Shutdown began may be served: wait for it to begin (the hooks
		// run once the server refuses new requests).
		<-begun
		// The listeners close: new connections are soon refused (one that gets in before is closed
		// without being served), and the idle one is closed.
		for deadline := time.Now().Add(5 * time.Second); ; {
			late, err := net.Dial("tcp", addr)
			if errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
			if err == nil {
				io.WriteString(late, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				if out := waitClosed(t, late, 5*time.Second); len(out) != 0 {
					t.Errorf("a connection made during Shutdown was answered: %.60q", out)
				}
				late.Close()
			}
			if time.Now().After(deadline) {
				t.Fatalf("connections are still accepted during Shutdown (last dial: %v)", err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		select {
		case err := <-shutdownErr:
			t.Fatalf("Shutdown returned %v with requests in flight", err)
		default:
		}
		close(release)
		for range inFlight {
			r := <-results
			if r.err != nil || r.resp.status != 200 || r.resp.body != body || !r.resp.close {
				t.Fatalf("in-flight request: %v %d close=%v, %d bytes", r.err, r.resp.status, r.resp.close, len(r.resp.body))
			}
		}
		if err := <-shutdownErr; err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		waitClosed(t, idle, 5*time.Second)
	})
}

func TestShutdownGivesUpWithItsContextAndCloseEndsIt(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		release := make(chan struct{})
		started := make(chan struct{})
		ctxErr := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			select {
			case <-release:
			case <-r.Context().Done():
				ctxErr <- r.Context().Err()
			}
		})
		srv := &http1.Server{Handler: h}
		addr := startBare(t, engine, srv)
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-started
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v; want DeadlineExceeded", err)
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := <-ctxErr; !errors.Is(err, context.Canceled) {
			t.Fatalf("handler context: %v", err)
		}
		waitClosed(t, c, 5*time.Second)
		close(release)
	})
}

func TestListenAndServeReturnsErrServerClosed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Handler: hello}
		done := make(chan error, 1)
		go func() { done <- srv.ListenAndServe() }()
		for srv.Addrs() == nil {
			time.Sleep(time.Millisecond)
		}
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("ListenAndServe = %v", err)
		}
		if err := srv.ListenAndServe(); !errors.Is(err, http1.ErrServerClosed) {
			t.Fatalf("ListenAndServe after Shutdown = %v", err)
		}
	})
}

func TestServeTakesOverAListenersAddress(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		early := dial(t, addr) // waits in ln's accept queue: served only if Serve adopts ln's socket
		srv := &http1.Server{Engine: engine, Handler: hello}
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		for srv.Addrs() == nil {
			time.Sleep(time.Millisecond)
		}
		if got := srv.Addrs()[0].String(); got != addr {
			t.Fatalf("serving on %s; want %s", got, addr)
		}
		if r := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET")[0]; r.body != "Hello, World!" {
			t.Fatalf("%+v", r)
		}
		early.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if r, err := readResponse(bufio.NewReader(early), "GET"); err != nil || r.body != "Hello, World!" {
			t.Fatalf("connection made before Serve: %+v, %v", r, err)
		}
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Fatalf("Serve = %v", err)
		}
		if _, err := ln.Accept(); err == nil {
			t.Fatal("ln still accepts after Serve returned")
		}
		ln2, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("the address is still taken after Serve returned: %v", err)
		}
		ln2.Close()
	})
}
