package http1

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eddyio/eddy"
)

// maxInlineBody is the largest replayable request body sent with the head, read ahead in
// RoundTripAsync rather than streamed by a goroutine of its own.
const maxInlineBody = 16 << 10

// reqChunkSize is how much of a streamed request body one write carries.
const reqChunkSize = 32 << 10

// defaultUserAgent is sent when the request has no User-Agent header.
const defaultUserAgent = "Go-http-client/1.1"

// newExchange checks req and writes its head.
func (t *Transport) newExchange(req *http.Request) (_ *exchange, err error) {
	var x *exchange
	defer func() {
		if err == nil {
			return
		}
		if x != nil {
			x.closeReqBody() // once: the body may have been closed already (read ahead, or empty)
		} else {
			closeBody(req)
		}
	}()
	switch {
	case req == nil:
		return nil, errors.New("http1: nil Request")
	case req.URL == nil:
		return nil, errors.New("http1: nil Request.URL")
	case req.Header == nil:
		return nil, errors.New("http1: nil Request.Header")
	}
	// Request.RequestURI is ignored, as net/http's Transport ignores it (http.Client refuses it,
	// before the Transport): httputil.ReverseProxy hands the Transport a clone of the request its
	// server received, RequestURI and all, and failed with every request here.
	secure := strings.EqualFold(req.URL.Scheme, "https")
	if !secure && !strings.EqualFold(req.URL.Scheme, "http") {
		return nil, fmt.Errorf("http1: unsupported protocol scheme %q", req.URL.Scheme)
	}
	if req.URL.Host == "" {
		return nil, fmt.Errorf("http1: no Host in request URL %q", req.URL.String())
	}
	port := "80"
	if secure {
		port = "443"
	}
	key, err := dialKey(req.URL.Host, port)
	if err != nil {
		return nil, err
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	if !isToken([]byte(method)) {
		return nil, fmt.Errorf("http1: invalid method %q", method)
	}
	if method == http.MethodConnect {
		// A 2xx answer makes the connection a tunnel (RFC 9110 §9.3.6): it must never go back to
		// the pool, and the Transport has no way to hand it over.
		return nil, errors.New("http1: CONNECT is not supported")
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	host = removeZone(host)
	if !validHost([]byte(host)) {
		if !isASCII(host) {
			return nil, fmt.Errorf("http1: invalid Host %q: a non-ASCII host must be given in its ASCII (IDNA) form", host)
		}
		return nil, fmt.Errorf("http1: invalid Host %q", host)
	}
	uri := req.URL.RequestURI()
	for i := 0; i < len(uri); i++ {
		if c := uri[i]; c <= ' ' || c == 0x7f {
			return nil, fmt.Errorf("http1: invalid request URI %q", uri)
		}
	}
	// The trailer is checked as net/http checks it, whatever the body: a field it would refuse was
	// sent without its value (appendTrailer drops what is invalid when the body ends), or not at all
	// on a body that is not chunked, where net/http fails the request.
	for k, vv := range req.Trailer {
		if !isToken([]byte(k)) {
			return nil, fmt.Errorf("http1: invalid trailer field name %q", k)
		}
		for _, v := range vv {
			if !validValue([]byte(v)) {
				return nil, fmt.Errorf("http1: invalid trailer field value for %q", k)
			}
		}
	}
	x = &exchange{t: t, req: req, key: key, secure: secure, isHEAD: method == http.MethodHead, bodyRC: req.Body}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		x.idempotent = true
	default:
		_, a := req.Header["Idempotency-Key"]
		_, b := req.Header["X-Idempotency-Key"]
		x.idempotent = a || b
	}

	body := req.Body
	if body == http.NoBody {
		body = nil
	}
	switch {
	case body == nil && req.ContentLength != 0:
		return nil, fmt.Errorf("http1: Request.ContentLength=%d with nil Body", req.ContentLength)
	case len(req.TransferEncoding) > 1 || len(req.TransferEncoding) == 1 && req.TransferEncoding[0] != "chunked":
		return nil, fmt.Errorf("http1: unsupported Transfer-Encoding %q", req.TransferEncoding)
	}
	if body != nil && req.ContentLength <= 0 && len(req.TransferEncoding) == 0 && usuallyBodiless(method) {
		var err error
		if body, err = probeBody(body); err != nil {
			return nil, fmt.Errorf("http1: %s %s: reading the request body: %w", method, key, err)
		}
		if body == nil {
			x.closeReqBody()
		}
	}
	var inline []byte
	if body != nil {
		x.chunked = req.ContentLength <= 0 || len(req.TransferEncoding) == 1
		x.bodyLen = req.ContentLength
		if !x.chunked && req.GetBody != nil && req.ContentLength <= maxInlineBody {
			// An in-memory body (http.NewRequest sets GetBody for those): send it with the head.
			inline = make([]byte, req.ContentLength)
			if n, err := io.ReadFull(body, inline); err != nil {
				return nil, fmt.Errorf("http1: ContentLength=%d with Body length %d: %w", req.ContentLength, n, err)
			}
			if err := bodyEnds(body, req.ContentLength); err != nil {
				return nil, fmt.Errorf("http1: %w", err)
			}
			x.closeReqBody() // once: the exchange's later closes do nothing
		} else {
			x.body = body
		}
	}

	b := make([]byte, 0, 256+len(inline))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, uri...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\n"...)
	if ua, ok := req.Header["User-Agent"]; !ok {
		b = append(b, "User-Agent: "+defaultUserAgent+"\r\n"...)
	} else if len(ua) > 0 && ua[0] != "" {
		if !validValue([]byte(ua[0])) {
			return nil, errors.New("http1: invalid header field value for \"User-Agent\"")
		}
		b = append(b, "User-Agent: "...)
		b = append(b, trimFieldValue(ua[0])...)
		b = append(b, "\r\n"...)
	}
	x.wantsClose = req.Close || t.DisableKeepAlives
	if v := req.Header["Connection"]; len(v) > 0 && hasToken(v[0], "close") {
		x.wantsClose = true
	}
	if req.Close || t.DisableKeepAlives {
		b = append(b, "Connection: close\r\n"...)
	}
	switch {
	case body != nil && !x.chunked:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, req.ContentLength, 10)
		b = append(b, "\r\n"...)
	case body != nil:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
		if len(req.Trailer) > 0 {
			b = append(b, "Trailer: "...)
			for i, k := range slices.Sorted(maps.Keys(req.Trailer)) {
				if !isToken([]byte(k)) {
					return nil, fmt.Errorf("http1: invalid trailer name %q", k)
				}
				if framingField(k) { // RFC 9110 §6.5.1; net/http refuses them too
					return nil, fmt.Errorf("http1: invalid Trailer key %q", k)
				}
				if i > 0 {
					b = append(b, ", "...)
				}
				b = append(b, k...)
			}
			b = append(b, "\r\n"...)
		}
	case method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch:
		b = append(b, "Content-Length: 0\r\n"...)
	}
	var err2 error
	if b, err2 = appendRequestHeader(b, req.Header, req.Close || t.DisableKeepAlives); err2 != nil {
		return nil, err2
	}
	b = append(b, "\r\n"...)
	x.head = append(b, inline...)
	return x, nil
}

