package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// hijackEcho is a handler that answers an Upgrade with 101 through WriteHeader, as WebSocket
// libraries do, hijacks, and echoes what it reads until EOF. It reports the handler's end on done.
//
// eddy's bufio.Reader starts empty (Hijack's doc), and the handler holds it to that unless
// earlyBytesOK. net/http's does not: its Hijack flushes the 101 before it stops the connection's
// background read (net/http server.go, response.Hijack: w.cw.flush(), then hijackLocked's
// abortPendingRead), so a client that writes as soon as it has the 101 may have its first byte read
// by that background read, and Peeked into the bufio.Reader (hijackLocked's c.r.hasByte). There,
// as a WebSocket library does, the handler echoes what the bufio.Reader holds first.
func hijackEcho(t *testing.T, done chan<- error, earlyBytesOK bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "echo")
		w.Header().Set("Connection", "Upgrade")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			done <- fmt.Errorf("Hijack: %w", err)
			return
		}
		defer conn.Close()
		var src io.Reader = conn
		if n := brw.Reader.Buffered(); n != 0 {
			if !earlyBytesOK {
				done <- fmt.Errorf("the bufio.Reader holds %d bytes", n)
				return
			}
			early, _ := brw.Reader.Peek(n)
			src = io.MultiReader(bytes.NewReader(early), conn)
		}
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrHijacked) {
			done <- fmt.Errorf("Write after Hijack: %v; want http.ErrHijacked", err)
			return
		}
		if _, _, err := http.NewResponseController(w).Hijack(); !errors.Is(err, http.ErrHijacked) {
			done <- fmt.Errorf("second Hijack: %v; want http.ErrHijacked", err)
			return
		}
		_, err = io.Copy(conn, src)
		done <- err
	}
}

// readUpgrade reads the 101 response to an upgrade request and checks its head.
func readUpgrade(t *testing.T, br *bufio.Reader) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Upgrade") != "echo" ||
		resp.Header.Get("Content-Length") != "" || len(resp.TransferEncoding) > 0 {
		t.Fatalf("upgrade answered %d %v %v", resp.StatusCode, resp.Header, resp.TransferEncoding)
	}
}

const upgradeRequest = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n"

// hijackEchoRun upgrades c with hijackEcho's server, sends it raw bytes of every size (1 byte to 1
// MiB, in random pieces, each as soon as the one before has come back), checks that they echo
// back whole, closes c, and waits for the handler to end without error.
func hijackEchoRun(t *testing.T, c net.Conn, done chan error) {
	c.SetDeadline(time.Now().Add(20 * time.Second))
	io.WriteString(c, upgradeRequest)
	br := bufio.NewReader(c)
	readUpgrade(t, br)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{1, 100, 4 << 10, 70 << 10, 1 << 20} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(rng.IntN(256))
		}
		werr := make(chan error, 1)
		go func() {
			for rest := msg; len(rest) > 0; {
				k := min(len(rest), 1+rng.IntN(100<<10))
				if _, err := c.Write(rest[:k]); err != nil {
					werr <- err
					return
				}
				rest = rest[k:]
			}
			werr <- nil
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(br, got); err != nil {
			select {
			case herr := <-done:
				t.Fatalf("%d bytes: %v; the handler ended with %v", size, err, herr)
			default:
				t.Fatalf("%d bytes: %v", size, err)
			}
		}
		if err := <-werr; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: echoed bytes differ", size)
		}
	}
	c.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("handler: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not see the client's close")
	}
}

// TestHijackEcho: after an upgrade through WriteHeader(101) and Hijack, raw bytes of every size
// (1 byte to 1 MiB, in random pieces) echo back whole through the hijacked connection, in clear
// and over TLS, on every engine, as through net/http's; the client's Close ends the handler's
// copy with EOF.
func TestHijackEcho(t *testing.T) {
	certFile, keyFile, _ := testCert(t)
	t.Run("nethttp", func(t *testing.T) {
		done := make(chan error, 1)
		addr := netHTTPRef(t, hijackEcho(t, done, true), nil)
		hijackEchoRun(t, dial(t, addr), done)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		t.Run("clear", func(t *testing.T) {
			done := make(chan error, 1)
			addr := start(t, engine, &http1.Server{Handler: hijackEcho(t, done, false)})
			hijackEchoRun(t, dial(t, addr), done)
		})
		t.Run("tls", func(t *testing.T) {
			done := make(chan error, 1)
			addr := startTLS(t, engine, &http1.Server{Handler: hijackEcho(t, done, false)}, certFile, keyFile)
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			hijackEchoRun(t, c, done)
		})
	})
}

