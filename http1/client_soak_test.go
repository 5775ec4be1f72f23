package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestClientSoak hunts for bugs in http1.Transport by having a dozen goroutines do, on each engine, a
// random mix of everything a client does, for -http1.clientsoak per engine (1 s by default, so that CI
// stays fast; minutes for a real soak:
//
//	go test -race -count=1 -run TestClientSoak ./http1/ -args -http1.clientsoak=30s
//
// ). The random choices come from -http1.clientseed (logged, 0: from the clock); a replay makes the
// same choices, not the same interleavings.
//
// Two servers answer, both under the soak's control:
//
//   - an http1.Server with a net/http handler (/net): bodies of 0 to 1 MiB with Content-Length, chunked
//     with flushes, or as net/http pleases, a trailer, heads delayed (a few ms, or held 300-500 ms), and
//     answers written before the request body is read;
//   - a raw TCP server (/raw) following a script in the URL: Content-Length, chunked (with a trailer)
//     or EOF-delimited (HTTP/1.1 or 1.0) bodies, 204, written in random pieces; 1xx responses first;
//     delayed or held heads; bodies truncated (then the connection closed), a bad chunk, a malformed
//     head, a hang-up without an answer, answers before the request body is read, Connection: close or
//     a close without it. On its own, at random, it also closes kept-alive connections once idle (after
//     0-2 ms, without reading what came meanwhile: the keep-alive race).
//
// Each operation is a GET, HEAD, POST or PUT (bodies of 0 to 1 MiB: in memory, or streamed through an
// io.Pipe, chunked or with a Content-Length), by RoundTrip or by RoundTripAsync (with Future.Cancel at
// once or from a timer); its context is plain, cancelled before the call, cancelled by a timer (head
// wait or body), cancelled after part of the body was read, or has a deadline; the response body is
// read in full, in part then closed, or not at all then closed. The transports of a round differ:
// plain, MaxConnsPerHost 1-3 with 1 idle connection and an IdleConnTimeout of a few ms, a
// ResponseHeaderTimeout (csRHT), DisableKeepAlives. A chaos goroutine calls CloseIdleConnections.
// Rounds last 100-600 ms; a round ends either gracefully (operations finish, then Transport.Close) or
// with Transport.Close while operations are in flight.
//
// Every outcome is checked against what the server was told to do: the request id travels in X-Id and
// comes back in the response's, both bodies are derived from it (the server reports the length and
// hash of the request body it read in X-Got), so a response is byte-exact and never another request's;
// an error must be of a kind the situation allows (context.Canceled only after a cancel,
// DeadlineExceeded only with a deadline, ErrTransportClosed only after Close began, the
// ResponseHeaderTimeout error only with one, ErrMalformedResponse only for a malformed response,
// io.ErrUnexpectedEOF for a truncated body, peer-ended errors only where a connection could have been
// closed under the request); a truncated body never ends in io.EOF; the request body is always closed.
// Every operation and every Close is watched: one that takes more than csHang fails the test with
// every goroutine's stack. At the end of each engine's run, no goroutine is left (goleak, checked
// here as well as by TestMain, which checks only runs that passed) and the descriptor count is back
// where it was.
var (
	clientSoakFor  = flag.Duration("http1.clientsoak", time.Second, "how long TestClientSoak runs on each engine (e.g. 30s for a real soak)")
	clientSoakSeed = flag.Uint64("http1.clientseed", 0, "seed of TestClientSoak's random choices (0: from the clock); a failure prints the one to replay")
)

const (
	csWorkers = 12
	csMaxBody = 1 << 20
	// csHang is how long an operation (or a Transport.Close) may take before the soak calls it a hang.
	csHang = 20 * time.Second
	// csRHT is the ResponseHeaderTimeout of the transports that have one; held heads (csHoldMin and
	// more) always exceed it.
	csRHT     = 100 * time.Millisecond
	csHoldMin = 300 * time.Millisecond
	// csMaxReported bounds the failures reported in detail per engine; the others are counted.
	csMaxReported = 25
)

// Switches for client bugs that would hang or flood the soak would go here, each named after the bug
// it avoids. None is needed at present.

// ---------------------------------------------------------------------------------------------
// Content.

// csBytes returns n bytes determined by seed.
func csBytes(seed uint64, n int) []byte {
	b := make([]byte, n+8)
	x := seed*0x9e3779b97f4a7c15 | 1
	for i := 0; i < n; i += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[i:], x)
	}
	return b[:n:n]
}

// csReqSeed is the seed of the request body of request id.
func csReqSeed(id uint64) uint64 { return id ^ 0x5bd1e9955bd1e995 }

// csGot is what the servers put in X-Got for a request body of n bytes with SHA-256 sum.
func csGot(n int64, sum []byte) string { return fmt.Sprintf("%d-%x", n, sum[:8]) }

func csGotOf(b []byte) string {
	s := sha256.Sum256(b)
	return csGot(int64(len(b)), s[:])
}

// csSum is the X-Sum trailer of a body.
func csSum(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%x", s[:8])
}

// csSize draws a body size: mostly small, sometimes beyond the client's 64 KiB pipe, up to 1 MiB.
func csSize(rng *rand.Rand) int {
	switch r := rng.IntN(100); {
	case r < 25:
		return rng.IntN(101)
	case r < 60:
		return 100 + rng.IntN(16<<10)
	case r < 85:
		return 16<<10 + rng.IntN(100<<10)
	default:
		return 100<<10 + rng.IntN(csMaxBody-100<<10+1)
	}
}

// ---------------------------------------------------------------------------------------------
// The net/http handler, served by an http1.Server.
//
// /net?size=N&mode=len|stream|plain&early=1&delay=D&trailer=1&seed=S: the body is csBytes(X-Id, N);
// X-Got reports the request body unless early (the body is then left unread).

func csNetHandler(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	idText := r.Header.Get("X-Id")
	id, _ := strconv.ParseUint(idText, 10, 64)
	size, _ := strconv.Atoi(q.Get("size"))
	delay, _ := time.ParseDuration(q.Get("delay"))
	seed, _ := strconv.ParseUint(q.Get("seed"), 10, 64)
	rng := rand.New(rand.NewPCG(seed, id))
	w.Header().Set("X-Id", idText)
	if q.Get("early") != "1" {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			return
		}
		w.Header().Set("X-Got", csGot(n, h.Sum(nil)))
	}
	if delay > 0 {
		time.Sleep(delay)
	}
	body := csBytes(id, size)
	trailer := q.Get("trailer") == "1"
	if trailer {
		w.Header().Set("Trailer", "X-Sum")
	}
	mode := q.Get("mode")
	if mode == "len" {
		w.Header().Set("Content-Length", strconv.Itoa(size))
	}
	if mode == "plain" {
		w.Write(body)
	} else {
		for len(body) > 0 {
			n := min(len(body), 1+rng.IntN(64<<10))
			if _, err := w.Write(body[:n]); err != nil {
				return
			}
			body = body[n:]
			if mode == "stream" {
				w.(http.Flusher).Flush()
			}
		}
	}
	if trailer {
		w.Header().Set("X-Sum", csSum(csBytes(id, size)))
	}
}

