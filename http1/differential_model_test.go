package http1_test

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
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

// A randomized differential test of the server's net/http path against net/http's own server.
//
// Each case is a random sequence of requests sent on one connection (GET, HEAD, POST and PUT;
// HTTP/1.1 and 1.0; Connection: close and keep-alive; bodies by Content-Length and chunked, with
// chunk extensions and trailers; Expect: 100-continue), written as one byte stream cut at random
// points with small random delays, so that requests are pipelined, split mid-head and mid-body,
// and, at random, followed by the client shutting down its sending side (sometimes within the last
// request, cutting it short); the client may read its responses slowly, and the servers may have
// keep-alives disabled. What the handler does is in each request's query: read the body whole, in
// part, in part then Close, or not at all; answer with a status, write nothing, a small or a large
// body in two writes, declare a Content-Length (right or short), set Transfer-Encoding, send 103
// Early Hints, flush between the writes, set trailers, set Connection: close, panic with
// http.ErrAbortHandler (before writing, after the flush, or at the end) or with another value.
//
// The same stream goes to net/http's http.Server and to eddy's http1.Server on each engine, with
// the same handler; the transcripts (every response, 1xx included: status line, header fields but
// Date, the header X-Got in which the handler reports what it saw, body and trailers, or that the
// body was cut short; then whether the connection stayed open, probed with one more request, or
// was closed) must be the same, but for the differences dmCompare allows.
//
// By default it runs about 1.5 s per engine; -http1.difftime=2m runs longer, -http1.diffseed=S
// replays the case of seed S (each failure prints its seed) and logs its transcripts.
var (
	dmTime = flag.Duration("http1.difftime", 0, "how long TestDiffModel runs on each engine (0: a short run)")
	dmSeed = flag.Uint64("http1.diffseed", 0, "run only TestDiffModel's case of this seed, on each engine, and log its transcripts")
)

// dmAction is what the handler does for one request; it travels in the request's query.
type dmAction struct {
	read    string // "all", "part", "close" (part, then Body.Close), "none"
	part    int    // bytes read by "part" and "close"
	status  int    // 0: no WriteHeader call
	write   int    // body bytes written, in two writes
	split   int    // bytes of the first write
	declare int    // Content-Length set by the handler; -1: none
	flush   bool   // flush between the writes
	trailer bool   // declare the trailer X-Sum and set X-Late through http.TrailerPrefix
	close   bool   // set Connection: close
	ctype   bool   // set Content-Type (else it is sniffed)
	panic   string // "", "first" (before anything), "flush" (right after the flush), "end", "value" (a non-abort value at the end)
	te      string // Transfer-Encoding set by the handler: "", "chunked", "identity"
	hints   bool   // send 103 Early Hints (with a Link field) first
}

func (a dmAction) query() string {
	v := url.Values{}
	v.Set("r", a.read)
	v.Set("p", strconv.Itoa(a.part))
	v.Set("s", strconv.Itoa(a.status))
	v.Set("w", strconv.Itoa(a.write))
	v.Set("h", strconv.Itoa(a.split))
	v.Set("cl", strconv.Itoa(a.declare))
	v.Set("pn", a.panic)
	if a.te != "" {
		v.Set("te", a.te)
	}
	for k, b := range map[string]bool{"f": a.flush, "t": a.trailer, "c": a.close, "ct": a.ctype, "eh": a.hints} {
		if b {
			v.Set(k, "1")
		}
	}
	return v.Encode()
}

func dmParseAction(q url.Values) dmAction {
	n := func(k string) int { i, _ := strconv.Atoi(q.Get(k)); return i }
	return dmAction{
		read: q.Get("r"), part: n("p"), status: n("s"), write: n("w"), split: n("h"), declare: n("cl"),
		flush: q.Has("f"), trailer: q.Has("t"), close: q.Has("c"), ctype: q.Has("ct"), panic: q.Get("pn"),
		te: q.Get("te"), hints: q.Has("eh"),
	}
}

// dmBytes returns n bytes of printable text determined by salt.
func dmBytes(n int, salt byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte((i+int(salt))%26)
		if i%61 == 60 {
			b[i] = '\n'
		}
	}
	return b
}

