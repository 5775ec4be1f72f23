//go:build linux

package http1_test

// Adversarial tests of http1.Transport: misbehaving raw TCP servers, truncations, cancellation,
// timeouts, pooling, back-pressure, Close with requests in flight, descriptors. Every test runs on
// every engine of testEngines() and bounds every wait.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// advTimeout bounds every wait of these tests: past it, the test fails instead of hanging.
const advTimeout = 5 * time.Second

// ---------------------------------------------------------------------------------------------
// Helpers.

// advEach runs fn as a subtest on every engine with a fresh Transport (configured by cfg), closed
// (with a bound) when fn returns.
func advEach(t *testing.T, cfg func(tr *http1.Transport), fn func(t *testing.T, tr *http1.Transport)) {
	t.Helper()
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 2}
			if cfg != nil {
				cfg(tr)
			}
			defer advClose(t, tr)
			fn(t, tr)
		})
	}
}

// advClose closes tr, failing the test if Close errs or does not return within advTimeout.
func advClose(t *testing.T, tr *http1.Transport) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- tr.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Transport.Close: %v", err)
		}
	case <-time.After(advTimeout):
		t.Errorf("Transport.Close did not return within %v", advTimeout)
	}
}

// advWithin runs fn on a goroutine and returns its result, failing the test if it takes longer
// than d.
func advWithin[T any](t *testing.T, d time.Duration, what string, fn func() T) T {
	t.Helper()
	ch := make(chan T, 1)
	go func() { ch <- fn() }()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("%s did not finish within %v (hang)", what, d)
		panic("unreachable")
	}
}

type advResult struct {
	resp *http.Response
	err  error
}

// advRT is rt.RoundTrip(req), bounded by advTimeout.
func advRT(t *testing.T, rt http.RoundTripper, req *http.Request) (*http.Response, error) {
	t.Helper()
	r := advWithin(t, advTimeout, "RoundTrip "+req.Method+" "+req.URL.String(), func() advResult {
		resp, err := rt.RoundTrip(req)
		return advResult{resp, err}
	})
	if r.err == nil && r.resp == nil {
		t.Fatalf("RoundTrip returned neither a response nor an error")
	}
	return r.resp, r.err
}

type advRead struct {
	b   []byte
	err error
}

// advReadAll reads body to its end (closing it afterwards), bounded by advTimeout.
func advReadAll(t *testing.T, body io.ReadCloser) ([]byte, error) {
	t.Helper()
	r := advWithin(t, advTimeout, "reading the response body", func() advRead {
		b, err := io.ReadAll(body)
		return advRead{b, err}
	})
	body.Close()
	return r.b, r.err
}

func advReq(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// advGet makes a GET and returns the body, failing the test on any error.
func advGet(t *testing.T, tr *http1.Transport, url string) (*http.Response, string) {
	t.Helper()
	resp, err := advRT(t, tr, advReq(t, "GET", url, nil))
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, err := advReadAll(t, resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading body: %v", url, err)
	}
	return resp, string(b)
}

// advSrv is a raw TCP server whose connections are handled by hand-written code.
type advSrv struct {
	ln      net.Listener
	Addr    string
	URL     string
	accepts atomic.Int32

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
	t      *testing.T
}

// advServe starts a raw server on 127.0.0.1:0 whose i-th accepted connection (from 0) is handled by
// handle on a goroutine of its own; the connection is closed when handle returns. The server stops
// when the test ends.
func advServe(t *testing.T, handle func(i int, c net.Conn)) *advSrv {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &advSrv{ln: ln, Addr: ln.Addr().String(), t: t}
	s.URL = "http://" + s.Addr
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			i := int(s.accepts.Add(1)) - 1
			c.SetDeadline(time.Now().Add(30 * time.Second))
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns = append(s.conns, c)
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(i, c)
			}()
		}
	}()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and waits (bounded) for its handlers.
func (s *advSrv) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	conns := s.conns
	s.mu.Unlock()
	s.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(advTimeout):
		s.t.Errorf("raw server handlers did not return within %v", advTimeout)
	}
}

// advReadReq reads one request (its body included) from br.
func advReadReq(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, req.Body)
	return req, err
}

// advPeerClosed reads from br until the client closes the connection (EOF or reset) and reports
// whether it did within d; bytes read meanwhile are returned too.
func advPeerClosed(br *bufio.Reader, c net.Conn, d time.Duration) (closed bool, extra []byte) {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, br)
	if err == nil {
		return true, buf.Bytes()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, buf.Bytes()
	}
	return true, buf.Bytes()
}

// advServeEach answers every request of every connection with answer(conn index, request).
func advServeEach(t *testing.T, answer func(i int, req *http.Request) string) *advSrv {
	return advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := advReadReq(br)
			if err != nil {
				return
			}
			if _, err := io.WriteString(c, answer(i, req)); err != nil {
				return
			}
		}
	})
}

func advOK(body string) string {
	return "HTTP/1.1 200 OK\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// advBlackhole returns the address of a listener whose accept queue is full, so that a connect to
// it hangs (the kernel drops the SYNs).
func advBlackhole(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*syscall.SockaddrInet4).Port)
	var fillers []net.Conn
	t.Cleanup(func() {
		for _, c := range fillers {
			c.Close()
		}
	})
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			return addr // the queue is full: connects hang
		}
		fillers = append(fillers, c)
	}
	t.Skip("could not make a blackhole listener (accept queue never filled)")
	return ""
}

// advTrackBody is a request body that records that it was closed.
type advTrackBody struct {
	io.Reader
	closed atomic.Bool
}

func (b *advTrackBody) Close() error { b.closed.Store(true); return nil }

