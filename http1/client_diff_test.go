package http1_test

// A randomized differential of the client (http1.Transport) against net/http's Transport.
//
// A scripted raw TCP server on loopback answers each request of a sequence with bytes generated
// from a seeded random grammar that mixes valid and invalid forms: status lines (odd codes, no
// reason phrase, HTTP/1.0, a few malformed ones), header field casing and duplicates, obs-fold,
// Content-Length (repeated, conflicting, signed, huge, short, followed by extra bytes),
// Transfer-Encoding (chunked with extensions, trailers, bad sizes, truncated; with
// Content-Length; other codings), bodies delimited by the close, interim (1xx) responses, 204 and
// 304 and answers to HEAD with and without bodies, closes (and resets) before the response, in
// the middle of the head and of the body, Connection: close and keep-alive, and writes split with
// pauses or dripped a few bytes at a time. The requests are GET, HEAD and POST with small, large,
// streamed and chunked bodies (some answered before the server reads them), some with
// Request.Close, some of their bodies read late, once the pipe may be full; some sequences run
// with DisableKeepAlives.
//
// The same sequence goes, one request at a time, through net/http's Transport and through the
// http1.Transport on each engine, each against a server of its own, and the outcome of each
// request must be the same: whether it failed, where (RoundTrip or the body) and how (closed
// before the response, truncated, malformed), the status, the header, ContentLength,
// TransferEncoding, Close, the body bytes (those before an error included), the trailers, how many
// times the server saw the request (retries) and whether it came on the connection of the request
// before. The differences that docs/client.md and the parser's fuzz test document as deliberate
// are not compared (cdCase.knownDiff) or allowed (cdCompare).
//
// The normal run is a few fixed seeds; -http1.clientdifftime=2m runs random seeds for that long
// on each engine, and -http1.clientdiffseed=S replays seed S (each failure prints its seed).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

var (
	cdTime = flag.Duration("http1.clientdifftime", 0, "how long TestClientDiff runs random seeds on each engine (0: a few fixed seeds)")
	cdSeed = flag.Uint64("http1.clientdiffseed", 0, "run only TestClientDiff's sequence of this seed")
)

// cdDeadline bounds every wait of the test: a request, a server's connection.
const cdDeadline = 10 * time.Second

// cdPiece is a write of the server, after a short pause if pause is set.
type cdPiece struct {
	b     []byte
	pause bool
}

// cdAnswer is what the server does for one attempt of a request: its writes, then, if close is
// set, it closes the connection (its sending side first, then, once the client has closed its own
// or after a while, the whole of it, so that nothing the client sent resets the connection).
type cdAnswer struct {
	pieces []cdPiece
	close  bool
	reset  bool     // close with a reset (SO_LINGER 0) instead, only where nothing is in flight
	desc   []string // what is odd about it, for the logs
}

func (a cdAnswer) bytes() []byte {
	var b []byte
	for _, p := range a.pieces {
		b = append(b, p.b...)
	}
	return b
}

// cdCase is one request of a sequence and the answers to its attempts: attempt k gets
// answers[min(k, len-1)].
type cdCase struct {
	method   string
	reqClose bool // Request.Close
	// upload is the POST body: "inline" (small, with GetBody, so the request may be retried),
	// "big" (in memory, with GetBody, but over the 16 KiB the Transport sends with the head, so
	// it is streamed), "stream" (a reader of known length) or "chunked" (a reader of unknown
	// length); a streamed one may be answered early, before the server reads it, and the
	// connection closed then.
	upload  string
	upSize  int
	early   bool
	slow    bool // the body is read after a pause, once the pipe may be full
	answers []cdAnswer
	// knownDiff names a difference from net/http documented as deliberate, which this answer
	// shows: the outcome is not compared.
	knownDiff string
	// fresh makes the driver close the idle connections after the request, where what follows
	// on the connection is a race in net/http (bytes after the response, which its read loop
	// may take for the next response or refuse) or differs on purpose (reuse after a chunked
	// response that also had Content-Length, or after a knownDiff).
	fresh bool
	// closeDiff allows Response.Close to differ: eddy closes the connection after a chunked
	// response with Content-Length (docs/client.md), net/http keeps it.
	closeDiff bool
}