// dmHandler does what the request's query says, and reports what it saw of the request in X-Got.
var dmHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("probe") {
		io.WriteString(w, "probe")
		return
	}
	a := dmParseAction(q)
	var got []byte
	var rerr error
	switch a.read {
	case "all":
		got, rerr = io.ReadAll(r.Body)
	case "part", "close":
		got = make([]byte, a.part)
		n, err := io.ReadFull(r.Body, got)
		got, rerr = got[:n], err
		if a.read == "close" {
			r.Body.Close()
		}
	}
	h := w.Header()
	h.Set("X-Got", fmt.Sprintf("%s %s %s host=%q cl=%d te=%v close=%v read=%d/%08x err=%v trailer=%v",
		r.Method, r.RequestURI, r.Proto, r.Host, r.ContentLength, r.TransferEncoding, r.Close,
		len(got), crc32.ChecksumIEEE(got), rerr != nil, r.Trailer))
	if a.ctype {
		h.Set("Content-Type", "application/x-dm")
	}
	if a.trailer {
		h.Set("Trailer", "X-Sum")
	}
	if a.close {
		h.Set("Connection", "close")
	}
	if a.declare >= 0 {
		h.Set("Content-Length", strconv.Itoa(a.declare))
	}
	if a.te != "" {
		h.Set("Transfer-Encoding", a.te)
	}
	if a.hints {
		h.Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
	}
	if a.panic == "first" {
		panic(http.ErrAbortHandler)
	}
	if a.status != 0 {
		w.WriteHeader(a.status)
	}
	body := dmBytes(a.write, byte(a.write))
	if a.split > 0 {
		w.Write(body[:a.split])
	}
	if a.flush {
		w.(http.Flusher).Flush()
		if a.panic == "flush" {
			panic(http.ErrAbortHandler)
		}
	}
	if a.write > a.split {
		w.Write(body[a.split:])
	}
	if a.trailer {
		h.Set("X-Sum", strconv.Itoa(int(crc32.ChecksumIEEE(body))))
		h.Set(http.TrailerPrefix+"X-Late", "late")
	}
	switch a.panic {
	case "end":
		panic(http.ErrAbortHandler)
	case "value":
		panic("diffmodel: a panicking handler")
	}
})

// dmRequest is one request of a case.
type dmRequest struct {
	method  string
	minor   int
	conn    string // Connection field: "", "close", "keep-alive"
	body    int    // body bytes; -1: no framing field at all
	chunked bool
	expect  bool
	act     dmAction
	raw     string
}

// dmCase is a random sequence of requests on one connection and how the client sends them.
type dmCase struct {
	seed      uint64
	reqs      []*dmRequest
	stream    string
	cuts      []int           // the stream is written in pieces ending at these offsets
	delays    []time.Duration // after each piece
	halfClose bool            // shut down the sending side after the last piece
	cut       int             // with halfClose: the last request is cut short after this many of its bytes; 0: whole
	noKeep    bool            // the servers have keep-alives disabled (SetKeepAlivesEnabled(false))
	slowRead  bool            // the client reads its responses in small pieces, with pauses
}

func (c *dmCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d, %d requests, halfClose=%v cut=%d noKeep=%v slowRead=%v, %d pieces\n", c.seed, len(c.reqs), c.halfClose, c.cut, c.noKeep, c.slowRead, len(c.cuts))
	for i, r := range c.reqs {
		s := r.raw
		if len(s) > 400 {
			s = s[:300] + fmt.Sprintf("...(%d bytes)...", len(s)-400) + s[len(s)-100:]
		}
		fmt.Fprintf(&b, "  %d: %q\n", i, s)
	}
	return b.String()
}

func dmPick[T any](rng *rand.Rand, xs ...T) T { return xs[rng.IntN(len(xs))] }

// dmBodySize is a request or response body size: mostly small, sometimes past the server's buffers.
func dmBodySize(rng *rand.Rand) int {
	switch p := rng.IntN(100); {
	case p < 20:
		return 0
	case p < 70:
		return 1 + rng.IntN(100)
	case p < 90:
		return 100 + rng.IntN(4000)
	case p < 98:
		return 4096 + rng.IntN(80<<10)
	default:
		return 200<<10 + rng.IntN(120<<10) // around the 256 KiB the servers drain after a handler
	}
}