// advWaitFor polls cond every 5 ms for up to d.
func advWaitFor(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// advSettle gives a connection whose response was just read to its end the moment it takes to go back
// to the pool, for the tests whose subject is not that (TestClientAdvSequentialReuse is).
func advSettle() { time.Sleep(10 * time.Millisecond) }

// advNetHTTP starts an httptest server counting the connections it accepted and those open.
type advNetHTTP struct {
	*httptest.Server
	newConns atomic.Int32
	active   atomic.Int32
	maxAct   atomic.Int32
}

func advStartNetHTTP(t *testing.T, h http.Handler) *advNetHTTP {
	s := &advNetHTTP{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.newConns.Add(1)
			n := s.active.Add(1)
			for {
				m := s.maxAct.Load()
				if n <= m || s.maxAct.CompareAndSwap(m, n) {
					break
				}
			}
		case http.StateClosed, http.StateHijacked:
			s.active.Add(-1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func advIsTimeout(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// ---------------------------------------------------------------------------------------------
// Malformed responses.

func TestClientAdvMalformedResponses(t *testing.T) {
	big := strings.Repeat("a", 8000)
	many := strings.Repeat("X-N: v\r\n", 1000)
	cases := []struct{ name, resp string }{
		{"status-garbage", "FOO 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-code-letters", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-no-space", "HTTP/1.1 200OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-short-code", "HTTP/1.1 20\r\nContent-Length: 0\r\n\r\n"},
		{"status-four-digits", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-below-100", "HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n"},
		{"status-http2", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{"status-ctl-in-reason", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n"},
		{"header-no-colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n"},
		{"header-space-before-colon", "HTTP/1.1 200 OK\r\nX-A : b\r\nContent-Length: 0\r\n\r\n"},
		{"header-space-in-name", "HTTP/1.1 200 OK\r\nX A: b\r\nContent-Length: 0\r\n\r\n"},
		{"header-empty-name", "HTTP/1.1 200 OK\r\n: b\r\nContent-Length: 0\r\n\r\n"},
		{"header-nul-in-value", "HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n"},
		{"header-bare-cr-in-value", "HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 0\r\n\r\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: a\r\n  folded\r\nContent-Length: 0\r\n\r\n"},
		{"obs-fold-tab", "HTTP/1.1 200 OK\r\nX-A: a\r\n\tfolded\r\nContent-Length: 0\r\n\r\n"},
		{"content-length-differ", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"},
		{"content-length-list-differ", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"},
		{"content-length-negative", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n"},
		{"content-length-letters", "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n"},
		{"content-length-plus", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"},
		{"content-length-overflow", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n"},
		{"te-chunked-twice", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
		{"te-empty", "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n"},
		{"te-gzip-only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot really gzip"}, // net/http: unsupported transfer encoding
		{"te-gzip-chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"},
		{"te-in-http10", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{"switching-protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"},
		{"chunk-size-not-hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{"chunk-missing-crlf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n"},
		{"chunk-bare-lf", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"},
		{"chunk-size-overflow", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\n"},
		{"chunk-negative", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n"},
		{"chunk-bad-trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nBad Trailer: x\r\n\r\n"},
		{"head-too-large-one-line", "HTTP/1.1 200 OK\r\nX-Big: " + big + "\r\nContent-Length: 0\r\n\r\n"},
		{"head-too-large-many-lines", "HTTP/1.1 200 OK\r\n" + many + "Content-Length: 0\r\n\r\n"},
		{"head-too-large-status-line", "HTTP/1.1 200 " + big + "\r\nContent-Length: 0\r\n\r\n"},
	}
	advEach(t, func(tr *http1.Transport) { tr.MaxResponseHeaderBytes = 4096 }, func(t *testing.T, tr *http1.Transport) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				closedCh := make(chan bool, 1)
				srv := advServe(t, func(i int, c net.Conn) {
					br := bufio.NewReader(c)
					if _, err := advReadReq(br); err != nil {
						closedCh <- false
						return
					}
					io.WriteString(c, tc.resp)
					// Keep the connection open: the client must find the fault by itself.
					closed, _ := advPeerClosed(br, c, 5*time.Second)
					closedCh <- closed
				})
				resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
				where := "RoundTrip"
				if err == nil {
					var b []byte
					b, err = advReadAll(t, resp.Body)
					where = fmt.Sprintf("body read (status %d, %d bytes %q)", resp.StatusCode, len(b), b)
				}
				if !errors.Is(err, http1.ErrMalformedResponse) {
					t.Fatalf("%s: got error %v, want one wrapping ErrMalformedResponse", where, err)
				}
				if !advRecv(t, closedCh, "the server handler's end") {
					t.Errorf("the client kept the connection open after a malformed response")
				}
			})
		}
	})
}

// A flood of interim (1xx) responses must not be consumed without bound: net/http counts their
// heads against MaxResponseHeaderBytes (Go 1.24+).
func TestClientAdvInterimFlood(t *testing.T) {
	flood := strings.Repeat("HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n", 2000) // ~110 KB
	advEach(t, func(tr *http1.Transport) { tr.MaxResponseHeaderBytes = 4096 }, func(t *testing.T, tr *http1.Transport) {
		srv := advServeEach(t, func(int, *http.Request) string { return flood + advOK("final") })
		resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
		if err == nil {
			b, _ := advReadAll(t, resp.Body)
			t.Fatalf("%d bytes of 1xx heads with MaxResponseHeaderBytes=4096 were accepted: status %d body %q", len(flood), resp.StatusCode, b)
		}
		if !errors.Is(err, http1.ErrMalformedResponse) {
			t.Errorf("error %v does not wrap ErrMalformedResponse", err)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Truncated responses.

func TestClientAdvTruncatedResponses(t *testing.T) {
	bigPart := bytes.Repeat([]byte("0123456789abcdef"), 300<<10/16) // 300 KiB
	cases := []struct {
		name     string
		resp     string
		slow     bool   // wait before reading, so that the FIN arrives while reading is paused
		wantErr  bool   // the exchange must fail with io.ErrUnexpectedEOF
		wantBody string // the bytes of the body (those before the error)
	}{
		{name: "mid-status-line", resp: "HTTP/1.1 2", wantErr: true},
		{name: "mid-head", resp: "HTTP/1.1 200 OK\r\nContent-Le", wantErr: true},
		{name: "head-without-end", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", wantErr: true},
		{name: "head-cr-only", resp: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r", wantErr: true},
		{name: "mid-length-body", resp: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", wantErr: true, wantBody: "abc"},
		{name: "length-body-none", resp: "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", wantErr: true},
		{name: "mid-length-body-large-slow", resp: "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + string(bigPart), slow: true, wantErr: true, wantBody: string(bigPart)},
		{name: "mid-chunk-data", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", wantErr: true, wantBody: "hel"},
		{name: "after-chunk", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", wantErr: true, wantBody: "hello"},
		{name: "mid-chunk-size", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1", wantErr: true, wantBody: "hello"},
		{name: "chunk-data-no-crlf", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello", wantErr: true, wantBody: "hello"},
		{name: "mid-trailer", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: v\r\n", wantErr: true, wantBody: "hello"},
		{name: "mid-last-chunk", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n", wantErr: true, wantBody: "hello"},
		{name: "mid-chunked-large-slow", resp: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n", 1000000) + string(bigPart), slow: true, wantErr: true, wantBody: string(bigPart)},
		{name: "eof-delimited", resp: "HTTP/1.1 200 OK\r\n\r\nhello world", wantBody: "hello world"},
		{name: "eof-delimited-empty", resp: "HTTP/1.1 200 OK\r\n\r\n", wantBody: ""},
		{name: "eof-delimited-http10", resp: "HTTP/1.0 200 OK\r\n\r\nold school", wantBody: "old school"},
		{name: "eof-delimited-large-slow", resp: "HTTP/1.1 200 OK\r\n\r\n" + string(bigPart), slow: true, wantBody: string(bigPart)},
	}
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				srv := advServe(t, func(i int, c net.Conn) {
					br := bufio.NewReader(c)
					if _, err := advReadReq(br); err != nil {
						return
					}
					io.WriteString(c, tc.resp)
					// return: the connection is closed (FIN: the request was read in full)
				})
				resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
				var body []byte
				if err == nil {
					if tc.slow {
						time.Sleep(200 * time.Millisecond)
					}
					body, err = advReadAll(t, resp.Body)
				}
				if tc.wantErr {
					if !errors.Is(err, io.ErrUnexpectedEOF) {
						t.Errorf("got error %v, want one wrapping io.ErrUnexpectedEOF", err)
					}
				} else if err != nil {
					t.Errorf("unexpected error %v", err)
				}
				if string(body) != tc.wantBody {
					t.Errorf("body: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(tc.wantBody), tc.wantBody)
				}
			})
		}
	})
}

// net/http sets Response.Close for a body delimited by the end of the connection (transfer.go: "Unbounded
// body"): the connection cannot be reused, and callers (proxies) rely on the flag.
func TestClientAdvEOFDelimitedResponseClose(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := advReadReq(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\nuntil EOF")
		})
		resp, body := advGet(t, tr, srv.URL+"/")
		if body != "until EOF" {
			t.Errorf("body %q", body)
		}
		if !resp.Close {
			t.Errorf("Response.Close is false for a body delimited by the end of the connection (net/http sets it)")
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Interim, bodyless and doubly framed responses.

func TestClientAdvInterimResponses(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			for n := 0; ; n++ {
				if _, err := advReadReq(br); err != nil {
					return
				}
				final := "HTTP/1.1 200 OK\r\nX-Final: yes\r\nContent-Length: 5\r\n\r\nfinal"
				if n%2 == 0 { // in pieces
					io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
					time.Sleep(20 * time.Millisecond)
					io.WriteString(c, "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
					time.Sleep(20 * time.Millisecond)
					io.WriteString(c, "HTTP/1.1 102 Processing\r\n")
					time.Sleep(10 * time.Millisecond)
					io.WriteString(c, "\r\n")
					time.Sleep(10 * time.Millisecond)
					io.WriteString(c, final)
				} else { // all at once
					io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"+final)
				}
			}
		})
		for i := range 4 {
			resp, body := advGet(t, tr, srv.URL+"/")
			if resp.StatusCode != 200 || body != "final" || resp.Header.Get("X-Final") != "yes" {
				t.Fatalf("request %d: status %d body %q header %v", i, resp.StatusCode, body, resp.Header)
			}
			if resp.Header.Get("Link") != "" {
				t.Errorf("request %d: a 103's Link field leaked into the final response's header: %v", i, resp.Header)
			}
		}
		if n := srv.accepts.Load(); n != 1 {
			t.Errorf("4 requests with interim responses used %d connections, want 1", n)
		}
	})
}

func TestClientAdvBodylessResponses(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		srv := advServeEach(t, func(i int, req *http.Request) string {
			switch req.URL.Path {
			case "/head":
				return "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/plain\r\n\r\n"
			case "/head-chunked":
				return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
			case "/204":
				return "HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n"
			case "/304":
				return "HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\nETag: \"x\"\r\n\r\n"
			case "/304-chunked":
				return "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n"
			case "/cl0":
				return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
			}
			return advOK("last:" + req.URL.Path)
		})
		check := func(method, path string, wantStatus int, wantCL int64) {
			t.Helper()
			advSettle()
			resp, err := advRT(t, tr, advReq(t, method, srv.URL+path, nil))
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			b, err := advReadAll(t, resp.Body)
			if err != nil || len(b) != 0 || resp.StatusCode != wantStatus {
				t.Fatalf("%s %s: status %d, body %q, err %v", method, path, resp.StatusCode, b, err)
			}
			if wantCL >= 0 && resp.ContentLength != wantCL {
				t.Errorf("%s %s: ContentLength %d, want %d", method, path, resp.ContentLength, wantCL)
			}
			// The next response on the connection must be read at the right place.
			advSettle()
			_, body := advGet(t, tr, srv.URL+"/after")
			if body != "last:/after" {
				t.Fatalf("after %s %s: next response body %q: the connection is out of step", method, path, body)
			}
		}
		check("HEAD", "/head", 200, 1000)
		check("HEAD", "/head-chunked", 200, -1)
		check("GET", "/204", 204, 0)
		check("GET", "/304", 304, -1)
		check("GET", "/304-chunked", 304, -1)
		check("GET", "/cl0", 200, 0)
		if n := srv.accepts.Load(); n != 1 {
			t.Errorf("bodyless responses: %d connections used, want 1 (kept alive)", n)
		}
	})
}

func TestClientAdvChunkedWithContentLength(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		reused := make(chan string, 4)
		closed := make(chan bool, 4)
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := advReadReq(br); err != nil {
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if req, err := advReadReq(br); err == nil {
				reused <- req.URL.Path
				io.WriteString(c, advOK("reused"))
				return
			} else {
				var ne net.Error
				closed <- !(errors.As(err, &ne) && ne.Timeout())
			}
		})
		resp, body := advGet(t, tr, srv.URL+"/1")
		if body != "hello" {
			t.Errorf("body %q: chunked framing must win over Content-Length", body)
		}
		if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
			t.Errorf("ContentLength %d, header Content-Length %q: want -1 and none", resp.ContentLength, resp.Header.Get("Content-Length"))
		}
		_, body2 := advGet(t, tr, srv.URL+"/2")
		select {
		case p := <-reused:
			t.Errorf("the connection was reused (for %s) after a response with both Transfer-Encoding and Content-Length", p)
		case c := <-closed:
			if !c {
				t.Errorf("the client kept the connection open")
			}
		case <-time.After(advTimeout):
			t.Errorf("server never saw the end of the first connection")
		}
		if body2 != "hello" {
			t.Errorf("second body %q", body2)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Keep-alive.

func TestClientAdvKeepAlive(t *testing.T) {
	big := strings.Repeat("z", 100<<10)
	handler := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Conn-Close", strconv.FormatBool(r.Close))
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
		case "/chunked":
			io.WriteString(w, big[:10])
			w.(http.Flusher).Flush()
			io.WriteString(w, big)
			return
		}
		io.WriteString(w, "body:"+r.URL.Path)
	}
	t.Run("reuse", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(handler))
			for i := range 10 {
				path := []string{"/a", "/chunked", "/b"}[i%3]
				advSettle()
				_, body := advGet(t, tr, s.URL+path)
				if path != "/chunked" && body != "body:"+path || path == "/chunked" && len(body) != 10+len(big) {
					t.Fatalf("%s: body %.30q (%d bytes)", path, body, len(body))
				}
			}
			if n := s.newConns.Load(); n != 1 {
				t.Errorf("10 sequential requests used %d connections, want 1", n)
			}
		})
	})
	t.Run("connection-close-response", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(handler))
			for range 5 {
				if resp, body := advGet(t, tr, s.URL+"/close"); body != "body:/close" || !resp.Close {
					t.Fatalf("body %q Close %v", body, resp.Close)
				}
			}
			if n := s.newConns.Load(); n != 5 {
				t.Errorf("5 'Connection: close' responses: %d connections, want 5", n)
			}
		})
	})
	t.Run("disable-keep-alives", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.DisableKeepAlives = true }, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(handler))
			for range 5 {
				resp, body := advGet(t, tr, s.URL+"/x")
				if body != "body:/x" || resp.Header.Get("X-Conn-Close") != "true" {
					t.Fatalf("body %q, server saw Close=%s (want true: Connection: close sent)", body, resp.Header.Get("X-Conn-Close"))
				}
			}
			if n := s.newConns.Load(); n != 5 {
				t.Errorf("DisableKeepAlives: %d connections for 5 requests, want 5", n)
			}
		})
	})
	t.Run("request-close", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(handler))
			for range 3 {
				req := advReq(t, "GET", s.URL+"/x", nil)
				req.Close = true
				resp, err := advRT(t, tr, req)
				if err != nil {
					t.Fatal(err)
				}
				advReadAll(t, resp.Body)
			}
			if n := s.newConns.Load(); n != 3 {
				t.Errorf("Request.Close: %d connections for 3 requests, want 3", n)
			}
		})
	})
	t.Run("http10-no-keep-alive", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			var served atomic.Int32
			// The server keeps the connection open and would answer again on it: only the client
			// can decide not to reuse it.
			srv := advServeEach(t, func(i int, req *http.Request) string {
				served.Add(1)
				return "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
			})
			for range 4 {
				resp, body := advGet(t, tr, srv.URL+"/")
				if body != "ok" || resp.ProtoMinor != 0 || !resp.Close {
					t.Fatalf("body %q proto %s Close %v", body, resp.Proto, resp.Close)
				}
			}
			if n := srv.accepts.Load(); n != 4 {
				t.Errorf("HTTP/1.0 without keep-alive: %d connections for 4 requests, want 4", n)
			}
		})
	})
	t.Run("http10-keep-alive", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv := advServeEach(t, func(i int, req *http.Request) string {
				return "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
			})
			for range 4 {
				advSettle()
				if _, body := advGet(t, tr, srv.URL+"/"); body != "ok" {
					t.Fatalf("body %q", body)
				}
			}
			if n := srv.accepts.Load(); n != 1 {
				t.Errorf("HTTP/1.0 with Connection: keep-alive: %d connections for 4 requests, want 1", n)
			}
		})
	})
}