// appendRequestHeader appends the fields of h, sorted by key, leaving out those the transport writes itself.
func appendRequestHeader(b []byte, h http.Header, skipConnection bool) ([]byte, error) {
	keys := make([]string, 0, len(h))
	for k := range h {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		case "Connection":
			if skipConnection {
				continue
			}
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isToken([]byte(k)) {
			return nil, fmt.Errorf("http1: invalid header field name %q", k)
		}
		for _, v := range h[k] {
			if !validValue([]byte(v)) {
				return nil, fmt.Errorf("http1: invalid header field value for %q", k)
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, trimFieldValue(v)...)
			b = append(b, "\r\n"...)
		}
	}
	return b, nil
}

// writeBody streams the request body to cc, on a goroutine of its own: up to two writes of
// reqChunkSize in flight, the next read waiting until the write before the last reached the kernel,
// so that a server that reads slowly holds the body back rather than the client's memory.
//
// body is x.body, the body of this attempt: the writer closes it when it returns (unless a
// cancellation did), and then closes done. A failure to read it is kept in x.bodyErr (for rewind,
// should the connection have died meanwhile).
func (x *exchange) writeBody(cc *clientConn, body io.ReadCloser, done chan<- struct{}) {
	defer close(done)
	defer x.closeReqBody()
	c := cc.c
	const room = 12 // for the chunk-size line: up to 8 hex digits and CRLF
	var bufs [2][]byte
	written := make(chan error, 2)
	inflight := 0
	wait := func() bool {
		err := <-written
		inflight--
		return err == nil
	}
	send := func(p []byte, last bool) bool {
		cb := func(_ eddy.Conn, err error) {
			if last {
				cc.requestSent(x, err)
			}
			written <- err
		}
		if last {
			x.lastQueued.Store(true)
		}
		if err := asyncWriteRetrying(c, p, cb); err != nil {
			return false
		}
		inflight++
		return true
	}
	fail := func(err error) {
		x.bodyErr = err
		x.onLoop(func(cc *clientConn) { cc.kill(err) })
	}
	var sent int64
	// bufs[i] is the buffer to read into next; the other one may be in flight. i moves on only
	// when a write is queued: after a read of nothing (a Reader may return 0, nil), the next read
	// goes into the same buffer, not into the one the kernel may still be reading.
	i := 0
	for {
		if inflight == 2 && !wait() {
			return
		}
		if bufs[i] == nil {
			bufs[i] = make([]byte, room+reqChunkSize+2)
		}
		buf := bufs[i]
		want := reqChunkSize
		if !x.chunked {
			want = int(min(int64(want), x.bodyLen-sent))
		}
		n, rerr := 0, error(nil)
		if want > 0 {
			n, rerr = body.Read(buf[room : room+want])
		}
		sent += int64(n)
		end := rerr == io.EOF || !x.chunked && sent == x.bodyLen
		if rerr != nil && rerr != io.EOF {
			fail(fmt.Errorf("http1: %s %s: reading the request body: %w", x.req.Method, x.key, rerr))
			return
		}
		if end && !x.chunked && sent < x.bodyLen {
			fail(fmt.Errorf("http1: %s %s: ContentLength=%d with Body length %d", x.req.Method, x.key, x.bodyLen, sent))
			return
		}
		if end && rerr == nil && !x.chunked {
			if err := bodyEnds(body, x.bodyLen); err != nil { // before the last bytes go out
				fail(fmt.Errorf("http1: %s %s: %w", x.req.Method, x.key, err))
				return
			}
		}
		var p []byte
		switch {
		case n > 0 && x.chunked:
			size := strconv.AppendUint(buf[:0:room], uint64(n), 16)
			start := room - len(size) - 2
			copy(buf[start:], size)
			buf[room-2], buf[room-1] = '\r', '\n'
			buf[room+n], buf[room+n+1] = '\r', '\n'
			p = buf[start : room+n+2]
		case n > 0:
			p = buf[room : room+n]
		}
		if end && x.chunked {
			p = append(p, "0\r\n"...) // after the last chunk, in the unused part of buf or a new array
			p = appendTrailer(p, x.req.Trailer)
			p = append(p, "\r\n"...)
		}
		if len(p) > 0 {
			if !send(p, end) {
				return
			}
			i ^= 1
		}
		if end {
			for inflight > 0 {
				if !wait() {
					return
				}
			}
			return
		}
	}
}

