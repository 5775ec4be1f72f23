package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// soakFor is how long TestSoak runs on each engine: a short smoke run by default, minutes for a real
// soak (go test -run Soak ./http1/ -http1.soak=5m: a test binary flag goes after the package).
var soakFor = flag.Duration("http1.soak", 0, "how long TestSoak runs on each engine (0: a short run)")

// The soak serves, on one engine, a net/http server and a native server at once, and has a few dozen
// clients send them, at random, the traffic real clients send: net/http's client with keep-alive
// (GET of every size, POST and PUT with Content-Length and chunked bodies, 100-continue, HEAD,
// trailers), raw pipelines split at random points, and clients that misbehave (cut requests and
// responses, resets, half-closes, slow readers, bodies over the limit, garbage). Every answer the
// clients can predict is checked byte for byte, and carries the id of its request; at the end the
// servers must shut down in time, with no goroutine (TestMain's goleak) and no descriptor left.
//
// Paths (the same on both servers; the request's X-Soak-Id comes back in the response's):
//
//	/gen/<size>/<seed>      soakBytes(seed, size); net/http writes it in pieces, some with Content-Length
//	/stream/<size>/<seed>   the same, net/http flushing after every piece
//	/trailer/<size>/<seed>  the same, net/http adding the trailer X-Soak-Sum (its SHA-256)
//	/slow/<size>/<seed>     the same, net/http sleeping up to 3 ms first
//	/echo                   the request body
//	/hash                   "len=<n> sha=<hex> trailers=<X-Soak-* trailers>"; a body over the limit: 413
//	/noread                 "noread", the body left unread
//	/partial/<n>            "partial <sha of the first n bytes>", the rest unread
//	/panic/early            panics: 500
//	/panic/late             net/http: flushes 8 KiB, then panics (the connection is cut); native: 500
//	/abort                  net/http: flushes, then panics with http.ErrAbortHandler; native: panics
//	                        with it, which closes the connection without an answer (not planned)
//	/hijack                 "hijack true", written raw on the hijacked connection, which then closes
//	                        (the native server answers it as an ordinary response)

const (
	soakMaxBody   = 3 << 20
	soakMaxHeader = 64 << 10
	soakPanicMsg  = "soak: deliberate panic"
)

// soakBytes returns n bytes determined by seed.
func soakBytes(seed uint64, n int) []byte {
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

func soakHash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:8])
}

// soakHashBody is what /hash answers for body and trailers (name, value pairs).
func soakHashBody(body []byte, trailers []string) string {
	var kv []string
	for i := 0; i+1 < len(trailers); i += 2 {
		k := textproto.CanonicalMIMEHeaderKey(trailers[i])
		if strings.HasPrefix(k, "X-Soak-") {
			kv = append(kv, k+"="+trailers[i+1])
		}
	}
	slices.Sort(kv)
	return fmt.Sprintf("len=%d sha=%s trailers=%s", len(body), soakHash(body), strings.Join(kv, ","))
}

// soakPath parses /<kind>/<size>/<seed>.
func soakPath(path string) (kind string, size int, seed uint64) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	kind = parts[0]
	if len(parts) >= 2 {
		size, _ = strconv.Atoi(parts[1])
	}
	if len(parts) >= 3 {
		seed, _ = strconv.ParseUint(parts[2], 10, 64)
	}
	return
}

// soakNetHTTP is the net/http server's handler.
func soakNetHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Soak-Id", r.Header.Get("X-Soak-Id"))
	kind, size, seed := soakPath(r.URL.Path)
	switch kind {
	case "gen", "stream", "trailer", "slow":
		if kind == "slow" {
			time.Sleep(time.Duration(seed%3000) * time.Microsecond)
		}
		body := soakBytes(seed, size)
		if kind == "trailer" {
			w.Header().Set("Trailer", "X-Soak-Sum")
		} else if seed&1 == 1 {
			w.Header().Set("Content-Length", strconv.Itoa(size))
		}
		piece := 1 + int(seed>>8)%(64<<10)
		if kind == "stream" {
			// Each flush waits for the previous one to reach the kernel: a round trip between the
			// handler and the loop, which takes milliseconds under the race detector on a busy
			// machine. A few hundred of them keep a response within the clients' timeout.
			piece = max(piece, size/256)
		}
		for len(body) > 0 {
			k := min(piece, len(body))
			if _, err := w.Write(body[:k]); err != nil {
				return
			}
			body = body[k:]
			if kind == "stream" {
				if err := http.NewResponseController(w).Flush(); err != nil {
					return
				}
			}
		}
		if kind == "trailer" {
			w.Header().Set("X-Soak-Sum", soakHash(soakBytes(seed, size)))
		}
	case "echo":
		io.Copy(w, r.Body)
	case "hash":
		b, err := io.ReadAll(r.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if !errors.As(err, &mbe) {
				http.Error(w, err.Error(), http.StatusBadRequest)
			}
			return // over the limit: the server answers 413
		}
		var tr []string
		for k, vv := range r.Trailer {
			for _, v := range vv {
				tr = append(tr, k, v)
			}
		}
		io.WriteString(w, soakHashBody(b, tr))
	case "noread":
		io.WriteString(w, "noread")
	case "partial":
		n, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/partial/"))
		b := make([]byte, n)
		k, _ := io.ReadFull(r.Body, b)
		io.WriteString(w, "partial "+soakHash(b[:k]))
	case "panic":
		if strings.HasSuffix(r.URL.Path, "/late") {
			w.Write(make([]byte, 8<<10))
			w.(http.Flusher).Flush()
		}
		panic(soakPanicMsg)
	case "abort":
		w.Write(make([]byte, 8<<10))
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	case "hijack":
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			fmt.Fprintf(w, "hijack: %v", err)
			return
		}
		defer conn.Close()
		fmt.Fprintf(brw, "HTTP/1.1 200 OK\r\nX-Soak-Id: %s\r\nContent-Length: 11\r\nConnection: close\r\n\r\nhijack true", r.Header.Get("X-Soak-Id"))
		brw.Flush()
	default:
		http.NotFound(w, r)
	}
}