// ---------------------------------------------------------------------------------------------
// The raw server.

// Framings of a raw response.
const (
	frLen = iota
	frChunked
	frEOF
	frNoContent
)

var csFrameNames = [...]string{"length", "chunked", "eof", "204"}

// Malformed heads (csScript.malformed - 1).
var csMalformed = [...]string{
	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
	"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX-A: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
}

// csScript is what the raw server does with one request.
type csScript struct {
	size      int
	frame     int
	interim   int           // 1xx responses before the final one
	delay     time.Duration // before the final head
	trunc     int           // >= 0: the body is cut after trunc bytes and the connection closed
	badChunk  int           // >= 0: a bad chunk-size line after badChunk bytes
	malformed int           // > 0: csMalformed[malformed-1] instead of the response
	hangup    bool          // the connection is closed without an answer
	early     bool          // answer before reading the request body (read afterwards)
	closeWith int           // 1: Connection: close and close; 2: close without saying so
	trailer   bool          // chunked: an X-Sum trailer
	http10    bool          // EOF-delimited: an HTTP/1.0 status line
}

func (sc *csScript) query() string {
	v := url.Values{}
	v.Set("size", strconv.Itoa(sc.size))
	v.Set("frame", strconv.Itoa(sc.frame))
	v.Set("interim", strconv.Itoa(sc.interim))
	v.Set("delay", sc.delay.String())
	v.Set("trunc", strconv.Itoa(sc.trunc))
	v.Set("bad", strconv.Itoa(sc.badChunk))
	v.Set("malformed", strconv.Itoa(sc.malformed))
	v.Set("close", strconv.Itoa(sc.closeWith))
	for k, b := range map[string]bool{"hangup": sc.hangup, "early": sc.early, "trailer": sc.trailer, "http10": sc.http10} {
		if b {
			v.Set(k, "1")
		}
	}
	return v.Encode()
}

func csParseScript(q url.Values) csScript {
	atoi := func(k string) int { n, _ := strconv.Atoi(q.Get(k)); return n }
	d, _ := time.ParseDuration(q.Get("delay"))
	return csScript{
		size: atoi("size"), frame: atoi("frame"), interim: atoi("interim"), delay: d,
		trunc: atoi("trunc"), badChunk: atoi("bad"), malformed: atoi("malformed"), closeWith: atoi("close"),
		hangup: q.Get("hangup") == "1", early: q.Get("early") == "1", trailer: q.Get("trailer") == "1",
		http10: q.Get("http10") == "1",
	}
}

func (sc *csScript) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d B", csFrameNames[sc.frame], sc.size)
	if sc.interim > 0 {
		fmt.Fprintf(&b, ", %d×1xx", sc.interim)
	}
	if sc.delay > 0 {
		fmt.Fprintf(&b, ", head after %v", sc.delay)
	}
	if sc.trunc >= 0 {
		fmt.Fprintf(&b, ", cut after %d B", sc.trunc)
	}
	if sc.badChunk >= 0 {
		fmt.Fprintf(&b, ", bad chunk after %d B", sc.badChunk)
	}
	if sc.malformed > 0 {
		fmt.Fprintf(&b, ", malformed head %d", sc.malformed)
	}
	if sc.hangup {
		b.WriteString(", hang-up")
	}
	if sc.early {
		b.WriteString(", answer before reading the body")
	}
	switch sc.closeWith {
	case 1:
		b.WriteString(", Connection: close")
	case 2:
		b.WriteString(", close after")
	}
	if sc.trailer {
		b.WriteString(", trailer")
	}
	if sc.http10 {
		b.WriteString(", HTTP/1.0")
	}
	return b.String()
}

type csRawServer struct {
	ln    net.Listener
	url   string
	seed  uint64
	count atomic.Uint64

	idleCloses atomic.Int64

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

func csStartRaw(t *testing.T, seed uint64) *csRawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &csRawServer{ln: ln, url: "http://" + ln.Addr().String(), seed: seed, conns: map[net.Conn]struct{}{}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				c.Close()
				continue
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			rng := rand.New(rand.NewPCG(s.seed, s.count.Add(1)))
			go func() {
				defer s.wg.Done()
				defer func() {
					s.mu.Lock()
					delete(s.conns, c)
					s.mu.Unlock()
					c.Close()
				}()
				s.serve(c, rng)
			}()
		}
	}()
	return s
}

// close stops the server and waits (bounded) for its connections' goroutines.
func (s *csRawServer) close() error {
	s.mu.Lock()
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.ln.Close()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("the raw server's goroutines did not end within 10 s")
	}
}

// serve answers the requests of one connection, each as its script says.
func (s *csRawServer) serve(c net.Conn, rng *rand.Rand) {
	br := bufio.NewReaderSize(c, 32<<10)
	for {
		c.SetDeadline(time.Now().Add(30 * time.Second))
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		sc := csParseScript(req.URL.Query())
		got := ""
		readBody := func() bool {
			h := sha256.New()
			n, err := io.Copy(h, req.Body)
			got = csGot(n, h.Sum(nil))
			return err == nil
		}
		if !sc.early && !readBody() {
			return
		}
		if sc.hangup {
			return
		}
		keep := s.respond(c, req, &sc, got, rng)
		if sc.early && !readBody() {
			return
		}
		if !keep || sc.closeWith != 0 {
			return
		}
		if rng.IntN(6) == 0 {
			// Close the connection once idle, without reading what comes meanwhile.
			s.idleCloses.Add(1)
			if d := rng.IntN(2000); d > 0 {
				time.Sleep(time.Duration(d) * time.Microsecond)
			}
			return
		}
	}
}