// usuallyBodiless reports whether requests of method usually have no body, as net/http decides
// whether to probe a body of unknown length before sending it chunked.
func usuallyBodiless(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodDelete, http.MethodOptions, "PROPFIND", "SEARCH":
		return true
	}
	return false
}

// bodyProbeWait is how long probeBody waits for the first byte of a body, net/http's figure.
const bodyProbeWait = 200 * time.Millisecond

// probeBody finds out, as net/http does, whether a body of unknown length on a request that
// usually has none is empty (a GET given a Body that holds nothing, say): a chunked body there
// is refused by some servers and proxies. It reads one byte, waiting at most bodyProbeWait (a
// pipe's writer may not have written yet), and returns nil for a body that ended at once, or the
// body to send: the byte read first, then the rest, or, past the wait, a reader that waits for
// that read before it goes on.
func probeBody(body io.ReadCloser) (io.ReadCloser, error) {
	pr := &probedBody{body: body, done: make(chan struct{})}
	go func() {
		pr.n, pr.err = body.Read(pr.one[:])
		close(pr.done)
	}()
	t := time.NewTimer(bodyProbeWait)
	defer t.Stop()
	select {
	case <-pr.done:
		switch {
		case pr.n == 0 && pr.err == io.EOF:
			return nil, nil
		case pr.err != nil && pr.err != io.EOF:
			return nil, pr.err
		}
	case <-t.C:
	}
	return pr, nil
}