// Sequential requests, each response read to its end (or bodyless) before the next request, must
// all use one connection: the connection has to be back in the pool by the time the caller sees the
// response (bodyless) or the body's io.EOF. net/http guarantees this (the body's EOF waits for
// tryPutIdleConn).
func TestClientAdvSequentialReuse(t *testing.T) {
	const n = 200
	for _, kind := range []string{"bodyless-204", "head", "small-body"} {
		t.Run(kind, func(t *testing.T) {
			advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
				srv := advServeEach(t, func(i int, req *http.Request) string {
					switch kind {
					case "bodyless-204":
						return "HTTP/1.1 204 No Content\r\n\r\n"
					case "head":
						return "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
					}
					return advOK(strings.Repeat("b", 100))
				})
				method := "GET"
				if kind == "head" {
					method = "HEAD"
				}
				for i := range n {
					resp, err := advRT(t, tr, advReq(t, method, srv.URL+"/", nil))
					if err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
					if _, err := advReadAll(t, resp.Body); err != nil {
						t.Fatalf("request %d: %v", i, err)
					}
				}
				if c := srv.accepts.Load(); c != 1 {
					t.Errorf("%d sequential %s exchanges used %d connections, want 1", n, kind, c)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Dead idle connections and retries.

// advDeadAfterFirst is a server whose first connection answers one request, then reads the next
// request in full and closes without answering; later connections answer everything.
func advDeadAfterFirst(t *testing.T, seen chan<- string) *advSrv {
	return advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		if i == 0 {
			if _, err := advReadReq(br); err != nil {
				return
			}
			io.WriteString(c, advOK("first"))
			req, err := advReadReq(br)
			if err == nil {
				seen <- req.Method
			}
			return // close without answering
		}
		for {
			req, err := advReadReq(br)
			if err != nil {
				return
			}
			seen <- req.Method + "@" + strconv.Itoa(i)
			io.WriteString(c, advOK("second"))
		}
	})
}

func TestClientAdvRetryDeadIdleConnection(t *testing.T) {
	t.Run("GET-retried", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			seen := make(chan string, 8)
			srv := advDeadAfterFirst(t, seen)
			if _, b := advGet(t, tr, srv.URL+"/"); b != "first" {
				t.Fatalf("first body %q", b)
			}
			if _, b := advGet(t, tr, srv.URL+"/"); b != "second" {
				t.Fatalf("retried GET: body %q", b)
			}
			if n := srv.accepts.Load(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
		})
	})
	t.Run("POST-not-retried", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			seen := make(chan string, 8)
			srv := advDeadAfterFirst(t, seen)
			if _, b := advGet(t, tr, srv.URL+"/"); b != "first" {
				t.Fatalf("first body %q", b)
			}
			body := &advTrackBody{Reader: strings.NewReader("payload")}
			req := advReq(t, "POST", srv.URL+"/", body)
			resp, err := advRT(t, tr, req)
			if err == nil {
				b, _ := advReadAll(t, resp.Body)
				t.Fatalf("POST on a connection the server closed: got %d %q, want an error (no retry)", resp.StatusCode, b)
			}
			time.Sleep(100 * time.Millisecond)
			if n := srv.accepts.Load(); n != 1 {
				t.Errorf("the POST was retried on a new connection (%d connections)", n)
			}
			if !body.closed.Load() {
				t.Errorf("request body not closed after the error")
			}
			// The transport still works.
			if _, b := advGet(t, tr, srv.URL+"/"); b != "second" {
				t.Errorf("GET after the failed POST: %q", b)
			}
		})
	})
	t.Run("streamed-PUT-with-idempotency-key-not-retried", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			seen := make(chan string, 8)
			srv := advDeadAfterFirst(t, seen)
			advGet(t, tr, srv.URL+"/")
			// A body that cannot be replayed cannot be retried, even for an idempotent request.
			req := advReq(t, "PUT", srv.URL+"/", io.MultiReader(strings.NewReader("streamed")))
			req.ContentLength = 8
			req.Header.Set("Idempotency-Key", "k1")
			if resp, err := advRT(t, tr, req); err == nil {
				b, _ := advReadAll(t, resp.Body)
				t.Fatalf("got %d %q, want an error", resp.StatusCode, b)
			}
			time.Sleep(100 * time.Millisecond)
			if n := srv.accepts.Load(); n != 1 {
				t.Errorf("a streamed body was retried (%d connections)", n)
			}
		})
	})
	t.Run("POST-with-idempotency-key-retried", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			seen := make(chan string, 8)
			srv := advDeadAfterFirst(t, seen)
			advGet(t, tr, srv.URL+"/")
			req := advReq(t, "POST", srv.URL+"/", nil) // bodyless
			req.Header.Set("Idempotency-Key", "k2")
			resp, err := advRT(t, tr, req)
			if err != nil {
				t.Fatalf("bodyless POST with Idempotency-Key: %v, want a transparent retry", err)
			}
			if b, _ := advReadAll(t, resp.Body); string(b) != "second" {
				t.Errorf("body %q", b)
			}
		})
	})
}

// A server that closes every connection right after its response (without saying so) races the
// client's next request: whichever way the race goes, every GET must succeed (a new connection, or a
// retry) and none may get lost.
func TestClientAdvServerClosesAfterEveryResponse(t *testing.T) {
	const n = 400
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			req, err := advReadReq(br)
			if err != nil {
				return
			}
			io.WriteString(c, advOK("r"+req.URL.Path))
		})
		var lost, failed int
		for i := range n {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			req := advReq(t, "GET", fmt.Sprintf("%s/%d", srv.URL, i), nil).WithContext(ctx)
			resp, err := advRT(t, tr, req)
			if err == nil {
				var b []byte
				b, err = advReadAll(t, resp.Body)
				if err == nil && string(b) != fmt.Sprintf("r/%d", i) {
					err = fmt.Errorf("body %q", b)
				}
			}
			cancel()
			if err != nil {
				if errors.Is(err, context.DeadlineExceeded) {
					lost++
				} else {
					failed++
				}
				t.Errorf("request %d: %v", i, err)
				if lost > 0 || failed >= 3 {
					break
				}
			}
		}
		if lost > 0 {
			t.Errorf("a request got no answer and no error within 2 s (lost)")
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Unsolicited bytes.

func TestClientAdvUnsolicitedBytes(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		wrote := make(chan struct{})
		closed := make(chan bool, 1)
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			if i == 0 {
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, advOK("ok1"))
				time.Sleep(100 * time.Millisecond)
				io.WriteString(c, advOK("unwanted"))
				close(wrote)
				ok, _ := advPeerClosed(br, c, 3*time.Second)
				closed <- ok
				return
			}
			for {
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, advOK("ok2"))
			}
		})
		if _, b := advGet(t, tr, srv.URL+"/"); b != "ok1" {
			t.Fatalf("first body %q", b)
		}
		advRecv(t, wrote, "the server's write")
		if !advRecv(t, closed, "the server handler's end") {
			t.Errorf("the client kept an idle connection that received unsolicited bytes")
		}
		if _, b := advGet(t, tr, srv.URL+"/"); b != "ok2" {
			t.Errorf("request after the unsolicited bytes: body %q", b)
		}
		if n := srv.accepts.Load(); n != 2 {
			t.Errorf("%d connections, want 2", n)
		}
	})
}