// soakNative is the native server's handler.
func soakNative(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	w.AddHeaderBytes("X-Soak-Id", r.Get("X-Soak-Id"))
	path := string(r.Path())
	kind, size, seed := soakPath(path)
	switch kind {
	case "gen", "stream", "trailer", "slow":
		w.Write(soakBytes(seed, size))
	case "echo":
		w.Write(r.Body)
	case "hash":
		var tr []string
		for _, f := range r.Trailers {
			tr = append(tr, string(f.Name), string(f.Value))
		}
		w.WriteString(soakHashBody(r.Body, tr))
	case "noread":
		w.WriteString("noread")
	case "partial":
		n, _ := strconv.Atoi(strings.TrimPrefix(path, "/partial/"))
		w.WriteString("partial " + soakHash(r.Body[:min(n, len(r.Body))]))
	case "panic":
		panic(soakPanicMsg)
	case "abort":
		panic(http.ErrAbortHandler)
	case "hijack":
		w.WriteString("hijack true")
	default:
		w.SetStatus(http.StatusNotFound)
	}
}

// soakLog collects what the servers log; every entry but the deliberate panics is reported.
type soakLog struct {
	mu         sync.Mutex
	panics     int
	unexpected []string
}

func (l *soakLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if bytes.Contains(p, []byte(soakPanicMsg)) {
		l.panics++
	} else if len(l.unexpected) < 20 {
		l.unexpected = append(l.unexpected, string(p))
	}
	return len(p), nil
}

// soakTarget is one of the two servers of an engine.
type soakTarget struct {
	native bool
	addr   string
	client *http.Client
}

func (t *soakTarget) String() string {
	if t.native {
		return "native"
	}
	return "net/http"
}

// soakStats counts what the clients did.
type soakStats struct {
	sessions, requests, verified, bytes atomic.Int64
	kinds                               sync.Map // session kind -> *atomic.Int64
}

