package http1_test

// A differential of the request the client (http1.Transport) writes against the one net/http's
// Transport writes for the same *http.Request (session 32). A raw server on loopback parses what
// arrives with http.ReadRequest; method, request-target, protocol, Host, header, framing, body and
// trailer of every request that arrives, the client's error, the response it hands back and the
// number of times the request body was closed must agree, but for the differences docs/client.md
// documents, each applied to net/http's outcome by the case that meets it (rwCase.eddy).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// rwRecord is a request as the server parsed it.
type rwRecord struct {
	Method, RequestURI, Proto, Host string
	Header                          http.Header
	ContentLength                   int64
	TransferEncoding                []string
	Body                            string
	Trailer                         http.Header
	Complete                        bool // the body was read to its end
	ParseErr                        bool // bytes arrived that http.ReadRequest refused
}

// rwResult is what one client made of one case.
type rwResult struct {
	Err      bool
	ErrText  string // shown, not compared
	Status   int
	RespBody string
	Recs     []rwRecord
	Closes   int // closes of the request body (-1: the request had none to count)
}

// rwServer records every request it reads and answers 200 "ok" (a gzip-coded "hello" on
// /gzip when the request accepts gzip, a plain one otherwise).
type rwServer struct {
	rawServer
	recs []rwRecord
	v6   *rawServer // on [::1], if the machine has it; its mu guards nothing of rwServer
}

func newRWServer(t *testing.T) *rwServer {
	s := &rwServer{}
	s.listen(t, 0, func(c net.Conn, _ int) { s.serve(c) })
	t.Cleanup(s.close)
	if ln, err := net.Listen("tcp", "[::1]:0"); err == nil {
		// rawServer.listen takes 127.0.0.1: hand it the listener's port on ::1 instead.
		s.v6 = &rawServer{ln: ln, conns: make(map[net.Conn]struct{})}
		s.v6.wg.Add(1)
		go func() {
			defer s.v6.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s.v6.mu.Lock()
				s.v6.conns[c] = struct{}{}
				s.v6.mu.Unlock()
				s.v6.wg.Add(1)
				go func() {
					defer s.v6.wg.Done()
					s.serve(c)
					c.Close()
					s.v6.mu.Lock()
					delete(s.v6.conns, c)
					s.v6.mu.Unlock()
				}()
			}
		}()
		t.Cleanup(s.v6.close)
	}
	return s
}

func (s *rwServer) add(r rwRecord) {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
}