// Bytes that follow a complete response in the same segment are not a response to anything: they must
// not be taken as the response of the next request, whether it waits for the connection (handed over
// directly) or comes later (from the pool).
func TestClientAdvTrailingBytesNotTakenAsNextResponse(t *testing.T) {
	smuggle := advOK("first") + advOK("smuggled")
	t.Run("waiting-request", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.MaxConnsPerHost = 1 }, func(t *testing.T, tr *http1.Transport) {
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					if _, err := advReadReq(br); err != nil {
						return
					}
					if i == 0 && n == 0 {
						time.Sleep(300 * time.Millisecond) // the second request is waiting by now
						io.WriteString(c, smuggle)
						continue
					}
					io.WriteString(c, advOK("second"))
				}
			})
			first := make(chan string, 1)
			req1 := advReq(t, "GET", srv.URL+"/1", nil)
			go func() {
				resp, err := tr.RoundTrip(req1)
				if err != nil {
					first <- err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				first <- string(b)
			}()
			time.Sleep(100 * time.Millisecond)
			_, b2 := advGet(t, tr, srv.URL+"/2")
			if b1 := advWithin(t, advTimeout, "first request", func() string { return <-first }); b1 != "first" {
				t.Errorf("first body %q", b1)
			}
			if b2 != "second" {
				t.Errorf("the waiting request got %q: bytes that arrived before it was sent were taken as its response", b2)
			}
		})
	})
	t.Run("pooled", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					if _, err := advReadReq(br); err != nil {
						return
					}
					if i == 0 && n == 0 {
						io.WriteString(c, smuggle)
						continue
					}
					io.WriteString(c, advOK("second"))
				}
			})
			if _, b := advGet(t, tr, srv.URL+"/1"); b != "first" {
				t.Fatalf("first body %q", b)
			}
			if _, b := advGet(t, tr, srv.URL+"/2"); b != "second" {
				t.Errorf("the next request got %q", b)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// Back-pressure.

func TestClientAdvBackPressure(t *testing.T) {
	const block = 1 << 20
	const blocks = 64
	base := make([]byte, block)
	for i := range base {
		base[i] = byte(i*7 + i>>11)
	}
	stamp := func(buf []byte, k int) {
		copy(buf, base)
		copy(buf, fmt.Sprintf("block %08d", k))
	}
	want := sha256.New()
	tmp := make([]byte, block)
	for k := range blocks {
		stamp(tmp, k)
		want.Write(tmp)
	}
	wantSum := want.Sum(nil)

	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		var written atomic.Int64
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			if _, err := advReadReq(br); err != nil {
				return
			}
			if _, err := fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", block*blocks); err != nil {
				return
			}
			buf := make([]byte, block)
			for k := range blocks {
				stamp(buf, k)
				if _, err := c.Write(buf); err != nil {
					return
				}
				written.Add(block)
			}
			advPeerClosed(br, c, 5*time.Second)
		})
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		before := ms.HeapInuse

		resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/big", nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		h := sha256.New()
		buf := make([]byte, 32<<10)
		var got int64
		// What the server may be ahead of a reader that keeps up: the two sockets' buffers (up to
		// about 10 MiB on loopback here), the pipe, and the connection's input. On uring a pause
		// takes effect only after the completions of the multishot receive reaped with it, which
		// against a server writing at loopback speed can be many socketfuls: 26 and 33 MiB ahead
		// were seen in 2 of 10 runs (an engine property, docs/client.md). While the reader stops,
		// every engine is held to 16 MiB below.
		limitAhead := int64(16 << 20)
		if tr.EngineKind() == eddy.EngineUring {
			limitAhead = 48 << 20
		}
		read := func(limit int64, pause time.Duration) error {
			for got < limit {
				n, err := resp.Body.Read(buf[:min(int64(len(buf)), limit-got)])
				h.Write(buf[:n])
				got += int64(n)
				if ahead := written.Load() - got; ahead > limitAhead {
					return fmt.Errorf("no back-pressure: the server got %d MiB ahead of the reader", ahead>>20)
				}
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				if pause > 0 {
					time.Sleep(pause)
				}
			}
			return nil
		}
		var maxGrowth int64
		sample := func(gc bool) {
			if gc {
				runtime.GC()
			}
			runtime.ReadMemStats(&ms)
			maxGrowth = max(maxGrowth, int64(ms.HeapInuse)-int64(before))
		}
		// Slowly first, then not at all for a while: the server must be held back.
		if err := advWithin(t, 15*time.Second, "slow reading", func() error { return read(2<<20, time.Millisecond) }); err != nil {
			t.Fatalf("slow phase: %v", err)
		}
		time.Sleep(400 * time.Millisecond)
		sample(true)
		ahead := written.Load() - got
		if ahead > 16<<20 {
			t.Errorf("the server wrote %d MiB more than the client read while it did not read: no back-pressure", ahead>>20)
		}
		// The rest, at full speed, sampling the heap.
		// uring under -race on a loaded machine is slow here even with working back-pressure.
		err = advWithin(t, 45*time.Second, "fast reading", func() error {
			for got < block*blocks {
				if err := read(min(got+8<<20, block*blocks), 0); err != nil {
					return err
				}
				sample(true)
			}
			var one [1]byte
			if n, err := resp.Body.Read(one[:]); n != 0 || err != io.EOF {
				return fmt.Errorf("after the body: Read = %d, %v, want 0, EOF", n, err)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("after %d bytes: %v", got, err)
		}
		if got != block*blocks || !bytes.Equal(h.Sum(nil), wantSum) {
			t.Errorf("got %d bytes (want %d), checksum match %v", got, block*blocks, bytes.Equal(h.Sum(nil), wantSum))
		}
		// On uring the connection's input can take in a socket's receive buffer after each pause
		// (see limitAhead), in one growing chunk: its capacity and the garbage of its growth count
		// here.
		limitGrowth := int64(16 << 20)
		if tr.EngineKind() == eddy.EngineUring {
			limitGrowth = 32 << 20
		}
		if maxGrowth > limitGrowth {
			t.Errorf("heap in use grew by %d MiB while streaming a 64 MiB body: not bounded", maxGrowth>>20)
		}
		t.Logf("max heap growth %d KiB, server ahead by %d KiB while paused", maxGrowth>>10, ahead>>10)
	})
}

// ---------------------------------------------------------------------------------------------
// Request bodies.

type advFailReader struct {
	n   int
	err error
}

func (r *advFailReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, r.err
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

var errAdvBoom = errors.New("adversarial: body read failed")

func TestClientAdvRequestBodies(t *testing.T) {
	// A server that reads request heads and never answers nor reads bodies.
	silent := func(t *testing.T) (*advSrv, chan *http.Request) {
		heads := make(chan *http.Request, 8)
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			heads <- req
			advPeerClosed(br, c, 15*time.Second)
		})
		return srv, heads
	}
	echo := func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, "read: "+err.Error(), 400)
			return
		}
		_, injected := r.Trailer["X-Injected"]
		_, injected2 := r.Header["X-Injected"]
		fmt.Fprintf(w, "%d %x te=%v trailer=%q injected=%v", n, h.Sum(nil), r.TransferEncoding, r.Trailer.Get("X-Checksum"), injected || injected2)
	}

	t.Run("content-length-longer-than-body-inline", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv, _ := silent(t)
			req := advReq(t, "POST", srv.URL+"/", strings.NewReader("short"))
			req.ContentLength = 100
			if resp, err := advRT(t, tr, req); err == nil {
				resp.Body.Close()
				t.Fatal("no error for ContentLength 100 with a 5-byte body")
			}
			time.Sleep(50 * time.Millisecond)
			if n := srv.accepts.Load(); n != 0 {
				t.Errorf("a connection was made for an invalid request")
			}
		})
	})
	t.Run("content-length-longer-than-body-streamed", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv, _ := silent(t)
			body := &advTrackBody{Reader: strings.NewReader("short")}
			req := advReq(t, "POST", srv.URL+"/", body)
			req.ContentLength = 100
			req.GetBody = nil
			resp, err := advRT(t, tr, req)
			if err == nil {
				resp.Body.Close()
				t.Fatal("no error for ContentLength 100 with a 5-byte streamed body")
			}
			if !strings.Contains(err.Error(), "ContentLength") {
				t.Errorf("error %q does not say what went wrong", err)
			}
			if !advWaitFor(time.Second, body.closed.Load) {
				t.Errorf("request body not closed")
			}
		})
	})
	for _, chunked := range []bool{false, true} {
		t.Run(fmt.Sprintf("body-read-error-chunked=%v", chunked), func(t *testing.T) {
			advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
				srv, heads := silent(t)
				body := &advTrackBody{Reader: &advFailReader{n: 100 << 10, err: errAdvBoom}}
				req := advReq(t, "PUT", srv.URL+"/", body)
				if !chunked {
					req.ContentLength = 1 << 20
				}
				resp, err := advRT(t, tr, req)
				if err == nil {
					resp.Body.Close()
					t.Fatal("no error when the request body's Read fails")
				}
				if !errors.Is(err, errAdvBoom) {
					t.Errorf("error %v does not wrap the body's error", err)
				}
				if !advWaitFor(time.Second, body.closed.Load) {
					t.Errorf("request body not closed")
				}
				select {
				case h := <-heads: // the head may have been dropped by the abort
					if chunked != (len(h.TransferEncoding) > 0) {
						t.Errorf("framing: TE %v CL %d", h.TransferEncoding, h.ContentLength)
					}
				default:
				}
			})
		})
	}
	t.Run("pipe-streamed", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(echo))
			data := bytes.Repeat([]byte("streamed-body-"), (2<<20)/14)
			pr, pw := io.Pipe()
			go func() {
				for off := 0; off < len(data); off += 7000 {
					if _, err := pw.Write(data[off:min(off+7000, len(data))]); err != nil {
						return
					}
					if off%(256<<10) < 7000 {
						time.Sleep(time.Millisecond)
					}
				}
				pw.Close()
			}()
			resp, err := advRT(t, tr, advReq(t, "POST", s.URL+"/", pr))
			if err != nil {
				pw.CloseWithError(err)
				t.Fatal(err)
			}
			b, err := advReadAll(t, resp.Body)
			want := fmt.Sprintf("%d %x te=[chunked]", len(data), sha256.Sum256(data))
			if err != nil || !strings.HasPrefix(string(b), want) {
				t.Errorf("echo: %q (%v), want prefix %q", b, err, want)
			}
		})
	})
	t.Run("trailers", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(echo))
			data := bytes.Repeat([]byte("t"), 100<<10)
			pr, pw := io.Pipe()
			req := advReq(t, "POST", s.URL+"/", pr)
			req.Trailer = http.Header{"X-Checksum": nil, "X-Evil": nil}
			go func() {
				pw.Write(data[:10]) // returns once the client reads the body: past RoundTrip's checks
				pw.Write(data[10:])
				req.Trailer.Set("X-Checksum", "sum-123")
				req.Trailer.Set("X-Evil", "a\r\nX-Injected: 1")
				pw.Close()
			}()
			resp, err := advRT(t, tr, req)
			if err != nil {
				pw.CloseWithError(err)
				t.Fatal(err)
			}
			b, err := advReadAll(t, resp.Body)
			if err != nil || !strings.Contains(string(b), `trailer="sum-123"`) {
				t.Errorf("trailer did not reach the server: %q %v", b, err)
			}
			if strings.Contains(string(b), "injected=true") {
				t.Errorf("a CRLF in a trailer value injected a field: %q", b)
			}
		})
	})
	t.Run("expect-100-continue", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(echo))
			data := bytes.Repeat([]byte("e"), 200<<10)
			req := advReq(t, "PUT", s.URL+"/", io.MultiReader(bytes.NewReader(data)))
			req.ContentLength = int64(len(data))
			req.Header.Set("Expect", "100-continue")
			resp, err := advRT(t, tr, req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := advReadAll(t, resp.Body)
			if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(string(b), fmt.Sprintf("%d %x", len(data), sha256.Sum256(data))) {
				t.Errorf("status %d body %q err %v", resp.StatusCode, b, err)
			}
		})
	})
	t.Run("streamed-uploads-keep-alive", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(echo))
			data := bytes.Repeat([]byte("k"), 100<<10)
			for i := range 10 {
				advSettle()
				var r io.Reader = io.MultiReader(bytes.NewReader(data)) // not replayable: streamed
				req := advReq(t, "POST", s.URL+"/", r)
				if i%2 == 0 {
					req.ContentLength = int64(len(data))
				}
				resp, err := advRT(t, tr, req)
				if err != nil {
					t.Fatal(err)
				}
				if b, err := advReadAll(t, resp.Body); err != nil || !strings.HasPrefix(string(b), strconv.Itoa(len(data))+" ") {
					t.Fatalf("echo %q %v", b, err)
				}
			}
			if n := s.newConns.Load(); n != 1 {
				t.Errorf("10 sequential streamed uploads, fully read by the server: %d connections, want 1", n)
			}
		})
	})
}