func (s *soakStats) count(kind string) {
	v, _ := s.kinds.LoadOrStore(kind, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// soakRun is one client's state.
type soakRun struct {
	rng   *rand.Rand
	ids   *atomic.Uint64
	stats *soakStats
	began time.Time
	trace []string // what the session did, for a session that takes long
}

// note records a step of the session.
func (r *soakRun) note(format string, args ...any) {
	r.trace = append(r.trace, fmt.Sprintf("%8.3fs ", time.Since(r.began).Seconds())+fmt.Sprintf(format, args...))
}

func (r *soakRun) id() uint64 { return r.ids.Add(1) }

// size returns a body size: mostly small, sometimes up to max.
func (r *soakRun) size(max int) int {
	switch r.rng.IntN(10) {
	case 0:
		return 0
	case 1, 2:
		return r.rng.IntN(max + 1)
	case 3, 4:
		return r.rng.IntN(min(max, 256<<10) + 1)
	default:
		return r.rng.IntN(min(max, 8<<10) + 1)
	}
}

// ---- the checks shared by every client ----

// soakExpect is what a client knows a response to one of its requests must be.
type soakExpect struct {
	method  string
	id      uint64
	status  int
	body    []byte // the whole body; nil: not checked
	trailer string // the X-Soak-Sum trailer, if not empty
	cut     bool   // the response may be cut off (a late panic): only its prefix is checked
}

// check checks a response and its body, read with readErr.
func (e *soakExpect) check(resp *http.Response, body []byte, readErr error) error {
	if got := resp.Header.Get("X-Soak-Id"); got != strconv.FormatUint(e.id, 10) && resp.StatusCode < 400 {
		return fmt.Errorf("%s #%d: the response is for request %q (status %d, %d body bytes): %w", e.method, e.id, got, resp.StatusCode, len(body), errSoakWrong)
	}
	if resp.StatusCode != e.status {
		return fmt.Errorf("%s #%d: status %d, want %d (body %.200q)", e.method, e.id, resp.StatusCode, e.status, body)
	}
	if e.cut {
		if readErr == nil && resp.ContentLength >= 0 && int64(len(body)) == resp.ContentLength {
			return fmt.Errorf("%s #%d: a response cut by a panic came whole (%d bytes)", e.method, e.id, len(body))
		}
		return nil
	}
	if readErr != nil {
		return fmt.Errorf("%s #%d: reading the body after %d bytes: %w", e.method, e.id, len(body), readErr)
	}
	if e.method == http.MethodHead {
		if len(body) != 0 {
			return fmt.Errorf("HEAD #%d: %d body bytes", e.id, len(body))
		}
		return nil
	}
	if e.body != nil && !bytes.Equal(body, e.body) {
		i := 0
		for i < len(body) && i < len(e.body) && body[i] == e.body[i] {
			i++
		}
		return fmt.Errorf("%s #%d: body of %d bytes differs from the %d expected at byte %d (got %.60q): %w", e.method, e.id, len(body), len(e.body), i, body[i:min(len(body), i+60)], errSoakWrong)
	}
	if e.trailer != "" {
		if got := resp.Trailer.Get("X-Soak-Sum"); got != e.trailer {
			return fmt.Errorf("%s #%d: trailer X-Soak-Sum %q, want %q", e.method, e.id, got, e.trailer)
		}
	}
	return nil
}

// soakPlan picks a request to send: path, body, what the answer is, and whether the connection
// ends after it.
type soakPlan struct {
	method   string
	path     string
	body     []byte
	chunked  bool
	trailers []string // name, value pairs for a chunked body
	expect   bool     // Expect: 100-continue
	want     soakExpect
	closes   bool // the server closes the connection after the answer
}

func (r *soakRun) plan(native bool, maxGet int) soakPlan {
	id := r.id()
	seed := r.rng.Uint64() >> 1
	p := soakPlan{method: http.MethodGet, want: soakExpect{id: id, status: 200}}
	switch k := r.rng.IntN(100); {
	case k < 35:
		size := r.size(maxGet)
		kinds := []string{"gen", "gen", "stream", "trailer", "slow"}
		kind := kinds[r.rng.IntN(len(kinds))]
		if r.rng.IntN(8) == 0 {
			p.method = http.MethodHead
		}
		p.path = fmt.Sprintf("/%s/%d/%d", kind, size, seed)
		p.want.body = soakBytes(seed, size)
		if kind == "trailer" && !native && p.method == http.MethodGet {
			p.want.trailer = soakHash(p.want.body)
		}
	case k < 55:
		p.method = []string{http.MethodPost, http.MethodPut}[r.rng.IntN(2)]
		p.path = "/echo"
		p.body = soakBytes(seed, r.size(1<<20))
		p.want.body = p.body
	case k < 75:
		p.method = http.MethodPost
		p.path = "/hash"
		p.body = soakBytes(seed, r.size(2<<20))
		if r.rng.IntN(2) == 0 {
			p.chunked = true
			for range r.rng.IntN(3) {
				p.trailers = append(p.trailers, fmt.Sprintf("X-Soak-T%d", r.rng.IntN(10)), strconv.FormatUint(r.rng.Uint64(), 36))
			}
			if r.rng.IntN(4) == 0 {
				p.trailers = append(p.trailers, "X-Other", "ignored")
			}
		}
		p.want.body = []byte(soakHashBody(p.body, p.trailers))
	case k < 82:
		p.method = http.MethodPost
		p.path = "/noread"
		p.body = soakBytes(seed, r.size(512<<10))
		p.want.body = []byte("noread")
	case k < 89:
		p.method = http.MethodPut
		n := r.rng.IntN(128 << 10)
		p.path = fmt.Sprintf("/partial/%d", n)
		p.body = soakBytes(seed, r.size(512<<10))
		p.want.body = []byte("partial " + soakHash(p.body[:min(n, len(p.body))]))
	case k < 92:
		p.path = "/hijack"
		p.want.body = []byte("hijack true")
		p.closes = !native
	case k < 95:
		p.path = "/panic/early"
		p.want.status = 500
		p.want.body = []byte("Internal Server Error\n")
		p.closes = true
	case k < 98:
		p.path = "/panic/late"
		if r.rng.IntN(2) == 0 && !native { // native: no answer at all, which the clients do not expect
			p.path = "/abort"
		}
		p.closes = true
		if native {
			p.want.status = 500
			p.want.body = []byte("Internal Server Error\n")
		} else {
			p.want.cut = true
		}
	default:
		p.path = "/nothing/here"
		p.want.status = 404
	}
	if len(p.body) > 0 && p.method != http.MethodGet && r.rng.IntN(4) == 0 {
		p.expect = true
	}
	p.want.method = p.method
	return p
}

// ---- net/http client sessions ----

// soakNetClient sends a few requests with net/http's client, on its pool of keep-alive
// connections.
func (r *soakRun) soakNetClient(t *soakTarget) error {
	for range 1 + r.rng.IntN(6) {
		p := r.plan(t.native, 2<<20)
		var body io.Reader
		if p.body != nil {
			body = bytes.NewReader(p.body)
			if p.chunked {
				body = struct{ io.Reader }{body} // unknown length: chunked
			}
		}
		req, err := http.NewRequest(p.method, "http://"+t.addr+p.path, body)
		if err != nil {
			return err
		}
		req.Header.Set("X-Soak-Id", strconv.FormatUint(p.want.id, 10))
		if p.expect {
			req.Header.Set("Expect", "100-continue")
		}
		if p.chunked && len(p.trailers) > 0 {
			req.Trailer = http.Header{}
			for i := 0; i < len(p.trailers); i += 2 {
				req.Trailer.Add(p.trailers[i], p.trailers[i+1])
			}
		}
		r.note("%s %s #%d body %d chunked %t expect %t", p.method, p.path, p.want.id, len(p.body), p.chunked, p.expect)
		resp, err := t.client.Do(req)
		r.note("response: %v", err)
		r.stats.requests.Add(1)
		if err != nil {
			return fmt.Errorf("%s: %s %s #%d (%d body bytes, chunked %t, expect %t): %w", t, p.method, p.path, p.want.id, len(p.body), p.chunked, p.expect, err)
		}
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		r.note("body %d: %v", len(b), rerr)
		if err := p.want.check(resp, b, rerr); err != nil {
			return fmt.Errorf("%s: net/http client: %s %s: %w", t, p.method, p.path, err)
		}
		r.stats.verified.Add(1)
		r.stats.bytes.Add(int64(len(b)))
	}
	return nil
}

// ---- raw pipelines ----

// wire returns the request's bytes.
func (p *soakPlan) wire(close10 bool) []byte {
	var b bytes.Buffer
	proto := "HTTP/1.1"
	if close10 {
		proto = "HTTP/1.0"
	}
	fmt.Fprintf(&b, "%s %s %s\r\nHost: soak\r\nX-Soak-Id: %d\r\n", p.method, p.path, proto, p.want.id)
	if p.expect {
		b.WriteString("Expect: 100-continue\r\n")
	}
	if p.body != nil || p.method == http.MethodPost || p.method == http.MethodPut {
		if p.chunked {
			b.WriteString("Transfer-Encoding: chunked\r\n")
			if len(p.trailers) > 0 {
				b.WriteString("Trailer: " + p.trailers[0] + "\r\n")
			}
		} else {
			fmt.Fprintf(&b, "Content-Length: %d\r\n", len(p.body))
		}
	}
	b.WriteString("\r\n")
	if !p.chunked {
		b.Write(p.body)
		return b.Bytes()
	}
	for off, i := 0, 0; off < len(p.body); i++ {
		n := min(len(p.body)-off, 1+int(p.want.id*uint64(i+7))%(20<<10))
		fmt.Fprintf(&b, "%x\r\n", n)
		b.Write(p.body[off : off+n])
		b.WriteString("\r\n")
		off += n
	}
	b.WriteString("0\r\n")
	for i := 0; i < len(p.trailers); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", p.trailers[i], p.trailers[i+1])
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// writeSplit writes b in a few pieces cut at random points, sometimes pausing between them.
func (r *soakRun) writeSplit(c net.Conn, b []byte) error {
	for len(b) > 0 {
		n := len(b)
		if r.rng.IntN(3) > 0 {
			n = 1 + r.rng.IntN(len(b))
		}
		if _, err := c.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
		if len(b) > 0 && r.rng.IntN(4) == 0 {
			time.Sleep(time.Duration(r.rng.IntN(300)) * time.Microsecond)
		}
	}
	return nil
}

// readFinal reads the response to a request of method, skipping informational ones.
func readFinal(br *bufio.Reader, method string) (*http.Response, []byte, error, error) {
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return nil, nil, err, nil
		}
		if resp.StatusCode >= 200 {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp, b, nil, rerr
		}
	}
}

// soakPipeline sends several requests in one stream, cut at random points, while reading the
// responses in order; it may end with an HTTP/1.0 request, Connection: close or a half-close, after
// which the connection must end once every response is in.
func (r *soakRun) soakPipeline(t *soakTarget) error {
	c, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	var plans []soakPlan
	var wire []byte
	ending := r.rng.IntN(6) // 0: half-close, 1: HTTP/1.0, 2: Connection: close, else none
	for range 1 + r.rng.IntN(8) {
		p := r.plan(t.native, 256<<10)
		plans = append(plans, p)
		r.note("pipelined %s %s #%d body %d chunked %t expect %t", p.method, p.path, p.want.id, len(p.body), p.chunked, p.expect)
		if p.closes {
			break
		}
	}
	last := &plans[len(plans)-1]
	closing := last.closes
	if ending == 1 && (last.chunked || last.want.trailer != "") {
		ending = 2 // HTTP/1.0 has neither chunked bodies nor trailers
	}
	for i := range plans {
		p := &plans[i]
		b := p.wire(i == len(plans)-1 && ending == 1 && !closing)
		if i == len(plans)-1 && ending == 2 && !closing {
			b = bytes.Replace(b, []byte("\r\nHost: soak\r\n"), []byte("\r\nHost: soak\r\nConnection: close\r\n"), 1)
		}
		wire = append(wire, b...)
	}
	closing = closing || ending == 1 || ending == 2
	halfClose := ending == 0
	werr := make(chan error, 1)
	go func() {
		err := r.writeSplitSeeded(c, wire, r.rng.Uint64())
		if err == nil && halfClose {
			err = c.(*net.TCPConn).CloseWrite()
		}
		werr <- err
	}()
	br := bufio.NewReader(c)
	var fail error
	i := 0
	for ; i < len(plans); i++ {
		p := &plans[i]
		resp, body, err, rerr := readFinal(br, p.method)
		r.note("response %d: %v, body %d: %v", i, err, len(body), rerr)
		r.stats.requests.Add(1)
		if err != nil {
			fail = fmt.Errorf("%s: pipeline of %d (half-close %t), response %d (%s %s #%d): %w", t, len(plans), halfClose, i, p.method, p.path, p.want.id, err)
			break
		}
		if err := p.want.check(resp, body, rerr); err != nil {
			fail = fmt.Errorf("%s: pipeline of %d (half-close %t), response %d (%s %s): %w", t, len(plans), halfClose, i, p.method, p.path, err)
			break
		}
		r.stats.verified.Add(1)
		r.stats.bytes.Add(int64(len(body)))
		if resp.Close || p.want.cut {
			closing = true
			i++
			break
		}
	}
	r.note("ending %d, half-close %t, closing %t", ending, halfClose, closing)
	if fail == nil && (closing || halfClose) {
		// Nothing may follow: the connection ends.
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := br.Read(make([]byte, 1))
		if n > 0 || err == nil {
			fail = fmt.Errorf("%s: pipeline of %d: bytes after the last response (%d answered)", t, len(plans), i)
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			fail = fmt.Errorf("%s: pipeline of %d (half-close %t, closing %t): the connection stays open after the last response (%d answered)", t, len(plans), halfClose, closing, i)
		}
	} else if fail == nil && i < len(plans) {
		fail = fmt.Errorf("%s: pipeline of %d: only %d answered", t, len(plans), i)
	}
	c.Close()
	<-werr
	return fail
}

// writeSplitSeeded is writeSplit with its own random source, for a goroutine of its own.
func (r *soakRun) writeSplitSeeded(c net.Conn, b []byte, seed uint64) error {
	w := &soakRun{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
	return w.writeSplit(c, b)
}

// ---- clients that misbehave ----

// soakMisbehave runs one of the ways a client goes wrong. Only the server's answers are checked,
// where there is one to check.
func (r *soakRun) soakMisbehave(t *soakTarget) (string, error) {
	c, err := net.DialTimeout("tcp", t.addr, 5*time.Second)
	if err != nil {
		return "dial", err
	}
	tc := c.(*net.TCPConn)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	id := r.id()
	switch k := r.rng.IntN(9); k {
	case 0: // close (or reset) mid-head
		req := fmt.Sprintf("POST /hash HTTP/1.1\r\nHost: soak\r\nX-Soak-Id: %d\r\nContent-Length: 100\r\n\r\n", id)
		r.writeSplit(c, []byte(req[:r.rng.IntN(len(req))]))
		if r.rng.IntN(2) == 0 {
			tc.SetLinger(0)
		}
		return "cut head", nil
	case 1: // close (or reset) mid-body
		p := r.plan(t.native, 0)
		for p.body == nil || len(p.body) == 0 {
			p = r.plan(t.native, 0)
		}
		w := p.wire(false)
		cut := len(w) - 1 - r.rng.IntN(len(p.body))
		r.writeSplit(c, w[:cut])
		if r.rng.IntN(2) == 0 {
			time.Sleep(time.Duration(r.rng.IntN(2000)) * time.Microsecond)
		}
		if r.rng.IntN(2) == 0 {
			tc.SetLinger(0)
		}
		return "cut body", nil
	case 2: // close (or reset) mid-response
		seed := r.rng.Uint64() >> 1
		fmt.Fprintf(c, "GET /gen/%d/%d HTTP/1.1\r\nHost: soak\r\nX-Soak-Id: %d\r\n\r\n", 256<<10+r.rng.IntN(2<<20), seed, id)
		io.CopyN(io.Discard, c, int64(r.rng.IntN(256<<10))) // less than the response
		if r.rng.IntN(2) == 0 {
			tc.SetLinger(0)
		}
		return "cut response", nil
	case 3: // read slowly: every byte must still come
		seed := r.rng.Uint64() >> 1
		size := 64<<10 + r.rng.IntN(1<<20)
		fmt.Fprintf(c, "GET /gen/%d/%d HTTP/1.1\r\nHost: soak\r\nX-Soak-Id: %d\r\n\r\n", size, seed, id)
		sr := &soakSlowReader{c: c, rng: r.rng, until: time.Now().Add(200 * time.Millisecond)}
		resp, body, err, rerr := readFinal(bufio.NewReaderSize(sr, 4<<10), "GET")
		if err != nil {
			return "slow reader", fmt.Errorf("%s: slow reader #%d: %w", t, id, err)
		}
		want := soakExpect{method: "GET", id: id, status: 200, body: soakBytes(seed, size)}
		if err := want.check(resp, body, rerr); err != nil {
			return "slow reader", fmt.Errorf("%s: slow reader: %w", t, err)
		}
		r.stats.verified.Add(1)
		return "slow reader", nil
	case 4, 5: // a body over the limit: 413 and the connection closed
		chunked := k == 5
		fmt.Fprintf(c, "POST /hash HTTP/1.1\r\nHost: soak\r\nX-Soak-Id: %d\r\n", id)
		size := soakMaxBody + 1 + r.rng.IntN(1<<20)
		if chunked {
			io.WriteString(c, "Transfer-Encoding: chunked\r\n\r\n")
		} else {
			fmt.Fprintf(c, "Content-Length: %d\r\n\r\n", size)
		}
		go func() {
			chunk := soakBytes(id, 64<<10)
			for sent := 0; sent < size; sent += len(chunk) {
				var err error
				if chunked {
					_, err = fmt.Fprintf(c, "%x\r\n%s\r\n", len(chunk), chunk)
				} else {
					_, err = c.Write(chunk)
				}
				if err != nil {
					return
				}
			}
			if chunked {
				io.WriteString(c, "0\r\n\r\n")
			}
		}()
		name := map[bool]string{false: "oversized body", true: "oversized chunked body"}[chunked]
		br := bufio.NewReader(c)
		resp, _, err, _ := readFinal(br, "POST")
		if err != nil {
			return name, fmt.Errorf("%s: %s of %d bytes #%d: no response: %w", t, name, size, id, err)
		}
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			return name, fmt.Errorf("%s: %s of %d bytes #%d: status %d, want 413", t, name, size, id, resp.StatusCode)
		}
		return name, r.expectEnd(t, c, br, name)
	case 6, 7: // garbage: a 4xx (or 5xx) answer or a close, never a hang
		g := r.garbage()
		halfClose := k == 7
		if halfClose {
			g = g[:r.rng.IntN(len(g))]
		}
		valid := r.rng.IntN(3) == 0
		if valid {
			g = append([]byte(soakValid), g...)
		}
		r.writeSplit(c, g)
		if halfClose {
			tc.CloseWrite()
		}
		br := bufio.NewReader(c)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if valid {
			resp, body, err, rerr := readFinal(br, "GET")
			if err != nil {
				return "garbage", fmt.Errorf("%s: no answer to the valid request before garbage %.80q: %w", t, g, err)
			}
			want := soakExpect{method: "GET", status: 200, body: soakBytes(1, 10)}
			if err := want.check(resp, body, rerr); err != nil {
				return "garbage", fmt.Errorf("%s: the valid request before garbage %.80q: %w", t, g, err)
			}
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return "garbage", fmt.Errorf("%s: garbage %.80q (half-close %t): no answer and no close within 10 s", t, g, halfClose)
			}
			return "garbage", nil
		}
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode < 400 && !halfClose {
			return "garbage", fmt.Errorf("%s: garbage %.80q: status %d", t, g, resp.StatusCode)
		}
		if resp.StatusCode < 400 {
			return "garbage", nil // a cut that left a valid request: then the FIN ends it
		}
		return "garbage", r.expectEnd(t, c, br, fmt.Sprintf("garbage %.80q", g))
	default: // half-close right after a request: its answer must still come
		seed := r.rng.Uint64() >> 1
		size := r.size(1 << 20)
		fmt.Fprintf(c, "GET /slow/%d/%d HTTP/1.1\r\nHost: soak\r\nX-Soak-Id: %d\r\n\r\n", size, seed, id)
		tc.CloseWrite()
		br := bufio.NewReader(c)
		resp, body, err, rerr := readFinal(br, "GET")
		if err != nil {
			return "half-close", fmt.Errorf("%s: half-close after GET #%d: %w", t, id, err)
		}
		want := soakExpect{method: "GET", id: id, status: 200, body: soakBytes(seed, size)}
		if err := want.check(resp, body, rerr); err != nil {
			return "half-close", fmt.Errorf("%s: half-close: %w", t, err)
		}
		r.stats.verified.Add(1)
		return "half-close", r.expectEnd(t, c, br, "half-close")
	}
}