// cdOutcome is what a client made of one request.
type cdOutcome struct {
	stage    string // "": success; "roundtrip" or "body": where it failed
	class    string // "eof", "truncated", "protocol", "other"
	errText  string
	status   string
	code     int
	proto    string
	header   http.Header
	length   int64
	te       []string
	close    bool
	body     string
	declared http.Header // Response.Trailer before the body is read
	trailer  http.Header
	attempts int  // the requests the server read for it
	sameConn bool // its last attempt came on the connection of the request before's
}

func (o *cdOutcome) String() string {
	if o.stage == "roundtrip" {
		return fmt.Sprintf("error at roundtrip (%s): %s; attempts %d, same conn %v", o.class, o.errText, o.attempts, o.sameConn)
	}
	s := fmt.Sprintf("%q %d %s header %q length %d te %q close %v body %d bytes %.60q trailer %q attempts %d same conn %v",
		o.status, o.code, o.proto, o.header, o.length, o.te, o.close, len(o.body), o.body, o.trailer, o.attempts, o.sameConn)
	if o.stage == "body" {
		s += fmt.Sprintf("; error reading the body (%s): %s", o.class, o.errText)
	}
	return s
}

// cdClass sorts an error of either client.
func cdClass(err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "unexpected EOF"):
		return "truncated"
	case errors.Is(err, io.EOF):
		return "eof"
	case errors.Is(err, http1.ErrMalformedResponse):
		return "protocol"
	}
	for _, s := range []string{"malformed", "bad Content-Length", "invalid", "unsupported transfer encoding",
		"too many transfer encodings", "bad trailer key", "chunk", "multiple Content-Length", "header line too long"} {
		if strings.Contains(msg, s) {
			return "protocol"
		}
	}
	return "other"
}

// cdPick returns one of opts at random.
func cdPick[T any](r *rand.Rand, opts ...T) T { return opts[r.IntN(len(opts))] }

// cdData returns n printable bytes.
func cdData(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(r.IntN(26))
	}
	return b
}

// cdGenCase makes the request and the server's answers for one place in a sequence.
func cdGenCase(r *rand.Rand) cdCase {
	cs := cdCase{method: cdPick(r, "GET", "GET", "GET", "HEAD", "HEAD", "POST"), reqClose: r.IntN(15) == 0, slow: r.IntN(6) == 0}
	if cs.method == "POST" {
		cs.upload = cdPick(r, "inline", "inline", "stream", "chunked", "big")
		cs.upSize = 1 + r.IntN(1000)
		if cs.upload == "big" {
			cs.upSize = 17<<10 + r.IntN(50000)
		} else if cs.upload != "inline" {
			cs.upSize = 10 + r.IntN(100000)
			cs.early = r.IntN(4) == 0
		}
	}
	if r.IntN(20) == 0 {
		// The server reads the request and closes the connection without a byte (with a FIN or
		// a reset): retried if the connection was a reused one, on a new connection, where it
		// gets a plain answer.
		first := cdAnswer{close: true, reset: r.IntN(2) == 0, desc: []string{"close on arrival"}}
		// A "big" upload is streamed, and sent again with a body from GetBody, as net/http's
		// (the server reads the whole request first: net/http does not retry a request whose
		// write failed).
		cs.answers = []cdAnswer{first, cdGenAnswer(r, &cs, true)}
		return cs
	}
	cs.answers = []cdAnswer{cdGenAnswer(r, &cs, false)}
	if cs.early {
		cs.answers[0].close = true
		cs.answers[0].desc = append(cs.answers[0].desc, "early")
	}
	return cs
}

