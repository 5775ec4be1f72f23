package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// This file sends the same raw requests to an http1.Server and to a net/http server with the same
// handler and compares what comes back: status, headers (except Date) and bodies, response by
// response, and whether the connection is closed afterwards.

// diffHandler answers according to the path, covering the response framing rules, and echoes the
// request as net/http presents it to handlers.
var diffHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/big":
		io.WriteString(w, strings.Repeat("big ", 1000))
		return
	case "/flush":
		io.WriteString(w, "part one ")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part two")
		return
	case "/declared":
		w.Header().Set("Content-Length", "11")
		io.WriteString(w, "hello world")
		return
	case "/204":
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(204)
		return
	case "/304":
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Etag", `"v1"`)
		w.WriteHeader(304)
		return
	case "/identity":
		w.Header().Set("Transfer-Encoding", "identity")
		io.WriteString(w, "until close")
		return
	case "/error":
		http.Error(w, "nope", http.StatusTeapot)
		return
	case "/redirect":
		http.Redirect(w, r, "/elsewhere?x=1", http.StatusFound)
		return
	case "/twice":
		w.WriteHeader(201)
		w.WriteHeader(202)
		io.WriteString(w, "created")
		return
	case "/close":
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
		return
	case "/json":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Add("X-Multi", "1")
		w.Header().Add("X-Multi", "2")
		w.Header().Set("X-Bad", "a\r\nInjected: yes")
		io.WriteString(w, `{"ok":true}`)
		return
	case "/trailers":
		w.Header().Set("Trailer", "X-Sum, Host")
		io.WriteString(w, "with trailers")
		w.Header().Set("X-Sum", "99")
		return
	case "/late":
		h := w.Header()
		h.Set("X-Before", "1")
		h.Set("Trailer", "X-Sum")
		w.WriteHeader(http.StatusAccepted)
		h.Set("X-After", "ignored by net/http")
		h.Set("Content-Type", "text/csv")
		io.WriteString(w, "a,b\n")
		h.Set("X-Sum", "7")
		return
	case "/unread":
		io.WriteString(w, "did not read the body")
		return
	case "/sniff":
		w.Write([]byte("\x89PNG\x0d\x0a\x1a\x0a rest"))
		return
	}
	body, err := io.ReadAll(r.Body)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range r.Header {
			if !yield(k) {
				return
			}
		}
	})
	fmt.Fprintf(w, "%s %s %q %q host=%q %s cl=%d te=%v close=%v\n", r.Method, r.URL.Path, r.URL.RawQuery, r.RequestURI, r.Host, r.Proto, r.ContentLength, r.TransferEncoding, r.Close)
	fmt.Fprintf(w, "url %#v %q\n", *r.URL, r.URL.String())
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %q\n", k, r.Header[k])
	}
	fmt.Fprintf(w, "body %q failed=%v trailer=%v\n", body, err != nil, r.Trailer)
})

