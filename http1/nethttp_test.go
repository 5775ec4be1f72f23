package http1

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// This file checks the parser against net/http, on every request of the
// tables: http.ReadRequest for what an accepted head means, and a real
// net/http server on loopback for whether a request is accepted at all
// (the server adds checks to ReadRequest's: Host, versions, field syntax).

// acceptDifferences are the inputs that eddy and net/http's server accept
// and refuse the other way round on purpose, with the reason. On every other
// input of the tables they agree.
var acceptDifferences = map[string]string{
	"empty lines before request line":  "RFC 9112 §2.2: a server SHOULD skip empty lines before the request line; net/http's server skips at most 4 bytes of them and ReadRequest none",
	"chunked any case, empty elements": "RFC 9110 §5.6.1 lets a list hold empty elements; net/http accepts only exactly \"chunked\"",
	"other expectation":                "eddy's parser only reports 100-continue and leaves other expectations to the server; net/http answers 417",
	"HTTP/2 preface":                   "net/http's server recognises the HTTP/2 preface; eddy answers 505",
	"asterisk with GET":                "RFC 9112 §3.2.4: asterisk-form is only for OPTIONS; net/http passes it to the handler",
	"CONNECT origin-form":              "RFC 9112 §3.2.3: CONNECT takes authority-form; net/http also allows a path (for net/rpc)",
	"CONNECT without port":             "RFC 9110 §9.3.6: CONNECT needs host and port; net/http does not check",
	"CONNECT empty port":               "RFC 9110 §9.3.6: CONNECT needs host and port; net/http does not check",
	"CONNECT without host":             "RFC 9110 §9.3.6: CONNECT needs host and port; net/http does not check",
	"CONNECT userinfo":                 "RFC 9112 §3.2.3: authority-form has no userinfo; net/http does not check",
	"CONNECT absolute URI":             "RFC 9112 §3.2.3: CONNECT takes authority-form; net/http does not check",
	"authority-form with GET":          "authority-form is only for CONNECT; net/http takes example.com:80 as a scheme and an opaque part",
	"obs-fold":                         "RFC 9112 §5.2 lets a server reject obs-fold or unfold it; eddy rejects, net/http unfolds",
	"obs-fold with tab":                "RFC 9112 §5.2 lets a server reject obs-fold or unfold it; eddy rejects, net/http unfolds",
	"TE and CL":                        "RFC 9112 §6.1 lets a server reject both, a request smuggling defence; net/http drops Content-Length",
	"CL and TE":                        "RFC 9112 §6.1 lets a server reject both, a request smuggling defence; net/http drops Content-Length",
	"TE in HTTP/1.0":                   "RFC 9112 §6.1: Transfer-Encoding in HTTP/1.0 means faulty framing; net/http ignores the field",
}

// statusDifferences are the inputs that both refuse, with different status.
var statusDifferences = map[string]string{
	"TE gzip only":                      "RFC 9112 §6.3: a request whose final coding is not chunked MUST get 400; net/http answers 501",
	"TE chunked not last":               "RFC 9112 §6.3: final coding not chunked is 400; net/http answers 501",
	"TE chunked not last across fields": "RFC 9112 §6.3: final coding not chunked is 400; net/http answers 501",
	"TE chunked with parameter":         "RFC 9112 §6.3: final coding not chunked is 400; net/http answers 501",
	"TE chunked twice":                  "RFC 9112 §6.1 forbids chunked twice, a framing error (400); net/http answers 501",
	"TE chunked twice across fields":    "RFC 9112 §6.1 forbids chunked twice, a framing error (400); net/http answers 501",
	"TE empty":                          "Transfer-Encoding needs at least one coding, a syntax error (400); net/http answers 501",
	"TE not a token":                    "a transfer coding is a token, a syntax error (400); net/http answers 501",
}