// The server answers before reading the request body: the client gets the response, stops sending,
// and does not reuse the connection (it is out of step).
func TestClientAdvEarlyResponse(t *testing.T) {
	for _, mode := range []string{"pipe", "big"} {
		t.Run(mode, func(t *testing.T) {
			advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
				closed := make(chan bool, 1)
				srv := advServe(t, func(i int, c net.Conn) {
					br := bufio.NewReader(c)
					if i == 0 {
						if _, err := http.ReadRequest(br); err != nil { // head only
							return
						}
						io.WriteString(c, "HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\n\r\ntoo big!")
						ok, extra := advPeerClosed(br, c, 5*time.Second)
						t.Logf("server read %d body bytes after its early response", len(extra))
						closed <- ok
						return
					}
					for {
						if _, err := advReadReq(br); err != nil {
							return
						}
						io.WriteString(c, advOK("fresh"))
					}
				})
				var req *http.Request
				var pw *io.PipeWriter
				writerErr := make(chan error, 1)
				switch mode {
				case "pipe":
					var pr *io.PipeReader
					pr, pw = io.Pipe()
					req = advReq(t, "POST", srv.URL+"/upload", pr)
					go func() {
						// The body never ends: the writer stops only when the client closes it.
						chunk := make([]byte, 1000)
						for {
							if _, err := pw.Write(chunk); err != nil {
								writerErr <- err
								return
							}
						}
					}()
				case "big":
					data := make([]byte, 32<<20)
					req = advReq(t, "POST", srv.URL+"/upload", io.MultiReader(bytes.NewReader(data)))
					req.ContentLength = int64(len(data))
				}
				resp, err := advRT(t, tr, req)
				if err != nil {
					if pw != nil {
						pw.CloseWithError(err)
					}
					t.Fatalf("early 413: %v", err)
				}
				b, err := advReadAll(t, resp.Body)
				if resp.StatusCode != 413 || string(b) != "too big!" || err != nil {
					t.Errorf("got %d %q %v", resp.StatusCode, b, err)
				}
				if pw != nil {
					select {
					case err := <-writerErr:
						if err == nil {
							t.Errorf("the request body's writer got no error")
						}
					case <-time.After(5 * time.Second):
						pw.CloseWithError(errors.New("test gave up"))
						t.Errorf("the request body was not closed after the early response")
					}
				}
				if !advRecv(t, closed, "the server handler's end") {
					t.Errorf("the connection was kept after a response that came before the request body ended")
				}
				if _, b := advGet(t, tr, srv.URL+"/next"); b != "fresh" {
					t.Errorf("next request: %q", b)
				}
				if n := srv.accepts.Load(); n != 2 {
					t.Errorf("%d connections, want 2", n)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Cancellation.

// advSilentHead is a server that reads requests and never answers; got receives each request head,
// closed whether the client closed the connection.
func advSilentHead(t *testing.T) (srv *advSrv, got chan string, closed chan bool) {
	got = make(chan string, 16)
	closed = make(chan bool, 16)
	srv = advServe(t, func(i int, c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		got <- req.URL.Path
		ok, _ := advPeerClosed(br, c, 15*time.Second)
		closed <- ok
	})
	return srv, got, closed
}

func advRecv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(advTimeout):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

func TestClientAdvCancel(t *testing.T) {
	t.Run("while-dialling", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			addr := advBlackhole(t)
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(100*time.Millisecond, cancel)
			start := time.Now()
			_, err := advRT(t, tr, advReq(t, "GET", "http://"+addr+"/", nil).WithContext(ctx))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to notice the cancellation", d)
			}
			ctx2, cancel2 := context.WithTimeout(context.Background(), 150*time.Millisecond)
			defer cancel2()
			_, err = advRT(t, tr, advReq(t, "GET", "http://"+addr+"/", nil).WithContext(ctx2))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("deadline: got %v, want context.DeadlineExceeded", err)
			}
		})
	})
	t.Run("already-cancelled", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv, _, _ := advSilentHead(t)
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil).WithContext(ctx))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
		})
	})
	t.Run("waiting-for-head", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv, got, closed := advSilentHead(t)
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				<-got
				time.Sleep(50 * time.Millisecond)
				cancel()
			}()
			start := time.Now()
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/wait", nil).WithContext(ctx))
			if !errors.Is(err, context.Canceled) {
				t.Errorf("got %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if !advRecv(t, closed, "server to see the end") {
				t.Errorf("the connection of the cancelled request stayed open")
			}
		})
	})
	t.Run("reading-body", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			closed := make(chan bool, 1)
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n0123456789")
				ok, _ := advPeerClosed(br, c, 15*time.Second)
				closed <- ok
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil).WithContext(ctx))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			buf := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := resp.Body.Read(make([]byte, 100)) // blocks: the server stalls
				errc <- err
			}()
			time.Sleep(100 * time.Millisecond)
			start := time.Now()
			cancel()
			err = advRecv(t, errc, "the blocked body Read to return")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("body Read: %v, want context.Canceled", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v", d)
			}
			if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
				t.Errorf("later body Read: %v, want context.Canceled", err)
			}
			if !advRecv(t, closed, "server to see the end") {
				t.Errorf("the connection stayed open after the cancellation")
			}
		})
	})
	t.Run("future-cancel-waiting-for-head", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv, got, closed := advSilentHead(t)
			f := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/async", nil))
			advRecv(t, got, "the request")
			f.Cancel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_, err := f.Await(ctx)
			if !errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				t.Errorf("Future.Cancel: Await = %v, want context.Canceled at once", err)
			}
			if !advRecv(t, closed, "server to see the end") {
				t.Errorf("the connection stayed open after Future.Cancel")
			}
		})
	})
	t.Run("future-cancel-while-dialling", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			addr := advBlackhole(t)
			f := tr.RoundTripAsync(advReq(t, "GET", "http://"+addr+"/", nil))
			time.Sleep(100 * time.Millisecond)
			f.Cancel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := f.Await(ctx); !errors.Is(err, context.Canceled) || ctx.Err() != nil {
				t.Errorf("Await = %v, want context.Canceled at once", err)
			}
		})
	})
	t.Run("while-waiting-for-a-connection", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.MaxConnsPerHost = 1 }, func(t *testing.T, tr *http1.Transport) {
			got := make(chan string, 4)
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := advReadReq(br)
					if err != nil {
						return
					}
					got <- req.URL.Path
					if req.URL.Path == "/hang" {
						advPeerClosed(br, c, 15*time.Second)
						return
					}
					io.WriteString(c, advOK("ok"+req.URL.Path))
				}
			})
			ctx1, cancel1 := context.WithCancel(context.Background())
			defer cancel1()
			first := tr.RoundTripAsync(advReq(t, "GET", srv.URL+"/hang", nil).WithContext(ctx1))
			advRecv(t, got, "the first request")
			ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel2()
			start := time.Now()
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/queued", nil).WithContext(ctx2))
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
				t.Errorf("queued request: %v after %v, want DeadlineExceeded promptly", err, time.Since(start))
			}
			cancel1()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if _, err := first.Await(ctx); !errors.Is(err, context.Canceled) {
				t.Errorf("first request: %v", err)
			}
			// Both places are free again: a third request gets a connection.
			if _, b := advGet(t, tr, srv.URL+"/third"); b != "ok/third" {
				t.Errorf("third: %q", b)
			}
			select {
			case p := <-got:
				if p == "/queued" {
					t.Errorf("the request cancelled while waiting was sent anyway")
				}
			default:
			}
		})
	})
}