// probedBody is a body whose first Read was made by probeBody: it gives what that read got, once
// it has returned, then reads on.
type probedBody struct {
	body  io.ReadCloser
	done  chan struct{}
	one   [1]byte
	n     int
	err   error
	given bool
}

func (p *probedBody) Read(b []byte) (int, error) {
	if !p.given {
		<-p.done
		p.given = true
		if p.n > 0 && len(b) > 0 {
			b[0] = p.one[0]
			if p.err != nil {
				return 1, p.err // io.EOF after the one byte, or the failure
			}
			return 1, nil
		}
		if p.err != nil {
			return 0, p.err
		}
	}
	return p.body.Read(b)
}

func (p *probedBody) Close() error { return p.body.Close() }

// bodyEnds checks that a request body of ContentLength n, of which n bytes were read, has nothing
// after them, as net/http does: a body longer than declared would otherwise be cut short without a
// word.
func bodyEnds(body io.Reader, n int64) error {
	var one [1]byte
	for {
		k, err := body.Read(one[:])
		switch {
		case k > 0:
			return fmt.Errorf("ContentLength=%d with a longer Body", n)
		case err == io.EOF:
			return nil
		case err != nil:
			return fmt.Errorf("reading the request body: %w", err)
		}
	}
}

// appendTrailer appends the trailer fields with values. Names are checked again here: the body's
// reader may add fields to the Trailer while the body streams, after the head checked it.
func appendTrailer(b []byte, t http.Header) []byte {
	for _, k := range slices.Sorted(maps.Keys(t)) {
		if !isToken([]byte(k)) || framingField(k) {
			continue // as net/http drops them (the framing fields: added to the Trailer while the body streamed)
		}
		for _, v := range t[k] {
			if validValue([]byte(v)) {
				b = append(b, k...)
				b = append(b, ": "...)
				b = append(b, trimFieldValue(v)...)
				b = append(b, "\r\n"...)
			}
		}
	}
	return b
}

// trimFieldValue trims the optional whitespace around a field value, spaces and tabs (RFC 9110 §5.5), and
// nothing else: strings.TrimSpace would also take Unicode spaces (U+00A0, U+0085) that belong to it.
func trimFieldValue(v string) string { return strings.Trim(v, " \t") }

// framingField reports whether k (in any case) names a field that frames the message, which a trailer
// section must not carry (RFC 9110 §6.5.1).
func framingField(k string) bool {
	switch http.CanonicalHeaderKey(k) {
	case "Content-Length", "Transfer-Encoding", "Trailer":
		return true
	}
	return false
}

// removeZone takes the zone out of a Host with an IPv6 literal ("[fe80::1%en0]:8080"): it means
// nothing to the server (RFC 6874 §4), and net/http leaves it out too.
func removeZone(host string) string {
	if !strings.HasPrefix(host, "[") {
		return host
	}
	i := strings.LastIndexByte(host, ']')
	if i < 0 {
		return host
	}
	j := strings.LastIndexByte(host[:i], '%')
	if j < 0 {
		return host
	}
	return host[:j] + host[i:]
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
