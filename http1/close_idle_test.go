package http1_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestCloseIdleKeepAliveEOF: Server.Close closes an idle keep-alive connection (its request
// answered, nothing to send, nothing unread) gracefully on every engine, as net/http's Close does:
// the client reads io.EOF, never a reset (ECONNRESET). On the std engine the close was sometimes
// abortive: Close's context is done from the start, and Stop's bound closed the connections the
// graceful close had not reached yet at once.
func TestCloseIdleKeepAliveEOF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		const conns = 8
		srv := &http1.Server{Handler: hello}
		addr := startBare(t, engine, srv)
		cs := make([]net.Conn, conns)
		brs := make([]*bufio.Reader, conns)
		for i := range cs {
			c := dial(t, addr)
			if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			br := bufio.NewReader(c)
			r, err := readResponse(br, "GET")
			if err != nil {
				t.Fatalf("conn %d: %v", i, err)
			}
			if r.status != 200 || r.body != "Hello, World!" || r.close {
				t.Fatalf("conn %d: response %d %q close=%v", i, r.status, r.body, r.close)
			}
			cs[i], brs[i] = c, br
		}
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for i, c := range cs {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(brs[i])
			switch {
			case err == nil: // io.ReadAll reports io.EOF as nil
			case errors.Is(err, syscall.ECONNRESET):
				t.Errorf("conn %d: reset instead of a clean close (read %q)", i, b)
				continue
			default:
				t.Errorf("conn %d: read %q, then %v; want io.EOF", i, b, err)
				continue
			}
			if len(b) != 0 {
				t.Errorf("conn %d: read %q after the response; want nothing, then io.EOF", i, b)
			}
		}
	})
}

// TestCloseMidRequestEOF: Server.Close on a connection whose handler runs and has written nothing
// closes it plainly, as net/http's Close does (it closes the net.Conn): the client reads io.EOF,
// no response, and no reset; the handler's context is cancelled.
func TestCloseMidRequestEOF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		started := make(chan struct{}, 1)
		done := make(chan struct{})
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			started <- struct{}{}
			<-r.Context().Done()
			close(done)
		})}
		addr := startBare(t, engine, srv)
		c := dial(t, addr)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		<-started
		if err := srv.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil || len(b) != 0 {
			t.Fatalf("read %q, then %v; want nothing, then io.EOF", b, err)
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("the handler's context was not cancelled by Close")
		}
	})
}

// TestCloseStuckResponseBounded: Server.Close on a connection whose response cannot go out (the
// client does not read) returns without waiting for it, and the client never takes the response
// it got cut short for a whole one: it is reset, or its body is short.
func TestCloseStuckResponseBounded(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		const size = 64 << 20 // more than the socket buffers of both ends hold
		var chunks atomic.Int64
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			chunk := make([]byte, 64<<10)
			for i := 0; i < size/len(chunk); i++ {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				chunks.Add(1)
			}
		})}
		addr := startBare(t, engine, srv)
		c := dial(t, addr)
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		// Until the handler is held up by the client (the socket buffers are full and the writer is
		// in a write that waits for room), or for a while: a Close before that is bounded too.
		for last, still, deadline := int64(-1), 0, time.Now().Add(10*time.Second); still < 3 && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			if n := chunks.Load(); n > 0 && n == last {
				still++
			} else {
				last, still = n, 0
			}
		}
		closed := make(chan error, 1)
		go func() { closed <- srv.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close waits for a response the client does not read")
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return // reset before the head was read
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err == nil && n == size {
			t.Fatalf("the client read the whole body (%d bytes) of a response Close cut short", n)
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("connection still open after Close; read %d bytes", n)
		}
	})
}