// A request stopped while its connection is being dialled must not leave the dial running: the
// connecting socket is closed at once, by a cancelled context as by Future.Cancel.
func TestClientAdvCancelReleasesDial(t *testing.T) {
	for _, how := range []string{"context", "future-cancel"} {
		t.Run(how, func(t *testing.T) {
			advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
				addr := advBlackhole(t)
				advGet(t, tr, advServeEach(t, func(int, *http.Request) string { return advOK("warm") }).URL+"/") // engine started
				tr.CloseIdleConnections()
				time.Sleep(100 * time.Millisecond)
				base := advFDs(t)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				f := tr.RoundTripAsync(advReq(t, "GET", "http://"+addr+"/", nil).WithContext(ctx))
				if !advWaitFor(2*time.Second, func() bool { return advFDs(t) > base }) {
					t.Skip("no descriptor appeared for the dial")
				}
				if how == "context" {
					cancel()
				} else {
					f.Cancel()
				}
				actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer acancel()
				if _, err := f.Await(actx); !errors.Is(err, context.Canceled) || actx.Err() != nil {
					t.Fatalf("Await: %v", err)
				}
				if !advWaitFor(time.Second, func() bool { return advFDs(t) <= base }) {
					t.Errorf("the connecting socket is still open 1 s after the request was stopped (%s): the dial goes on (%d descriptors, %d before)", how, advFDs(t), base)
				}
			})
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Timeouts and idle connections.

func TestClientAdvResponseHeaderTimeout(t *testing.T) {
	t.Run("fires", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.ResponseHeaderTimeout = 200 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
			srv, _, closed := advSilentHead(t)
			start := time.Now()
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
			d := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			if d < 150*time.Millisecond || d > 3*time.Second {
				t.Errorf("failed after %v, want about 200ms", d)
			}
			if !advRecv(t, closed, "server to see the end") {
				t.Errorf("connection kept after the timeout")
			}
		})
	})
	t.Run("not-for-the-body", func(t *testing.T) {
		// The head must come within the timeout even when the server's goroutine is starved on a
		// loaded machine (at 100 ms a run under load missed it); the body takes longer than it.
		advEach(t, func(tr *http1.Transport) { tr.ResponseHeaderTimeout = time.Second }, func(t *testing.T, tr *http1.Transport) {
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n")
				for _, p := range []string{"sl", "ow", "!!"} {
					time.Sleep(400 * time.Millisecond)
					io.WriteString(c, p)
				}
				advPeerClosed(br, c, 5*time.Second)
			})
			_, b := advGet(t, tr, srv.URL+"/")
			if b != "slow!!" {
				t.Errorf("body %q", b)
			}
		})
	})
	// The timeout is the client giving up on a server that got the request: it is no reason to send
	// the request again (net/http does not).
	t.Run("on-reused-connection-not-retried", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.ResponseHeaderTimeout = 300 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
			var requests atomic.Int32
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for n := 0; ; n++ {
					if _, err := advReadReq(br); err != nil {
						return
					}
					requests.Add(1)
					if i == 0 && n == 0 {
						io.WriteString(c, advOK("first"))
						continue
					}
					advPeerClosed(br, c, 15*time.Second) // never answer
					return
				}
			})
			advGet(t, tr, srv.URL+"/")
			start := time.Now()
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/slow", nil))
			d := time.Since(start)
			if err == nil {
				t.Fatal("no error")
			}
			time.Sleep(100 * time.Millisecond)
			if n := requests.Load(); n != 2 {
				t.Errorf("server got %d requests (%d connections): the timed-out request was sent again; it failed after %v (ResponseHeaderTimeout 300ms)", n, srv.accepts.Load(), d)
			}
		})
	})
}

func TestClientAdvIdleConnections(t *testing.T) {
	t.Run("idle-timeout", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.IdleConnTimeout = 200 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
			type end struct {
				closed bool
				after  time.Duration
			}
			ends := make(chan end, 4)
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := advReadReq(br); err != nil {
					return
				}
				start := time.Now() // before the write: the client's idle clock starts after it
				io.WriteString(c, advOK("x"))
				ok, _ := advPeerClosed(br, c, 5*time.Second)
				ends <- end{ok, time.Since(start)}
			})
			advGet(t, tr, srv.URL+"/")
			e := advRecv(t, ends, "the idle connection to end")
			if !e.closed {
				t.Fatalf("idle connection not closed within 5 s (IdleConnTimeout 200ms)")
			}
			if e.after < 100*time.Millisecond || e.after > 3*time.Second {
				t.Errorf("idle connection closed after %v, want about 200ms", e.after)
			}
			if _, b := advGet(t, tr, srv.URL+"/"); b != "x" {
				t.Errorf("request after the idle timeout: %q", b)
			}
		})
	})
	t.Run("idle-timeout-spares-slow-exchanges", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.IdleConnTimeout = 100 * time.Millisecond }, func(t *testing.T, tr *http1.Transport) {
			srv := advServeEach(t, func(i int, req *http.Request) string {
				if req.URL.Path == "/slow" {
					time.Sleep(400 * time.Millisecond)
				}
				return advOK("done" + req.URL.Path)
			})
			advGet(t, tr, srv.URL+"/fast")
			if _, b := advGet(t, tr, srv.URL+"/slow"); b != "done/slow" {
				t.Errorf("slow request on a kept-alive connection: %q", b)
			}
		})
	})
	t.Run("close-idle-connections", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			closed := make(chan bool, 4)
			release := make(chan struct{})
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := advReadReq(br)
					if err != nil {
						closed <- true
						return
					}
					if req.URL.Path == "/held" {
						<-release
					}
					io.WriteString(c, advOK("r"+req.URL.Path))
				}
			})
			// One connection busy, then one idle.
			busy := make(chan string, 1)
			held := advReq(t, "GET", srv.URL+"/held", nil)
			go func() {
				resp, err := tr.RoundTrip(held)
				if err != nil {
					busy <- "error: " + err.Error()
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				busy <- string(b)
			}()
			if !advWaitFor(2*time.Second, func() bool { return srv.accepts.Load() == 1 }) {
				t.Fatal("the held request did not connect")
			}
			time.Sleep(50 * time.Millisecond)
			advGet(t, tr, srv.URL+"/a") // a second connection, idle afterwards
			if n := srv.accepts.Load(); n != 2 {
				t.Fatalf("%d connections, want 2", n)
			}
			advSettle()
			tr.CloseIdleConnections()
			select {
			case <-closed:
			case <-time.After(3 * time.Second):
				t.Errorf("CloseIdleConnections: the idle connection was not closed")
			}
			close(release)
			if b := advRecv(t, busy, "the busy request"); b != "r/held" {
				t.Errorf("CloseIdleConnections disturbed a request in flight: %q", b)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// MaxConnsPerHost.

func TestClientAdvMaxConnsPerHost(t *testing.T) {
	t.Run("keep-alive", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.MaxConnsPerHost = 1 }, func(t *testing.T, tr *http1.Transport) {
			s := advStartNetHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				time.Sleep(5 * time.Millisecond)
				io.WriteString(w, "n="+r.URL.Query().Get("n"))
			}))
			advMaxConnsRun(t, tr, s.URL, 10)
			if m, n := s.maxAct.Load(), s.newConns.Load(); m > 1 || n != 1 {
				t.Errorf("MaxConnsPerHost=1: server saw at most %d concurrent connections and %d in all, want 1 and 1", m, n)
			}
		})
	})
	t.Run("connection-close", func(t *testing.T) {
		advEach(t, func(tr *http1.Transport) { tr.MaxConnsPerHost = 1 }, func(t *testing.T, tr *http1.Transport) {
			var active, maxActive atomic.Int32
			srv := advServe(t, func(i int, c net.Conn) {
				time.Sleep(30 * time.Millisecond) // lets the end of the previous connection be seen
				n := active.Add(1)
				defer active.Add(-1)
				for {
					m := maxActive.Load()
					if n <= m || maxActive.CompareAndSwap(m, n) {
						break
					}
				}
				br := bufio.NewReader(c)
				req, err := advReadReq(br)
				if err != nil {
					return
				}
				b := "n=" + req.URL.Query().Get("n")
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
				advPeerClosed(br, c, 5*time.Second)
			})
			advMaxConnsRun(t, tr, srv.URL, 10)
			if m, n := maxActive.Load(), srv.accepts.Load(); m > 1 || n != 10 {
				t.Errorf("MaxConnsPerHost=1: server saw at most %d concurrent connections and %d in all, want 1 and 10", m, n)
			}
		})
	})
}

func advMaxConnsRun(t *testing.T, tr *http1.Transport, url string, n int) {
	t.Helper()
	errs := make(chan error, n)
	for i := range n {
		req := advReq(t, "GET", fmt.Sprintf("%s/?n=%d", url, i), nil)
		go func() {
			resp, err := tr.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil && string(b) != fmt.Sprintf("n=%d", i) {
				err = fmt.Errorf("request %d: body %q", i, b)
			}
			errs <- err
		}()
	}
	for range n {
		if err := advRecv(t, errs, "the concurrent requests"); err != nil {
			t.Error(err)
		}
	}
}

// ---------------------------------------------------------------------------------------------
// Close.