// TestHijackUpgradeHeadAsNetHTTP: the head of a 101 response given with WriteHeader before
// Hijack is net/http's, but for the Date.
func TestHijackUpgradeHeadAsNetHTTP(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Upgrade", "websocket")
		w.Header().Set("Connection", "Upgrade")
		w.Header().Set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
		w.WriteHeader(http.StatusSwitchingProtocols)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(conn, "after")
		conn.Close()
	})
	head := func(t *testing.T, addr string) string {
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\r\n") {
			if !strings.HasPrefix(l, "Date: ") {
				lines = append(lines, l)
			}
		}
		return strings.Join(lines, "\r\n")
	}
	want := head(t, netHTTPRef(t, h, nil))
	if !strings.HasSuffix(want, "\r\n\r\nafter") {
		t.Fatalf("net/http sent %q", want)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		if got := head(t, start(t, engine, &http1.Server{Handler: h})); got != want {
			t.Errorf("sent %q\nnet/http %q", got, want)
		}
	})
}

// TestHijackBytesAfterTheRequest: what the client sent right behind the request, in the same
// write (the first frames of a protocol that does not wait for the 101), is the first the
// hijacked connection reads; so is the unread rest of a Content-Length body.
func TestHijackBytesAfterTheRequest(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > 0 {
			b := make([]byte, 2)
			if _, err := io.ReadFull(r.Body, b); err != nil {
				t.Error(err)
			}
		}
		time.Sleep(50 * time.Millisecond) // what follows has arrived
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		line, err := brw.ReadString('\n')
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(conn, "got "+line)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		for _, req := range []string{
			"GET / HTTP/1.1\r\nHost: x\r\n\r\nearly bytes\n",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nbodyrest\n",
		} {
			c := dial(t, addr)
			io.WriteString(c, req)
			b, err := io.ReadAll(c)
			want := "got " + req[strings.Index(req, "\r\n\r\n")+4:]
			if strings.Contains(req, "POST") {
				want = "got dyrest\n"
			}
			if err != nil || string(b) != want {
				t.Errorf("%q: %q %v; want %q", req, b, err, want)
			}
		}
	})
}

// TestHijackChunkedBodyUnread: a hijack while a chunked body is still to be read fails (its rest
// would reach the new owner without its framing), and the handler answers as usual; once the
// body has been read to its end it succeeds.
func TestHijackChunkedBodyUnread(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			io.Copy(io.Discard, r.Body)
		}
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			fmt.Fprintf(w, "refused: %v", err)
			return
		}
		io.WriteString(conn, "hijacked")
		conn.Close()
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "POST /unread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.status != 200 || !strings.Contains(r.body, "refused: http1: Hijack: the request's chunked body") {
			t.Fatalf("%+v %v", r, err)
		}
		c = dial(t, addr)
		io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
		if b, err := io.ReadAll(c); err != nil || string(b) != "hijacked" {
			t.Fatalf("%q %v", b, err)
		}
	})
}

// TestHijackDeadlines: the hijacked connection's read and write deadlines fail a blocked Read and
// a Write to a client that does not read with a timeout, as package net's (errors.Is
// os.ErrDeadlineExceeded, net.Error.Timeout); a deadline set from another goroutine wakes the
// blocked call; a later deadline lets the connection go on; Close from another goroutine ends a
// blocked Read with net.ErrClosed. The server's ReadTimeout and WriteTimeout do not apply.
func TestHijackDeadlines(t *testing.T) {
	errs := make(chan string, 16)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			errs <- err.Error()
			return
		}
		defer conn.Close()
		timeout := func(what string, err error) {
			var ne net.Error
			if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
				errs <- fmt.Sprintf("%s: %v; want a timeout", what, err)
			}
		}
		// Past the server's ReadTimeout (100 ms) with no deadline: the connection stays.
		b := make([]byte, 16)
		if n, err := conn.Read(b); err != nil || string(b[:n]) != "one" {
			errs <- fmt.Sprintf("first read: %q %v", b[:n], err)
			return
		}
		conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, err = conn.Read(b)
		timeout("read", err)
		// A deadline set from another goroutine wakes the blocked Read.
		time.AfterFunc(30*time.Millisecond, func() { conn.SetReadDeadline(time.Now()) })
		conn.SetReadDeadline(time.Time{})
		_, err = conn.Read(b)
		timeout("read woken by a moved deadline", err)
		conn.SetReadDeadline(time.Time{})
		io.WriteString(conn, "ready\n")
		if n, err := conn.Read(b); err != nil || string(b[:n]) != "two" {
			errs <- fmt.Sprintf("read after the timeouts: %q %v", b[:n], err)
			return
		}
		// The client does not read: writes stop at the write deadline.
		conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		big := make([]byte, 1<<20)
		var total int
		for i := 0; i < 64; i++ {
			n, err := conn.Write(big)
			total += n
			if err != nil {
				timeout("write", err)
				break
			}
			if i == 63 {
				errs <- "64 MiB went to a client that does not read"
			}
		}
		// Close from another goroutine ends a blocked Read.
		time.AfterFunc(30*time.Millisecond, func() { conn.Close() })
		conn.SetReadDeadline(time.Time{})
		if _, err := conn.Read(b); !errors.Is(err, net.ErrClosed) {
			errs <- fmt.Sprintf("read ended by Close: %v; want net.ErrClosed", err)
		}
		errs <- "done"
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(150 * time.Millisecond)
		io.WriteString(c, "one")
		br := bufio.NewReader(c)
		if line, err := br.ReadString('\n'); err != nil || line != "ready\n" {
			t.Fatalf("%q %v", line, err)
		}
		io.WriteString(c, "two")
		for {
			select {
			case msg := <-errs:
				if msg == "done" {
					return
				}
				t.Error(msg)
			case <-time.After(15 * time.Second):
				t.Fatal("the handler did not finish")
			}
		}
	})
}

