package http1_test

// A table-driven differential of the client's response parsing (http1.Transport) against net/http's
// Transport (session 31). Each case is one raw answer, written by a raw TCP server on loopback to the
// request "/1"; a second request "/2" follows on the same client, answered "ok", and tells whether the
// connection was reused and whether the client is still in step with the server. The same case goes
// through net/http's Transport (DisableCompression, as the eddy client never decompresses) and
// through the http1.Transport on each engine, and everything a caller sees is compared: the error
// and its kind, the status, Proto, header, ContentLength, TransferEncoding, Uncompressed, the body and
// its final error, the trailers, Close, and the second request's answer and connection.
//
// The differences docs/client.md documents are declared per case (zdCase.allow) and listed by the
// test (-v); any other difference fails it. Whatever net/http does, eddy must never hand the second
// request bytes that are not its answer, hang, or lose body bytes (zdCheckSafe).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
)

// zdCase is one raw answer to the request "/1".
type zdCase struct {
	name   string
	method string // of the first request; GET when empty
	upload int    // POST body of this many bytes (sent with GetBody when small, streamed when stream)
	stream bool   // the upload is a reader of known length without GetBody (streamed)
	raw    string // the answer
	// closeAfter: the server closes the connection after the answer (its sending side first, then
	// it reads and drops what comes, so that nothing the client sent turns the close into a reset).
	closeAfter bool
	// split: offsets of raw where the server pauses (20 ms) between writes.
	split []int
	// slow: the first body is read after a pause, once the body's pipe may be full.
	slow bool
	// early: the server answers before reading the request body, then reads and drops it.
	early bool
	// stdCompress runs net/http with compression on (its default) rather than DisableCompression.
	stdCompress bool
	// allow names the fields that may differ from net/http, with the reason (documented).
	allow map[string]string
	// racy names fields whose net/http value is left to a race in net/http (not compared).
	racy []string
}

// zdOutcome is what a client made of a case.
type zdOutcome struct {
	err          string // "" or the class of the RoundTrip error
	errText      string
	status       string
	code         int
	proto        string
	header       http.Header
	length       int64
	te           []string
	uncompressed bool
	body         string
	bodyErr      string // "" (io.EOF) or its class
	bodyErrText  string
	trailer      http.Header
	close        bool
	// The second request ("/2", answered "ok").
	second     string // "ok", the body it got otherwise, or "error: class"
	secondText string
	reused     bool // the server answered it on the connection of the first
	// The interim (1xx) responses shown to the request's Got1xxResponse hook.
	interim []string
}

const zdDeadline = 5 * time.Second

// zdSecond is the answer to "/2".
const zdSecond = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

// zdServer is the raw server of one case.
type zdServer struct {
	rawServer
	cs     *zdCase
	connOf map[string]int // the connection that answered each path (under mu)
}

func newZDServer(t *testing.T, cs *zdCase) *zdServer {
	s := &zdServer{cs: cs, connOf: map[string]int{}}
	s.listen(t, 1, s.serve)
	return s
}

func (s *zdServer) serve(c net.Conn, id int) {
	c.SetDeadline(time.Now().Add(2 * zdDeadline))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		answer, closeAfter := zdSecond, false
		if req.URL.Path == "/1" {
			answer, closeAfter = s.cs.raw, s.cs.closeAfter
		}
		if req.URL.Path != "/1" || !s.cs.early {
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
		s.mu.Lock()
		s.connOf[req.URL.Path] = id
		s.mu.Unlock()
		prev := 0
		if req.URL.Path == "/1" {
			for _, k := range s.cs.split {
				if _, err := io.WriteString(c, answer[prev:k]); err != nil {
					return
				}
				time.Sleep(20 * time.Millisecond)
				prev = k
			}
		}
		if _, err := io.WriteString(c, answer[prev:]); err != nil {
			return
		}
		if req.URL.Path == "/1" && s.cs.early && !closeAfter {
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
		if closeAfter {
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(zdDeadline))
			io.Copy(io.Discard, br)
			return
		}
	}
}

// zdClass sorts an error as cdClass does, with the deadline of the test apart (a hang).
func zdClass(err error) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return "hang"
	}
	if strings.Contains(err.Error(), "server response headers exceeded") {
		return "protocol" // net/http's MaxResponseHeaderBytes
	}
	return cdClass(err)
}

