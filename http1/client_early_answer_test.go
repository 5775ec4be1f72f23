//go:build linux

package http1_test

// Session 30 of the outbound client against net/http's Transport (its RoundTripper contract) and
// RFC 9112/9110: each case is run against net/http's Transport too, on the same scripted server.

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// zzShrinkClientSocket finds, among this process's descriptors, the client's end of the TCP
// connection from port client to port server, and makes its send buffer small (SO_SNDBUF, which
// also ends its autotuning), so that a test knows that a write of 32 KiB cannot reach the kernel
// while the server reads nothing. It reports whether it found it.
func zzShrinkClientSocket(client, server int) bool {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return false
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := syscall.Getsockname(fd)
		if err != nil {
			continue
		}
		if in4, ok := sa.(*syscall.SockaddrInet4); !ok || in4.Port != client {
			continue
		}
		pa, err := syscall.Getpeername(fd)
		if err != nil {
			continue
		}
		if in4, ok := pa.(*syscall.SockaddrInet4); !ok || in4.Port != server {
			continue
		}
		return syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096) == nil
	}
	return false
}

// zzStallBody is a chunked request body of one 32 KiB piece and then its end: its first Read waits
// for start, its second (the end) reports on ended.
type zzStallBody struct {
	start <-chan struct{}
	ended chan<- struct{}
	n     int
	once  sync.Once
}

func (b *zzStallBody) Read(p []byte) (int, error) {
	b.n++
	if b.n == 1 {
		<-b.start
		n := min(len(p), 32<<10)
		for i := range p[:n] {
			p[i] = 'x'
		}
		return n, nil
	}
	b.once.Do(func() { close(b.ended) })
	return 0, io.EOF
}

func (b *zzStallBody) Close() error { return nil }

// A server may answer before it has read the request body (RFC 9112 §9.5 lets it, a 413 say), and
// keep the connection open without reading it. net/http's Transport delivers that response, its
// body to its end, at once (it waits for the request's write 50 ms at most, then does not reuse
// the connection). The Transport waited for the write of the request body's end to reach the kernel
// before it showed the response's end: the body's Read (and, for a bodiless response, RoundTrip
// itself) hung for as long as the server read nothing, for ever here.
func TestClientEarlyAnswerWithStuckLastWrite(t *testing.T) {
	for _, answer := range []struct{ name, resp, body string }{
		{"body", "HTTP/1.1 413 Content Too Large\r\nContent-Length: 2\r\n\r\nno", "no"},
		{"bodiless", "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n", ""},
	} {
		t.Run(answer.name, func(t *testing.T) {
			zzEachRT(t, nil, func(t *testing.T, rt http.RoundTripper) {
				// The server's receive buffer is small (set on the listener, so that its window
				// starts small) and so is the client's send buffer (set once accepted): 32 KiB of
				// body cannot be taken in while the server reads nothing.
				lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
					return rc.Control(func(fd uintptr) {
						syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
					})
				}}
				ln, err := lc.Listen(context.Background(), "tcp4", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				defer ln.Close()
				start, ended, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
				served := make(chan struct{})
				go func() {
					defer close(served)
					c, err := ln.Accept()
					if err != nil {
						close(start)
						return
					}
					defer c.Close()
					if !zzShrinkClientSocket(c.RemoteAddr().(*net.TCPAddr).Port, c.LocalAddr().(*net.TCPAddr).Port) {
						t.Errorf("the client's socket was not found")
					}
					close(start)
					br := bufio.NewReader(c)
					if _, err := http.ReadRequest(br); err != nil {
						t.Errorf("server: %v", err)
						return
					}
					// Answer once the body's end has been handed to the writer (and, a moment
					// later, queued behind the 32 KiB that cannot go out): the body is not read.
					// (net/http's writer never reads the body's end: its write of the 32 KiB
					// blocks. The server answers all the same, later.)
					select {
					case <-ended:
						time.Sleep(100 * time.Millisecond)
					case <-time.After(300 * time.Millisecond):
					case <-finished:
						return
					}
					io.WriteString(c, answer.resp)
					<-finished // the connection stays open, unread, until the client is done
				}()
				var finish sync.Once
				end := func() { finish.Do(func() { close(finished) }) }
				defer func() { end(); <-served }()
				req, _ := http.NewRequest("POST", "http://"+ln.Addr().String()+"/upload", &zzStallBody{start: start, ended: ended})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req = req.WithContext(ctx)
				type result struct {
					status int
					body   string
					err    error
				}
				done := make(chan result, 1)
				go func() {
					resp, err := rt.RoundTrip(req)
					if err != nil {
						done <- result{err: err}
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					done <- result{resp.StatusCode, string(b), err}
				}()
				select {
				case r := <-done:
					if r.err != nil || r.status != 413 || r.body != answer.body {
						t.Errorf("got %d %q, %v; want 413 %q", r.status, r.body, r.err, answer.body)
					}
				case <-time.After(advTimeout):
					t.Errorf("the response (or its body's end) was not delivered within %v: the client waits for a write the server never takes", advTimeout)
					cancel()
					end() // (the cancellation did not end the body's Read: the server's close does)
					<-done
				}
			})
		})
	}
}