// cdGenAnswer makes an answer to a request of cs; plain makes a well-formed one with nothing odd.
func cdGenAnswer(r *rand.Rand, cs *cdCase, plain bool) cdAnswer {
	var w bytes.Buffer
	var a cdAnswer
	note := func(s string) { a.desc = append(a.desc, s) }
	head := cs.method == "HEAD"
	odd := func(n int) bool { return !plain && r.IntN(n) == 0 }

	if odd(6) {
		for range 1 + r.IntN(2) {
			w.WriteString(cdPick(r, "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 102 Processing\r\n\r\n",
				"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", "HTTP/1.1 199 Odd\r\nX-I: 1\r\nContent-Length: 7\r\n\r\n",
				"HTTP/1.0 100 Continue\r\n\r\n"))
		}
		note("interim")
	}
	minor := 1
	if odd(6) {
		minor = 0
	}
	code := 200
	if !plain {
		code = cdPick(r, 200, 200, 200, 200, 201, 204, 204, 206, 299, 304, 304, 400, 404, 500, 599, 600, 999)
	}
	if odd(60) {
		code = 101
		cs.knownDiff = "101 is refused"
	}
	switch n := r.IntN(20); {
	case plain || n < 14:
		reason := http.StatusText(code)
		if reason == "" {
			reason = "Odd Status"
		}
		fmt.Fprintf(&w, "HTTP/1.%d %d %s\r\n", minor, code, reason)
	case n < 16:
		fmt.Fprintf(&w, "HTTP/1.%d %d\r\n", minor, code)
		note("no reason")
	case n < 18:
		fmt.Fprintf(&w, "HTTP/1.%d %d \r\n", minor, code)
		note("empty reason")
	default:
		w.WriteString(cdPick(r, "HTTP/1.1 2000 OK\r\n", "HTTP/1.1 20 OK\r\n", "HTTX/1.1 200 OK\r\n",
			"HTTP/1.1 2x0 OK\r\n", "HTTP/1.1 -20 OK\r\n", "HTTP/1.1\r\n"))
		w.WriteString("Content-Length: 0\r\n\r\n")
		note("bad status line")
		a.close = true
		return cdSplit(r, w.Bytes(), a, plain)
	}

	// Header fields.
	for range r.IntN(5) {
		f := cdPick(r, "X-A: 1", "x-a: 2", "X-MULTI: a, b", "Content-Type: text/plain", "Set-Cookie: a=b",
			"set-cookie: c=d", "X-Empty:", "X-Sp:   padded   ", "X-Tab:\tt\t", "Keep-Alive: timeout=5",
			"X-Utf8: h\xc3\xa9llo", "cache-control: max-age=3", "ETag: \"x\"", "X-Bare-Lf: 1\n")
		if f == "X-Bare-Lf: 1\n" {
			w.WriteString(f) // a bare LF ends a line of the head, for both
			continue
		}
		w.WriteString(f + "\r\n")
	}
	if odd(40) {
		w.WriteString("X-Fold: a\r\n b\r\n")
		cs.knownDiff = "obs-fold is refused"
	}
	connClose := false
	switch n := r.IntN(20); {
	case plain || n < 12:
	case n < 15:
		w.WriteString(cdPick(r, "Connection: close\r\n", "connection: CLOSE\r\n", "Connection: keep-alive, close\r\n"))
		connClose = true
	default:
		w.WriteString(cdPick(r, "Connection: keep-alive\r\n", "Connection: Keep-Alive, x-y\r\n", "CONNECTION: keep-alive\r\n"))
	}

	bodiless := head || code == 204 || code == 304 || code == 101
	size := r.IntN(300)
	switch {
	case r.IntN(25) == 0 && !plain:
		size = 60000 + r.IntN(80000) // more than the body's pipe holds
	case r.IntN(6) == 0:
		size = 0
	}
	data := cdData(r, size)
	mustClose := false // the answer leaves the connection unusable: the server closes it

	switch n := r.IntN(100); {
	case plain || n < 45: // Content-Length
		cl := strconv.Itoa(size)
		huge := false
		switch m := r.IntN(12); {
		case plain || m < 7:
		case m == 7:
			cl = "00" + cl
		case m == 8:
			cl += "  "
		case m == 9:
			cl = size0(size) // a huge but valid length, the body cut short
			huge = true
			note("huge Content-Length")
		}
		fmt.Fprintf(&w, "Content-Length: %s\r\n", cl)
		if odd(10) {
			fmt.Fprintf(&w, "content-length: %s\r\n", cl)
			note("repeated Content-Length")
		}
		w.WriteString("\r\n")
		switch m := r.IntN(10); {
		case bodiless:
			if odd(8) && size > 0 {
				w.Write(data) // bytes nobody asked for
				note("body after a bodiless answer")
				cs.fresh = true
			}
		case huge:
			w.Write(data)
			mustClose = true
		case !plain && m == 0 && size > 0:
			w.Write(data[:r.IntN(size)])
			note("body cut short")
			mustClose = true
		case !plain && m == 1:
			w.Write(data)
			w.WriteString("XYZ")
			note("bytes after the body")
			cs.fresh = true
		default:
			w.Write(data)
		}
	case n < 50: // bad Content-Length
		v := cdPick(r, []string{"5", "6"}, []string{"+5"}, []string{"-1"}, []string{"5, 5"},
			[]string{"99999999999999999999"}, []string{"0x5"}, []string{""}, []string{"5 5"}, []string{"1_0"})
		for _, s := range v {
			fmt.Fprintf(&w, "Content-Length: %s\r\n", s)
		}
		w.WriteString("\r\n12345")
		note("bad Content-Length")
		mustClose = true
	case n < 80: // chunked
		te := cdPick(r, "chunked", "chunked", "Chunked", "CHUNKED", " chunked ")
		fmt.Fprintf(&w, "Transfer-Encoding: %s\r\n", te)
		if minor == 0 {
			cs.knownDiff = "Transfer-Encoding in HTTP/1.0 is refused"
		}
		declared := r.IntN(3) == 0
		if declared {
			w.WriteString(cdPick(r, "Trailer: X-T1, x-t2\r\n", "Trailer: X-T1\r\n", "trailer: x-t3,\r\n"))
		}
		if odd(15) {
			fmt.Fprintf(&w, "Content-Length: %d\r\n", size)
			note("chunked with Content-Length")
			cs.closeDiff, cs.fresh = true, true
		}
		w.WriteString("\r\n")
		if bodiless {
			break
		}
		mustClose = cdChunks(r, &w, data, plain, cs, note)
	case n < 87: // other codings
		for _, s := range cdPick(r, []string{"gzip"}, []string{"gzip, chunked"}, []string{"chunked, gzip"},
			[]string{"identity"}, []string{"chunked", "chunked"}, []string{"chunked, chunked"}, []string{"chunked;q=1"}) {
			fmt.Fprintf(&w, "Transfer-Encoding: %s\r\n", s)
		}
		if minor == 0 {
			cs.knownDiff = "Transfer-Encoding in HTTP/1.0 is refused"
		}
		w.WriteString("\r\n")
		w.Write(data)
		note("unsupported coding")
		mustClose = true
	default: // neither: delimited by the close, or no body at all for a bodiless answer
		w.WriteString("\r\n")
		if !bodiless {
			w.Write(data)
			mustClose = true
			note("delimited by the close")
		}
	}

	if odd(25) {
		// The connection ends in the middle of the head or of the answer.
		b := w.Bytes()
		w.Reset()
		w.Write(b[:1+r.IntN(len(b))])
		note("cut")
		mustClose = true
	}
	a.close = mustClose || cs.knownDiff != "" || connClose && r.IntN(3) > 0 || odd(8)
	if cs.knownDiff != "" {
		cs.fresh = true
	}
	return cdSplit(r, w.Bytes(), a, plain)
}