// diffCases are raw request streams and the methods of the requests in them.
var diffCases = []struct {
	name    string
	raw     string
	methods []string
}{
	{"simple GET", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", []string{"GET"}},
	{"query and repeated fields", "GET /echo?a=1&b=%20 HTTP/1.1\r\nHost: x\r\nAccept: a\r\naccept: b\r\nX-Empty:\r\nUser-Agent: diff\r\n\r\n", []string{"GET"}},
	{"plain path octets", "GET /echo/a;b=c,d:e@f$g&h+i=j~k_l-m.n HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"empty query", "GET /echo? HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"question marks in query", "GET /echo?a?b? HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"escaped path", "GET /echo/a%2Fb%20c?x=%20 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"path octets to escape", "GET /echo/!*'()[]|^\"<> HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"double slash", "GET //echo//x HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"bad escape", "GET /echo/%zz HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"obs-text in path", "GET /echo/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"fragment", "GET /echo#frag?q HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"HEAD", "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HEAD"}},
	{"HEAD of a big body", "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HEAD"}},
	{"POST with length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello", []string{"POST"}},
	{"POST chunked with trailer", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: v\r\n\r\n", []string{"POST"}},
	{"pipelined", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /big HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "POST", "GET", "GET"}},
	{"HTTP/1.0", "GET /echo HTTP/1.0\r\n\r\n", []string{"GET"}},
	{"HTTP/1.0 keep-alive", "GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /declared HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"GET", "GET"}},
	{"HTTP/1.0 big body", "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"GET"}},
	{"Connection: close", "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}},
	{"chunked response", "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"flushed response", "GET /flush HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"declared length", "GET /declared HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"204 and 304", "GET /204 HTTP/1.1\r\nHost: x\r\n\r\nGET /304 HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}},
	{"identity response", "GET /identity HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"http.Error", "GET /error HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"http.Redirect", "GET /redirect HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"superfluous WriteHeader", "GET /twice HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"handler asks to close", "GET /close HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}},
	{"header values", "GET /json HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"response trailers", "GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"header changed after WriteHeader", "GET /late HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"sniffed PNG", "GET /sniff HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"unread small body", "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /after HTTP/1.1\r\nHost: x\r\n\r\n", []string{"POST", "GET"}},
	{"absolute-form", "GET http://other.example/abs?q HTTP/1.1\r\nHost: ignored\r\n\r\n", []string{"GET"}},
	{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", []string{"OPTIONS"}},
	{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}},
	{"duplicate equal lengths", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}},
	// Refused requests: the status and the framing must agree; bodies carry each server's reason.
	{"missing Host", "GET / HTTP/1.1\r\n\r\n", []string{"GET"}},
	{"bad request line", "GET /\r\nHost: x\r\n\r\n", []string{"GET"}},
	{"space in field name", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", []string{"GET"}},
	{"bad content length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", []string{"POST"}},
	{"differing lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []string{"POST"}},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []string{"GET"}},
	{"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", []string{"POST"}},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", []string{"GET"}},
}

// collect sends raw to addr and reads up to len(methods) responses, then tells whether the server
// closed the connection: a probe request sent afterwards gets no answer on a closed one.
func collect(t *testing.T, addr, raw string, methods []string) (out []*rawResponse, closed bool) {
	t.Helper()
	c := dial(t, addr)
	io.WriteString(c, raw)
	br := bufio.NewReader(c)
	for _, m := range methods {
		r, err := readResponse(br, m)
		if err != nil {
			return out, true
		}
		out = append(out, r)
		if r.close {
			break
		}
	}
	io.WriteString(c, "GET /probe HTTP/1.1\r\nHost: x\r\n\r\n")
	_, err := readResponse(br, "GET")
	return out, err != nil
}

func TestDifferentialAgainstNetHTTP(t *testing.T) {
	ref := httptest.NewUnstartedServer(diffHandler)
	ref.Config.ErrorLog = newLogger(io.Discard)
	ref.Start()
	defer ref.Close()
	refAddr := ref.Listener.Addr().String()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: diffHandler, ErrorLog: newLogger(io.Discard)})
		for _, c := range diffCases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				want, wantClosed := collect(t, refAddr, c.raw, c.methods)
				got, gotClosed := collect(t, addr, c.raw, c.methods)
				if len(got) != len(want) {
					t.Fatalf("%d responses; net/http gave %d", len(got), len(want))
				}
				for i := range want {
					compareResponses(t, i, got[i], want[i])
				}
				if gotClosed != wantClosed {
					t.Errorf("connection closed: %v; net/http: %v", gotClosed, wantClosed)
				}
			})
		}
	})
}