// expectEnd checks that the connection ends after the response read from br.
func (r *soakRun) expectEnd(t *soakTarget, c net.Conn, br *bufio.Reader, what string) error {
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := br.Read(make([]byte, 64))
	switch ne, _ := err.(net.Error); {
	case n > 0:
		return fmt.Errorf("%s: %s: bytes after the last response", t, what)
	case ne != nil && ne.Timeout():
		return fmt.Errorf("%s: %s: the connection stays open after its last response", t, what)
	}
	return nil
}

// garbage returns a request the server must refuse.
func (r *soakRun) garbage() []byte {
	cases := []string{
		"\x7f" + string(soakBytes(r.rng.Uint64(), r.rng.IntN(300))) + "\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"POST /hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n",
		"POST /hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nabcde\r\n0\r\n\r\n",
		"POST /hash HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n",
		"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: " + strings.Repeat("v", soakMaxHeader+4096+100) + "\r\n\r\n",
		"GET /" + strings.Repeat("p", http1.DefaultMaxRequestLineBytes+10) + " HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nExpect: bogus\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n",
		"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	}
	return []byte(cases[r.rng.IntN(len(cases))])
}

// soakValid is a valid request sent before garbage, answered first.
const soakValid = "GET /gen/10/1 HTTP/1.1\r\nHost: x\r\nX-Soak-Id: 0\r\n\r\n"

// soakSlowReader reads a few KiB at a time, pausing between reads until a time.
type soakSlowReader struct {
	c     net.Conn
	rng   *rand.Rand
	until time.Time
}

func (s *soakSlowReader) Read(p []byte) (int, error) {
	if time.Now().Before(s.until) {
		time.Sleep(time.Duration(s.rng.IntN(3000)) * time.Microsecond)
		p = p[:min(len(p), 1+s.rng.IntN(4<<10))]
	}
	return s.c.Read(p)
}

// ---- the soak ----

func TestSoak(t *testing.T) {
	d := *soakFor
	if d == 0 {
		d = 1500 * time.Millisecond
		if testing.Short() {
			d = 300 * time.Millisecond
		}
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) { soakHTTP1(t, engine, d, false) })
}