// TestHijackHalfClose: the client's half-close reaches the hijacked connection as EOF after the
// bytes before it, and the handler can still answer; CloseWrite on the hijacked connection (it has
// one, as *net.TCPConn does) gives the client EOF while the client can still send.
func TestHijackHalfClose(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		b, err := io.ReadAll(conn)
		if err != nil {
			t.Errorf("ReadAll: %v", err)
		}
		io.WriteString(conn, "read "+string(b))
		cw, ok := conn.(interface{ CloseWrite() error })
		if !ok {
			t.Error("the hijacked connection has no CloseWrite")
			return
		}
		if err := cw.CloseWrite(); err != nil {
			t.Errorf("CloseWrite: %v", err)
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\nlast words")
		c.(*net.TCPConn).CloseWrite()
		if b, err := io.ReadAll(c); err != nil || string(b) != "read last words" {
			t.Fatalf("%q %v", b, err)
		}
	})
}

// TestHijackBackPressure: a client that sends 8 MiB to a handler that reads it slowly is held back
// by TCP (the connection stops reading past its hold), and every byte arrives in order.
func TestHijackBackPressure(t *testing.T) {
	const size = 8 << 20
	sum := make(chan string, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		time.Sleep(200 * time.Millisecond) // the client fills every buffer meanwhile
		b := make([]byte, size)
		if _, err := io.ReadFull(conn, b); err != nil {
			sum <- err.Error()
			return
		}
		for i, v := range b {
			if v != byte(i*7+i>>13) {
				sum <- fmt.Sprintf("byte %d differs", i)
				return
			}
		}
		sum <- "ok"
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + i>>13)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
		if got := <-sum; got != "ok" {
			t.Fatal(got)
		}
	})
}

// TestHijackShutdown: Shutdown does not wait for a hijacked connection's handler, as net/http's
// does not; once the requests are done the engine stops and closes the connection, which ends the
// handler's Read.
func TestHijackShutdown(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		hijacked := make(chan struct{})
		ended := make(chan error, 1)
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
			_, err = conn.Read(make([]byte, 1))
			ended <- err
		})
		srv := &http1.Server{Handler: h, Addr: "127.0.0.1:0", Engine: engine, Loops: 1, ErrorLog: newLogger(io.Discard)}
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		c := dial(t, srv.Addrs()[0].String())
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-hijacked
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		select {
		case err := <-ended: // closed on this side: net.ErrClosed, naming the cause
			if !errors.Is(err, net.ErrClosed) || !errors.Is(err, eddy.ErrEngineStopped) {
				t.Errorf("the handler's Read: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the engine's stop did not end the hijacked connection's Read")
		}
		wg.Wait()
		if b, err := io.ReadAll(c); err != nil || len(b) != 0 {
			t.Errorf("client: %q %v", b, err)
		}
	})
}

// TestHijackAndReturn: the handler may return and leave the hijacked connection to another
// goroutine, which goes on using it.
func TestHijackAndReturn(t *testing.T) {
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
			time.Sleep(50 * time.Millisecond) // after the handler has returned
			for {
				line, err := brw.ReadString('\n')
				if err != nil {
					return
				}
				brw.WriteString("echo " + line)
				brw.Flush()
			}
		})
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		for i := range 3 {
			fmt.Fprintf(c, "line %d\n", i)
			if line, err := br.ReadString('\n'); err != nil || line != fmt.Sprintf("echo line %d\n", i) {
				t.Fatalf("%q %v", line, err)
			}
		}
		c.Close()
	})
}