func TestClientAdvCloseInFlight(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 2, MaxConnsPerHost: 1}
			closedOnce := false
			defer func() {
				if !closedOnce {
					advClose(t, tr)
				}
			}()
			hang, hangGot, _ := advSilentHead(t)
			uploadHeads := make(chan struct{}, 4)
			stopUploads := make(chan struct{})
			uploadSrv := func() *advSrv {
				return advServe(t, func(i int, c net.Conn) {
					br := bufio.NewReader(c)
					if _, err := http.ReadRequest(br); err != nil {
						return
					}
					uploadHeads <- struct{}{}
					<-stopUploads // read nothing more: the client's writes stall on flow control
				})
			}
			upload, upload2 := uploadSrv(), uploadSrv()
			t.Cleanup(func() { close(stopUploads) }) // runs before the servers' Close
			midBody := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
				advPeerClosed(br, c, 15*time.Second)
			})
			blackhole := advBlackhole(t)

			type outcome struct {
				name string
				err  error
			}
			results := make(chan outcome, 16)
			do := func(name string, req *http.Request) {
				go func() {
					resp, err := tr.RoundTrip(req)
					if err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						err = fmt.Errorf("unexpected response %d %q", resp.StatusCode, b)
					}
					results <- outcome{name, err}
				}()
			}
			// A: waiting for its head. B: waiting for a connection (MaxConnsPerHost=1).
			do("waiting-for-head", advReq(t, "GET", hang.URL+"/a", nil))
			advRecv(t, hangGot, "request A")
			do("waiting-for-connection", advReq(t, "GET", hang.URL+"/b", nil))
			// C: dialling.
			do("dialling", advReq(t, "GET", "http://"+blackhole+"/", nil))
			// D: streaming a body the server does not read.
			var produced atomic.Int64
			pipeBody := &advTrackBody{Reader: readerFunc(func(p []byte) (int, error) {
				produced.Add(int64(len(p)))
				return len(p), nil
			})}
			reqD := advReq(t, "POST", upload.URL+"/stalled", pipeBody)
			do("stalled-upload", reqD)
			advRecv(t, uploadHeads, "upload head")
			// E: a pipe body that never produces.
			pr, pw := io.Pipe()
			defer pw.Close()
			do("idle-pipe-upload", advReq(t, "POST", upload2.URL+"/pipe", pr))
			advRecv(t, uploadHeads, "pipe upload head")
			// F: reading a body that stalls.
			resp, err := advRT(t, tr, advReq(t, "GET", midBody.URL+"/", nil))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 10)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			bodyErr := make(chan error, 1)
			go func() {
				_, err := io.ReadAll(resp.Body)
				bodyErr <- err
			}()
			// Let the upload fill the buffers.
			var last int64 = -1
			advWaitFor(5*time.Second, func() bool {
				time.Sleep(100 * time.Millisecond)
				n := produced.Load()
				stalled := n == last && n > 0
				last = n
				return stalled
			})
			time.Sleep(100 * time.Millisecond)

			start := time.Now()
			closedOnce = true
			cerr := advWithin(t, advTimeout, "Transport.Close", tr.Close)
			took := time.Since(start)
			if cerr != nil {
				t.Errorf("Close with requests in flight: %v (after %v)", cerr, took)
			}
			if took > 2*time.Second {
				t.Errorf("Close with requests in flight took %v", took)
			}
			for range 5 {
				o := advRecv(t, results, "the requests in flight to fail")
				if !errors.Is(o.err, http1.ErrTransportClosed) {
					t.Errorf("%s: %v, want ErrTransportClosed", o.name, o.err)
				}
			}
			if err := advRecv(t, bodyErr, "the body read to fail"); !errors.Is(err, http1.ErrTransportClosed) {
				t.Errorf("body read in flight: %v, want ErrTransportClosed", err)
			}
			if !advWaitFor(2*time.Second, pipeBody.closed.Load) {
				t.Errorf("the request body of the stalled upload was not closed")
			}
			// After Close.
			if _, err := tr.RoundTrip(advReq(t, "GET", hang.URL+"/after", nil)); !errors.Is(err, http1.ErrTransportClosed) {
				t.Errorf("RoundTrip after Close: %v", err)
			}
			late := &advTrackBody{Reader: strings.NewReader("x")}
			f := tr.RoundTripAsync(advReq(t, "POST", hang.URL+"/after", late))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			if _, err := f.Await(ctx); !errors.Is(err, http1.ErrTransportClosed) {
				t.Errorf("RoundTripAsync after Close: %v", err)
			}
			if !late.closed.Load() {
				t.Errorf("the body of a request refused after Close was not closed")
			}
			if err := tr.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func TestClientAdvCloseUnused(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind}
			if err := tr.Close(); err != nil {
				t.Fatal(err)
			}
			srv := advServeEach(t, func(int, *http.Request) string { return advOK("no") })
			_, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
			if !errors.Is(err, http1.ErrTransportClosed) {
				t.Errorf("RoundTrip on a Transport closed before use: %v", err)
			}
			if n := srv.accepts.Load(); n != 0 {
				t.Errorf("a closed Transport connected")
			}
		})
	}
}

// ---------------------------------------------------------------------------------------------
// Invalid requests.

func TestClientAdvInvalidRequests(t *testing.T) {
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		var heads sync.Map
		srv := advServe(t, func(i int, c net.Conn) {
			br := bufio.NewReader(c)
			for {
				req, err := advReadReq(br)
				if err != nil {
					return
				}
				heads.Store(i, fmt.Sprint(req.Method, " ", req.URL, " ", req.Header))
				io.WriteString(c, advOK("sent"))
			}
		})
		mk := func(change func(r *http.Request)) func() *http.Request {
			return func() *http.Request {
				r := advReq(t, "GET", srv.URL+"/ok", nil)
				change(r)
				return r
			}
		}
		cases := []struct {
			name string
			req  func() *http.Request
		}{
			{"ws", mk(func(r *http.Request) { r.URL.Scheme = "ws" })},
			{"ftp", mk(func(r *http.Request) { r.URL.Scheme = "ftp" })},
			{"crlf-in-header-value", mk(func(r *http.Request) { r.Header["X-A"] = []string{"a\r\nX-Injected: 1"} })},
			{"lf-in-header-value", mk(func(r *http.Request) { r.Header["X-A"] = []string{"a\nX-Injected: 1"} })},
			{"nul-in-header-value", mk(func(r *http.Request) { r.Header["X-A"] = []string{"a\x00b"} })},
			{"crlf-in-user-agent", mk(func(r *http.Request) { r.Header["User-Agent"] = []string{"ua\r\nX-Injected: 1"} })},
			{"crlf-in-connection", mk(func(r *http.Request) { r.Header["Connection"] = []string{"keep-alive\r\nX-Injected: 1"} })},
			{"bad-header-name-space", mk(func(r *http.Request) { r.Header["Bad Name"] = []string{"x"} })},
			{"bad-header-name-colon", mk(func(r *http.Request) { r.Header["X:Y"] = []string{"x"} })},
			{"bad-header-name-crlf", mk(func(r *http.Request) { r.Header["X\r\nY"] = []string{"x"} })},
			{"empty-header-name", mk(func(r *http.Request) { r.Header[""] = []string{"x"} })},
			{"bad-method-space", mk(func(r *http.Request) { r.Method = "GE T" })},
			{"bad-method-crlf", mk(func(r *http.Request) { r.Method = "GET / HTTP/1.1\r\nX:" })},
			{"crlf-in-host", mk(func(r *http.Request) { r.Host = "example.com\r\nX-Injected: 1" })},
			{"space-in-uri", mk(func(r *http.Request) { r.URL.Opaque = "/a b" })},
			{"crlf-in-uri", mk(func(r *http.Request) { r.URL.Opaque = "/a\r\nX-Injected: 1" })},
			{"bad-trailer-name", func() *http.Request {
				r := advReq(t, "POST", srv.URL+"/ok", io.MultiReader(strings.NewReader("x")))
				r.Trailer = http.Header{"Bad Trailer": nil}
				return r
			}},
			{"unsupported-transfer-encoding", func() *http.Request {
				r := advReq(t, "POST", srv.URL+"/ok", strings.NewReader("x"))
				r.TransferEncoding = []string{"gzip"}
				return r
			}},
			{"content-length-without-body", mk(func(r *http.Request) { r.ContentLength = 5 })},
			{"no-host", mk(func(r *http.Request) { r.URL.Host = "" })},
		}
		for _, tc := range cases {
			req := tc.req()
			body := &advTrackBody{Reader: strings.NewReader("x")}
			if req.Body != nil {
				req.Body = body
				req.GetBody = nil
			}
			resp, err := advRT(t, tr, req)
			if err == nil {
				b, _ := advReadAll(t, resp.Body)
				t.Errorf("%s: no error, the request was sent (response %q)", tc.name, b)
				continue
			}
			if err.Error() == "" {
				t.Errorf("%s: empty error", tc.name)
			}
			if req.Body != nil && !body.closed.Load() {
				t.Errorf("%s: request body not closed", tc.name)
			}
		}
		time.Sleep(100 * time.Millisecond)
		if n := srv.accepts.Load(); n != 0 {
			heads.Range(func(k, v any) bool {
				t.Logf("server received: %v", v)
				return true
			})
			t.Errorf("invalid requests made %d connections to the server", n)
		}
	})
}

// ---------------------------------------------------------------------------------------------
// Other body lifecycles.