// zdRun makes the case's two requests through rt.
func zdRun(t *testing.T, rt http.RoundTripper, cs *zdCase) *zdOutcome {
	s := newZDServer(t, cs)
	defer s.close()
	o := &zdOutcome{}
	base := "http://" + s.ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), zdDeadline)
	defer cancel()
	method := cs.method
	if method == "" {
		method = "GET"
	}
	var body io.Reader
	if cs.upload > 0 {
		body = bytes.NewReader(bytes.Repeat([]byte{'u'}, cs.upload))
	}
	// The interim responses, as the Got1xxResponse hook sees them.
	var imu sync.Mutex
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
		imu.Lock()
		defer imu.Unlock()
		o.interim = append(o.interim, fmt.Sprintf("%d %v", code, map[string][]string(h)))
		return nil
	}})
	req, err := http.NewRequestWithContext(ctx, method, base+"/1", body)
	if err != nil {
		t.Fatal(err)
	}
	if cs.stream {
		req.Body, req.GetBody = io.NopCloser(req.Body), nil
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		o.err, o.errText = zdClass(err), err.Error()
	} else {
		o.status, o.code, o.proto = resp.Status, resp.StatusCode, resp.Proto
		o.header, o.length, o.te = resp.Header.Clone(), resp.ContentLength, resp.TransferEncoding
		o.uncompressed, o.close = resp.Uncompressed, resp.Close
		if cs.slow {
			time.Sleep(100 * time.Millisecond)
		}
		b, err := io.ReadAll(resp.Body)
		o.body = string(b)
		if err != nil {
			o.bodyErr, o.bodyErrText = zdClass(err), err.Error()
		}
		o.trailer = resp.Trailer.Clone()
		resp.Body.Close()
	}

	ctx2, cancel2 := context.WithTimeout(context.Background(), zdDeadline)
	defer cancel2()
	req2, err := http.NewRequestWithContext(ctx2, "GET", base+"/2", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp2, err := rt.RoundTrip(req2)
	if err != nil {
		o.second, o.secondText = "error: "+zdClass(err), err.Error()
	} else {
		b, err := io.ReadAll(resp2.Body)
		resp2.Body.Close()
		o.second = string(b)
		if err != nil {
			o.second, o.secondText = fmt.Sprintf("%q then error: %s", b, zdClass(err)), err.Error()
		}
	}
	s.mu.Lock()
	c1, ok1 := s.connOf["/1"]
	c2, ok2 := s.connOf["/2"]
	s.mu.Unlock()
	o.reused = ok1 && ok2 && c1 == c2
	imu.Lock()
	defer imu.Unlock()
	o.interim = slices.Clone(o.interim)
	return o
}

// zdFields returns the outcome's fields by name, for the comparison.
func (o *zdOutcome) fields() map[string]any {
	return map[string]any{
		"err": o.err, "status": o.status, "code": o.code, "proto": o.proto, "header": o.header,
		"length": o.length, "te": o.te, "uncompressed": o.uncompressed, "body": o.body,
		"bodyErr": o.bodyErr, "trailer": o.trailer, "close": o.close, "second": o.second, "reused": o.reused,
		"interim": o.interim,
	}
}

var zdFieldOrder = []string{"err", "status", "code", "proto", "header", "length", "te", "uncompressed",
	"body", "bodyErr", "trailer", "close", "second", "reused", "interim"}

// zdNorm smooths what is not a difference: empty and nil maps and slices, and the error text.
func zdNorm(v any) any {
	switch x := v.(type) {
	case http.Header:
		if len(x) == 0 {
			return http.Header(nil)
		}
	case []string:
		if len(x) == 0 {
			return []string(nil)
		}
	}
	return v
}

// zdCheckSafe fails t if eddy's outcome shows a desynchronised connection, a hang or lost data,
// whatever net/http did.
func zdCheckSafe(t *testing.T, cs *zdCase, got *zdOutcome) {
	t.Helper()
	if got.second != "ok" {
		t.Errorf("%s: the second request got %q (%s), not its answer", cs.name, got.second, got.secondText)
	}
	if got.err == "hang" || got.bodyErr == "hang" {
		t.Errorf("%s: the first request hung: %s%s", cs.name, got.errText, got.bodyErrText)
	}
}