func dmGenCase(seed uint64) *dmCase {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &dmCase{seed: seed}
	n := 1 + rng.IntN(5)
	var stream strings.Builder
	for range n {
		r := dmGenRequest(rng)
		c.reqs = append(c.reqs, r)
		stream.WriteString(r.raw)
	}
	c.stream = stream.String()
	c.halfClose = rng.IntN(4) == 0
	if last := c.reqs[n-1].raw; c.halfClose && rng.IntN(3) == 0 {
		c.cut = 1 + rng.IntN(len(last)-1)
		c.stream = c.stream[:len(c.stream)-len(last)+c.cut]
	}
	c.noKeep = rng.IntN(10) == 0
	c.slowRead = rng.IntN(10) == 0
	switch rng.IntN(4) {
	case 0: // all at once
	case 1: // request by request
		off := 0
		for _, r := range c.reqs {
			off += len(r.raw)
			c.cuts = append(c.cuts, min(off, len(c.stream)))
		}
	default: // at random points
		k := 1 + rng.IntN(8)
		for range k {
			c.cuts = append(c.cuts, rng.IntN(len(c.stream)+1))
		}
	}
	c.cuts = append(c.cuts, len(c.stream))
	sortInts(c.cuts)
	for range c.cuts {
		var d time.Duration
		if rng.IntN(3) == 0 {
			d = time.Duration(rng.IntN(3000)) * time.Microsecond
		}
		c.delays = append(c.delays, d)
	}
	return c
}

func sortInts(a []int) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}

func dmGenRequest(rng *rand.Rand) *dmRequest {
	r := &dmRequest{method: dmPick(rng, "GET", "GET", "HEAD", "POST", "POST", "PUT"), minor: 1, body: -1}
	if rng.IntN(6) == 0 {
		r.minor = 0
	}
	switch rng.IntN(6) {
	case 0:
		r.conn = "close"
	case 1:
		r.conn = "keep-alive"
	}
	hasBody := r.method == "POST" || r.method == "PUT" || rng.IntN(8) == 0
	if hasBody {
		r.body = dmBodySize(rng)
		r.chunked = r.minor == 1 && rng.IntN(2) == 0
		r.expect = rng.IntN(4) == 0 // both servers ignore it in HTTP/1.0
	} else if rng.IntN(6) == 0 {
		r.body = 0 // Content-Length: 0
	}

	a := dmAction{read: "none", declare: -1}
	if r.body > 0 {
		a.read = dmPick(rng, "all", "all", "part", "close", "none")
		if a.read == "part" || a.read == "close" {
			a.part = rng.IntN(r.body) // a strict prefix: neither server has then seen the end
		}
	} else if rng.IntN(3) == 0 {
		a.read = "all"
	}
	switch p := rng.IntN(20); {
	case p < 14:
	case p < 16:
		a.status = 200
	default:
		a.status = dmPick(rng, 201, 204, 304, 404, 500)
	}
	a.write = dmBodySize(rng)
	if a.write > 80<<10 {
		a.write = rng.IntN(80 << 10)
	}
	a.split = rng.IntN(a.write + 1)
	if rng.IntN(5) == 0 {
		a.declare = a.write
		if rng.IntN(4) == 0 && a.write > 0 {
			a.declare = a.write + 1 + rng.IntN(10) // the handler writes less than it declared
		}
	}
	a.flush = rng.IntN(4) == 0
	a.trailer = rng.IntN(6) == 0
	a.close = rng.IntN(12) == 0
	a.ctype = rng.IntN(3) == 0
	if rng.IntN(12) == 0 {
		a.te = dmPick(rng, "chunked", "identity")
	}
	a.hints = rng.IntN(15) == 0
	switch p := rng.IntN(40); {
	case p == 0:
		a.panic = "first"
	case p == 1 && a.flush:
		a.panic = "flush"
	case p == 2:
		a.panic = "end"
	case p == 3:
		a.panic = "value"
	}
	r.act = a

	var b strings.Builder
	fmt.Fprintf(&b, "%s /d?%s HTTP/1.%d\r\n", r.method, a.query(), r.minor)
	if r.minor == 1 || rng.IntN(2) == 0 {
		b.WriteString("Host: x\r\n")
	}
	if r.conn != "" {
		fmt.Fprintf(&b, "Connection: %s\r\n", r.conn)
	}
	if r.expect {
		b.WriteString("Expect: 100-continue\r\n")
	}
	body := dmBytes(max(r.body, 0), byte(r.body))
	if r.chunked {
		b.WriteString("Transfer-Encoding: chunked\r\n")
		trailers := rng.IntN(3)
		if trailers > 0 {
			b.WriteString("Trailer: X-T1\r\n")
		}
		b.WriteString("\r\n")
		for rest := body; len(rest) > 0; {
			k := min(len(rest), 1+rng.IntN(max(len(rest), 1)))
			if rng.IntN(2) == 0 {
				k = min(len(rest), 1+rng.IntN(64))
			}
			size := strconv.FormatInt(int64(k), 16)
			if rng.IntN(3) == 0 {
				size = strings.ToUpper(size)
			}
			b.WriteString(size)
			b.WriteString(dmChunkExt(rng))
			b.WriteString("\r\n")
			b.Write(rest[:k])
			b.WriteString("\r\n")
			rest = rest[k:]
		}
		b.WriteString("0" + dmChunkExt(rng) + "\r\n")
		if trailers > 0 {
			b.WriteString("X-T1: one\r\n")
		}
		if trailers > 1 {
			b.WriteString("X-T2: two\r\n") // not declared
		}
		b.WriteString("\r\n")
	} else {
		if r.body >= 0 {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", r.body)
		}
		b.WriteString("\r\n")
		b.Write(body)
	}
	r.raw = b.String()
	return r
}