// respond writes the answer the script asks for and reports whether the connection may go on.
func (s *csRawServer) respond(c net.Conn, req *http.Request, sc *csScript, got string, rng *rand.Rand) bool {
	write := func(b []byte) bool { _, err := c.Write(b); return err == nil }
	for i := range sc.interim {
		if i%2 == 0 {
			if !write([]byte("HTTP/1.1 100 Continue\r\n\r\n")) {
				return false
			}
		} else if !write([]byte("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")) {
			return false
		}
	}
	if sc.delay > 0 {
		time.Sleep(sc.delay)
	}
	if sc.malformed > 0 {
		write([]byte(csMalformed[sc.malformed-1]))
		return false
	}
	idText := req.Header.Get("X-Id")
	id, _ := strconv.ParseUint(idText, 10, 64)
	isHead := req.Method == http.MethodHead
	var h bytes.Buffer
	switch {
	case sc.frame == frNoContent:
		h.WriteString("HTTP/1.1 204 No Content\r\n")
	case sc.frame == frEOF && sc.http10:
		h.WriteString("HTTP/1.0 200 OK\r\n")
	default:
		h.WriteString("HTTP/1.1 200 OK\r\n")
	}
	fmt.Fprintf(&h, "X-Id: %s\r\n", idText)
	if got != "" {
		fmt.Fprintf(&h, "X-Got: %s\r\n", got)
	}
	switch sc.frame {
	case frLen:
		fmt.Fprintf(&h, "Content-Length: %d\r\n", sc.size)
	case frChunked:
		h.WriteString("Transfer-Encoding: chunked\r\n")
		if sc.trailer {
			h.WriteString("Trailer: X-Sum\r\n")
		}
	}
	if sc.closeWith == 1 {
		h.WriteString("Connection: close\r\n")
	}
	h.WriteString("\r\n")
	if !write(h.Bytes()) {
		return false
	}
	if isHead || sc.frame == frNoContent {
		return true
	}
	body := csBytes(id, sc.size)
	pause := func() {
		if rng.IntN(10) == 0 {
			time.Sleep(time.Duration(rng.IntN(1000)) * time.Microsecond)
		}
	}
	sent := 0
	for sent < len(body) {
		n := min(len(body)-sent, 1+rng.IntN(64<<10))
		if sc.trunc >= 0 && sent+n > sc.trunc {
			n = sc.trunc - sent
		}
		if sc.badChunk >= 0 && sent+n > sc.badChunk {
			n = sc.badChunk - sent
		}
		piece := body[sent : sent+n]
		if sc.frame == frChunked && n > 0 {
			var cb bytes.Buffer
			fmt.Fprintf(&cb, "%x\r\n", n)
			cb.Write(piece)
			cb.WriteString("\r\n")
			piece = cb.Bytes()
			if sc.trunc >= 0 && sent+n == sc.trunc && n > 1 {
				piece = piece[:len(piece)-2-n/2] // cut in the middle of the chunk's data
			}
		}
		if len(piece) > 0 && !write(piece) {
			return false
		}
		sent += n
		if sc.trunc >= 0 && sent == sc.trunc {
			return false
		}
		if sc.badChunk >= 0 && sent == sc.badChunk {
			write([]byte("zz\r\nbad\r\n"))
			return false
		}
		pause()
	}
	if sc.trunc >= 0 || sc.badChunk >= 0 { // an empty body cut or bad at 0
		if sc.badChunk >= 0 {
			write([]byte("zz\r\nbad\r\n"))
		}
		return false
	}
	switch sc.frame {
	case frChunked:
		end := "0\r\n\r\n"
		if sc.trailer {
			end = "0\r\nX-Sum: " + csSum(body) + "\r\n\r\n"
		}
		return write([]byte(end))
	case frEOF:
		return false
	}
	return true
}

// ---------------------------------------------------------------------------------------------
// Operations.

const (
	csNet = iota
	csRaw
)

// Request bodies.
const (
	rbNone   = iota
	rbInline // http.NewRequest of a bytes.Reader: GetBody and Content-Length (sent with the head up to 16 KiB)
	rbPipe   // io.Pipe, chunked
	rbPipeCL // io.Pipe with a Content-Length
)

var csReqNames = [...]string{"no body", "in-memory body", "piped chunked body", "piped body with length"}

// What happens to the request's context.
const (
	cmPlain    = iota
	cmBefore   // cancelled before the call
	cmTimer    // cancelled by a timer, 0-30 ms after the call
	cmBody     // cancelled once part of the body was read
	cmDeadline // a deadline 1-60 ms away
)

var csCtxNames = [...]string{"plain", "cancelled-before", "cancelled-by-timer", "cancelled-in-body", "deadline"}

// What happens to the future of RoundTripAsync.
const (
	fmNone = iota
	fmAtOnce
	fmTimer
)

var csFutNames = [...]string{"", "Future.Cancel-at-once", "Future.Cancel-by-timer"}

// How the response body is read.
const (
	rmFull = iota
	rmPartial
	rmNone
)

var csReadNames = [...]string{"read-all", "read-part", "read-none"}

type csOp struct {
	id        uint64
	round, w  int
	n         int
	tr        *csTransport
	target    int
	method    string
	reqMode   int
	reqSize   int
	respSize  int
	sc        csScript // csRaw
	netMode   string   // csNet
	netEarly  bool
	netDelay  time.Duration
	netTrail  bool
	ctxMode   int
	cancelAt  time.Duration // cmTimer, fmTimer; cmDeadline's deadline
	async     bool
	futMode   int
	readMode  int
	partial   int // rmPartial: bytes to read before Close; cmBody: bytes read before the cancel
	readBuf   int
	prodSeed  uint64
	cancelled atomic.Bool // a cancel (of the context or the future) was called
	// bodyClosed is when the Transport last closed a request body of op (req.Body, or one GetBody
	// made for a retry), in Unix nanoseconds; 0 before. A body is closed once its last write reached
	// the kernel (or the exchange ended), which is when ResponseHeaderTimeout starts at the latest.
	bodyClosed atomic.Int64

	start time.Time
	stage atomic.Value // string: where the operation is, for hang reports
}

func (op *csOp) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "op %d (round %d, worker %d, #%d) on %s: ", op.id, op.round, op.w, op.n, op.tr.name)
	if op.target == csNet {
		fmt.Fprintf(&b, "%s /net (%s %d B", op.method, op.netMode, op.respSize)
		if op.netEarly {
			b.WriteString(", answer before reading the body")
		}
		if op.netDelay > 0 {
			fmt.Fprintf(&b, ", head after %v", op.netDelay)
		}
		if op.netTrail {
			b.WriteString(", trailer")
		}
		b.WriteString(")")
	} else {
		fmt.Fprintf(&b, "%s /raw (%s)", op.method, op.sc.String())
	}
	if op.reqMode != rbNone {
		fmt.Fprintf(&b, " with a %s of %d B", csReqNames[op.reqMode], op.reqSize)
	}
	if op.async {
		b.WriteString(", RoundTripAsync")
		if op.futMode != fmNone {
			fmt.Fprintf(&b, " + %s", csFutNames[op.futMode])
		}
	} else {
		b.WriteString(", RoundTrip")
	}
	fmt.Fprintf(&b, ", ctx %s", csCtxNames[op.ctxMode])
	if op.ctxMode == cmTimer || op.ctxMode == cmDeadline || op.futMode == fmTimer {
		fmt.Fprintf(&b, " (%v)", op.cancelAt)
	}
	if op.ctxMode == cmBody {
		fmt.Fprintf(&b, " (after %d B)", op.partial)
	}
	fmt.Fprintf(&b, ", %s", csReadNames[op.readMode])
	if op.readMode == rmPartial {
		fmt.Fprintf(&b, " (%d B)", op.partial)
	}
	fmt.Fprintf(&b, " in %d B reads", op.readBuf)
	return b.String()
}