// size0 is a Content-Length far beyond the n bytes that follow.
func size0(n int) string { return strconv.FormatInt(1<<40+int64(n), 10) }

// cdChunks writes data in the chunked coding, with extensions, trailers and, unless plain, faults
// at random. It reports whether the framing is left unfinished or broken.
func cdChunks(r *rand.Rand, w *bytes.Buffer, data []byte, plain bool, cs *cdCase, note func(string)) bool {
	odd := func(n int) bool { return !plain && r.IntN(n) == 0 }
	sizeLine := func(n int) string {
		s := strconv.FormatInt(int64(n), 16)
		switch r.IntN(6) {
		case 0:
			s = strings.ToUpper(s)
		case 1:
			s = "000" + s
		}
		if plain {
			return s + "\r\n"
		}
		switch r.IntN(10) {
		case 0:
			s += ";a=b"
		case 1:
			s += ";a"
		case 2:
			s += `;a="x y"`
		case 3:
			s += "; a=b"
		case 4:
			s += " "
		}
		return s + "\r\n"
	}
	rest := data
	for len(rest) > 0 {
		n := 1 + r.IntN(len(rest))
		if r.IntN(2) == 0 {
			n = len(rest)
		}
		switch {
		case odd(60):
			w.WriteString(strconv.FormatInt(int64(n), 16) + "g\r\n")
			note("bad chunk size")
			return true
		case odd(60):
			w.WriteString(strconv.FormatInt(int64(n), 16) + "\n")
			note("bare LF after a chunk size")
			return true
		case odd(60):
			w.WriteString("fffffffffffffffff\r\n")
			note("chunk size overflow")
			return true
		case odd(60):
			w.WriteString(strconv.FormatInt(int64(n), 16) + " ;a\r\n")
			cs.knownDiff = "whitespace before a chunk extension is accepted"
		case odd(60):
			w.WriteString(strconv.FormatInt(int64(n), 16) + "\r\n")
			w.Write(rest[:n])
			w.WriteString("X\r\n")
			note("no CRLF after the chunk data")
			return true
		default:
			w.WriteString(sizeLine(n))
		}
		w.Write(rest[:n])
		w.WriteString("\r\n")
		rest = rest[n:]
	}
	w.WriteString(cdPick(r, "0\r\n", "0\r\n", "000\r\n", "0;end=1\r\n"))
	switch n := r.IntN(12); {
	case plain || n < 6:
	case n == 6:
		w.WriteString("X-T1: one\r\n")
	case n == 7:
		w.WriteString("x-t2: two\r\nX-T1: one\r\nx-t1: uno\r\n")
	case n == 8:
		w.WriteString(cdPick(r, "X-Other: 3\r\n", "X-T1:   sp  \r\n", "Content-Length: 3\r\n", "x-t2:\r\n"))
	case n == 9:
		w.WriteString("No-Colon\r\n")
		note("bad trailer field")
		w.WriteString("\r\n")
		return true
	case n == 10:
		w.WriteString("X-T1: one\n")
		cs.knownDiff = "a bare LF in a trailer is refused"
	case n == 11:
		note("cut in the trailer")
		return true
	}
	w.WriteString("\r\n")
	return false
}