// The same traffic, with Shutdown called while it runs: requests in flight finish, later ones find
// the connection closed or refused, but no answer may be wrong, and Shutdown must end in time.
func TestSoakShutdownMidFlight(t *testing.T) {
	d := *soakFor / 4
	if d == 0 {
		d = 400 * time.Millisecond
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) { soakHTTP1(t, engine, d, true) })
}

func soakHTTP1(t *testing.T, engine eddy.EngineKind, d time.Duration, midFlight bool) {
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close() // the runtime's poller (an epoll and an eventfd) is made with the first socket
	}
	runtime.GC()
	baseFDs := countFDs(t)
	baseList := listFDs()
	logs := &soakLog{}
	servers := []*http1.Server{
		{Handler: http.HandlerFunc(soakNetHTTP)},
		{Native: http1.NativeHandlerFunc(soakNative)},
	}
	var targets []*soakTarget
	var transports []*http.Transport
	for i, srv := range servers {
		srv.Addr, srv.Engine, srv.Loops = "127.0.0.1:0", engine, 2
		srv.MaxBodyBytes = soakMaxBody
		srv.MaxHeaderBytes = soakMaxHeader
		srv.IdleTimeout = 10 * time.Second
		srv.ErrorLog = newLogger(logs)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		tr := &http.Transport{MaxIdleConnsPerHost: 16, ExpectContinueTimeout: 2 * time.Second, DisableCompression: true}
		transports = append(transports, tr)
		targets = append(targets, &soakTarget{native: i == 1, addr: srv.Addrs()[0].String(), client: &http.Client{Transport: tr, Timeout: 30 * time.Second}})
	}
	shutdown := func() {
		for _, srv := range servers {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			began := time.Now()
			err := srv.Shutdown(ctx)
			cancel()
			if err != nil {
				t.Errorf("Shutdown: %v after %v", err, time.Since(began))
				srv.Close()
			} else if took := time.Since(began); took > 10*time.Second {
				t.Errorf("Shutdown took %v", took)
			}
		}
	}

	stalls := soakWatchdog(t, d)
	defer stalls.stop()
	stats := &soakStats{}
	var ids atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	stopped := make(chan struct{})
	deadline := time.Now().Add(d)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &soakRun{rng: rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano()))), ids: &ids, stats: stats}
			for time.Now().Before(deadline) {
				tg := targets[r.rng.IntN(len(targets))]
				var kind string
				var err error
				began := time.Now()
				r.began, r.trace = began, r.trace[:0]
				stalls.begin(w, began)
				switch k := r.rng.IntN(10); {
				case k < 4:
					kind, err = "net/http client", r.soakNetClient(tg)
				case k < 7:
					kind, err = "pipeline", r.soakPipeline(tg)
				default:
					kind, err = r.soakMisbehave(tg)
				}
				stalls.begin(w, time.Time{})
				stats.sessions.Add(1)
				stats.count(kind)
				if took := time.Since(began); took > 10*time.Second {
					t.Logf("%s %s session took %v (error %v):\n\t%s", tg, kind, took, err, strings.Join(r.trace, "\n\t"))
				}
				if err == nil {
					continue
				}
				select {
				case <-stopped:
					if !errors.Is(err, errSoakWrong) {
						return // the server shut down under this session
					}
				default:
				}
				select {
				case errs <- fmt.Errorf("%s session: %w", kind, err):
				default:
				}
				return
			}
		}()
	}
	if midFlight {
		time.Sleep(d / 2)
		close(stopped)
		shutdown()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	if !midFlight {
		shutdown()
	}
	logs.mu.Lock()
	for _, l := range logs.unexpected {
		t.Errorf("unexpected server log: %.400s", l)
	}
	logs.mu.Unlock()
	if !waitFDs(t, baseFDs) {
		t.Errorf("descriptors: %d, %d before the soak: now %v, before %v", countFDs(t), baseFDs, listFDs(), baseList)
	}
	var kinds []string
	stats.kinds.Range(func(k, v any) bool {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load()))
		return true
	})
	slices.Sort(kinds)
	t.Logf("%s: %d sessions (%s), %d requests, %d answers verified, %.1f MiB, %d panics logged, in %v",
		engine, stats.sessions.Load(), strings.Join(kinds, ", "), stats.requests.Load(), stats.verified.Load(),
		float64(stats.bytes.Load())/(1<<20), logs.panics, d)
}