func (s *rwServer) serve(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if b, _ := br.Peek(len(rwSync)); string(b) == rwSync {
		io.WriteString(c, "k") // take's connection: every one before it has been accepted
		return
	}
	for {
		if _, err := br.Peek(1); err != nil {
			return // the client closed an idle connection
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			s.add(rwRecord{ParseErr: true})
			return
		}
		if req.URL.Path == "/417" {
			// An answer without 100 Continue: the server reads no body, and drains what comes
			// after its answer, so that its close does not reset the connection.
			s.add(rwRecord{Method: req.Method, RequestURI: req.RequestURI, Proto: req.Proto, Host: req.Host,
				Header: req.Header, ContentLength: req.ContentLength, TransferEncoding: req.TransferEncoding, Complete: true})
			io.WriteString(c, "HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
			c.(*net.TCPConn).CloseWrite()
			io.Copy(io.Discard, c)
			return
		}
		if strings.EqualFold(req.Header.Get("Expect"), "100-continue") {
			io.WriteString(c, "HTTP/1.1 100 Continue\r\n\r\n")
		}
		body, berr := io.ReadAll(req.Body)
		rec := rwRecord{
			Method: req.Method, RequestURI: req.RequestURI, Proto: req.Proto, Host: req.Host,
			Header: req.Header, ContentLength: req.ContentLength, TransferEncoding: req.TransferEncoding,
			Body: string(body), Trailer: req.Trailer, Complete: berr == nil,
		}
		s.add(rec)
		if berr != nil {
			return
		}
		answer := "ok"
		coding := ""
		if req.URL.Path == "/gzip" {
			answer = "hello"
			if strings.Contains(req.Header.Get("Accept-Encoding"), "gzip") {
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				zw.Write([]byte(answer))
				zw.Close()
				answer, coding = b.String(), "Content-Encoding: gzip\r\n"
			}
		}
		head := fmt.Sprintf("HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n", coding, len(answer))
		if req.Method == http.MethodHead {
			answer = ""
		}
		if _, err := io.WriteString(c, head+answer); err != nil || req.Close {
			return
		}
	}
}

// rwSync opens the connection take makes to each listener.
const rwSync = "SYNC"

// take waits until the server has no connection left (the client's transport is closed by
// then), and returns the requests recorded since the last take. A connection of the client may
// still wait in the listen queue: take first has one of its own accepted and answered on each
// listener, after those (the queue is first in, first out).
func (s *rwServer) take(t *testing.T) []rwRecord {
	t.Helper()
	lns := []net.Listener{s.ln}
	if s.v6 != nil {
		lns = append(lns, s.v6.ln)
	}
	for _, ln := range lns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, rwSync)
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("sync: %v", err)
		}
		c.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		n := 0
		if s.v6 != nil {
			s.v6.mu.Lock()
			n = len(s.v6.conns)
			s.v6.mu.Unlock()
		}
		s.mu.Lock()
		n += len(s.conns)
		recs := s.recs
		if n == 0 {
			s.recs = nil
			s.mu.Unlock()
			return recs
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("the server still has %d connections", n)
		}
	}
}

// rwBody counts the closes of a request body.
type rwBody struct {
	io.Reader
	mu     sync.Mutex
	closes int
}

func (b *rwBody) Close() error {
	b.mu.Lock()
	b.closes++
	b.mu.Unlock()
	return nil
}

func (b *rwBody) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closes
}

// onlyReader hides the type of a reader (http.NewRequest neither knows its length nor sets GetBody).
type onlyReader struct{ io.Reader }

// failingReader gives its bytes, then fails.
type failingReader struct{ b []byte }

var errRWBody = errors.New("body failed")

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, errRWBody
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// trailerReader gives its bytes, then sets the request's trailer values, as a body that
// computes a checksum does.
type trailerReader struct {
	r   io.Reader
	req *http.Request
}

func (r *trailerReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.req.Trailer.Set("X-Sum", "42")
		r.req.Trailer.Set("X-Empty", "")
	}
	return n, err
}

type rwCase struct {
	name  string
	build func(base string) *http.Request
	// client: the request goes through an http.Client (which adds Authorization from the URL's
	// user information), not straight to RoundTrip.
	client bool
	// stdCompression: net/http's Transport with transparent compression on (the default); off
	// otherwise, as eddy's has none.
	stdCompression bool
	// v6: base is the server's address on ::1 ("" when the machine has none: skipped).
	v6 bool
	// noKeepAlives: DisableKeepAlives on both Transports.
	noKeepAlives bool
	// eddy turns net/http's outcome into what eddy's is documented to be, where they differ.
	eddy func(r *rwResult)
}

func rwGet(method, path string, body io.Reader) func(string) *http.Request {
	return func(base string) *http.Request {
		r, err := http.NewRequest(method, base+path, body)
		if err != nil {
			panic(err)
		}
		return r
	}
}

func rwWith(f func(base string) *http.Request, g func(r *http.Request)) func(string) *http.Request {
	return func(base string) *http.Request {
		r := f(base)
		g(r)
		return r
	}
}

// noRecord: eddy refuses before anything is sent where net/http sent a request that fails.
func noRecord(r *rwResult) { r.Recs = nil }