// zdShow prints a field's value for the table, cut short.
func zdShow(v any) string {
	s := fmt.Sprintf("%q", fmt.Sprint(v))
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

func zdGzip(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	io.WriteString(w, s)
	w.Close()
	return b.String()
}

// zdUnsolicited marks the cases whose answer is followed by bytes nobody asked for: net/http puts
// the connection back in its pool before its read loop looks for them, so its next request may take
// them for its answer (an "early" body, or a malformed answer) or not, as the race goes. eddy must
// give the second request its own answer every time (zdCheckSafe).
var zdUnsolicited = []string{"second", "reused"}

// Reasons for the documented differences.
const (
	zdWhy101           = "101 is refused (docs/client.md, Not supported: protocol upgrades)"
	zdWhyFold          = "obs-fold in a response head is refused (docs/client.md, Not supported)"
	zdWhyTE10          = "Transfer-Encoding in an HTTP/1.0 response is refused (docs/client.md, step 4)"
	zdWhyTECL          = "chunked with Content-Length closes the connection (docs/client.md, step 6)"
	zdWhyGzip          = "no transparent gzip (docs/client.md, Not supported; Transport doc)"
	zdWhyConnHdr       = "net/http deletes \"Connection: close\" from an HTTP/1.1 response's Header; eddy keeps the field as received"
	zdWhyEarly         = "an answer before the request body was sent closes the connection (docs/client.md, step 6); net/http's reuse depends on whether its write ends within 50 ms"
	zdWhyBareLFT       = "a bare LF in the chunked framing or trailer is refused (ChunkedDecoder doc)"
	zdWhyBlank         = "empty lines before the status line are skipped (RFC 9112 §2.2; respParser.parse)"
	zdWhyWSExt         = "whitespace before a chunk extension is accepted (ChunkedDecoder: BWS in chunk-ext)"
	zdWhyTEList        = "an empty element of the Transfer-Encoding list is skipped (RFC 9110 §5.6.1 list syntax); net/http compares the field with \"chunked\""
	zdWhyFoldT         = "obs-fold in a trailer is refused (trailer fields are checked like header fields, ChunkedDecoder doc)"
	zdWhyPragma        = "net/http adds Cache-Control: no-cache for Pragma: no-cache (FuzzResponseHead's allowed differences)"
	zdWhyBadCLBodiless = "a bad Content-Length is refused whatever the status; net/http ignores the field of a 204 or 304 (FuzzResponseHead: the parser is strict on framing fields)"
	zdWhyStrict        = "refused where net/http is lenient: the parser's grammar (FuzzResponseHead's model: HTTP/1.x, a code of 100 or more, no control octet in the status line, a field name is a token)"
	zdWhyCut           = "an answer cut in its head: eddy says truncated, net/http judges the partial line (malformed); client_diff_test.go allows it"
	zdWhyBodiless      = "a chunked HEAD, 204 or 304 answer: net/http says TransferEncoding chunked and moves Trailer to Response.Trailer; eddy only for a chunked body (FuzzResponseHead's allowed differences)"
	zdWhyTrailerCut    = "cut in the trailer section: eddy says truncated, net/http \"suspiciously long trailer\" (client_diff_test.go allows it)"
)

func zdAllow(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		for f := range strings.SplitSeq(kv[i], ",") {
			m[f] = kv[i+1]
		}
	}
	return m
}

const zdOK = "HTTP/1.1 200 OK\r\n"