// retryable reports whether the Transport sends op again when its reused connection ends before an
// answer (docs/client.md, Retries).
func (op *csOp) retryable() bool {
	return (op.method == http.MethodGet || op.method == http.MethodHead) && op.reqMode == rbNone
}

// wantBody is the body op's response must have.
func (op *csOp) wantBody() []byte {
	if op.method == http.MethodHead || op.target == csRaw && op.sc.frame == frNoContent {
		return nil
	}
	return csBytes(op.id, op.respSize)
}

// headDelay is how long the server waits, once it has read the request, before the final head.
func (op *csOp) headDelay() time.Duration {
	if op.target == csNet {
		return op.netDelay
	}
	return op.sc.delay
}

// uploadedBeforeHold reports whether ResponseHeaderTimeout surely began csHoldMin-csRHT (the timer's
// margin) before a response head held for held could be sent, so that the head must not arrive.
// The timer starts once the whole request is written (body included, as net/http's). A server that
// reads the body first holds the head after that. One that answers before reading the body starts
// its hold once it has read the request's head, which comes after op.start, while the upload may
// still be going on: the head may then legitimately arrive before the timer has even started (a body
// that takes longer than held-csRHT to write: a loaded machine slows the producer and the writes, or
// the kernel's buffers are full). The check then holds only when the Transport closed the body
// (after its last write reached the kernel) at most held-csHoldMin after op.start.
func (op *csOp) uploadedBeforeHold(held time.Duration) bool {
	if !op.early() {
		return true
	}
	at := op.bodyClosed.Load()
	return at != 0 && time.Duration(at-op.start.UnixNano()) <= held-csHoldMin
}

// early reports whether the server answers before reading the request body.
func (op *csOp) early() bool {
	if op.target == csNet {
		return op.netEarly
	}
	return op.sc.early
}

func (op *csOp) setStage(s string) { op.stage.Store(s) }

// newOp draws an operation.
func (s *csSoak) newOp(rd *csRound, w, n int, rng *rand.Rand) *csOp {
	op := &csOp{
		id:    uint64(s.engineIdx+1)<<56 | uint64(rd.n)<<36 | uint64(w)<<28 | uint64(n),
		round: rd.n, w: w, n: n,
		tr:       rd.trs[rng.IntN(len(rd.trs))],
		target:   rng.IntN(2),
		respSize: csSize(rng),
		prodSeed: rng.Uint64(),
		start:    time.Now(),
	}
	op.setStage("starting")
	switch r := rng.IntN(100); {
	case r < 40:
		op.method = http.MethodGet
	case r < 50:
		op.method = http.MethodHead
	case r < 80:
		op.method = http.MethodPost
	default:
		op.method = http.MethodPut
	}
	if op.method == http.MethodPost || op.method == http.MethodPut {
		op.reqMode = 1 + rng.IntN(3)
		op.reqSize = csSize(rng)
	}
	hasBody := op.reqMode != rbNone
	if op.target == csNet {
		op.netMode = [...]string{"len", "stream", "plain"}[rng.IntN(3)]
		op.netEarly = hasBody && rng.IntN(7) == 0
		switch r := rng.IntN(100); {
		case r < 5:
			op.netDelay = csHoldMin + time.Duration(rng.IntN(200))*time.Millisecond
		case r < 20:
			op.netDelay = time.Duration(1+rng.IntN(10_000)) * time.Microsecond
		}
		op.netTrail = op.netMode == "stream" && rng.IntN(5) == 0
	} else {
		sc := &op.sc
		sc.size = op.respSize
		sc.trunc, sc.badChunk = -1, -1
		switch r := rng.IntN(100); {
		case r < 45:
			sc.frame = frLen
		case r < 80:
			sc.frame = frChunked
		case r < 90:
			sc.frame = frEOF
		default:
			sc.frame = frNoContent
		}
		if rng.IntN(10) == 0 {
			sc.interim = 1 + rng.IntN(3)
		}
		switch r := rng.IntN(100); {
		case r < 8:
			sc.delay = csHoldMin + time.Duration(rng.IntN(200))*time.Millisecond
		case r < 28:
			sc.delay = time.Duration(1+rng.IntN(10_000)) * time.Microsecond
		}
		isHead := op.method == http.MethodHead
		switch r := rng.IntN(100); {
		case r < 8 && !isHead && sc.size > 0 && (sc.frame == frLen || sc.frame == frChunked):
			sc.trunc = rng.IntN(sc.size)
		case r < 12 && !isHead && sc.frame == frChunked:
			sc.badChunk = rng.IntN(sc.size + 1)
		case r < 16:
			sc.malformed = 1 + rng.IntN(len(csMalformed))
		case r < 19:
			sc.hangup = true
		}
		sc.early = hasBody && rng.IntN(7) == 0
		switch r := rng.IntN(100); {
		case r < 10:
			sc.closeWith = 1
		case r < 20:
			sc.closeWith = 2
		}
		sc.trailer = sc.frame == frChunked && rng.IntN(3) == 0
		sc.http10 = sc.frame == frEOF && rng.IntN(3) == 0
	}
	switch r := rng.IntN(100); {
	case r < 55:
		op.ctxMode = cmPlain
	case r < 60:
		op.ctxMode = cmBefore
	case r < 75:
		op.ctxMode = cmTimer
	case r < 85:
		op.ctxMode = cmBody
	default:
		op.ctxMode = cmDeadline
	}
	if rng.IntN(10) < 3 {
		op.async = true
		switch r := rng.IntN(10); {
		case r < 1:
			op.futMode = fmAtOnce
		case r < 4:
			op.futMode = fmTimer
		}
	}
	switch r := rng.IntN(100); {
	case r < 70:
		op.readMode = rmFull
	case r < 85:
		op.readMode = rmPartial
	default:
		op.readMode = rmNone
	}
	if op.ctxMode == cmBody && op.readMode != rmFull {
		op.ctxMode = cmTimer
	}
	switch {
	case op.ctxMode == cmDeadline:
		op.cancelAt = time.Duration(1000+rng.IntN(60_000)) * time.Microsecond
	case rng.IntN(5) == 0:
		op.cancelAt = time.Duration(rng.IntN(500)) * time.Microsecond
	default:
		op.cancelAt = time.Duration(rng.IntN(30_000)) * time.Microsecond
	}
	op.partial = rng.IntN(op.respSize + 1)
	op.readBuf = [...]int{1, 512, 4 << 10, 32 << 10, 256 << 10}[rng.IntN(5)]
	if op.readBuf == 1 && op.respSize > 4<<10 {
		op.readBuf = 7
	}
	return op
}