// errSoakWrong marks an answer that no shutdown excuses.
var errSoakWrong = errors.New("wrong answer")

// soakStalls watches the clients' sessions: on a long run, the first three that take over 20 s have
// every goroutine's stack written to a file, to see where the server stalled.
type soakStalls struct {
	t       *testing.T
	mu      sync.Mutex
	started map[int]time.Time
	done    chan struct{}
	dumps   int
}

func soakWatchdog(t *testing.T, d time.Duration) *soakStalls {
	s := &soakStalls{t: t, started: map[int]time.Time{}, done: make(chan struct{})}
	if *soakFor == 0 {
		return s
	}
	go func() {
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			s.mu.Lock()
			stalled := false
			for w, b := range s.started {
				if !b.IsZero() && time.Since(b) > 20*time.Second {
					stalled = true
					s.started[w] = time.Time{} // one dump per stalled session
				}
			}
			if stalled && s.dumps < 3 {
				s.dumps++
				buf := make([]byte, 64<<20)
				buf = buf[:runtime.Stack(buf, true)]
				if f, err := os.CreateTemp("", "http1-soak-stall-*.txt"); err == nil {
					f.Write(buf)
					f.Close()
					t.Logf("a session has run for 20 s: goroutines in %s", f.Name())
				}
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *soakStalls) begin(w int, at time.Time) {
	s.mu.Lock()
	s.started[w] = at
	s.mu.Unlock()
}

func (s *soakStalls) stop() { close(s.done) }

// listFDs describes the open descriptors.
func listFDs() []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"="+l)
	}
	return out
}

// waitFDs waits up to 10 s for the descriptors to fall back to base.
func waitFDs(t *testing.T, base int) bool {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if countFDs(t) <= base {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