// cdSplit cuts b into the answer's writes, with pauses between some of them.
func cdSplit(r *rand.Rand, b []byte, a cdAnswer, plain bool) cdAnswer {
	cuts, drip := 0, false
	if !plain {
		cuts = r.IntN(4)
		if drip = r.IntN(30) == 0 && len(b) < 2000; drip {
			cuts = len(b) // a few bytes a write, without pauses
		}
	}
	for cuts > 0 && len(b) > 1 {
		k := 1 + r.IntN(len(b)-1)
		if drip {
			k = min(len(b)-1, 1+r.IntN(8))
		}
		a.pieces = append(a.pieces, cdPiece{b: b[:k], pause: !drip && len(a.pieces) > 0 && r.IntN(2) == 0})
		b = b[k:]
		cuts--
	}
	a.pieces = append(a.pieces, cdPiece{b: b, pause: len(a.pieces) > 0 && r.IntN(2) == 0})
	return a
}

// rawServer accepts on a loopback port and serves each connection on a goroutine of its own,
// keeping the connections so that close can end them all and wait for every goroutine. The servers
// of the client's differential tests embed it; mu also guards their own fields.
type rawServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// listen starts accepting; serve is given each connection and its number, counted from firstID,
// and the connection is closed when serve returns.
func (s *rawServer) listen(t *testing.T, firstID int, serve func(c net.Conn, id int)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.ln, s.conns = ln, make(map[net.Conn]struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for id := firstID; ; id++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() {
					c.Close()
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
				}()
				serve(c, id)
			}()
		}
	}()
}

