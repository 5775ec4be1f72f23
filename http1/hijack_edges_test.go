package http1_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestHijackShutdownRunningHandler: Shutdown returns while the handler of a hijacked
// connection still runs (it waits for something other than the connection), as net/http's does.
func TestHijackShutdownRunningHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		hijacked := make(chan struct{})
		release := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer wg.Done()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close()
			close(hijacked)
			<-release
		})
		srv := &http1.Server{Handler: h, Addr: "127.0.0.1:0", Engine: engine, Loops: 1, ErrorLog: newLogger(io.Discard)}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		defer wg.Wait()
		defer func() {
			select {
			case <-release:
			default:
				close(release)
			}
		}()
		c := dial(t, srv.Addrs()[0].String())
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-hijacked
		done := make(chan error, 1)
		go func() { done <- srv.Shutdown(context.Background()) }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		case <-time.After(10 * time.Second):
			close(release)
			<-done
			t.Fatal("Shutdown waited for the handler of a hijacked connection")
		}
	})
}

// hijackAfterClose is a handler that closes the request body (perhaps after reading part of
// it), hijacks, and sends back the first line the hijacked connection reads.
func hijackAfterClose(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/part" {
		b := make([]byte, 2)
		io.ReadFull(r.Body, b)
	}
	r.Body.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		fmt.Fprintf(w, "refused: %v", err)
		return
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := brw.ReadString('\n')
	fmt.Fprintf(conn, "got %q %v", line, err)
}

// TestHijackAfterBodyClose: a handler that closes the request body and then hijacks: as with
// net/http, whose Body.Close reads a small body to its end, the hijacked connection reads what the
// client sent after the body, not the body it closed.
func TestHijackAfterBodyClose(t *testing.T) {
	reqs := []string{
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloafter\n",
		"POST /part HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloafter\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nafter\n",
		"POST /part HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nafter\n",
	}
	get := func(t *testing.T, addr, req string) string {
		c := dial(t, addr)
		io.WriteString(c, req)
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	ref := netHTTPRef(t, http.HandlerFunc(hijackAfterClose), nil)
	var want []string
	for _, req := range reqs {
		want = append(want, get(t, ref, req))
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.HandlerFunc(hijackAfterClose)})
		for i, req := range reqs {
			if got := get(t, addr, req); got != want[i] {
				t.Errorf("%q:\n got %q\nwant %q (net/http)", req, got, want[i])
			}
		}
	})
}

// TestHijackWhileBodyReadBlocked: another goroutine hijacks while the handler is blocked
// reading a body that has not all arrived: the blocked read returns (the body is the hijacker's
// now), rather than waiting for ever.
func TestHijackWhileBodyReadBlocked(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		readErr := make(chan error, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b := make([]byte, 3)
			io.ReadFull(r.Body, b) // "abc" of 10
			got := make(chan net.Conn, 1)
			go func() {
				time.Sleep(50 * time.Millisecond) // the handler is blocked in Read
				conn, _, err := http.NewResponseController(w).Hijack()
				if err != nil {
					t.Error(err)
				}
				got <- conn
			}()
			_, err := r.Body.Read(make([]byte, 10))
			readErr <- err
			conn := <-got
			if conn != nil {
				io.WriteString(conn, "bye")
				conn.Close()
			}
		})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		select {
		case err := <-readErr:
			if err == nil {
				t.Errorf("the body read after the hijack returned no error")
			}
		case <-time.After(5 * time.Second):
			c.Close() // lets the read go
			t.Fatal("the body read blocked across a hijack from another goroutine")
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "bye" {
			t.Errorf("%q %v", b, err)
		}
	})
}

// TestHijackOneByteReads: a client sends far more than the hold while the hijacker reads it
// one byte at a time: every byte arrives in order, with no stall at the pauses and restarts.
func TestHijackOneByteReads(t *testing.T) {
	const size = 700 << 10
	res := make(chan string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			res <- err.Error()
			return
		}
		defer conn.Close()
		time.Sleep(100 * time.Millisecond)
		b := make([]byte, 1)
		for i := 0; i < size; i++ {
			if _, err := io.ReadFull(conn, b); err != nil {
				res <- fmt.Sprintf("byte %d: %v", i, err)
				return
			}
			if b[0] != byte(i%251) {
				res <- fmt.Sprintf("byte %d differs", i)
				return
			}
		}
		io.WriteString(conn, "ok")
		res <- "ok"
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i % 251)
		}
		go func() {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			c.Write(b)
		}()
		if got := <-res; got != "ok" {
			t.Fatal(got)
		}
		if b, err := io.ReadAll(io.LimitReader(c, 2)); err != nil || string(b) != "ok" {
			t.Fatalf("%q %v", b, err)
		}
	})
}