// refused: eddy fails a request that net/http sends (documented in docs/client.md); what of it
// reached the server is not compared (rwNormalize).
func refused(r *rwResult) { *r = rwResult{Err: true, Closes: r.Closes} }

func rwCases() []rwCase {
	big := strings.Repeat("0123456789abcdef", 4096) // 64 KiB: streamed, not sent with the head
	return []rwCase{
		{name: "GET", build: rwGet("GET", "/g", nil)},
		{name: "HEAD", build: rwGet("HEAD", "/h", nil)},
		{name: "DELETE", build: rwGet("DELETE", "/d", nil)},
		{name: "OPTIONS", build: rwGet("OPTIONS", "/o", nil)},
		{name: "OPTIONS*", build: rwWith(rwGet("OPTIONS", "/", nil), func(r *http.Request) { r.URL.Path = "*" })},
		{name: "empty method", build: rwWith(rwGet("GET", "/e", nil), func(r *http.Request) { r.Method = "" })},
		{name: "lower-case method", build: rwGet("get", "/l", nil)},
		{name: "custom method", build: rwGet("PURGE", "/c", nil)},
		{name: "POST nil body", build: rwGet("POST", "/p", nil)},
		{name: "PUT nil body", build: rwGet("PUT", "/p", nil)},
		{name: "PATCH nil body", build: rwGet("PATCH", "/p", nil)},
		{name: "POST NoBody", build: rwGet("POST", "/p", http.NoBody)},
		{name: "GET NoBody", build: rwGet("GET", "/p", http.NoBody)},
		{name: "POST bytes.Reader", build: rwGet("POST", "/p", bytes.NewReader([]byte("hello body")))},
		{name: "POST strings.Reader", build: rwGet("POST", "/p", strings.NewReader("hello body"))},
		{name: "POST bytes.Buffer big", build: rwGet("POST", "/p", bytes.NewBufferString(big))},
		{name: "POST empty strings.Reader", build: rwGet("POST", "/p", strings.NewReader(""))},
		{name: "POST unknown length", build: rwGet("POST", "/p", onlyReader{strings.NewReader("streamed body")})},
		{name: "POST unknown length empty", build: rwGet("POST", "/p", onlyReader{strings.NewReader("")})},
		{name: "POST unknown length big", build: rwGet("POST", "/p", onlyReader{strings.NewReader(big)})},
		{name: "GET unknown length empty", build: rwGet("GET", "/p", onlyReader{strings.NewReader("")})},
		{name: "GET unknown length", build: rwGet("GET", "/p", onlyReader{strings.NewReader("get body")})},
		{name: "DELETE unknown length empty", build: rwGet("DELETE", "/p", onlyReader{strings.NewReader("")})},
		{name: "GET with body", build: rwGet("GET", "/p", strings.NewReader("get body"))},
		{name: "POST known length streamed", build: rwWith(rwGet("POST", "/p", onlyReader{strings.NewReader("abcdef")}),
			func(r *http.Request) { r.ContentLength = 6 })},
		{name: "POST TransferEncoding chunked", build: rwWith(rwGet("POST", "/p", strings.NewReader("abcdef")),
			func(r *http.Request) { r.TransferEncoding = []string{"chunked"} })},
		{name: "POST ContentLength larger", build: rwWith(rwGet("POST", "/p", strings.NewReader("abcdef")),
			func(r *http.Request) { r.ContentLength = 10 }), eddy: noRecord},
		{name: "POST ContentLength larger streamed", build: rwWith(rwGet("POST", "/p", onlyReader{strings.NewReader("abcdef")}),
			func(r *http.Request) { r.ContentLength = 10 })},
		{name: "POST ContentLength smaller", build: rwWith(rwGet("POST", "/p", strings.NewReader("abcdef")),
			func(r *http.Request) { r.ContentLength = 3 }),
			// net/http sends the 3 bytes (a complete request) and fails after, or hands back the
			// answer when it comes first; eddy fails before the last bytes go out.
			eddy: refused},
		{name: "POST ContentLength smaller streamed", build: rwWith(rwGet("POST", "/p", onlyReader{strings.NewReader("abcdef")}),
			func(r *http.Request) { r.ContentLength = 3 }),
			eddy: refused},
		{name: "TransferEncoding identity", build: rwWith(rwGet("POST", "/p", strings.NewReader("abcdef")),
			func(r *http.Request) { r.TransferEncoding = []string{"identity"} }),
			eddy: refused}, // net/http sends the body undelimited, to be read to the connection's end
		{name: "DisableKeepAlives", noKeepAlives: true, build: rwGet("POST", "/k", strings.NewReader("abc"))},
		{name: "POST ContentLength with nil body", build: rwWith(rwGet("POST", "/p", nil), func(r *http.Request) { r.ContentLength = 5 })},
		{name: "POST failing body", build: rwGet("POST", "/p", &failingReader{b: []byte("0123456789")})},
		{name: "POST failing body known length", build: rwWith(rwGet("POST", "/p", &failingReader{b: []byte("0123456789")}),
			func(r *http.Request) { r.ContentLength = 20 })},
		{name: "chunked with trailer", build: func(base string) *http.Request {
			r := rwGet("POST", "/t", nil)(base)
			r.Body = io.NopCloser(&trailerReader{r: strings.NewReader("with trailer"), req: r})
			r.Trailer = http.Header{"X-Sum": nil, "X-Empty": nil}
			return r
		}},
		{name: "trailer given before", build: rwWith(rwGet("POST", "/t", onlyReader{strings.NewReader("x")}),
			func(r *http.Request) { r.Trailer = http.Header{"X-Pre": {"v"}, "x-lower": {"w"}} })},
		{name: "trailer on Content-Length body", build: rwWith(rwGet("POST", "/t", strings.NewReader("x")),
			func(r *http.Request) { r.Trailer = http.Header{"X-Pre": {"v"}} })},
		{name: "trailer value CRLF", build: rwWith(rwGet("POST", "/t", onlyReader{strings.NewReader("x")}),
			func(r *http.Request) { r.Trailer = http.Header{"X-Pre": {"v\r\nX-Evil: 1"}} })},
		{name: "trailer name invalid on Content-Length body", build: rwWith(rwGet("POST", "/t", strings.NewReader("x")),
			func(r *http.Request) { r.Trailer = http.Header{"X Bad": {"v"}} })},
		{name: "trailer name invalid without body", build: rwWith(rwGet("GET", "/t", nil),
			func(r *http.Request) { r.Trailer = http.Header{"X Bad": {"v"}} })},

		// Hosts and targets.
		{name: "Host differs from URL", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "other.example:1234" })},
		{name: "Host with :80", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "example.com:80" })},
		{name: "Host IPv6 literal", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "[2001:db8::1]:8080" })},
		{name: "Host IPv6 zone", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "[fe80::1%eth0]:8080" })},
		{name: "Host invalid (space)", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "a b" }),
			eddy: refused}, // net/http sends an empty Host
		{name: "Host invalid (path)", build: rwWith(rwGet("POST", "/h", strings.NewReader("b")), func(r *http.Request) { r.Host = "/tmp/sock" }),
			eddy: refused},
		{name: "Host CRLF", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "a\r\nX-Injected: 1" }),
			eddy: refused},
		{name: "Host non-ASCII", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "bücher.example" }),
			eddy: refused}, // net/http sends xn--bcher-kva.example
		{name: "Host empty URL host set", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "" })},
		{name: "URL IPv6 literal", v6: true, build: rwGet("GET", "/v6?x=1", nil)},
		{name: "URL IPv6 literal with zone", v6: true, build: func(base string) *http.Request {
			return rwGet("GET", strings.Replace(base, "]", "%25lo]", 1)+"/z", nil)("")
		}},
		{name: "Host header field ignored", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Header.Set("Host", "field.example") })},
		{name: "Host upper case", build: rwWith(rwGet("GET", "/h", nil), func(r *http.Request) { r.Host = "EXAMPLE.com" })},
		{name: "user info, Transport", build: func(base string) *http.Request {
			return rwGet("GET", strings.Replace(base, "http://", "http://user:p%40ss@", 1)+"/u", nil)("")
		}},
		{name: "user info, Client", client: true, build: func(base string) *http.Request {
			return rwGet("GET", strings.Replace(base, "http://", "http://user:p%40ss@", 1)+"/u", nil)("")
		}},
		{name: "RawQuery", build: rwGet("GET", "/q?a=1&b=%20x&c=%2F&&d", nil)},
		{name: "empty query", build: rwGet("GET", "/q?", nil)},
		{name: "fragment", build: rwGet("GET", "/f#frag", nil)},
		{name: "empty path", build: rwWith(rwGet("GET", "", nil), func(r *http.Request) { r.URL.Path = "" })},
		{name: "path with space", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.Path = "/a b/c" })},
		{name: "path unicode", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.Path = "/ünï/€" })},
		{name: "encoded slash", build: rwGet("GET", "/a%2Fb/c%252F", nil)},
		{name: "path dot segments", build: rwGet("GET", "/a/../b/./c", nil)},
		{name: "Opaque", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.Opaque = "/raw%2Fpath;x" })},
		{name: "Opaque absolute", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.Opaque = "//other.example/abs" })},
		{name: "URL control character", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.Path = "/a\x7fb" })},
		{name: "RawQuery with space", build: rwWith(rwGet("GET", "/", nil), func(r *http.Request) { r.URL.RawQuery = "a=b c" }),
			eddy: refused}, // net/http sends "GET /?a=b c HTTP/1.1", which no server can parse
		{name: "RequestURI set", build: rwWith(rwGet("GET", "/r", nil), func(r *http.Request) { r.RequestURI = "/other" })},

		// Header fields.
		{name: "User-Agent default", build: rwGet("GET", "/ua", nil)},
		{name: "User-Agent empty", build: rwWith(rwGet("GET", "/ua", nil), func(r *http.Request) { r.Header.Set("User-Agent", "") })},
		{name: "User-Agent nil slice", build: rwWith(rwGet("GET", "/ua", nil), func(r *http.Request) { r.Header["User-Agent"] = nil })},
		{name: "User-Agent custom twice", build: rwWith(rwGet("GET", "/ua", nil), func(r *http.Request) {
			r.Header["User-Agent"] = []string{"  mine/1.0 ", "second"}
		})},
		{name: "Accept-Encoding added", stdCompression: true, build: rwGet("GET", "/gzip", nil),
			eddy: func(r *rwResult) { r.Recs[0].Header.Del("Accept-Encoding") }}, // no transparent gzip
		{name: "DisableCompression", build: rwGet("GET", "/gzip", nil)},
		{name: "Accept-Encoding by caller", stdCompression: true, build: rwWith(rwGet("GET", "/gzip", nil),
			func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") })},
		{name: "Range, compression on", stdCompression: true, build: rwWith(rwGet("GET", "/gzip", nil),
			func(r *http.Request) { r.Header.Set("Range", "bytes=0-") })},
		{name: "HEAD, compression on", stdCompression: true, build: rwGet("HEAD", "/gzip", nil)},
		{name: "Close", build: rwWith(rwGet("GET", "/c", nil), func(r *http.Request) { r.Close = true })},
		{name: "Connection close field", build: rwWith(rwGet("GET", "/c", nil), func(r *http.Request) { r.Header.Set("Connection", "close") })},
		{name: "Close and Connection close field", build: rwWith(rwGet("GET", "/c", nil), func(r *http.Request) {
			r.Close = true
			r.Header.Set("Connection", "close")
		})},
		{name: "Close and Connection keep-alive field", build: rwWith(rwGet("GET", "/c", nil), func(r *http.Request) {
			r.Close = true
			r.Header.Set("Connection", "keep-alive")
		}),
			// net/http sends the caller's Connection field after its own "close"; eddy leaves out
			// the caller's field when it writes "Connection: close".
			eddy: func(r *rwResult) { r.Recs[0].Header["Connection"] = []string{"close"} }},
		{name: "many fields", build: rwWith(rwGet("GET", "/m", nil), func(r *http.Request) {
			r.Header["x-lower"] = []string{"a"}
			r.Header.Add("X-Multi", "1")
			r.Header.Add("X-Multi", "2")
			r.Header.Set("X-Space", " \tpadded\t ")
			r.Header.Set("X-Empty", "")
			r.Header["X-None"] = []string{}
			r.Header.Set("X-Obs", "caf\xe9 \xc2\xa0")
			r.Header.Set("Content-Length", "99")
			r.Header.Set("Transfer-Encoding", "chunked")
			r.Header.Set("Trailer", "X-Nope")
			r.Header.Set("Cookie", "a=b; c=d")
		})},
		{name: "field value CRLF", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header.Set("X-Evil", "a\r\nX-Injected: 1") })},
		{name: "field value LF", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header.Set("X-Evil", "a\nb") })},
		{name: "field value NUL", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header.Set("X-Evil", "a\x00b") })},
		{name: "User-Agent CRLF", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header.Set("User-Agent", "a\r\nX-Injected: 1") })},
		{name: "field name space", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header["X Bad"] = []string{"v"} })},
		{name: "field name colon", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header["X:Bad"] = []string{"v"} })},
		{name: "field name empty", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Header[""] = []string{"v"} })},
		{name: "invalid method", build: rwWith(rwGet("GET", "/x", nil), func(r *http.Request) { r.Method = "GE T" })},
		{name: "Expect 100-continue", build: rwWith(rwGet("POST", "/e", strings.NewReader("expected body")),
			func(r *http.Request) { r.Header.Set("Expect", "100-continue") })},
		{name: "Expect 100-continue refused", build: rwWith(rwGet("POST", "/417", strings.NewReader("expected body")),
			func(r *http.Request) { r.Header.Set("Expect", "100-continue") })},
		{name: "Expect 100-continue streamed", build: rwWith(rwGet("PUT", "/e", onlyReader{strings.NewReader("expected body")}),
			func(r *http.Request) { r.Header.Set("Expect", "100-continue") })},

		// Cancellation.
		{name: "context cancelled", build: func(base string) *http.Request {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			r, _ := http.NewRequestWithContext(ctx, "POST", base+"/x", onlyReader{strings.NewReader("never")})
			return r
		}},
		{name: "Request.Cancel closed", build: rwWith(rwGet("POST", "/x", strings.NewReader("never")), func(r *http.Request) {
			ch := make(chan struct{})
			close(ch)
			r.Cancel = ch
		})},
		{name: "unsupported scheme", build: rwWith(rwGet("GET", "/x", strings.NewReader("b")), func(r *http.Request) { r.URL.Scheme = "ftp" })},
		{name: "no URL host", build: rwWith(rwGet("GET", "/x", strings.NewReader("b")), func(r *http.Request) { r.URL.Host = "" })},
		{name: "nil Header", build: rwWith(rwGet("GET", "/x", strings.NewReader("b")), func(r *http.Request) { r.Header = nil })},
	}
}