// ---------------------------------------------------------------------------------------------
// The soak.

type csTransport struct {
	tr      *http1.Transport
	name    string
	rht     bool
	closing atomic.Bool // set before Close is called
}

type csRound struct {
	n    int
	trs  []*csTransport
	stop atomic.Bool
}

type csSoak struct {
	t         *testing.T
	kind      eddy.EngineKind
	engineIdx int
	seed      uint64
	netURL    string
	rawURL    string

	mu       sync.Mutex
	stats    map[string]int
	failures int

	// The watchdog's list of what is in progress.
	wmu    sync.Mutex
	live   map[int64]csLive
	nextW  int64
	hung   atomic.Bool
	rounds atomic.Pointer[csRound]
}

type csLive struct {
	what  func() string
	start time.Time
}

func (s *csSoak) count(keys ...string) {
	s.mu.Lock()
	for _, k := range keys {
		s.stats[k]++
	}
	s.mu.Unlock()
}

// fail reports a failure of op (nil for none), in detail for the first csMaxReported.
func (s *csSoak) fail(op *csOp, format string, args ...any) {
	s.mu.Lock()
	s.failures++
	n := s.failures
	s.mu.Unlock()
	if n > csMaxReported {
		if n == csMaxReported+1 {
			s.t.Errorf("(further failures are counted, not shown)")
		}
		return
	}
	what := ""
	if op != nil {
		what = op.String() + ": "
	}
	s.t.Errorf("seed %d: %s%s", s.seed, what, fmt.Sprintf(format, args...))
}

// enter registers something in progress with the watchdog; leave ends it.
func (s *csSoak) enter(what func() string) int64 {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.nextW++
	s.live[s.nextW] = csLive{what, time.Now()}
	return s.nextW
}

func (s *csSoak) leave(tok int64) {
	s.wmu.Lock()
	delete(s.live, tok)
	s.wmu.Unlock()
}

// watchdog fails the test, with every goroutine's stack, when something has been in progress for
// csHang; it then closes the round's transports to end the hang, and if that does not end it either,
// panics (which ends the test binary with every stack again).
func (s *csSoak) watchdog(stop <-chan struct{}) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var rescueAt time.Time
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s.wmu.Lock()
		var oldest csLive
		var age time.Duration
		for _, l := range s.live {
			if d := time.Since(l.start); d > age {
				oldest, age = l, d
			}
		}
		s.wmu.Unlock()
		if age < csHang {
			continue
		}
		if !s.hung.Swap(true) {
			buf := make([]byte, 32<<20)
			buf = buf[:runtime.Stack(buf, true)]
			path := ""
			if f, err := os.CreateTemp("", "clientsoak-hang-*.txt"); err == nil {
				f.Write(buf)
				f.Close()
				path = f.Name()
			}
			s.fail(nil, "HANG (%s engine): %s in progress for %v; every goroutine's stack follows (also in %s)\n%s",
				s.kind, oldest.what(), age.Round(time.Millisecond), path, buf)
			rescueAt = time.Now()
			if rd := s.rounds.Load(); rd != nil {
				rd.stop.Store(true)
				for _, ct := range rd.trs {
					ct.closing.Store(true)
					go ct.tr.Close()
				}
			}
			continue
		}
		if time.Since(rescueAt) > 15*time.Second {
			panic(fmt.Sprintf("TestClientSoak (seed %d): %s still in progress %v after Transport.Close: giving up", s.seed, oldest.what(), age))
		}
	}
}

func TestClientSoak(t *testing.T) {
	seed := *clientSoakSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -args -http1.clientseed=%d), %v per engine", seed, seed, *clientSoakFor)
	for i, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			s := &csSoak{t: t, kind: kind, engineIdx: i, seed: seed, stats: map[string]int{}, live: map[int64]csLive{}}
			s.run()
		})
	}
}

// csFDs counts the process's open descriptors (false where it cannot).
func csFDs() (int, bool) {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, false
	}
	return len(ents), true
}

// csLogCounter counts the lines a server logs.
type csLogCounter struct{ n atomic.Int64 }

func (c *csLogCounter) Write(p []byte) (int, error) { c.n.Add(1); return len(p), nil }

func (s *csSoak) run() {
	t := s.t
	// TestMain's goleak checks only a run that passed: the soak checks its own goroutines too, so
	// that a leak is reported alongside the bugs it finds.
	goroutinesBefore := goleak.IgnoreCurrent()
	fdBefore, fdOK := csFDs()
	srvLog := &csLogCounter{}
	srv := &http1.Server{
		Addr:     "127.0.0.1:0",
		Handler:  http.HandlerFunc(csNetHandler),
		Engine:   s.kind,
		Loops:    2,
		ErrorLog: log.New(srvLog, "", 0),
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	s.netURL = "http://" + srv.Addrs()[0].String() + "/net"
	raw := csStartRaw(t, s.seed^uint64(s.engineIdx))
	s.rawURL = raw.url + "/raw"

	wdStop := make(chan struct{})
	wdDone := make(chan struct{})
	go func() { defer close(wdDone); s.watchdog(wdStop) }()

	rng := rand.New(rand.NewPCG(s.seed, uint64(s.engineIdx)))
	began := time.Now()
	end := began.Add(*clientSoakFor)
	rounds, abrupt := 0, 0
	for rounds == 0 || time.Now().Before(end) && !s.hung.Load() {
		d := time.Duration(100+rng.IntN(500)) * time.Millisecond
		d = min(d, max(time.Until(end), 50*time.Millisecond))
		if s.round(rounds, d, rng) {
			abrupt++
		}
		rounds++
	}
	elapsed := time.Since(began)

	close(wdStop)
	<-wdDone
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("http1.Server.Shutdown: %v", err)
		srv.Close()
	}
	cancel()
	if err := raw.close(); err != nil {
		t.Error(err)
	}
	if err := goleak.Find(goroutinesBefore); err != nil {
		t.Errorf("goroutines left after the soak (every Transport closed, servers stopped): %v", err)
	}
	if fdOK {
		fdAfter := 0
		deadline := time.Now().Add(5 * time.Second)
		for {
			fdAfter, _ = csFDs()
			if fdAfter <= fdBefore || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if fdAfter > fdBefore {
			t.Errorf("descriptors: %d before the soak, %d after it", fdBefore, fdAfter)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range s.stats {
			if !yield(k) {
				return
			}
		}
	})
	var b strings.Builder
	total := 0
	for _, k := range keys {
		if strings.HasPrefix(k, "op: ") {
			total += s.stats[k]
		}
	}
	fmt.Fprintf(&b, "%s: %d operations in %v, %d rounds (%d ended by Transport.Close in flight); raw server: %d connections, %d closed once idle; http1.Server logged %d lines; seed %d\n",
		s.kind, total, elapsed.Round(time.Millisecond), rounds, abrupt, raw.count.Load(), raw.idleCloses.Load(), srvLog.n.Load(), s.seed)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-60s %7d\n", k, s.stats[k])
	}
	t.Log(b.String())
}