// TestHijackPeerClosedWithBuffered: the client sends bytes and closes; the hijacker, reading
// later, gets every byte, then io.EOF; and it can still write to a half-closed client.
func TestHijackPeerClosedWithBuffered(t *testing.T) {
	const size = 100 << 10
	res := make(chan string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			res <- err.Error()
			return
		}
		defer conn.Close()
		time.Sleep(200 * time.Millisecond) // the client's bytes and FIN are in
		b, err := io.ReadAll(conn)
		if err != nil || len(b) != size {
			res <- fmt.Sprintf("read %d %v", len(b), err)
			return
		}
		if _, err := io.WriteString(conn, "ok"); err != nil {
			res <- err.Error()
			return
		}
		res <- "ok"
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"+strings.Repeat("x", size))
		c.(*net.TCPConn).CloseWrite()
		if got := <-res; got != "ok" {
			t.Fatal(got)
		}
		if b, err := io.ReadAll(c); err != nil || string(b) != "ok" {
			t.Fatalf("%q %v", b, err)
		}
	})
}

// TestHijackWriteAfterReset: writes to a hijacked connection whose client reset it fail,
// and do not block.
func TestHijackWriteAfterReset(t *testing.T) {
	res := make(chan string, 1)
	hijacked := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			res <- err.Error()
			return
		}
		defer conn.Close()
		io.WriteString(conn, "hi")
		close(hijacked)
		b := make([]byte, 1)
		conn.Read(b) // ends with the reset
		for i := 0; i < 100; i++ {
			if _, err := conn.Write(make([]byte, 1000)); err != nil {
				res <- "ok"
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		res <- "writes to a reset connection kept succeeding"
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		hijacked = make(chan struct{})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-hijacked
		io.ReadFull(c, make([]byte, 2))
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
		select {
		case got := <-res:
			if got != "ok" {
				t.Fatal(got)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the handler hung")
		}
	})
}

// TestHijackCloseBlockedWrite: Close from another goroutine ends a Write blocked behind a
// client that does not read, with net.ErrClosed.
func TestHijackCloseBlockedWrite(t *testing.T) {
	res := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			res <- err
			return
		}
		big := make([]byte, 1<<20)
		time.AfterFunc(300*time.Millisecond, func() { conn.Close() })
		for {
			if _, err := conn.Write(big); err != nil {
				res <- err
				return
			}
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-res:
			if !errors.Is(err, net.ErrClosed) {
				t.Fatalf("%v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the Write stayed blocked after Close")
		}
		c.(*net.TCPConn).SetLinger(0)
	})
}

// TestHijackPanicAndExpect: two odd states compared with net/http: a handler that panics
// after handing its hijacked connection to another goroutine (the connection stays that
// goroutine's, which goes on answering), and a hijack of a request that expects 100-continue
// whose body is unread (no 100 is sent, and the body the client sends anyway reaches the new
// owner).
func TestHijackPanicAndExpect(t *testing.T) {
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		wg.Go(func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(5 * time.Second))
			io.WriteString(conn, "hello\n")
			line, err := brw.ReadString('\n')
			fmt.Fprintf(conn, "got %q %v", line, err)
		})
		if r.URL.Path == "/panic" {
			panic(http.ErrAbortHandler)
		}
	})
	get := func(t *testing.T, addr, path string) string {
		c := dial(t, addr)
		fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n", path)
		br := bufio.NewReader(c)
		first, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "bodyline\n")
		rest, err := io.ReadAll(br)
		if err != nil {
			t.Fatal(err)
		}
		return first + string(rest)
	}
	ref := netHTTPRef(t, h, nil)
	for _, path := range []string{"/", "/panic"} {
		want := get(t, ref, path)
		forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
			addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
			if got := get(t, addr, path); got != want {
				t.Errorf("%s: %q; net/http %q", path, got, want)
			}
		})
	}
}

// TestHijackTLSHalfClose: over TLS, after WriteHeader(101) and Hijack, CloseWrite gives the
// client EOF (close_notify) after the bytes before it, and the client can still send.
func TestHijackTLSHalfClose(t *testing.T) {
	certFile, keyFile, _ := testCert(t)
	res := make(chan string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			res <- err.Error()
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		line, _ := brw.ReadString('\n')
		io.WriteString(conn, "echo "+line)
		if err := conn.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
			res <- "CloseWrite: " + err.Error()
			return
		}
		rest, err := io.ReadAll(brw)
		res <- fmt.Sprintf("%q %v", rest, err)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: h}, certFile, keyFile)
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, upgradeRequest+"one\n")
		br := bufio.NewReader(c)
		readUpgrade(t, br)
		if b, err := io.ReadAll(br); err != nil || string(b) != "echo one\n" {
			t.Fatalf("%q %v", b, err)
		}
		io.WriteString(c, "two")
		c.CloseWrite()
		if got := <-res; got != `"two" <nil>` {
			t.Fatal(got)
		}
	})
}