// close stops the server and waits for its goroutines.
func (s *rawServer) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// cdServer answers the requests of a sequence as its cases say. Each request's path is /r/N, N
// its place in the sequence.
type cdServer struct {
	rawServer
	cases    []cdCase
	attempts []int
	connOf   []int // the connection of the last attempt of each request, -1 before any (under mu)
}

func newCDServer(t *testing.T, cases []cdCase) *cdServer {
	s := &cdServer{cases: cases, attempts: make([]int, len(cases)), connOf: make([]int, len(cases))}
	for i := range s.connOf {
		s.connOf[i] = -1
	}
	s.listen(t, 0, s.serve)
	return s
}

func (s *cdServer) serve(c net.Conn, id int) {
	c.SetDeadline(time.Now().Add(cdDeadline))
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		i, err := strconv.Atoi(strings.TrimPrefix(req.URL.Path, "/r/"))
		if err != nil || i < 0 || i >= len(s.cases) {
			return
		}
		if !s.cases[i].early {
			if _, err := io.Copy(io.Discard, req.Body); err != nil {
				return
			}
		}
		s.mu.Lock()
		k := s.attempts[i]
		s.attempts[i]++
		s.connOf[i] = id
		s.mu.Unlock()
		a := s.cases[i].answers[min(k, len(s.cases[i].answers)-1)]
		for _, p := range a.pieces {
			if p.pause {
				time.Sleep(time.Duration(1+len(p.b)%3) * time.Millisecond)
			}
			if _, err := c.Write(p.b); err != nil {
				return
			}
		}
		if a.reset {
			c.(*net.TCPConn).SetLinger(0)
			return
		}
		if a.close {
			// Sending side first: a request the client sends meanwhile is read and dropped here,
			// rather than left unread to make the close a reset that could destroy the answer.
			c.(*net.TCPConn).CloseWrite()
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			io.Copy(io.Discard, br)
			return
		}
	}
}

// cdRun sends the sequence through rt, one request at a time, and returns the outcomes.
func cdRun(t *testing.T, rt http.RoundTripper, closeIdle func(), cases []cdCase) []cdOutcome {
	s := newCDServer(t, cases)
	out := make([]cdOutcome, len(cases))
	for i, cs := range cases {
		o := &out[i]
		ctx, cancel := context.WithTimeout(context.Background(), cdDeadline)
		var body io.Reader
		if cs.upload != "" {
			body = bytes.NewReader(bytes.Repeat([]byte{'u'}, cs.upSize))
		}
		req, err := http.NewRequestWithContext(ctx, cs.method, "http://"+s.ln.Addr().String()+"/r/"+strconv.Itoa(i), body)
		if err != nil {
			t.Fatal(err)
		}
		if cs.upload != "" {
			req.Header.Set("Idempotency-Key", strconv.Itoa(i)) // retried as the others are, if it can be
		}
		switch cs.upload {
		case "stream":
			req.Body, req.GetBody = io.NopCloser(req.Body), nil
		case "chunked":
			req.Body, req.GetBody, req.ContentLength = io.NopCloser(req.Body), nil, -1
		}
		if cs.upload == "stream" || cs.upload == "chunked" {
			// Not retried (no GetBody): whether the connection the server closed after the
			// answer before is noticed before the request goes out is a race.
			if i > 0 && slices.ContainsFunc(cases[i-1].answers, func(a cdAnswer) bool { return a.close }) {
				closeIdle()
			}
		}
		req.Close = cs.reqClose
		resp, err := rt.RoundTrip(req)
		if err != nil {
			o.stage, o.class, o.errText = "roundtrip", cdClass(err), err.Error()
		} else {
			o.status, o.code, o.proto = resp.Status, resp.StatusCode, resp.Proto
			o.header, o.length, o.te, o.close = resp.Header.Clone(), resp.ContentLength, resp.TransferEncoding, resp.Close
			o.declared = resp.Trailer.Clone()
			if cs.slow {
				time.Sleep(5 * time.Millisecond)
			}
			b, err := io.ReadAll(resp.Body)
			o.body = string(b)
			if err != nil {
				o.stage, o.class, o.errText = "body", cdClass(err), err.Error()
			}
			o.trailer = resp.Trailer.Clone()
			resp.Body.Close()
		}
		cancel()
		if cs.fresh {
			closeIdle()
		}
	}
	closeIdle()
	s.close()
	for i := range out {
		out[i].attempts = s.attempts[i]
		out[i].sameConn = i > 0 && s.connOf[i] >= 0 && s.connOf[i] == s.connOf[i-1]
	}
	return out
}