// zdCases returns the table.
func zdCases() []zdCase {
	big := strings.Repeat("0123456789abcdef", 5000) // 80,000 bytes: more than the body's pipe
	long := strings.Repeat("X-Long: "+strings.Repeat("v", 100)+"\r\n", 200)
	gz := zdGzip("hello, gzip")
	closeHdr := zdAllow("header", zdWhyConnHdr)
	return []zdCase{
		// Status lines.
		{name: "plain 200", raw: zdOK + "Content-Length: 5\r\n\r\nhello"},
		{name: "no reason phrase", raw: "HTTP/1.1 200\r\nContent-Length: 5\r\n\r\nhello"},
		{name: "empty reason phrase", raw: "HTTP/1.1 200 \r\nContent-Length: 5\r\n\r\nhello"},
		{name: "reason with spaces and tab", raw: "HTTP/1.1 404 Not\tReally  Found\r\nContent-Length: 1\r\n\r\nx"},
		{name: "odd code 299", raw: "HTTP/1.1 299 Odd\r\nContent-Length: 1\r\n\r\nx"},
		{name: "code 599", raw: "HTTP/1.1 599 Odd\r\nContent-Length: 1\r\n\r\nx"},
		{name: "code 600", raw: "HTTP/1.1 600 Odd\r\nContent-Length: 1\r\n\r\nx", closeAfter: true},
		{name: "code 099", raw: "HTTP/1.1 099 Odd\r\nContent-Length: 1\r\n\r\nx", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},
		{name: "two-digit code", raw: "HTTP/1.1 20 OK\r\nContent-Length: 0\r\n\r\n", closeAfter: true},
		{name: "four-digit code", raw: "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", closeAfter: true},
		{name: "HTTP/2.0 status line", raw: "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},
		{name: "lower-case http/1.1", raw: "http/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", closeAfter: true},
		{name: "HTTP/1.2", raw: "HTTP/1.2 200 OK\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "empty line before the status line", raw: "\r\n" + zdOK + "Content-Length: 2\r\n\r\nhi", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,body,close,reused", zdWhyBlank)},
		{name: "NUL in the reason phrase", raw: "HTTP/1.1 200 O\x00K\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},

		// Interim responses.
		{name: "100 Continue then 200", raw: "HTTP/1.1 100 Continue\r\n\r\n" + zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "103 with headers then 200", raw: "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nLink: </b.js>\r\n\r\n" +
			zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "100, 102, 103 then 200", raw: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early\r\nX-E: 1\r\n\r\n" +
			zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "1xx with Content-Length", raw: "HTTP/1.1 199 Odd\r\nContent-Length: 7\r\n\r\n" + zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "100 then the server closes", raw: "HTTP/1.1 100 Continue\r\n\r\n", closeAfter: true},
		{name: "100 then garbage", raw: "HTTP/1.1 100 Continue\r\n\r\nGARBAGE\r\n\r\n", closeAfter: true},
		{name: "HTTP/1.0 100 then 200", raw: "HTTP/1.0 100 Continue\r\n\r\n" + zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "100 to HEAD then 200", method: "HEAD", raw: "HTTP/1.1 100 Continue\r\n\r\n" + zdOK + "Content-Length: 2\r\n\r\n"},
		{name: "101 to a non-upgrade request", raw: "HTTP/1.1 101 Switching Protocols\r\n\r\n", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,body,close", zdWhy101)},
		{name: "101 with Upgrade to a non-upgrade request", raw: "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\nraw", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,body,close,bodyErr", zdWhy101)},

		// Bodiless answers.
		{name: "204 with Content-Length and no body", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"},
		{name: "204 with a body", raw: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", racy: zdUnsolicited},
		{name: "204 chunked with a body", raw: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", allow: zdAllow("te", zdWhyBodiless), racy: zdUnsolicited},
		{name: "304 with Content-Length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: \"x\"\r\n\r\n"},
		{name: "304 with a body", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", racy: zdUnsolicited},
		{name: "HEAD with Content-Length", method: "HEAD", raw: zdOK + "Content-Length: 10\r\n\r\n"},
		{name: "HEAD with Content-Length and a body", method: "HEAD", raw: zdOK + "Content-Length: 5\r\n\r\nhello", racy: zdUnsolicited},
		{name: "HEAD chunked", method: "HEAD", raw: zdOK + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n", allow: zdAllow("header,te,trailer", zdWhyBodiless)},
		{name: "HEAD without length", method: "HEAD", raw: zdOK + "X-A: 1\r\n\r\n"},

		// Content-Length.
		{name: "Content-Length: 0", raw: zdOK + "Content-Length: 0\r\n\r\n"},
		{name: "duplicate equal Content-Length", raw: zdOK + "Content-Length: 5\r\ncontent-length: 5\r\n\r\nhello"},
		{name: "conflicting Content-Length", raw: zdOK + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", closeAfter: true},
		{name: "Content-Length 5 and 05", raw: zdOK + "Content-Length: 5\r\nContent-Length: 05\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length list 5, 5", raw: zdOK + "Content-Length: 5, 5\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length +5", raw: zdOK + "Content-Length: +5\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length -1", raw: zdOK + "Content-Length: -1\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length empty", raw: zdOK + "Content-Length: \r\n\r\nhello", closeAfter: true},
		{name: "Content-Length 0x5", raw: zdOK + "Content-Length: 0x5\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length leading zeros", raw: zdOK + "Content-Length: 0005\r\n\r\nhello"},
		{name: "Content-Length padded", raw: zdOK + "Content-Length:   5  \r\n\r\nhello"},
		{name: "Content-Length over int64", raw: zdOK + "Content-Length: 99999999999999999999\r\n\r\nhello", closeAfter: true},
		{name: "Content-Length short (server closes)", raw: zdOK + "Content-Length: 10\r\n\r\nhello", closeAfter: true},
		{name: "bytes after the body", raw: zdOK + "Content-Length: 5\r\n\r\nhelloXYZ", racy: zdUnsolicited},
		{name: "body over the pipe, read late, bytes after", raw: zdOK + "Content-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big + "XYZ", slow: true, racy: zdUnsolicited},
		{name: "chunked over the pipe, read late, bytes after", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(big)), 16) + "\r\n" + big + "\r\n0\r\n\r\nXYZ", slow: true, racy: zdUnsolicited},
		{name: "body over the pipe", raw: zdOK + "Content-Length: " + strconv.Itoa(len(big)) + "\r\n\r\n" + big},
		{name: "server closes after the headers", raw: zdOK + "Content-Length: 10\r\n\r\n", closeAfter: true},
		{name: "server closes in the head", raw: zdOK + "Content-Le", closeAfter: true, allow: zdAllow("err", zdWhyCut)},
		{name: "server closes in the status line", raw: "HTTP/1.1 20", closeAfter: true, allow: zdAllow("err", zdWhyCut)},
		{name: "server closes without an answer", raw: "", closeAfter: true},

		// Transfer-Encoding.
		{name: "chunked", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		{name: "chunked, upper-case coding and hex", raw: zdOK + "Transfer-Encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n00\r\n\r\n"},
		{name: "chunked with extensions", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n6;q=\"x y\";z\r\n world\r\n0;end\r\n\r\n"},
		{name: "chunked, space before an extension", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5 ;a=b\r\nhello\r\n0\r\n\r\n", allow: zdAllow("body,bodyErr,reused", zdWhyWSExt)},
		{name: "chunked, size with leading zeros", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n0005\r\nhello\r\n0000\r\n\r\n"},
		{name: "chunked with declared trailers", raw: zdOK + "Transfer-Encoding: chunked\r\nTrailer: X-T1, x-t2\r\n\r\n5\r\nhello\r\n0\r\nX-T1: one\r\nx-t2: two\r\n\r\n"},
		{name: "chunked with undeclared trailers", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-U: u\r\nX-U: v\r\n\r\n"},
		{name: "chunked, declared trailer not sent", raw: zdOK + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\n\r\n"},
		{name: "chunked, Trailer names Content-Length", raw: zdOK + "Transfer-Encoding: chunked\r\nTrailer: Content-Length\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunked plus Content-Length", raw: zdOK + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			allow: zdAllow("close,reused", zdWhyTECL)},
		{name: "Content-Length plus chunked", raw: zdOK + "Content-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			allow: zdAllow("close,reused", zdWhyTECL)},
		{name: "chunked truncated in the data", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n10\r\nhello", closeAfter: true},
		{name: "chunked truncated before the last chunk", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n", closeAfter: true},
		{name: "chunked truncated in the trailer", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n", closeAfter: true, allow: zdAllow("bodyErr", zdWhyTrailerCut)},
		{name: "chunked, bad size", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nabc\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunked, size overflow", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\nabc\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunked, no CRLF after data", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", closeAfter: true},
		{name: "chunked, bare LF in framing", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", closeAfter: true},
		{name: "chunked, bytes after the end", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nJUNK", racy: zdUnsolicited},
		{name: "chunked twice", raw: zdOK + "Transfer-Encoding: chunked, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "Transfer-Encoding gzip, chunked", raw: zdOK + "Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "Transfer-Encoding identity", raw: zdOK + "Transfer-Encoding: identity\r\n\r\nhello", closeAfter: true},
		{name: "Transfer-Encoding empty", raw: zdOK + "Transfer-Encoding: \r\nContent-Length: 5\r\n\r\nhello", closeAfter: true},
		{name: "chunked in HTTP/1.0", raw: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,te,body,close", zdWhyTE10)},

		// Bodies delimited by the close.
		{name: "close-delimited HTTP/1.1", raw: zdOK + "X-A: 1\r\n\r\nuntil the end", closeAfter: true},
		{name: "close-delimited HTTP/1.0", raw: "HTTP/1.0 200 OK\r\n\r\nuntil the end", closeAfter: true},
		{name: "close-delimited with keep-alive", raw: zdOK + "Connection: keep-alive\r\n\r\nuntil the end", closeAfter: true},
		{name: "close-delimited, large", raw: zdOK + "\r\n" + big, closeAfter: true},

		// Connection.
		{name: "Connection: close", raw: zdOK + "Connection: close\r\nContent-Length: 2\r\n\r\nhi", allow: closeHdr},
		{name: "Connection: close, server closes", raw: zdOK + "Connection: close\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true, allow: closeHdr},
		{name: "Connection: keep-alive, close", raw: zdOK + "Connection: keep-alive, close\r\nContent-Length: 2\r\n\r\nhi", allow: closeHdr},
		{name: "Connection: keep-alive", raw: zdOK + "Connection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "HTTP/1.0 with length", raw: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "HTTP/1.0 with keep-alive", raw: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "HTTP/1.0, Connection: close", raw: "HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi"},

		// Field lines.
		{name: "header casing and duplicates", raw: zdOK + "x-a: 1\r\nX-A: 2\r\nset-cookie: a=b\r\nSet-Cookie: c=d\r\nX-Empty:\r\nX-Sp:   padded   \r\nContent-Length: 2\r\n\r\nhi"},
		{name: "non-ASCII value", raw: zdOK + "X-U: h\xc3\xa9llo\xff\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "obs-fold", raw: zdOK + "X-Fold: a\r\n b\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,body,close", zdWhyFold)},
		{name: "whitespace before the first field", raw: zdOK + " X-A: 1\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "bare LF", raw: "HTTP/1.1 200 OK\nX-A: 1\nContent-Length: 2\n\nhi"},
		{name: "bare LF ending the head only", raw: zdOK + "Content-Length: 2\r\n\nhi"},
		{name: "bare CR in a value", raw: zdOK + "X-A: a\rb\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "NUL in a value", raw: zdOK + "X-A: a\x00b\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "NUL in a name", raw: zdOK + "X-\x00A: b\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "space before the colon", raw: zdOK + "X-A : b\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},
		{name: "space before the colon of Content-Length", raw: zdOK + "Content-Length : 5\r\n\r\nhello", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},
		{name: "no colon", raw: zdOK + "NoColon\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "empty name", raw: zdOK + ": v\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "CR CR LF ending the head", raw: zdOK + "Content-Length: 2\r\n\r\r\nhi", closeAfter: true},
		{name: "whitespace-only line in the head", raw: zdOK + "Content-Length: 2\r\n \r\n\r\nhi", closeAfter: true, allow: zdAllow("err", zdWhyFold)},
		{name: "two spaces after the version", raw: "HTTP/1.1  200 OK\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true, allow: zdAllow("err", zdWhyStrict)},
		{name: "tab after the code", raw: "HTTP/1.1 200\tOK\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "non-token name", raw: zdOK + "X(A): 1\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "tab before the colon", raw: zdOK + "X-A\t: 1\r\nContent-Length: 2\r\n\r\nhi", closeAfter: true},
		{name: "Transfer-Encoding twice", raw: zdOK + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunk size 0x5", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunk size -5", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "overlong head", raw: zdOK + long + "Content-Length: 2\r\n\r\nhi", closeAfter: true},

		// More framing and trailers.
		{name: "Transfer-Encoding: chunked,", raw: zdOK + "Transfer-Encoding: chunked,\r\n\r\n5\r\nhello\r\n0\r\n\r\n", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,te,body,trailer,close", zdWhyTEList)},
		{name: "Content-Length in the trailer", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 3\r\n\r\n"},
		{name: "obs-fold in the trailer", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n", closeAfter: true,
			allow: zdAllow("bodyErr,trailer,reused", zdWhyFoldT)},
		{name: "bare LF in the trailer", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\n\r\n", closeAfter: true,
			allow: zdAllow("bodyErr,trailer,reused", zdWhyBareLFT)},
		{name: "chunk extension over 4 KiB", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n5;" + strings.Repeat("a", 5000) + "\r\nhello\r\n0\r\n\r\n", closeAfter: true},
		{name: "chunked, server closes after the headers", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n", closeAfter: true},
		{name: "Pragma: no-cache", raw: zdOK + "Pragma: no-cache\r\nContent-Length: 2\r\n\r\nhi", allow: zdAllow("header", zdWhyPragma)},
		{name: "304 with a bad Content-Length", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: abc\r\n\r\n", closeAfter: true,
			allow: zdAllow("err,status,code,proto,header,length,close", zdWhyBadCLBodiless)},
		{name: "HEAD with a bad Content-Length", method: "HEAD", raw: zdOK + "Content-Length: abc\r\n\r\n", closeAfter: true},

		// Answers written in pieces, with pauses.
		{name: "split: head | body", raw: zdOK + "Content-Length: 5\r\n\r\nhello", split: []int{len(zdOK) + 21}},
		{name: "split: in the status line", raw: zdOK + "Content-Length: 5\r\n\r\nhello", split: []int{5, 10}},
		{name: "split: between CR and LF", raw: zdOK + "Content-Length: 5\r\n\r\nhello", split: []int{len(zdOK) - 1, len(zdOK) + 19}},
		{name: "split: 100 | final", raw: "HTTP/1.1 100 Continue\r\n\r\n" + zdOK + "Content-Length: 2\r\n\r\nhi", split: []int{25}},
		{name: "split: chunked framing", raw: zdOK + "Transfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
			split: []int{len(zdOK) + 43, len(zdOK) + 44, len(zdOK) + 48, len(zdOK) + 51, len(zdOK) + 55, len(zdOK) + 59}},
		{name: "split: body | FIN", raw: zdOK + "\r\nuntil the end", split: []int{len(zdOK) + 5}, closeAfter: true},

		// Early answers, compression, pipelining.
		{name: "413 and close before a streamed body was read", method: "POST", upload: 300 << 10, stream: true, early: true, closeAfter: true,
			raw: "HTTP/1.1 413 Too Large\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno", allow: closeHdr},
		{name: "answer before a small body was read", method: "POST", upload: 1000, early: true, raw: zdOK + "Content-Length: 2\r\n\r\nhi"},
		{name: "answer before a streamed body was read", method: "POST", upload: 300 << 10, stream: true, early: true,
			raw: "HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\nno", allow: zdAllow("reused", zdWhyEarly), racy: []string{"reused"}},
		{name: "gzip, DisableCompression", raw: zdOK + "Content-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz},
		{name: "gzip, net/http compressing", raw: zdOK + "Content-Encoding: gzip\r\nContent-Length: " + strconv.Itoa(len(gz)) + "\r\n\r\n" + gz,
			stdCompress: true, allow: zdAllow("header,length,uncompressed,body", zdWhyGzip)},
		{name: "answer to a pipelined second request early", raw: zdOK + "Content-Length: 2\r\n\r\nhi" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly", racy: zdUnsolicited},
		{name: "early second answer after a chunked body", raw: zdOK + "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly", racy: zdUnsolicited},
		{name: "early second answer after a 204", raw: "HTTP/1.1 204 No Content\r\n\r\n" + "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nearly", racy: zdUnsolicited},
	}
}

// TestClientAnswersMatchNetHTTP compares, case by case, what net/http's Transport and the
// http1.Transport on each engine make of the same raw answers, and lists the differences.
func TestClientAnswersMatchNetHTTP(t *testing.T) {
	cases := zdCases()
	if len(cases) < 50 {
		t.Fatalf("%d cases", len(cases))
	}
	const maxHead = 8 << 10
	newStd := func(compress bool) *http.Transport {
		return &http.Transport{Proxy: nil, DisableCompression: !compress, MaxResponseHeaderBytes: maxHead}
	}
	stdPlain, stdGzip := newStd(false), newStd(true)
	defer stdPlain.CloseIdleConnections()
	defer stdGzip.CloseIdleConnections()
	// net/http logs the unsolicited bytes some cases send ("Unsolicited response received on idle
	// HTTP channel"): expected here.
	logOut := log.Writer()
	log.SetOutput(io.Discard)
	want := make([]*zdOutcome, len(cases))
	var wg sync.WaitGroup
	for i := range cases {
		wg.Go(func() {
			rt := stdPlain
			if cases[i].stdCompress {
				rt = stdGzip
			}
			want[i] = zdRun(t, rt, &cases[i])
		})
	}
	wg.Wait()
	stdPlain.CloseIdleConnections() // (its read loops may log as they go)
	stdGzip.CloseIdleConnections()
	log.SetOutput(logOut)

	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1, MaxResponseHeaderBytes: maxHead}
			defer tr.Close()
			got := make([]*zdOutcome, len(cases))
			var wg sync.WaitGroup
			for i := range cases {
				wg.Go(func() { got[i] = zdRun(t, tr, &cases[i]) })
			}
			wg.Wait()
			var table []string
			for i := range cases {
				cs := &cases[i]
				zdCheckSafe(t, cs, got[i])
				w, g := want[i].fields(), got[i].fields()
				for _, f := range zdFieldOrder {
					if reflect.DeepEqual(zdNorm(w[f]), zdNorm(g[f])) {
						continue
					}
					if f != "err" && f != "second" && f != "reused" && f != "interim" && (want[i].err != "" || got[i].err != "") {
						continue // a request that failed in one client: its "err" row says it
					}
					line := fmt.Sprintf("%-42s %-8s eddy %s | net/http %s", cs.name, f, zdShow(g[f]), zdShow(w[f]))
					switch {
					case slices.Contains(cs.racy, f):
						table = append(table, line+"  [racy in net/http]")
					case cs.allow[f] != "":
						table = append(table, line+"  ["+cs.allow[f]+"]")
					default:
						t.Errorf("undocumented difference: %s\n  eddy:     err %q %s | body err %q %s\n  net/http: err %q %s | body err %q %s",
							line, got[i].err, got[i].errText, got[i].bodyErr, got[i].bodyErrText,
							want[i].err, want[i].errText, want[i].bodyErr, want[i].bodyErrText)
					}
				}
			}
			sort.Strings(table)
			t.Logf("documented differences (%d cases):\n%s", len(cases), strings.Join(table, "\n"))
		})
	}
	skipMissingUring(t)
}

// TestClientAnswersMatchNetHTTPWithoutKeepAlive runs a few of the cases with DisableKeepAlives on both
// clients: nothing is reused, and Response.Close is what the server said, as with net/http.
func TestClientAnswersMatchNetHTTPWithoutKeepAlive(t *testing.T) {
	var cases []zdCase
	for _, cs := range zdCases() {
		switch cs.name {
		case "plain 200", "chunked with declared trailers", "HEAD with Content-Length", "204 with Content-Length and no body",
			"Connection: close", "Connection: keep-alive", "HTTP/1.0 with keep-alive", "close-delimited HTTP/1.1",
			"answer to a pipelined second request early":
			cases = append(cases, cs)
		}
	}
	if len(cases) != 9 {
		t.Fatalf("%d cases", len(cases))
	}
	std := &http.Transport{Proxy: nil, DisableCompression: true, DisableKeepAlives: true}
	defer std.CloseIdleConnections()
	want := make([]*zdOutcome, len(cases))
	for i := range cases {
		want[i] = zdRun(t, std, &cases[i])
	}
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1, DisableKeepAlives: true}
			defer tr.Close()
			for i := range cases {
				cs := &cases[i]
				got := zdRun(t, tr, cs)
				zdCheckSafe(t, cs, got)
				if got.reused {
					t.Errorf("%s: reused with DisableKeepAlives", cs.name)
				}
				w, g := want[i].fields(), got.fields()
				for _, f := range zdFieldOrder {
					if !reflect.DeepEqual(zdNorm(w[f]), zdNorm(g[f])) && cs.allow[f] == "" {
						t.Errorf("%s: %s: eddy %s, net/http %s", cs.name, f, zdShow(g[f]), zdShow(w[f]))
					}
				}
			}
		})
	}
	skipMissingUring(t)
}