// rwRun sends c's request through rt, then closes rt with done and returns what happened.
func rwRun(t *testing.T, s *rwServer, c rwCase, rt http.RoundTripper, done func()) rwResult {
	t.Helper()
	base := "http://" + s.ln.Addr().String()
	if c.v6 {
		base = "http://" + s.v6.ln.Addr().String()
	}
	req := c.build(base)
	res := rwResult{Closes: -1}
	var counted *rwBody
	if req.Body != nil && req.Body != http.NoBody {
		counted = &rwBody{Reader: req.Body}
		req.Body = counted
	}
	ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second) // a bound, never reached
	defer cancel()
	req = req.WithContext(ctx)
	var resp *http.Response
	var err error
	if c.client {
		resp, err = (&http.Client{Transport: rt}).Do(req)
	} else {
		resp, err = rt.RoundTrip(req)
	}
	if err != nil {
		res.Err, res.ErrText = true, err.Error()
	} else {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			res.Err, res.ErrText = true, "reading the response: "+rerr.Error()
		}
		res.Status, res.RespBody = resp.StatusCode, string(b)
	}
	done()
	res.Recs = s.take(t)
	if counted != nil {
		// http.RoundTripper allows the close to come after RoundTrip returns, from another
		// goroutine: eddy's body writer closes the body once its last write has gone, which may
		// be after the answer.
		for deadline := time.Now().Add(10 * time.Second); counted.count() == 0 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		res.Closes = counted.count()
	}
	return res
}