func dmChunkExt(rng *rand.Rand) string {
	switch rng.IntN(6) {
	case 0:
		return ";ext"
	case 1:
		return ";a=1;b=\"q s\""
	}
	return ""
}

// dmResp is one response as a client sees it.
type dmResp struct {
	proto     string
	status    int
	header    http.Header // Date replaced by "present"; Transfer-Encoding and trailers included
	body      string
	truncated bool // the body ended early (reset or EOF)
	reset     bool // ... by a reset
	close     bool // the response says the connection closes (http.Response.Close)
	err       string
	req       int // the index of the request it answers
}

func (r *dmResp) String() string {
	body := r.body
	if len(body) > 60 {
		body = fmt.Sprintf("%s...(%d bytes)", body[:60], len(body))
	}
	return fmt.Sprintf("[req %d] %s %d close=%v truncated=%v (%s) reset=%v %v %q", r.req, r.proto, r.status, r.close, r.truncated, r.err, r.reset, r.header, body)
}

// dmOutcome is what the client saw on its connection.
type dmOutcome struct {
	resps []*dmResp
	end   string // "open" (the probe was answered), "closed", or what went wrong
}

func (o *dmOutcome) String() string {
	var b strings.Builder
	for i, r := range o.resps {
		fmt.Fprintf(&b, "    %d: %v\n", i, r)
	}
	fmt.Fprintf(&b, "    end: %s", o.end)
	return b.String()
}

// dmRun plays c against addr.
func dmRun(addr string, c *dmCase) *dmOutcome {
	out := &dmOutcome{}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		out.end = "dial: " + err.Error()
		return out
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(15 * time.Second))
	rc := &dmResetConn{Conn: conn, slow: c.slowRead}
	defer func() {
		// A reset may show as a plain EOF once it was reported to a read below the one that failed.
		if rc.reset.Load() {
			if n := len(out.resps); n > 0 && out.resps[n-1].truncated {
				out.resps[n-1].reset = true
			}
			if out.end == "closed" {
				out.end = "reset"
			}
		}
	}()
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		from := 0
		for i, to := range c.cuts {
			if to > from {
				if _, err := io.WriteString(rc, c.stream[from:to]); err != nil {
					return
				}
				from = to
			}
			if c.delays[i] > 0 {
				time.Sleep(c.delays[i])
			}
		}
		if c.halfClose {
			conn.(*net.TCPConn).CloseWrite()
		}
	}()
	defer func() { <-wrote }()
	br := bufio.NewReader(rc)
	for i, r := range c.reqs {
		for {
			resp, err := dmReadResponse(br, r.method)
			if resp != nil {
				resp.req = i
				out.resps = append(out.resps, resp)
			}
			if err != nil {
				out.end = dmEnd(err)
				return out
			}
			if resp.status >= 200 || resp.status == 101 {
				break
			}
		}
	}
	<-wrote
	if c.halfClose {
		rest, err := io.ReadAll(br)
		switch {
		case len(rest) > 0:
			out.end = fmt.Sprintf("extra bytes %q", rest)
		case err != nil:
			out.end = dmEnd(err)
		default:
			out.end = "closed"
		}
		return out
	}
	if _, err := io.WriteString(rc, "GET /d?probe HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		out.end = "closed"
		return out
	}
	resp, err := dmReadResponse(br, "GET")
	switch {
	case err != nil:
		out.end = dmEnd(err)
	case resp.body == "probe":
		out.end = "open"
	default:
		out.end = fmt.Sprintf("probe answered with %v", resp)
	}
	return out
}

// dmResetConn records whether the connection was reset. The kernel reports a reset once, to the
// first read or write after it (ECONNRESET, or EPIPE once the connection is shut down), so the
// writer may see it and the reader only an early EOF.
type dmResetConn struct {
	net.Conn
	reset atomic.Bool
	slow  bool // reads take at most 1 KiB, after a pause
}