func TestClientAdvResponseBodyLifecycle(t *testing.T) {
	t.Run("unread-complete-body-frees-connection", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			small := strings.Repeat("s", 10<<10)
			srv := advServeEach(t, func(i int, req *http.Request) string { return advOK(req.URL.Path + small) })
			resp1, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/1", nil))
			if err != nil {
				t.Fatal(err)
			}
			// Without reading the first body, a second request reuses the connection (the
			// body arrived in full into the pipe).
			time.Sleep(50 * time.Millisecond)
			if _, b := advGet(t, tr, srv.URL+"/2"); b != "/2"+small {
				t.Errorf("second body wrong (%d bytes)", len(b))
			}
			if b, err := advReadAll(t, resp1.Body); err != nil || string(b) != "/1"+small {
				t.Errorf("first body read late: %d bytes, %v", len(b), err)
			}
			if n := srv.accepts.Load(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	})
	t.Run("early-close-aborts-connection", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			big := strings.Repeat("b", 4<<20)
			closed := make(chan bool, 4)
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				for {
					req, err := advReadReq(br)
					if err != nil {
						return
					}
					if req.URL.Path == "/big" {
						io.WriteString(c, advOK(big))
						ok, _ := advPeerClosed(br, c, 5*time.Second)
						closed <- ok
						return
					}
					io.WriteString(c, advOK("small"))
				}
			})
			resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/big", nil))
			if err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			if _, err := io.ReadFull(resp.Body, buf); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if _, err := resp.Body.Read(buf); err == nil {
				t.Errorf("Read after Close returned no error")
			}
			if !advRecv(t, closed, "the server to see the end") {
				t.Errorf("closing an unfinished body did not close its connection")
			}
			if _, b := advGet(t, tr, srv.URL+"/next"); b != "small" {
				t.Errorf("next: %q", b)
			}
		})
	})
	t.Run("close-unblocks-reader", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv := advServe(t, func(i int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := advReadReq(br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
				advPeerClosed(br, c, 15*time.Second)
			})
			resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
			if err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				_, err := resp.Body.Read(make([]byte, 10))
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond)
			resp.Body.Close()
			if err := advRecv(t, errc, "the blocked Read to return after Close"); err == nil {
				t.Errorf("blocked Read returned no error after Close")
			}
		})
	})
	t.Run("response-trailers", func(t *testing.T) {
		advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
			srv := advServeEach(t, func(int, *http.Request) string {
				return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum, X-Other\r\n\r\n" +
					"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Sum: 42\r\nX-Undeclared: u\r\n\r\n"
			})
			for range 2 {
				advSettle()
				resp, err := advRT(t, tr, advReq(t, "GET", srv.URL+"/", nil))
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := resp.Trailer["X-Sum"]; !ok {
					t.Errorf("declared trailer keys missing before the body is read: %v", resp.Trailer)
				}
				b, err := advReadAll(t, resp.Body)
				if err != nil || string(b) != "abcde" || resp.Trailer.Get("X-Sum") != "42" {
					t.Errorf("body %q err %v trailer %v", b, err, resp.Trailer)
				}
			}
			if n := srv.accepts.Load(); n != 1 {
				t.Errorf("%d connections for 2 chunked responses with trailers, want 1", n)
			}
		})
	})
}

// ---------------------------------------------------------------------------------------------
// Concurrency.

func TestClientAdvConcurrency(t *testing.T) {
	const goroutines, perG = 200, 10 // 200 requests at once, as before; 10 in turn each (was 20)
	bodyFor := func(g, i int) string {
		size := (g*31 + i*97) % 9000
		if (g+i)%97 == 0 {
			size += 150 << 10 // a few bodies larger than the pipe
		}
		unit := fmt.Sprintf("<%d.%d>", g, i)
		return strings.Repeat(unit, size/len(unit)+1)[:size]
	}
	advEach(t, nil, func(t *testing.T, tr *http1.Transport) {
		s := advStartNetHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			g, _ := strconv.Atoi(r.URL.Query().Get("g"))
			i, _ := strconv.Atoi(r.URL.Query().Get("i"))
			if r.Method == "POST" {
				b, _ := io.ReadAll(r.Body)
				w.Write(b)
				return
			}
			io.WriteString(w, bodyFor(g, i))
		}))
		var wg sync.WaitGroup
		var bad atomic.Int32
		errs := make(chan error, 20)
		var slowMu sync.Mutex
		var slowest time.Duration
		var slowWhat string
		for g := range goroutines {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range perG {
					want := bodyFor(g, i)
					url := fmt.Sprintf("%s/?g=%d&i=%d", s.URL, g, i)
					var req *http.Request
					if i%5 == 4 {
						req, _ = http.NewRequest("POST", url, strings.NewReader(want))
					} else {
						req, _ = http.NewRequest("GET", url, nil)
					}
					ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
					start := time.Now()
					resp, err := tr.RoundTrip(req.WithContext(ctx))
					head := time.Since(start)
					var b []byte
					if err == nil {
						b, err = io.ReadAll(resp.Body)
						resp.Body.Close()
					}
					cancel()
					d := time.Since(start)
					slowMu.Lock()
					if d > slowest {
						slowest = d
						slowWhat = fmt.Sprintf("%s g=%d i=%d (%d bytes; head after %v)", req.Method, g, i, len(want), head)
					}
					slowMu.Unlock()
					if err == nil && string(b) != want {
						err = fmt.Errorf("g=%d i=%d: body of %d bytes differs from the %d expected", g, i, len(b), len(want))
					}
					if err != nil {
						bad.Add(1)
						select {
						case errs <- fmt.Errorf("g=%d i=%d: %w", g, i, err):
						default:
						}
					}
				}
			}()
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(40 * time.Second):
			t.Fatal("concurrent requests did not finish within 40 s")
		}
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := bad.Load(); n > 0 {
			t.Errorf("%d of %d requests failed", n, goroutines*perG)
		}
		t.Logf("%d requests over %d connections; slowest %v: %s", goroutines*perG, s.newConns.Load(), slowest, slowWhat)
	})
}

// ---------------------------------------------------------------------------------------------
// Descriptors.

func advFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

func advFDList() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		fmt.Fprintf(&b, "%s->%s ", e.Name(), l)
	}
	return b.String()
}

func TestClientAdvDescriptors(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			s := advStartNetHTTP(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, strings.Repeat("d", 100<<10))
			}))
			bad := advServeEach(t, func(i int, req *http.Request) string {
				switch req.URL.Path {
				case "/malformed":
					return "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"
				case "/hang":
					time.Sleep(300 * time.Millisecond)
				}
				return "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"
			})
			refused := func() string {
				ln, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				a := ln.Addr().String()
				ln.Close()
				return a
			}()
			time.Sleep(50 * time.Millisecond)
			before := advFDs(t)
			beforeList := advFDList()

			// The requests' outcomes, for the checks and for the report of a stall. Their contexts
			// are not this test's subject (the descriptors are), except the 50 ms one of /hang, a
			// cancellation: the others are generous, and the whole is bounded by a hang guard rather
			// than a time (h137: on a machine loaded far past its 2 CPUs the 40 requests took over the
			// 5 s bound the whole step had, each request slowed alike, none stalled). A request that
			// stalled until its context ended would still fail the test, by its error.
			type advStep struct {
				url   string
				start time.Time
				took  time.Duration
				n     int
				err   error
				done  bool
			}
			var stepMu sync.Mutex
			var steps [8][5]advStep
			tr := &http1.Transport{Engine: kind, Loops: 2}
			var wg sync.WaitGroup
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range 5 {
						var url string
						ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
						switch (i + j) % 5 {
						case 0, 1:
							url = s.URL + "/"
						case 2:
							url = bad.URL + "/malformed"
						case 3:
							url = "http://" + refused + "/"
						case 4:
							url = bad.URL + "/hang"
							cancel()
							ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
						}
						start := time.Now()
						stepMu.Lock()
						steps[i][j] = advStep{url: url, start: start}
						stepMu.Unlock()
						req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
						n := 0
						resp, err := tr.RoundTrip(req)
						if err == nil {
							var b []byte
							b, err = io.ReadAll(resp.Body)
							n = len(b)
							resp.Body.Close()
						}
						cancel()
						stepMu.Lock()
						steps[i][j].took, steps[i][j].n, steps[i][j].err, steps[i][j].done = time.Since(start), n, err, true
						stepMu.Unlock()
					}
				}()
			}
			finished := make(chan struct{})
			go func() { wg.Wait(); close(finished) }()
			select {
			case <-finished:
			case <-time.After(30 * time.Second): // a hang guard: the contexts end every request well before
				stepMu.Lock()
				var b strings.Builder
				for i := range steps {
					for j, st := range steps[i] {
						switch {
						case st.start.IsZero():
							fmt.Fprintf(&b, "\n  goroutine %d step %d: not started", i, j)
						case !st.done:
							fmt.Fprintf(&b, "\n  goroutine %d step %d: GET %s unfinished after %v", i, j, st.url, time.Since(st.start))
						}
					}
				}
				stepMu.Unlock()
				t.Fatalf("the requests did not finish within 30 s (hang):%s", b.String())
			}
			for i := range steps {
				for j, st := range steps[i] {
					switch {
					case strings.HasSuffix(st.url, "/hang"):
						if !errors.Is(st.err, context.DeadlineExceeded) {
							t.Errorf("goroutine %d step %d: GET %s (50 ms context, 300 ms answer): err %v, want the context's deadline", i, j, st.url, st.err)
						}
					case errors.Is(st.err, context.DeadlineExceeded):
						t.Errorf("goroutine %d step %d: GET %s stalled until its context ended (%v): %v", i, j, st.url, st.took, st.err)
					case st.url == s.URL+"/" && (st.err != nil || st.n != 100<<10):
						t.Errorf("goroutine %d step %d: GET %s: %d bytes, err %v; want %d bytes", i, j, st.url, st.n, st.err, 100<<10)
					case st.url != s.URL+"/" && st.err == nil:
						t.Errorf("goroutine %d step %d: GET %s succeeded; want an error", i, j, st.url)
					}
				}
			}
			// A body left half-read when the transport closes.
			resp, err := tr.RoundTrip(advReq(t, "GET", s.URL+"/", nil))
			if err == nil {
				resp.Body.Read(make([]byte, 10))
			}
			advClose(t, tr)
			s.CloseClientConnections()
			after := 0
			advWaitFor(30*time.Second, func() bool { after = advFDs(t); return after <= before }) // (a bound on a condition)
			if after > before {
				t.Errorf("descriptors: %d before the Transport, %d after Close\nbefore: %s\nafter:  %s", before, after, beforeList, advFDList())
			}
		})
	}
}