// round runs the workers for d on fresh transports, then closes them: after the operations end, or,
// at random, while they are in flight (which round reports).
func (s *csSoak) round(n int, d time.Duration, rng *rand.Rand) (abrupt bool) {
	rd := &csRound{n: n}
	rd.trs = append(rd.trs, &csTransport{name: "plain", tr: &http1.Transport{Engine: s.kind, Loops: 2}})
	maxConns := 1 + rng.IntN(3)
	idle := time.Duration(2+rng.IntN(30)) * time.Millisecond
	rd.trs = append(rd.trs, &csTransport{
		name: fmt.Sprintf("MaxConnsPerHost=%d,IdleConnTimeout=%v", maxConns, idle),
		tr:   &http1.Transport{Engine: s.kind, Loops: 1, MaxConnsPerHost: maxConns, MaxIdleConnsPerHost: 1, IdleConnTimeout: idle},
	})
	rd.trs = append(rd.trs, &csTransport{
		name: fmt.Sprintf("ResponseHeaderTimeout=%v,MaxConnsPerHost=4", csRHT), rht: true,
		tr: &http1.Transport{Engine: s.kind, Loops: 2, ResponseHeaderTimeout: csRHT, MaxConnsPerHost: 4},
	})
	if rng.IntN(3) == 0 {
		rd.trs = append(rd.trs, &csTransport{name: "DisableKeepAlives", tr: &http1.Transport{Engine: s.kind, Loops: 1, DisableKeepAlives: true}})
	}
	s.rounds.Store(rd)

	var wg sync.WaitGroup
	for w := range csWorkers {
		wrng := rand.New(rand.NewPCG(rng.Uint64(), uint64(w)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !rd.stop.Load(); i++ {
				s.do(s.newOp(rd, w, i, wrng))
			}
		}()
	}
	chaosRng := rand.New(rand.NewPCG(rng.Uint64(), 99))
	wg.Add(1)
	go func() { // the chaos goroutine
		defer wg.Done()
		for !rd.stop.Load() {
			time.Sleep(time.Duration(chaosRng.IntN(15_000)) * time.Microsecond)
			rd.trs[chaosRng.IntN(len(rd.trs))].tr.CloseIdleConnections()
			s.count("chaos: CloseIdleConnections")
		}
	}()

	time.Sleep(d)
	abrupt = rng.IntN(3) == 0
	closeAll := func() {
		var cw sync.WaitGroup
		for _, ct := range rd.trs {
			cw.Add(1)
			go func() {
				defer cw.Done()
				tok := s.enter(func() string { return fmt.Sprintf("Transport.Close of %s (round %d)", ct.name, n) })
				defer s.leave(tok)
				ct.closing.Store(true)
				if err := ct.tr.Close(); err != nil {
					s.fail(nil, "Transport.Close of %s: %v", ct.name, err)
				}
			}()
		}
		cw.Wait()
	}
	rd.stop.Store(true)
	if abrupt {
		closeAll()
		wg.Wait()
	} else {
		wg.Wait()
		closeAll()
	}
	// After Close, requests fail at once with ErrTransportClosed.
	ct := rd.trs[rng.IntN(len(rd.trs))]
	req, _ := http.NewRequest(http.MethodGet, s.netURL+"?size=1&mode=len", nil)
	req.Header.Set("X-Id", "0")
	if resp, err := ct.tr.RoundTrip(req); !errors.Is(err, http1.ErrTransportClosed) {
		if resp != nil {
			resp.Body.Close()
		}
		s.fail(nil, "RoundTrip on %s after Close: %v, want ErrTransportClosed", ct.name, err)
	}
	return abrupt
}

// csClass names the kind of an error.
func csClass(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, http1.ErrTransportClosed):
		return "transport-closed"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case strings.Contains(err.Error(), "ResponseHeaderTimeout"):
		// Before DeadlineExceeded: its error is that too for errors.Is, as net/http's (session 31).
		return "header-timeout"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	case errors.Is(err, http1.ErrMalformedResponse):
		return "malformed"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected-eof"
	case errors.Is(err, io.EOF): // a connection that ended before any byte of the response, as net/http says
		return "eof"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, http.ErrBodyReadAfterClose):
		return "read-after-close"
	}
	return "other"
}

// csReqBody is a request body that records its Close.
type csReqBody struct {
	r       io.Reader
	closed  atomic.Bool
	closes  atomic.Int32
	onClose func()
	at      *atomic.Int64 // csOp.bodyClosed
}

func (b *csReqBody) Read(p []byte) (int, error) { return b.r.Read(p) }
func (b *csReqBody) Close() error {
	b.closes.Add(1)
	b.closed.Store(true)
	if b.at != nil {
		b.at.Store(time.Now().UnixNano())
	}
	if b.onClose != nil {
		b.onClose()
	}
	return nil
}