func (c *dmResetConn) Read(p []byte) (int, error) {
	if c.slow {
		time.Sleep(200 * time.Microsecond)
		p = p[:min(len(p), 1<<10)]
	}
	n, err := c.Conn.Read(p)
	c.saw(err)
	return n, err
}

func (c *dmResetConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.saw(err)
	return n, err
}

func (c *dmResetConn) saw(err error) {
	if err != nil && (errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) {
		c.reset.Store(true)
	}
}

// dmEnd classifies the error that ended the reading of responses.
func dmEnd(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return "closed"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout: " + err.Error()
	case strings.Contains(err.Error(), "connection reset"):
		return "reset"
	case strings.Contains(err.Error(), "broken pipe"):
		return "closed"
	}
	return "error: " + err.Error()
}

// dmReadResponse reads one response to a request of the given method. A response whose body was cut
// short is returned, marked truncated, with the error.
func dmReadResponse(br *bufio.Reader, method string) (*dmResp, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	h := resp.Header.Clone()
	if h.Get("Date") != "" {
		h.Set("Date", "present")
	}
	if len(resp.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = resp.TransferEncoding
	}
	for k, vv := range resp.Trailer {
		h["Trailer-Value-"+k] = vv
	}
	r := &dmResp{proto: resp.Proto, status: resp.StatusCode, header: h, body: string(b), truncated: err != nil}
	r.reset = err != nil && dmEnd(err) == "reset"
	r.close = resp.Close
	if err != nil {
		r.err = err.Error()
	}
	if err == nil && resp.Close && resp.StatusCode >= 200 && method != "HEAD" && resp.StatusCode != 204 && resp.StatusCode != 304 {
		// The response said the connection closes: the client reads nothing more on it.
		if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 {
			return r, io.EOF // delimited by the close, which happened
		}
	}
	return r, err
}