// extraDifferential are further inputs on which both must agree.
var extraDifferential = []struct{ name, in string }{
	{"obs-text in value", "GET / HTTP/1.1\r\nHost: x\r\nX: \x80\xff\r\n\r\n"},
	{"percent-encoded target", "GET /a%20b?c=%2F HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"long value", "GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("v", 4000) + "\r\n\r\n"},
	{"many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X-Y: z\r\n", 90) + "\r\n"},
	{"host IPv6 zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25eth0]:80\r\n\r\n"},
	{"host underscore", "GET / HTTP/1.1\r\nHost: my_host.local\r\n\r\n"},
	{"keep-alive 1.0 with host", "GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"},
	{"DELETE with body", "DELETE /r HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"},
	{"chunked POST", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"},
	{"lower-case method", "get / HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"NUL in name", "GET / HTTP/1.1\r\nHost: x\r\nX\x00Y: z\r\n\r\n"},
	{"space in name", "GET / HTTP/1.1\r\nHost: x\r\nX Y: z\r\n\r\n"},
	{"HTTP/1.1 lower-case name", "GET / HTTP/1.1\r\nhost: x\r\nconnection: CLOSE\r\n\r\n"},
	{"target with space", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"},
	{"target control", "GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n"},
}

// differentialCases are every input of the tables and extraDifferential.
func differentialCases() map[string]string {
	cases := map[string]string{}
	for _, tc := range validRequests {
		cases[tc.name] = tc.in
	}
	for _, tc := range malformedRequests {
		cases[tc.name] = tc.in
	}
	for _, tc := range extraDifferential {
		cases[tc.name] = tc.in
	}
	return cases
}

// netHTTPStatus sends in to a net/http server and returns the status of its
// answer, 200 when the handler ran, or 0 when the server closed silently.
func netHTTPStatus(t *testing.T, addr string, in []byte) int {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(in); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// startNetHTTP starts a net/http server on loopback whose handler answers
// 200 without reading the body, and returns its address.
func startNetHTTP(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:  http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}),
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// ourStatus is 200 when the parser accepts in, else the status it answers.
func ourStatus(in string) int {
	var p Parser
	h, _, err := p.Parse([]byte(in))
	if h != nil {
		return 200
	}
	return StatusOf(err)
}

func TestParseAgreesWithNetHTTPServer(t *testing.T) {
	addr := startNetHTTP(t)
	for name, in := range differentialCases() {
		ours, theirs := ourStatus(in), netHTTPStatus(t, addr, []byte(in))
		switch {
		case ours == theirs:
		case (ours == 200) != (theirs == 200) && acceptDifferences[name] != "":
			t.Logf("%s: eddy %d, net/http %d: %s", name, ours, theirs, acceptDifferences[name])
		case ours != 200 && theirs != 200 && statusDifferences[name] != "":
			t.Logf("%s: eddy %d, net/http %d: %s", name, ours, theirs, statusDifferences[name])
		default:
			t.Errorf("%s: eddy %d, net/http %d for %q", name, ours, theirs, in)
		}
	}
}

// TestParseMeansWhatReadRequestMeans compares the heads that both accept
// with what http.ReadRequest makes of them.
func TestParseMeansWhatReadRequestMeans(t *testing.T) {
	for name, in := range differentialCases() {
		var p Parser
		h, _, err := p.Parse([]byte(in))
		if err != nil || h == nil {
			continue
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			if acceptDifferences[name] == "" {
				t.Errorf("%s: ReadRequest: %v", name, err)
			}
			continue
		}
		// ReadRequest moves Host to req.Host, Transfer-Encoding to
		// req.TransferEncoding, and keeps one of identical Content-Lengths.
		header := http.Header(h.Header())
		delete(header, "Host")
		delete(header, "Transfer-Encoding")
		if cl := header["Content-Length"]; len(cl) > 1 {
			header["Content-Length"] = cl[:1]
		}
		got := []any{h.MethodString(), string(h.Target), h.Proto(), header, h.ContentLength, h.Chunked, !h.KeepAlive}
		want := []any{req.Method, req.RequestURI, req.Proto, req.Header, req.ContentLength,
			len(req.TransferEncoding) > 0, req.Close}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", name, got, want)
		}
		// For absolute-form and authority-form, net/http takes the host
		// from the target (RFC 9112 §3.2.2 says to).
		if h.Form == FormOrigin && string(h.Host) != req.Host {
			t.Errorf("%s: Host %q, ReadRequest %q", name, h.Host, req.Host)
		}
	}
}