func compareResponses(t *testing.T, i int, got, want *rawResponse) {
	t.Helper()
	if got.status != want.status || got.proto != want.proto || got.close != want.close {
		t.Errorf("response %d: %s %d close=%v; net/http %s %d close=%v", i, got.proto, got.status, got.close, want.proto, want.status, want.close)
	}
	gh, wh := got.header.Clone(), want.header.Clone()
	for _, h := range []http.Header{gh, wh} {
		if h.Get("Date") != "" {
			h.Set("Date", "present")
		}
	}
	if fmt.Sprint(gh) != fmt.Sprint(wh) {
		t.Errorf("response %d header:\n got %v\nwant %v", i, gh, wh)
	}
	if want.status >= 400 && want.header.Get("Date") == "" {
		// A request refused before any handler ran: the body is the status and each
		// server's own reason for it.
		prefix := fmt.Sprintf("%d %s", want.status, http.StatusText(want.status))
		if !strings.HasPrefix(got.body, prefix) || !strings.HasPrefix(want.body, prefix) {
			t.Errorf("response %d body %q; net/http %q; both should start %q", i, got.body, want.body, prefix)
		}
		return
	}
	if got.body != want.body {
		t.Errorf("response %d body:\n got %q\nwant %q", i, got.body, want.body)
	}
}

// halfCloseCases are request streams after which the client shuts down its sending side.
var halfCloseCases = []struct {
	name    string
	raw     string
	methods []string
	// closeNote, if set, says why the responses may differ in "Connection: close": the
	// connection closes after them on both servers.
	closeNote string
}{
	{"one request", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}, ""},
	{"two pipelined requests", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}, ""},
	{"whole body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"}, ""},
	{"body cut short", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhel", []string{"POST"},
		"eddy says it will close after a body that failed; net/http closes without saying"},
	{"chunked body cut short", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", []string{"POST"},
		"eddy says it will close after a body that failed; net/http closes without saying"},
	{"request then part of a head", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTT", []string{"GET", "GET"}, ""},
	{"part of a head", "GET /b HTTP/1.1\r\nHo", []string{"GET"}, ""},
}

// collectHalfClosed sends raw to addr, shuts down the sending side, and reads responses until the
// server closes the connection.
func collectHalfClosed(t *testing.T, addr, raw string, methods []string) []*rawResponse {
	t.Helper()
	c := dial(t, addr)
	io.WriteString(c, raw)
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*rawResponse
	for _, m := range methods {
		r, err := readResponse(br, m)
		if err != nil {
			break
		}
		out = append(out, r)
	}
	if rest, err := io.ReadAll(br); err != nil || len(rest) > 0 {
		t.Errorf("after the responses: %q, %v; want EOF", rest, err)
	}
	return out
}

// TestHalfClosedClientGetsItsAnswer checks that a client that sends its requests and then shuts
// down its sending side gets the answers net/http would give it, in both handler styles, and then
// the connection's end.
func TestHalfClosedClientGetsItsAnswer(t *testing.T) {
	ref := httptest.NewUnstartedServer(diffHandler)
	ref.Config.ErrorLog = newLogger(io.Discard)
	ref.Start()
	defer ref.Close()
	refAddr := ref.Listener.Addr().String()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: diffHandler, ErrorLog: newLogger(io.Discard)})
		for _, c := range halfCloseCases {
			t.Run(c.name, func(t *testing.T) {
				t.Parallel()
				want := collectHalfClosed(t, refAddr, c.raw, c.methods)
				got := collectHalfClosed(t, addr, c.raw, c.methods)
				if len(got) != len(want) {
					t.Fatalf("%d responses; net/http gave %d", len(got), len(want))
				}
				for i := range want {
					if c.closeNote != "" {
						got[i].close = want[i].close
						got[i].header.Del("Connection")
						want[i].header.Del("Connection")
					}
					compareResponses(t, i, got[i], want[i])
				}
			})
		}
		t.Run("native", func(t *testing.T) {
			addr := start(t, engine, &http1.Server{Native: helloNative})
			got := collectHalfClosed(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"})
			if len(got) != 1 || got[0].body != "Hello, World!" {
				t.Fatalf("%+v", got)
			}
		})
	})
}