// do runs op and checks its outcome.
func (s *csSoak) do(op *csOp) {
	tok := s.enter(func() string { return op.String() + ", stage: " + op.stage.Load().(string) })
	defer s.leave(tok)
	s.count("op: "+[...]string{"net", "raw"}[op.target]+" "+op.method,
		"req: "+csReqNames[op.reqMode], "ctx: "+csCtxNames[op.ctxMode], "read: "+csReadNames[op.readMode],
		"transport: "+strings.SplitN(op.tr.name, "=", 2)[0])
	if op.async {
		s.count("async: RoundTripAsync " + csFutNames[op.futMode])
	}
	if op.target == csRaw {
		s.count("raw: " + csFrameNames[op.sc.frame])
		sc := &op.sc
		for name, on := range map[string]bool{"1xx": sc.interim > 0, "held head": sc.delay >= csHoldMin, "truncated": sc.trunc >= 0,
			"bad chunk": sc.badChunk >= 0, "malformed head": sc.malformed > 0, "hang-up": sc.hangup, "early answer": sc.early,
			"Connection: close": sc.closeWith == 1, "close after": sc.closeWith == 2} {
			if on {
				s.count("raw: " + name)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cancelNow := func() {
		op.cancelled.Store(true)
		cancel()
	}
	switch op.ctxMode {
	case cmBefore:
		cancelNow()
	case cmDeadline:
		var c2 context.CancelFunc
		ctx, c2 = context.WithTimeout(ctx, op.cancelAt)
		defer c2()
	}

	// The request.
	var u string
	if op.target == csNet {
		v := url.Values{}
		v.Set("size", strconv.Itoa(op.respSize))
		v.Set("mode", op.netMode)
		v.Set("seed", strconv.FormatUint(op.prodSeed, 10))
		if op.netEarly {
			v.Set("early", "1")
		}
		if op.netDelay > 0 {
			v.Set("delay", op.netDelay.String())
		}
		if op.netTrail {
			v.Set("trailer", "1")
		}
		u = s.netURL + "?" + v.Encode()
	} else {
		u = s.rawURL + "?" + op.sc.query()
	}
	var reqBody []byte
	var body *csReqBody
	prodDone := make(chan struct{})
	var req *http.Request
	var err error
	switch op.reqMode {
	case rbNone:
		close(prodDone)
		req, err = http.NewRequestWithContext(ctx, op.method, u, nil)
	case rbInline:
		close(prodDone)
		reqBody = csBytes(csReqSeed(op.id), op.reqSize)
		req, err = http.NewRequestWithContext(ctx, op.method, u, bytes.NewReader(reqBody))
		if err == nil && req.Body != http.NoBody {
			body = &csReqBody{r: req.Body, at: &op.bodyClosed}
			req.Body = body
			if getBody := req.GetBody; getBody != nil {
				req.GetBody = func() (io.ReadCloser, error) { // a retry's body: its close is timed too
					rc, err := getBody()
					if err != nil {
						return nil, err
					}
					return &csReqBody{r: rc, onClose: func() { rc.Close() }, at: &op.bodyClosed}, nil
				}
			}
		}
	default:
		reqBody = csBytes(csReqSeed(op.id), op.reqSize)
		pr, pw := io.Pipe()
		body = &csReqBody{r: pr, onClose: func() { pr.Close() }, at: &op.bodyClosed}
		prng := rand.New(rand.NewPCG(op.prodSeed, op.id))
		go func() { // the producer
			defer close(prodDone)
			rest := reqBody
			for len(rest) > 0 {
				n := min(len(rest), 1+prng.IntN(48<<10))
				if _, err := pw.Write(rest[:n]); err != nil {
					return
				}
				rest = rest[n:]
				if prng.IntN(20) == 0 {
					time.Sleep(time.Duration(prng.IntN(1000)) * time.Microsecond)
				}
			}
			pw.Close()
		}()
		req, err = http.NewRequestWithContext(ctx, op.method, u, body)
		if err == nil && op.reqMode == rbPipeCL {
			req.ContentLength = int64(op.reqSize)
		}
	}
	if err != nil {
		s.fail(op, "NewRequest: %v", err)
		return
	}
	idText := strconv.FormatUint(op.id, 10)
	req.Header.Set("X-Id", idText)

	var timers []*time.Timer
	defer func() {
		for _, tm := range timers {
			tm.Stop()
		}
	}()
	if op.ctxMode == cmTimer {
		timers = append(timers, time.AfterFunc(op.cancelAt, cancelNow))
	}

	// The exchange.
	var resp *http.Response
	op.setStage("waiting for the response head")
	if op.async {
		f := op.tr.tr.RoundTripAsync(req)
		switch op.futMode {
		case fmAtOnce:
			op.cancelled.Store(true)
			f.Cancel()
		case fmTimer:
			timers = append(timers, time.AfterFunc(op.cancelAt, func() {
				op.cancelled.Store(true)
				f.Cancel()
			}))
		}
		<-f.Done()
		resp, err = f.Result()
	} else {
		resp, err = op.tr.tr.RoundTrip(req)
	}
	if s.checkHead(op, req, resp, err) {
		s.readBody(op, resp, cancelNow)
	}

	// The request body must be closed, and the producer end.
	if body != nil {
		op.setStage("waiting for the request body to be closed")
		deadline := time.Now().Add(10 * time.Second)
		for !body.closed.Load() && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if !body.closed.Load() {
			s.fail(op, "the request body was not closed within 10 s of the end of the exchange")
			body.Close()
		}
		if body.closes.Load() > 1 {
			// Not a failure (io.Closer leaves a second Close undefined, most bodies shrug it off):
			// counted for the report.
			s.count("note: request body closed more than once (" + csReqNames[op.reqMode] + ")")
		}
	}
	op.setStage("waiting for the request body's producer")
	select {
	case <-prodDone:
	case <-time.After(10 * time.Second):
		s.fail(op, "the request body's producer is still blocked 10 s after the exchange")
	}
}

// allowed reports whether an error of class cls is one op may get at this point (inBody: reading the
// response body, off bytes read).
func (s *csSoak) allowed(op *csOp, cls string, inBody bool, off int) bool {
	switch cls {
	case "transport-closed":
		return op.tr.closing.Load()
	case "canceled":
		return op.cancelled.Load()
	case "deadline":
		return op.ctxMode == cmDeadline
	}
	if inBody {
		switch cls {
		case "unexpected-eof":
			if op.target != csRaw || op.sc.trunc < 0 {
				return false
			}
			if op.sc.frame == frLen {
				return off == op.sc.trunc
			}
			return off <= op.sc.trunc
		case "malformed":
			return op.target == csRaw && op.sc.badChunk >= 0 && off <= op.sc.badChunk
		case "reset":
			// A server that answered before reading the request body may reset the connection.
			return op.early()
		}
		return false
	}
	switch cls {
	case "header-timeout":
		return op.tr.rht
	case "malformed":
		return op.target == csRaw && op.sc.malformed > 0
	case "unexpected-eof", "eof", "reset":
		if op.early() {
			return true
		}
		if op.target == csRaw && op.sc.hangup {
			return true
		}
		// A server closed a kept-alive connection as the request went out (the keep-alive race),
		// which the Transport retries only for idempotent requests without a streamed body. The
		// raw server does it at random; the http1.Server does it after an answer written before a
		// request body it then drains past 256 KiB (a chunked one: it could not say Connection:
		// close in time), which the net ops with "answer before reading the body" cause.
		return !op.retryable()
	}
	return false
}

// checkHead checks the result of RoundTrip and reports whether there is a body to read.
func (s *csSoak) checkHead(op *csOp, req *http.Request, resp *http.Response, err error) bool {
	if err != nil {
		if resp != nil {
			s.fail(op, "RoundTrip returned a response and an error (%v)", err)
			resp.Body.Close()
		}
		cls := csClass(err)
		s.count("outcome: head " + cls)
		after := time.Since(op.start).Round(time.Microsecond)
		if !s.allowed(op, cls, false, 0) {
			switch {
			case (cls == "unexpected-eof" || cls == "eof" || cls == "reset") && op.retryable():
				s.count("outcome: BUG retryable request failed with a peer-ended error")
				s.fail(op, "idempotent request without body failed with a peer-ended error after %v (the Transport should have retried it on a fresh connection): %v", after, err)
			case cls == "canceled":
				s.count("outcome: BUG context.Canceled for a request nobody cancelled")
				s.fail(op, "context.Canceled after %v for a request nobody cancelled (transport closing: %v): %v (%T)", after, op.tr.closing.Load(), err, err)
			default:
				s.fail(op, "unexpected error after %v (class %s, transport closing: %v): %v (%T)", after, cls, op.tr.closing.Load(), err, err)
			}
		} else if cls == "header-timeout" && time.Since(op.start) < csRHT {
			// The timer starts once the head is written, after the operation began.
			s.count("outcome: BUG ResponseHeaderTimeout error before the timeout")
			s.fail(op, "ResponseHeaderTimeout (%v) error only %v after the request began: %v", csRHT, after, err)
		}
		// Transport.Close must fail what it interrupts with ErrTransportClosed.
		if op.tr.closing.Load() && cls == "other" {
			s.count("outcome: BUG non-ErrTransportClosed error after Close")
		}
		return false
	}
	if resp == nil {
		s.fail(op, "RoundTrip returned neither a response nor an error")
		return false
	}
	if op.ctxMode == cmBefore {
		// The context was cancelled before RoundTrip was called; net/http fails such a request at
		// once. The Transport watches the context from a goroutine of context.AfterFunc, so a fast
		// answer can beat it.
		s.count("outcome: BUG response for a request whose context was cancelled before the call")
		s.fail(op, "RoundTrip returned a response although the request's context was cancelled before the call")
	}
	ok := true
	check := func(cond bool, format string, args ...any) {
		if !cond {
			ok = false
			s.fail(op, format, args...)
		}
	}
	check(resp.Header.Get("X-Id") == strconv.FormatUint(op.id, 10), "response for another request: X-Id %q (status %q)", resp.Header.Get("X-Id"), resp.Status)
	check(resp.Request == req, "Response.Request is not the request")
	wantStatus := 200
	if op.target == csRaw && op.sc.frame == frNoContent {
		wantStatus = 204
	}
	check(resp.StatusCode == wantStatus, "status %q, want %d", resp.Status, wantStatus)
	if !op.early() {
		var want string
		if op.reqMode == rbNone {
			want = csGotOf(nil)
		} else {
			want = csGotOf(csBytes(csReqSeed(op.id), op.reqSize))
		}
		check(resp.Header.Get("X-Got") == want, "the server received the request body %q, want %q", resp.Header.Get("X-Got"), want)
	}
	if op.target == csRaw && op.method != http.MethodHead {
		switch {
		case op.sc.frame == frLen:
			check(resp.ContentLength == int64(op.sc.size), "ContentLength %d, want %d", resp.ContentLength, op.sc.size)
		case op.sc.frame == frEOF:
			check(resp.Close, "an EOF-delimited response without Response.Close")
		}
	}
	if op.target == csRaw && op.sc.closeWith == 1 {
		check(resp.Close, "Connection: close without Response.Close")
	}
	if held := op.headDelay(); op.tr.rht && held >= csHoldMin && op.uploadedBeforeHold(held) {
		check(false, "a response head held %v arrived although ResponseHeaderTimeout is %v", held, csRHT)
	}
	if resp.Body == nil {
		s.fail(op, "nil Response.Body")
		return false
	}
	if !ok {
		resp.Body.Close()
		s.count("outcome: head wrong")
		return false
	}
	s.count("outcome: head ok")
	return true
}

// readBody reads the response body as op says and checks it, then closes it.
func (s *csSoak) readBody(op *csOp, resp *http.Response, cancelNow func()) {
	op.setStage("reading the response body")
	want := op.wantBody()
	buf := make([]byte, op.readBuf)
	off := 0
	var rerr error
	eof := false
	limit := len(want) + 1
	switch op.readMode {
	case rmPartial:
		limit = op.partial
	case rmNone:
		limit = 0
	}
	for off < limit {
		if op.ctxMode == cmBody && !op.cancelled.Load() && off >= op.partial {
			cancelNow()
		}
		n, err := resp.Body.Read(buf)
		if n > len(buf) || n < 0 {
			s.fail(op, "Read returned %d for a buffer of %d", n, len(buf))
			break
		}
		if off+n > len(want) || !bytes.Equal(buf[:n], want[off:off+n]) {
			s.fail(op, "the body differs from the expected one in bytes %d-%d (of %d expected)", off, off+n, len(want))
			s.count("outcome: body WRONG BYTES")
			resp.Body.Close()
			return
		}
		off += n
		if err == io.EOF {
			eof = true
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	switch {
	case eof && off != len(want):
		s.fail(op, "io.EOF after %d bytes of %d", off, len(want))
		s.count("outcome: body EOF EARLY")
	case eof:
		s.count("outcome: body complete")
		if op.target == csRaw && op.sc.trunc >= 0 {
			s.fail(op, "a truncated body ended in io.EOF")
		}
		if op.target == csRaw && op.sc.badChunk >= 0 {
			s.fail(op, "a body with a bad chunk ended in io.EOF")
		}
		if op.method != http.MethodHead && (op.target == csRaw && op.sc.trailer && op.sc.frame == frChunked || op.target == csNet && op.netTrail) {
			if got, w := resp.Trailer.Get("X-Sum"), csSum(want); got != w {
				s.fail(op, "trailer X-Sum %q, want %q (Trailer %v)", got, w, resp.Trailer)
			}
		}
	case rerr != nil:
		cls := csClass(rerr)
		s.count("outcome: body " + cls)
		if !s.allowed(op, cls, true, off) {
			s.count("outcome: BUG unexpected body error")
			s.fail(op, "unexpected error reading the body after %d of %d bytes, %v into the operation (class %s, transport closing: %v): %v (%T)",
				off, len(want), time.Since(op.start).Round(time.Microsecond), cls, op.tr.closing.Load(), rerr, rerr)
		}
	default:
		s.count("outcome: body " + csReadNames[op.readMode] + " then Close")
	}
	op.setStage("closing the response body")
	if err := resp.Body.Close(); err != nil {
		s.fail(op, "Body.Close: %v", err)
	}
	if resp.Body != http.NoBody {
		if n, err := resp.Body.Read(buf[:1]); n != 0 || !errors.Is(err, http.ErrBodyReadAfterClose) {
			s.fail(op, "Read after Close: %d, %v", n, err)
		}
	}
}