// dmCompare compares eddy's outcome (got) with net/http's (want), response by response. It returns
// the first difference that is not one of the allowed ones below, or "", and the allowed
// differences it met (after one, what follows on the connection is not compared).
//
// The allowed differences:
//
//   - trailers: a handler that closed the body before its end finds no trailer values in
//     Request.Trailer. net/http's Body.Close reads the rest of the body (up to 256 KiB) and its
//     trailers; doc.go says the values are filled by the Read that returns io.EOF, and the loop
//     drops the rest of a closed body rather than have Close wait for it. X-Got's trailer map is
//     not compared for those requests.
//   - reset: net/http closes a connection that has unread input (requests pipelined after one it
//     answered with Connection: close) with close(2), so the kernel resets it, and the client may
//     lose the end of the last response, or all of it (RFC 9112 §9.6 asks for the staged close
//     eddy makes; a reset is seen by whichever of the client's reads and writes comes first).
//     From net/http's reset on, eddy must have answered at least as much, the
//     response net/http's reset cut compared by its head.
//   - chunked-close: a chunked body the handler left unread (in part, or closed), whose end had
//     not arrived when the handler returned, gets Connection: close from eddy (doc.go: net/http
//     reads up to 256 KiB of it first, which the loop cannot do before the head is written). The
//     connection closes after that response.
//   - short-body: a handler that returned without flushing, having written less than the
//     Content-Length it declared, gets Connection: close in its head from eddy (finishRequest knows
//     the body is short before the head goes out, and the connection closes after it, RFC 9112
//     §9.6); net/http's head does not say it, and net/http closes the connection all the same.
//   - unread-256k: net/http says Connection: close when 256 KiB or more of a body are left
//     unread (it reads that much of it before the head, or in Body.Close, and no more). Eddy
//     says it too when its head goes out after the handler returned with that much still to come
//     (appendHead), but a head sent before (a flush, or more than 2 KiB of body: doc.go, the body
//     stays readable) says nothing of it, and the loop drops what the handler left as it arrives,
//     counting only what it drops after the handler stopped reading: eddy may keep a connection
//     whose body it has taken whole, or close it after the response (doc.go). What follows on
//     the connection is not compared.
//   - cut-body: the client shut down its sending side in the body of its last request. Both
//     servers close the connection after their answer to it, but eddy's head says
//     Connection: close when the body had failed by the time it went out, and net/http's says it
//     when its own reading of the rest (before a head sent early) failed; the two may differ
//     (as in halfCloseCases).
//   - cut-head: the client shut down its sending side after fewer than 4 bytes of its last
//     request's head, after an earlier request: net/http waits for 4 bytes (bufio.Reader.Peek)
//     before it reads a head, and closes without an answer; eddy answers 400 as net/http answers
//     a longer cut head.
//   - 1.0-keep-alive: net/http decides to answer an HTTP/1.0 keep-alive request with
//     Connection: keep-alive before it decides to close the connection after all (keep-alives
//     disabled; a Content-Length dropped for the handler's Transfer-Encoding; a body closed
//     with more than 256 KiB left), and says keep-alive, then closes; eddy leaves the field out,
//     as it must (RFC 9112 §9.3: the connection does not persist). Nothing follows.
//   - 1.0-close-field: net/http says Connection: close in some HTTP/1.0 responses (a body of
//     256 KiB or more left unread); eddy leaves the field out of HTTP/1.0 responses, whose
//     connection closes unless keep-alive is said: the two mean the same.
//   - 1xx-1.0: net/http sends a handler's informational responses (WriteHeader(103)) to HTTP/1.0
//     clients, which have none; eddy does not (RFC 9110 §15.2; doc.go). Fixed in this review:
//     see TestDiffModelNoInterimToHTTP10.
//   - panic500: a handler that panics with a value other than http.ErrAbortHandler before
//     anything was sent gets a 500 answer from eddy, and the connection closes; net/http closes it
//     without an answer (doc.go).
//   - panic-buffered: how much of the body a handler wrote before it panicked reaches the client
//     depends on the servers' buffers (net/http's 2 KiB and 4 KiB bufio.Writers, eddy's 32 KiB
//     batches): for a response delimited by its Content-Length or by the close, its body and
//     whether it looks complete are not compared; a chunked one must be cut in both, since
//     neither may send its last chunk.
func dmCompare(c *dmCase, got, want *dmOutcome) (diff string, allowed []string) {
	if kept := dmWithout10Interim(c, want.resps); len(kept) != len(want.resps) {
		w := *want
		w.resps = kept
		want = &w
		allowed = append(allowed, "1xx-1.0")
	}
	for i := 0; ; i++ {
		if i >= len(want.resps) || i >= len(got.resps) {
			if len(got.resps) > i && dmResetLoss(want) {
				return "", append(allowed, "reset")
			}
			if len(got.resps) != len(want.resps) {
				if i < len(got.resps) && i == len(want.resps) && dmPanic500(c, got.resps[i], want) {
					return "", append(allowed, "panic500")
				}
				if i == len(want.resps) && i == len(got.resps)-1 && c.cut > 0 && c.cut < 4 && got.resps[i].req == len(c.reqs)-1 && got.resps[i].status == 400 {
					return "", append(allowed, "cut-head")
				}
				return fmt.Sprintf("%d responses; net/http gave %d", len(got.resps), len(want.resps)), allowed
			}
			break
		}
		g, w := got.resps[i], want.resps[i]
		if g.req != w.req {
			return fmt.Sprintf("response %d answers request %d; net/http's request %d", i, g.req, w.req), allowed
		}
		r := c.reqs[g.req]
		gh, wh := g.header.Clone(), w.header.Clone()
		if r.act.read == "close" {
			for _, h := range []http.Header{gh, wh} {
				if v := h.Get("X-Got"); v != "" {
					if k := strings.Index(v, " trailer="); k >= 0 {
						h.Set("X-Got", v[:k]+" trailer=(not compared after Close)")
					}
				}
			}
			if fmt.Sprint(gh) != fmt.Sprint(g.header) || fmt.Sprint(wh) != fmt.Sprint(w.header) {
				allowed = append(allowed, "trailers")
			}
		}
		if g.proto == "HTTP/1.0" && w.proto == g.proto && wh.Get("Connection") == "close" && gh.Get("Connection") == "" {
			wh.Del("Connection")
			allowed = append(allowed, "1.0-close-field")
		}
		// The differences in closing, a Connection field aside, the heads must agree.
		gc, wc := gh.Clone(), wh.Clone()
		gc.Del("Connection")
		wc.Del("Connection")
		if w.reset && !g.reset {
			// net/http's reset cut this response: compare the head, then stop.
			if g.proto != w.proto || g.status != w.status || fmt.Sprint(gc) != fmt.Sprint(wc) {
				return fmt.Sprintf("response %d: %v; net/http (cut by its reset) %v", i, g, w), allowed
			}
			return "", append(allowed, "reset")
		}
		if d := dmDiffHead(i, g, w, gh, wh); d != "" {
			if g.proto == w.proto && g.status == w.status && fmt.Sprint(gc) == fmt.Sprint(wc) {
				switch {
				case dmEddyClosedOnChunked(c, g, w):
					return "", append(allowed, "chunked-close")
				case g.close && !w.close && r.act.declare > r.act.write && !r.act.flush && r.act.panic == "" && dmEndKind(got.end) == "closed" && i == len(got.resps)-1:
					allowed = append(allowed, "short-body")
					d = ""
				case c.cut >= strings.Index(r.raw, "\r\n\r\n")+4 && g.req == len(c.reqs)-1 && dmEndKind(got.end) == "closed" && dmEndKind(want.end) == "closed":
					allowed = append(allowed, "cut-body")
					d = ""
				case r.minor == 0 && g.close && wh.Get("Connection") == "keep-alive" && gh.Get("Connection") == "" &&
					i == len(want.resps)-1 && dmEndKind(want.end) == "closed":
					return "", append(allowed, "1.0-keep-alive")
				case w.close && !g.close && r.body-r.act.part >= 192<<10 && r.act.read != "all":
					return "", append(allowed, "unread-256k")
				}
			}
			if d != "" {
				return d, allowed
			}
		}
		if w.status >= 400 && w.header.Get("Date") == "" && !w.truncated && !g.truncated && r.method != "HEAD" {
			// A request refused before any handler ran: the body is the status and each server's
			// own reason for it, as in TestDifferentialAgainstNetHTTP.
			prefix := fmt.Sprintf("%d %s", w.status, http.StatusText(w.status))
			if !strings.HasPrefix(g.body, prefix) || !strings.HasPrefix(w.body, prefix) {
				return fmt.Sprintf("response %d body %q; net/http %q; both should start %q", i, g.body, w.body, prefix), allowed
			}
			continue
		}
		if g.truncated != w.truncated || !g.truncated && g.body != w.body {
			if r.act.panic != "" && r.act.panic != "first" && !dmChunked(w) && !dmChunked(g) {
				// The connection closes after a panic: nothing follows.
				return "", append(allowed, "panic-buffered")
			}
			if g.truncated != w.truncated {
				return fmt.Sprintf("response %d: truncated=%v; net/http truncated=%v", i, g.truncated, w.truncated), allowed
			}
			return fmt.Sprintf("response %d body differs (%d bytes; net/http %d)", i, len(g.body), len(w.body)), allowed
		}
	}
	ge, we := dmEndKind(got.end), dmEndKind(want.end)
	if ge != we {
		if we == "closed" && ge == "open" && len(want.resps) > 0 && dmResetLoss(want) {
			return "", append(allowed, "reset")
		}
		return fmt.Sprintf("connection end %q; net/http %q", got.end, want.end), allowed
	}
	return "", allowed
}