// rwNormalize clears what is not compared: the error's text, and the requests cut short by a
// client that failed (what of them reached the server before the connection closed is a matter of
// timing: net/http's buffered head may never leave, eddy's may be aborted in its queue).
func rwNormalize(r *rwResult) {
	r.ErrText = ""
	var recs []rwRecord
	for _, rec := range r.Recs {
		if r.Err && !rec.Complete {
			continue
		}
		if len(rec.Trailer) == 0 {
			rec.Trailer = nil
		}
		recs = append(recs, rec)
	}
	r.Recs = recs
}

func TestClientRequestWriteDiff(t *testing.T) {
	s := newRWServer(t)
	cases := rwCases()
	std := make([]rwResult, len(cases))
	for i, c := range cases {
		if c.v6 && s.v6 == nil {
			continue
		}
		tr := &http.Transport{DisableCompression: !c.stdCompression, ExpectContinueTimeout: 5 * time.Second,
			DisableKeepAlives: c.noKeepAlives}
		std[i] = rwRun(t, s, rwCases()[i], tr, tr.CloseIdleConnections) // fresh bodies each time
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for i, c := range cases {
			if c.v6 && s.v6 == nil {
				t.Logf("%s: skipped, no ::1 here", c.name)
				continue
			}
			tr := &http1.Transport{Engine: engine, Loops: 1, DisableKeepAlives: c.noKeepAlives}
			got := rwRun(t, s, rwCases()[i], tr, func() { tr.Close() })
			want := std[i]
			want.Recs = slices.Clone(want.Recs)
			for j := range want.Recs {
				want.Recs[j].Header = want.Recs[j].Header.Clone()
			}
			if c.eddy != nil {
				c.eddy(&want)
			}
			gotN, wantN := got, want
			rwNormalize(&gotN)
			rwNormalize(&wantN)
			if got.Closes != -1 && got.Closes != 1 {
				t.Errorf("%s: the request body was closed %d times, want once", c.name, got.Closes)
			}
			if !reflect.DeepEqual(gotN, wantN) {
				t.Errorf("%s:\n eddy     %s\n net/http %s", c.name, rwShow(got), rwShow(std[i]))
			} else if testing.Verbose() {
				t.Logf("%s: same (eddy err %q, net/http err %q)", c.name, got.ErrText, std[i].ErrText)
			}
		}
	})
}

// rwShow prints r with long bodies cut.
func rwShow(r rwResult) string {
	r.Recs = slices.Clone(r.Recs)
	for i := range r.Recs {
		if b := r.Recs[i].Body; len(b) > 40 {
			r.Recs[i].Body = fmt.Sprintf("%s... (%d bytes)", b[:20], len(b))
		}
	}
	return fmt.Sprintf("%+v", r)
}