// zzEachRT runs fn against net/http's Transport, then against an http1.Transport on every engine.
func zzEachRT(t *testing.T, cfg func(tr *http1.Transport), fn func(t *testing.T, rt http.RoundTripper)) {
	t.Helper()
	t.Run("net/http", func(t *testing.T) {
		std := &http.Transport{}
		defer std.CloseIdleConnections()
		fn(t, std)
	})
	advEach(t, cfg, func(t *testing.T, tr *http1.Transport) { fn(t, tr) })
}

// An interim response shown to a Got1xxResponse hook (httputil.ReverseProxy always has one) holds
// the connection's reading until the hook returns. A server that sends its final response right
// after the interim one and closes the connection (a body delimited by the close, or
// Connection: close) must still have that response delivered, as net/http delivers it.
func TestClientInterimHookThenServerCloses(t *testing.T) {
	for _, final := range []struct{ name, resp string }{
		{"close-delimited", "HTTP/1.1 200 OK\r\n\r\nhello"},
		{"length-close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello"},
		{"http10", "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello"},
	} {
		t.Run(final.name, func(t *testing.T) {
			zzEachRT(t, nil, func(t *testing.T, rt http.RoundTripper) {
				closed := make(chan struct{})
				srv := advServe(t, func(i int, c net.Conn) {
					defer close(closed)
					br := bufio.NewReader(c)
					if _, err := advReadReq(br); err != nil {
						return
					}
					io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"+final.resp)
					c.Close()
				})
				var hints []string
				trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					// The hook returns once the server has closed the connection (and a moment
					// later: its FIN has reached the client).
					<-closed
					time.Sleep(50 * time.Millisecond)
					hints = append(hints, strconv.Itoa(code)+" "+h.Get("Link"))
					return nil
				}}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL+"/", nil)
				b, err := poolRvDo(t, rt, req)
				if err != nil || b != "hello" {
					t.Errorf("got %q, %v; want hello", b, err)
				}
				if len(hints) != 1 || hints[0] != "103 </a.css>; rel=preload" {
					t.Errorf("the hook saw %q", hints)
				}
			})
		})
	}
}

// zzBigBody is a request body of n bytes of 'x', streamed (no GetBody).
type zzBigBody struct{ n int }

func (b *zzBigBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), b.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	b.n -= k
	return k, nil
}

func (b *zzBigBody) Close() error { return nil }

// A server that answers an upload early (413, keep-alive) and reads no more of it: the client's
// connection, out of step, is of no more use, and net/http's Transport closes it at once, so
// that under MaxConnsPerHost the next request gets a connection. Checked (it held already): the
// Transport's graceful close does not keep the host's one place while the body's queued writes
// wait for a server that takes none.
func TestClientEarlyAnswerFreesTheConnection(t *testing.T) {
	zzEachRT(t, func(tr *http1.Transport) { tr.MaxConnsPerHost = 1 }, func(t *testing.T, rt http.RoundTripper) {
		if std, ok := rt.(*http.Transport); ok {
			std.MaxConnsPerHost = 1
		}
		firstGone := make(chan struct{})
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			if req.Method == "POST" {
				io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")
				// Reads nothing more, ever.
				<-firstGone
				return
			}
			io.Copy(io.Discard, req.Body)
			io.WriteString(c, advOK("next"))
		})
		req, _ := http.NewRequest("POST", srv.URL+"/upload", &zzBigBody{n: 64 << 20})
		resp, err := advRT(t, rt, req)
		if err != nil {
			t.Fatalf("POST: %v", err)
		}
		if resp.StatusCode != 413 {
			t.Errorf("POST: status %d", resp.StatusCode)
		}
		resp.Body.Close()
		if b, err := poolRvDo(t, rt, advReq(t, "GET", srv.URL+"/", nil)); err != nil || b != "next" {
			t.Errorf("GET after the early answer: %q, %v", b, err)
		}
		close(firstGone)
	})
}