// dmWithout10Interim returns resps without the 1xx responses to HTTP/1.0 requests.
func dmWithout10Interim(c *dmCase, resps []*dmResp) []*dmResp {
	var kept []*dmResp
	for _, r := range resps {
		if r.status < 200 && c.reqs[r.req].minor == 0 {
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// dmEndKind treats a reset as a close: both mean the connection is over. The body of a refusal
// to a HEAD request (the servers send one: they may not know the method) is read after the
// response, as extra bytes: its status text is compared, not each server's reason.
func dmEndKind(end string) string {
	if end == "reset" {
		return "closed"
	}
	if rest, ok := strings.CutPrefix(end, `extra bytes "4`); ok {
		rest, _, _ = strings.Cut(rest, ":")
		return `extra bytes "4` + strings.TrimSuffix(rest, `"`)
	}
	return end
}

func dmChunked(r *dmResp) bool { return r.header.Get("Transfer-Encoding") == "chunked" }

// dmDiffHead compares the status lines and headers (gh, wh: normalized) of two responses.
func dmDiffHead(i int, g, w *dmResp, gh, wh http.Header) string {
	if g.proto != w.proto || g.status != w.status || g.close != w.close {
		return fmt.Sprintf("response %d: %s %d close=%v; net/http %s %d close=%v", i, g.proto, g.status, g.close, w.proto, w.status, w.close)
	}
	if fmt.Sprint(gh) != fmt.Sprint(wh) {
		return fmt.Sprintf("response %d header:\n got %v\nwant %v", i, gh, wh)
	}
	return ""
}

// dmResetLoss reports whether net/http's outcome ended in a reset, which may have cost it responses.
func dmResetLoss(want *dmOutcome) bool {
	if want.end == "reset" {
		return true
	}
	n := len(want.resps)
	return n > 0 && want.resps[n-1].reset
}

// dmEddyClosedOnChunked tells the chunked-close difference: eddy's response g says Connection:
// close where net/http's w does not, to a request with a chunked body the handler did not read to
// its end, and the headers differ in that alone.
func dmEddyClosedOnChunked(c *dmCase, g, w *dmResp) bool {
	r := c.reqs[g.req]
	return r.chunked && r.act.read != "all" && !r.expect && g.close && !w.close
}

// dmPanic500 tells the panic500 difference: g, eddy's last response, is its 500 to a request whose
// handler panicked with a value, which net/http's outcome did not answer.
func dmPanic500(c *dmCase, g *dmResp, want *dmOutcome) bool {
	for _, w := range want.resps {
		if w.req == g.req && w.status >= 200 {
			return false
		}
	}
	return c.reqs[g.req].act.panic == "value" && g.status == 500 && g.close && dmEndKind(want.end) == "closed"
}

func TestDiffModel(t *testing.T) {
	refs := [2]string{netHTTPRef(t, dmHandler, nil), netHTTPRef(t, dmHandler, func(s *http.Server) { s.SetKeepAlivesEnabled(false) })}
	master := *dmSeed
	replay := master != 0
	if !replay {
		master = uint64(time.Now().UnixNano())
		t.Logf("master seed %d", master)
	}
	budget := *dmTime
	if budget == 0 {
		budget = 1500 * time.Millisecond
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var addrs [2]string
		for i := range addrs {
			srv := &http1.Server{Handler: dmHandler, ErrorLog: newLogger(io.Discard)}
			srv.SetKeepAlivesEnabled(i == 0)
			addrs[i] = start(t, engine, srv)
		}
		run := func(c *dmCase) (got, want *dmOutcome) {
			k := 0
			if c.noKeep {
				k = 1
			}
			var two sync.WaitGroup
			two.Go(func() { want = dmRun(refs[k], c) })
			got = dmRun(addrs[k], c)
			two.Wait()
			return got, want
		}
		if replay {
			c := dmGenCase(master)
			got, want := run(c)
			t.Logf("case %v\nnet/http:\n%v\neddy:\n%v", c, want, got)
			d, allowed := dmCompare(c, got, want)
			if d != "" {
				t.Errorf("%s", d)
			}
			if len(allowed) > 0 {
				t.Logf("allowed differences: %v", allowed)
			}
			return
		}
		deadline := time.Now().Add(budget)
		var next atomic.Uint64
		var ran, allowed, failed atomic.Int64
		var mu sync.Mutex
		kinds := map[string]int{}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for time.Now().Before(deadline) && failed.Load() < 3 {
					seed := master + next.Add(1)*0x9e3779b97f4a7c15
					c := dmGenCase(seed)
					got, want := run(c)
					ran.Add(1)
					d, al := dmCompare(c, got, want)
					if len(al) > 0 {
						allowed.Add(1)
						mu.Lock()
						for _, a := range al {
							kinds[a]++
						}
						mu.Unlock()
					}
					if d == "" {
						continue
					}
					failed.Add(1)
					mu.Lock()
					t.Errorf("case %d (replay: -http1.diffseed=%d): %s\n%v\nnet/http:\n%v\neddy:\n%v", seed, seed, d, c, want, got)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		t.Logf("%d cases, %d with allowed differences %v", ran.Load(), allowed.Load(), kinds)
	})
}

// Found by TestDiffModel: a net/http handler's informational response (WriteHeader(103), Early
// Hints) went to an HTTP/1.0 client, as net/http sends it, although HTTP/1.0 has no 1xx responses
// and RFC 9110 §15.2 forbids sending one to such a client, which takes it for the final response
// (a native handler's were already held back). writeInformational now sends none to HTTP/1.0.
func TestDiffModelNoInterimToHTTP10(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
		got := exchange(t, addr, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET")[0]
		if got.status != http.StatusOK || got.body != "final" || got.header.Get("Link") == "" {
			t.Errorf("HTTP/1.0 client got %s %d %v %q first; want the final 200 with the Link field", got.proto, got.status, got.header, got.body)
		}
		// An HTTP/1.1 client still gets it first.
		resps := exchange(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "GET", "GET")
		if resps[0].status != http.StatusEarlyHints || resps[1].status != http.StatusOK || resps[1].body != "final" {
			t.Errorf("HTTP/1.1 client got %d then %d %q; want 103, then 200 \"final\"", resps[0].status, resps[1].status, resps[1].body)
		}
	})
}