// cdCompare returns how got (eddy's) differs from want (net/http's) for cs, but for the
// differences documented as deliberate.
func cdCompare(cs *cdCase, want, got *cdOutcome) []string {
	var d []string
	if cs.knownDiff != "" {
		return nil
	}
	// An answer cut short and malformed too, which one client finds malformed and the other cut
	// short: the head cut in the middle of a line (net/http's textproto returns the partial line
	// at the end of the input, which net/http then judges), in the trailer section (net/http
	// looks for its end first, and calls a trailer that has none "suspiciously long"), or after
	// a malformed field line (eddy judges each line as it arrives, net/http the whole head).
	a := cs.answers[max(0, min(want.attempts, len(cs.answers))-1)]
	cut := slices.Contains(a.desc, "cut") || !bytes.HasSuffix(a.bytes(), []byte("\n")) ||
		strings.Contains(want.errText, "suspiciously long trailer")
	either := func(c string) bool { return c == "truncated" || c == "protocol" }
	// net/http, failing an answer that came before the request body was sent, may report the
	// write of the body that its own close interrupted instead.
	ownClose := cs.early && strings.Contains(want.errText, "use of closed network connection")
	if got.stage != want.stage || got.class != want.class && !(cut && either(got.class) && either(want.class)) && !ownClose {
		d = append(d, fmt.Sprintf("error: %s %s, net/http %s %s", got.stage, got.class, want.stage, want.class))
	}
	if got.attempts != want.attempts {
		d = append(d, fmt.Sprintf("attempts %d, net/http %d", got.attempts, want.attempts))
	}
	if got.sameConn != want.sameConn {
		d = append(d, fmt.Sprintf("same connection as the request before %v, net/http %v", got.sameConn, want.sameConn))
	}
	if got.stage == "roundtrip" || want.stage == "roundtrip" {
		return d
	}
	if got.status != want.status || got.code != want.code || got.proto != want.proto {
		d = append(d, fmt.Sprintf("status %q %d %s, net/http %q %d %s", got.status, got.code, got.proto, want.status, want.code, want.proto))
	}
	ours, theirs := got.header.Clone(), want.header.Clone()
	// net/http takes Connection out of an HTTP/1.1 response that says close.
	if _, ok := theirs["Connection"]; !ok && got.proto != "HTTP/1.0" {
		delete(ours, "Connection")
	}
	// net/http moves Trailer to Response.Trailer for a chunked answer without a body too.
	bodilessChunked := len(want.te) > 0 && len(got.te) == 0
	if bodilessChunked {
		delete(ours, "Trailer")
	}
	if !reflect.DeepEqual(ours, theirs) {
		d = append(d, fmt.Sprintf("header %q, net/http %q", ours, theirs))
	}
	if got.length != want.length {
		d = append(d, fmt.Sprintf("ContentLength %d, net/http %d", got.length, want.length))
	}
	if !bodilessChunked && !reflect.DeepEqual(got.te, want.te) {
		d = append(d, fmt.Sprintf("TransferEncoding %q, net/http %q", got.te, want.te))
	}
	if got.close != want.close && !cs.closeDiff {
		d = append(d, fmt.Sprintf("Close %v, net/http %v", got.close, want.close))
	}
	if got.body != want.body {
		d = append(d, fmt.Sprintf("body of %d bytes %.80q, net/http %d bytes %.80q", len(got.body), got.body, len(want.body), want.body))
	}
	if !bodilessChunked && !reflect.DeepEqual(got.declared, want.declared) {
		d = append(d, fmt.Sprintf("Trailer before the body %q, net/http %q", got.declared, want.declared))
	}
	if !bodilessChunked && got.stage == "" && !reflect.DeepEqual(got.trailer, want.trailer) {
		d = append(d, fmt.Sprintf("Trailer %q, net/http %q", got.trailer, want.trailer))
	}
	return d
}

