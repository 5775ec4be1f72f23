package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/pool"
)

// Defects found in session 19 by a differential review of the server's net/http path against
// net/http's own server (same handler, same raw requests); each test failed on the code before it.

func diffGET(p string) string { return "GET " + p + " HTTP/1.1\r\nHost: x\r\n\r\n" }

// net/http's Shutdown waits for every handler in flight, also one whose client has gone: the
// connection stays active until ServeHTTP returns. http1 counted the request as ended when its
// connection closed (conn.closed called requestEnded), so with a Pool of the caller's Shutdown
// returned while the handler still ran. A request now ends at the later of its two ends
// (response.endPart).
func TestShutdownWaitsForHandlerOfGoneClient(t *testing.T) {
	const hold = 700 * time.Millisecond
	entered := make(chan struct{}, 1)
	finished := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
		time.Sleep(hold) // cleanup work after the client has gone
		finished <- struct{}{}
	})
	run := func(t *testing.T, addr string, shutdown func(context.Context) error) {
		c := dial(t, addr)
		io.WriteString(c, diffGET("/"))
		<-entered
		c.(*net.TCPConn).SetLinger(0) // a reset: the connection is gone at once
		c.Close()
		time.Sleep(100 * time.Millisecond) // the server sees the close and cancels the context
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-finished:
		default:
			t.Errorf("Shutdown returned while the handler of a request in flight was still running")
			<-finished
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		run(t, srv.Listener.Addr().String(), srv.Config.Shutdown)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		p := pool.New(pool.WithWorkers(4))
		defer p.Stop(context.Background())
		srv := &http1.Server{Handler: h, Pool: p, ErrorLog: newLogger(io.Discard), Addr: "127.0.0.1:0", Engine: engine, Loops: 2}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		run(t, srv.Addrs()[0].String(), srv.Shutdown)
	})
}

// The same with the server's own pool and a Shutdown whose context ends before the handler: net/http
// returns the context's error (the server is not idle); http1 returned nil, the request being counted
// as ended already, so the caller believed the drain completed.
func TestShutdownDeadlineWithHandlerOfGoneClient(t *testing.T) {
	const hold = 1500 * time.Millisecond
	entered := make(chan struct{}, 1)
	finished := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-r.Context().Done()
		time.Sleep(hold)
		finished <- struct{}{}
	})
	run := func(t *testing.T, addr string, shutdown func(context.Context) error) {
		c := dial(t, addr)
		io.WriteString(c, diffGET("/"))
		<-entered
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		time.Sleep(100 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		err := shutdown(ctx)
		select {
		case <-finished:
		default:
			if err == nil {
				t.Errorf("Shutdown returned nil while the handler of a request in flight was still running; net/http returns the context's error")
			}
		}
		<-finished
	}
	t.Run("nethttp", func(t *testing.T) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		run(t, srv.Listener.Addr().String(), srv.Config.Shutdown)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard), Addr: "127.0.0.1:0", Engine: engine, Loops: 2}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		run(t, srv.Addrs()[0].String(), srv.Shutdown)
	})
}

// A handler that outlasts ReadTimeout and leaves a 100 KB body unread: net/http's attempt to
// discard the body before it writes the head fails on the expired read deadline, so its response
// says "Connection: close". http1 wrote a keep-alive response, then found the ReadTimeout passed
// when it started draining (armDrain) and closed the connection without warning: a client that sent
// its next request on the connection got no answer. The head now says Connection: close.
func TestReadTimeoutPassedSaysConnectionClose(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond)
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	body := strings.Repeat("b", 100<<10)
	raw := "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(body)) + "\r\n\r\n" + body + diffGET("/next")
	check := func(t *testing.T, addr string) {
		c := dial(t, addr)
		go io.WriteString(c, raw)
		br := bufio.NewReader(c)
		first, err := readResponse(br, "POST")
		if err != nil {
			t.Fatal(err)
		}
		if first.close {
			return // the client is told: it will not send on this connection again
		}
		second, err := readResponse(br, "GET")
		if err != nil {
			t.Errorf("first response %d %q kept the connection (no Connection: close), but the pipelined request got: %v", first.status, first.body, err)
			return
		}
		t.Logf("second: %d %q", second.status, second.body)
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, func(s *http.Server) { s.ReadTimeout = 250 * time.Millisecond }))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ReadTimeout: 250 * time.Millisecond, ErrorLog: newLogger(io.Discard)}))
	})
}