// cdSequence makes the sequence of seed.
func cdSequence(seed uint64, n int) []cdCase {
	r := rand.New(rand.NewPCG(seed, 0x636c69656e74))
	cases := make([]cdCase, n)
	for i := range cases {
		cases[i] = cdGenCase(r)
	}
	return cases
}

// cdOne runs the sequence of seed through net/http's Transport and eddy's on kind, and fails t
// with every difference.
func cdOne(t *testing.T, kind eddy.EngineKind, seed uint64, n int) bool {
	cases := cdSequence(seed, n)
	noKeepAlive := seed%7 == 0
	std := &http.Transport{DisableCompression: true, Proxy: nil, DisableKeepAlives: noKeepAlive}
	want := cdRun(t, std, std.CloseIdleConnections, cases)
	tr := &http1.Transport{Engine: kind, Loops: 1, DisableKeepAlives: noKeepAlive}
	got := cdRun(t, tr, tr.CloseIdleConnections, cases)
	tr.Close()
	ok := true
	for i := range cases {
		d := cdCompare(&cases[i], &want[i], &got[i])
		if len(d) == 0 {
			continue
		}
		ok = false
		var b strings.Builder
		fmt.Fprintf(&b, "seed %d, request %d (%s):\n", seed, i, cases[i].method)
		for k, a := range cases[i].answers {
			fmt.Fprintf(&b, "  answer %d %v close %v: %.400q\n", k, a.desc, a.close, a.bytes())
		}
		if i > 0 {
			fmt.Fprintf(&b, "  request before: %s %.200q\n", cases[i-1].method, cases[i-1].answers[0].bytes())
		}
		fmt.Fprintf(&b, "  eddy:     %s\n  net/http: %s\n", &got[i], &want[i])
		for _, s := range d {
			b.WriteString("  - " + s + "\n")
		}
		t.Error(b.String())
	}
	if *cdSeed != 0 {
		for i := range cases {
			t.Logf("%d %s %v: %.300q\n  eddy:     %s\n  net/http: %s", i, cases[i].method, cases[i].answers[0].desc,
				cases[i].answers[0].bytes(), &got[i], &want[i])
		}
	}
	return ok
}

func TestClientDiff(t *testing.T) {
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			switch {
			case *cdSeed != 0:
				cdOne(t, kind, *cdSeed, 60)
			case *cdTime > 0:
				end := time.Now().Add(*cdTime)
				runs := 0
				for time.Now().Before(end) {
					if !cdOne(t, kind, rand.Uint64()|1, 60) {
						return
					}
					runs++
				}
				t.Logf("%d sequences of 60 requests", runs)
			default:
				for seed := uint64(1); seed <= 4; seed++ {
					cdOne(t, kind, seed, 50)
				}
			}
		})
	}
	skipMissingUring(t)
}
