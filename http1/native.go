package http1

import (
	"bytes"
	"net/http"
	"net/textproto"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eddyio/eddy"
)

// NativeHandler serves requests on the connection's event loop, with no goroutine handoff and no
// allocation: the request is a view of the bytes received and the response is built in a reused
// buffer, written out with the other responses of the same loop iteration in one system call.
//
// # When to use which
//
// A NativeHandler must never block: while it runs, its loop serves no other connection. Use it for
// answers computed from the request and memory alone (static or cached responses, counters, routing
// decisions, health checks), where it serves several times more requests per core than net/http.
// Use a net/http Handler (Server.Handler) for everything that waits (databases, files, other
// services, locks held by slow code), for streaming responses, and for existing code: it runs on
// the worker pool, with the full net/http API.
//
// The request, its head and its body are valid only until ServeNative returns; copy what must be
// kept. The whole body has arrived before ServeNative is called (bounded by Server.MaxBodyBytes,
// DefaultNativeMaxBodyBytes by default), and a request that expects 100-continue gets the
// 100 (Continue) automatically while its body is still to come (none when the body came with the
// head, which RFC 9110 §10.1.1 allows; net/http sends it on the handler's first read). A panic is
// recovered: it is logged, answered with 500 and the connection closed; a panic with
// http.ErrAbortHandler closes the connection without an answer and is not logged, as in net/http.
type NativeHandler interface {
	ServeNative(w *ResponseBuffer, r *NativeRequest)
}

// NativeHandlerFunc adapts a function to NativeHandler.
type NativeHandlerFunc func(w *ResponseBuffer, r *NativeRequest)

// ServeNative calls f(w, r).
func (f NativeHandlerFunc) ServeNative(w *ResponseBuffer, r *NativeRequest) { f(w, r) }

// NativeRequest is a request given to a NativeHandler: the parsed head (Method, Target, Fields,
// ...) and the decoded body, all views of the connection's input, valid until ServeNative returns.
type NativeRequest struct {
	*RequestHead
	// Body is the whole request body, decoded from its transfer coding; empty without a body.
	Body []byte
	// Trailers are the trailer fields of a chunked body.
	Trailers []Field

	conn eddy.Conn
}

// Path returns the target's path, undecoded: the target up to '?'. For a target in absolute form
// (GET http://host/where?q HTTP/1.1, which proxies send and a server must accept, RFC 9112 §3.2.2),
// it is the part after the authority, and "/" when that part is empty (http://host: an empty path
// is "/", RFC 9110 §4.2.3; net/http's Request.URL.Path is "" there, and its ServeMux
// redirects it to "/"). The result is a view of the request: do not modify it.
func (r *NativeRequest) Path() []byte {
	t := r.Target
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		t = t[:i]
	}
	if r.Form != FormAbsolute {
		return t
	}
	i := bytes.Index(t, []byte("://")) + 3 // the parser checked that it has one
	if j := bytes.IndexByte(t[i:], '/'); j >= 0 {
		return t[i+j:]
	}
	return rootPath[:1:1]
}

// rootPath is the path of an absolute-form target with none.
var rootPath = []byte{'/'}

// Query returns the target's raw query (after '?'), or nil.
func (r *NativeRequest) Query() []byte {
	if i := bytes.IndexByte(r.Target, '?'); i >= 0 {
		return r.Target[i+1:]
	}
	return nil
}

// Conn returns the connection, for its addresses and its loop. Writing to it directly would
// interleave with the response: use the ResponseBuffer.
func (r *NativeRequest) Conn() eddy.Conn { return r.conn }

// ResponseBuffer collects the response of a NativeHandler: status, header fields and body. The
// server adds Date (unless set), Content-Length, Content-Type (sniffed from the body when not set,
// as net/http does) and Connection, then writes it all at once when ServeNative returns. Its
// memory is reused across requests, so building a response allocates nothing; it must not be used
// once ServeNative has returned (it may be serving another request by then), as net/http forbids
// the use of a ResponseWriter after ServeHTTP returns.
type ResponseBuffer struct {
	status  int
	header  []byte // "Name: value\r\n" lines
	body    []byte
	head    []byte // the head being assembled
	interim []byte // informational (1xx) responses, sent before the head
	vec     [2][]byte
	hasDate bool
	hasType bool
	hasEnc  bool // a Content-Encoding: the body is not sniffed, as net/http does not sniff it
	hasConn bool // a Connection field other than close, kept for the wire (Connection: upgrade)
	close   bool
}

var responseBuffers = sync.Pool{New: func() any { return new(ResponseBuffer) }}

// maxKeptResponse bounds the memory a ResponseBuffer keeps for the next response.
const maxKeptResponse = 64 << 10

func (w *ResponseBuffer) reset() {
	w.status = 0
	w.header = w.header[:0]
	w.body = w.body[:0]
	w.head = w.head[:0]
	w.interim = w.interim[:0]
	w.vec = [2][]byte{}
	w.hasDate, w.hasType, w.hasEnc, w.hasConn, w.close = false, false, false, false, false
	if cap(w.head) > maxKeptResponse {
		w.head = nil
	}
	if cap(w.body) > maxKeptResponse {
		w.body = nil
	}
	if cap(w.header) > maxKeptResponse {
		w.header = nil
	}
	if cap(w.interim) > maxKeptResponse {
		w.interim = nil
	}
}

// SetStatus sets the status code (default 200). It panics, as net/http's WriteHeader does, unless
// code has three digits. Nothing is sent before ServeNative returns, so a later SetStatus replaces
// the status, after Write too (a middleware may change it); net/http keeps the first WriteHeader's
// and the status a Write implies.
//
// An informational code (1xx) is not the response's status: as net/http's WriteHeader(103) does,
// it makes an interim response with the header fields added so far (which stay for the final
// response too), and the final status is set by a later SetStatus, 200 without one. Interim
// responses go out before the final one, in the same write when ServeNative returns (so 103 Early
// Hints gives the client no head start), and not at all to an HTTP/1.0 client, which would not
// understand them. 101 (Switching Protocols) panics: a native handler cannot take the connection
// over.
func (w *ResponseBuffer) SetStatus(code int) {
	if code < 100 || code > 999 {
		panic("http1: invalid status code " + strconv.Itoa(code))
	}
	if code < 200 {
		if code == http.StatusSwitchingProtocols {
			panic("http1: a native handler cannot switch protocols (status 101)")
		}
		w.interim = appendStatusLine(w.interim, 1, code)
		w.interim = append(w.interim, w.header...)
		w.interim = append(w.interim, "\r\n"...)
		return
	}
	w.status = code
}

// Status returns the status code set so far (200 if none).
func (w *ResponseBuffer) Status() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// AddHeader adds a header field. Content-Length and Transfer-Encoding are the server's and are
// ignored; "Connection: close" closes the connection after the response, and another Connection
// value (upgrade) is sent as given. A name that is not a token is dropped, and CR or LF in a value
// become spaces, as in net/http.
func (w *ResponseBuffer) AddHeader(name, value string) {
	if !w.acceptName(name, value) {
		return
	}
	w.header = append(w.header, name...)
	w.header = append(w.header, ": "...)
	w.header = appendValue(w.header, value)
	w.header = append(w.header, "\r\n"...)
}

// AddHeaderBytes is AddHeader with the value as bytes.
func (w *ResponseBuffer) AddHeaderBytes(name string, value []byte) {
	if strings.EqualFold(name, "Connection") {
		if listContains(value, "close") {
			w.close = true
			return
		}
		if listContains(value, "keep-alive") {
			return // the server's to say, as it keeps or closes the connection
		}
		w.hasConn = true
	} else if !w.acceptName(name, "") {
		return
	} else if len(name) == len("Content-Encoding") && strings.EqualFold(name, "Content-Encoding") {
		w.hasEnc = len(textproto.TrimBytes(value)) > 0
	}
	w.header = append(w.header, name...)
	w.header = append(w.header, ": "...)
	start := len(w.header)
	w.header = append(w.header, textproto.TrimBytes(value)...) // as AddHeader trims (textproto.TrimString)
	for i := start; i < len(w.header); i++ {
		if w.header[i] == '\r' || w.header[i] == '\n' {
			w.header[i] = ' '
		}
	}
	w.header = append(w.header, "\r\n"...)
}

// acceptName handles the names the server owns and reports whether the field is to be written.
// The names it looks for differ in length, so one comparison at most is made.
func (w *ResponseBuffer) acceptName(name, value string) bool {
	if !isTokenString(name) {
		return false
	}
	switch len(name) {
	case len("Content-Length"):
		return !strings.EqualFold(name, "Content-Length")
	case len("Transfer-Encoding"):
		return !strings.EqualFold(name, "Transfer-Encoding")
	case len("Connection"):
		if !strings.EqualFold(name, "Connection") {
			return true
		}
		if hasToken(value, "close") {
			w.close = true // the server writes Connection: close
			return false
		}
		if hasToken(value, "keep-alive") {
			return false // the server's to say: beside its own "close" it would contradict it
		}
		w.hasConn = true
	case len("Content-Encoding"):
		if strings.EqualFold(name, "Content-Encoding") && textproto.TrimString(value) != "" {
			w.hasEnc = true
		}
	case len("Date"):
		if strings.EqualFold(name, "Date") {
			w.hasDate = true
		}
	case len("Content-Type"):
		if strings.EqualFold(name, "Content-Type") {
			w.hasType = true
		}
	}
	return true
}

// Write appends p to the body. It never fails.
func (w *ResponseBuffer) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString appends s to the body. It never fails.
func (w *ResponseBuffer) WriteString(s string) (int, error) {
	w.body = append(w.body, s...)
	return len(s), nil
}

// Body returns the body written so far; the handler may change it in place.
func (w *ResponseBuffer) Body() []byte { return w.body }

// CloseConnection asks for the connection to be closed after this response.
func (w *ResponseBuffer) CloseConnection() { w.close = true }

// nativeState is the reader's state for a native request whose body is still arriving.
type nativeState struct {
	head    *RequestHead // a copy of the head, the input having moved on
	chunked bool
	need    int    // a Content-Length body: its length
	body    []byte // a chunked body: what was decoded so far
	counted bool   // counted as a request in flight, for Shutdown
	writeDL int64  // server clock: the request's WriteTimeout deadline; 0 none
	req     NativeRequest
}

func (n *nativeState) reset() {
	n.head, n.chunked, n.need, n.counted, n.writeDL = nil, false, 0, false, 0
	n.req = NativeRequest{}
	n.body = n.body[:0]
	if cap(n.body) > maxKeptResponse {
		n.body = nil
	}
}

// beginNative serves a native request whose head was just parsed, if its body is all here, and
// reports whether the caller should go on with the next request.
func (sc *conn) beginNative(h *RequestHead, n int, buf []byte) bool {
	rd := sc.rd
	if d := sc.srv.cfg.writeTimeout; d > 0 {
		rd.nat.writeDL = sc.srv.now() + int64(d) // from the end of the head, as in net/http
	}
	limit := sc.srv.cfg.maxNativeBody
	if !h.Chunked {
		if limit > 0 && h.ContentLength > limit {
			sc.refuse(ErrBodyTooLarge)
			return false
		}
		if int64(len(buf)-n) >= h.ContentLength {
			end := n + int(h.ContentLength)
			ok := sc.runNative(h, buf[n:end:end], nil)
			sc.c.Discard(end)
			return ok && sc.nativeDone()
		}
		return sc.awaitNativeBody(h, n, false, int(h.ContentLength))
	}
	rd.body.MaxBodyBytes = limit
	rd.body.Reset(h)
	nat := &rd.nat
	nat.body = nat.body[:0]
	off := n
	for {
		data, k, done, err := rd.body.Decode(buf[off:])
		if err != nil {
			sc.refuse(err)
			return false
		}
		nat.body = append(nat.body, data...)
		off += k
		if done {
			ok := sc.runNative(h, nat.body, rd.body.Trailers())
			sc.c.Discard(off)
			return ok && sc.nativeDone()
		}
		if k == 0 {
			return sc.awaitNativeBody(h, off, true, 0)
		}
	}
}

// awaitNativeBody keeps a copy of the head, drops the n bytes of input it occupies (with any body
// bytes already decoded) and waits for the rest of the body.
func (sc *conn) awaitNativeBody(h *RequestHead, n int, chunked bool, need int) bool {
	s := sc.srv
	if !s.requestBegun() {
		sc.close()
		return false
	}
	nat := &sc.rd.nat
	nat.head, nat.chunked, nat.need, nat.counted = h.Clone(), chunked, need, true
	sc.c.Discard(n)
	if h.ExpectContinue {
		sc.c.Write(continueLine)
	}
	sc.state = stNativeBody
	sc.deadline = 0
	if d := s.cfg.readTimeout; d > 0 {
		sc.deadline = s.now() + int64(d)
		sc.setTimeout(d)
	} else {
		sc.setTimeout(0)
	}
	return false
}

// nativeBody collects more of a native request's body and serves the request once it is all
// here; it reports whether the caller should go on with the next request.
func (sc *conn) nativeBody() bool {
	c := sc.c
	rd := sc.rd
	nat := &rd.nat
	if nat.chunked {
		for {
			in, _ := c.Peek(-1)
			data, k, done, err := rd.body.Decode(in)
			if err != nil {
				sc.refuse(err)
				return false
			}
			nat.body = append(nat.body, data...)
			c.Discard(k)
			if done {
				ok := sc.runNative(nat.head, nat.body, rd.body.Trailers())
				return sc.endNativeBody(ok)
			}
			if k == 0 {
				sc.armDeadline()
				return false
			}
		}
	}
	if c.Buffered() < nat.need {
		sc.armDeadline()
		return false
	}
	body, _ := c.Peek(nat.need)
	ok := sc.runNative(nat.head, body[:nat.need:nat.need], nil)
	c.Discard(nat.need)
	return sc.endNativeBody(ok)
}

func (sc *conn) endNativeBody(ok bool) bool {
	if sc.rd.nat.counted {
		sc.srv.requestEnded()
	}
	sc.rd.nat.reset()
	return ok && sc.nativeDone()
}

// nativeDone prepares for the next request after a native response. It reports false, having
// stopped reading, when too much output waits for the client: the next request waits until the
// mark in flight is acknowledged (markAcked).
func (sc *conn) nativeDone() bool {
	sc.requestDone()
	if sc.outFull() {
		sc.holdOut()
		return false
	}
	return true
}

// runNative calls the native handler and writes its response. It reports false when the
// connection is closing after it.
func (sc *conn) runNative(h *RequestHead, body []byte, trailers []Field) bool {
	w := responseBuffers.Get().(*ResponseBuffer)
	req := &sc.rd.nat.req
	*req = NativeRequest{RequestHead: h, Body: body, Trailers: trailers, conn: sc.c}
	ok, aborted := true, false
	if string(h.Target) != "*" || string(h.Method) != http.MethodOptions || sc.srv.DisableGeneralOptionsHandler {
		ok, aborted = sc.callNative(w, req)
	}
	*req = NativeRequest{}
	keep, n := false, 0
	switch {
	case aborted:
		// http.ErrAbortHandler: closed without an answer, as net/http and the net/http path do.
	case !ok:
		sc.internalError(h)
	case sc.rd.nat.writeDL != 0 && sc.srv.now() >= sc.rd.nat.writeDL:
		// The body or the handler took the whole WriteTimeout: as net/http's writes fail
		// then, nothing is written and the connection closes.
	default:
		keep, n = sc.writeNative(h, w)
	}
	w.reset()
	responseBuffers.Put(w)
	if !keep {
		sc.close()
		return false
	}
	sc.wroteNative(n)
	return true
}

// callNative runs the handler and reports false if it panicked, and whether that panic was
// http.ErrAbortHandler.
func (sc *conn) callNative(w *ResponseBuffer, r *NativeRequest) (ok, aborted bool) {
	defer func() {
		if ok {
			return
		}
		v := recover()
		aborted = v == http.ErrAbortHandler
		if !aborted {
			buf := make([]byte, 64<<10)
			buf = buf[:runtime.Stack(buf, false)]
			sc.srv.logf("http: panic serving %v: %v\n%s", sc.c.RemoteAddr(), v, buf)
		}
	}()
	sc.srv.cfg.native.ServeNative(w, r)
	return true, false
}

// writeNative writes the response w to request h and reports whether the connection stays open,
// and the bytes written.
func (sc *conn) writeNative(h *RequestHead, w *ResponseBuffer) (bool, int) {
	status := w.Status()
	keep := h.KeepAlive && !w.close && sc.srv.keepAlives()
	isHEAD := string(h.Method) == http.MethodHead
	b := w.head[:0]
	if h.ProtoMinor >= 1 {
		b = append(b, w.interim...)
	}
	b = appendStatusLine(b, h.ProtoMinor, status)
	if status == http.StatusNotModified && w.hasType {
		b = appendWithout(b, w.header, "Content-Type") // as net/http's suppressedHeaders304
	} else {
		b = append(b, w.header...)
	}
	if !w.hasDate {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	bodyOK := bodyAllowedForStatus(status)
	if bodyOK && (!isHEAD || len(w.body) > 0) {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
		if !w.hasType && !w.hasEnc && len(w.body) > 0 {
			b = append(b, "Content-Type: "...)
			b = append(b, http.DetectContentType(w.body)...)
			b = append(b, "\r\n"...)
		}
	}
	switch {
	case !keep && (h.ProtoMinor >= 1 || w.close):
		// To HTTP/1.0 too when the handler asked for it: net/http sends the handler's field.
		b = append(b, "Connection: close\r\n"...)
	case keep && h.ProtoMinor == 0 && !w.hasConn:
		b = append(b, "Connection: keep-alive\r\n"...)
	}
	b = append(b, "\r\n"...)
	w.head = b
	if !bodyOK || isHEAD || len(w.body) == 0 {
		sc.c.Write(b)
		return keep, len(b)
	}
	w.vec[0], w.vec[1] = b, w.body
	sc.c.Writev(w.vec[:])
	return keep, len(b) + len(w.body)
}

// internalError answers a request whose handler panicked.
func (sc *conn) internalError(h *RequestHead) {
	sc.c.Write(appendInternalError(make([]byte, 0, 256), h.ProtoMinor, string(h.Method) == http.MethodHead))
}

// appendInternalError appends the 500 answer to a request whose handler panicked: without its body
// for HEAD.
func appendInternalError(b []byte, minor int, head bool) []byte {
	b = appendStatusLine(b, minor, http.StatusInternalServerError)
	b = append(b, "Connection: close\r\nContent-Length: 22\r\nContent-Type: text/plain; charset=utf-8\r\nDate: "...)
	b = appendDate(b)
	b = append(b, "\r\nX-Content-Type-Options: nosniff\r\n\r\n"...)
	if !head {
		b = append(b, "Internal Server Error\n"...)
	}
	return b
}

// appendWithout appends the field lines of header ("Name: value\r\n" each) but those named name.
func appendWithout(b, header []byte, name string) []byte {
	for len(header) > 0 {
		i := bytes.IndexByte(header, '\n') + 1
		if i == 0 {
			i = len(header)
		}
		line := header[:i]
		header = header[i:]
		if len(line) > len(name) && line[len(name)] == ':' && strings.EqualFold(string(line[:len(name)]), name) {
			continue
		}
		b = append(b, line...)
	}
	return b
}

// ---- the output of native responses ----
//
// A native response is written whole into the connection's output queue, and pipelined requests
// are answered in one loop iteration: left alone, a client that sends many requests and reads
// nothing would have the server queue all their answers (the engine's back-pressure stops reading
// above its high-water mark, but only between reads). The connection cannot see its queue, so it
// counts what it writes and learns what has reached the kernel from marks: Conn.Flushed callbacks,
// which run once the output queued before them is out. A mark goes out once nativeOutMarkAt bytes
// have been written since the last one, so a client that reads costs one mark per MiB of output
// and nothing per request. While more than outHoldAt bytes are
// not known to be out (those before the mark in flight and those after it), requests wait in the
// input, reading paused (stOutHeld), as net/http serves the next request only once the previous
// response is written; the mark's acknowledgement resumes them.
//
// WriteTimeout uses the same marks, as the net/http path uses the acknowledgements of its batches:
// a response of nativeTrackAt bytes or more (the size past which a net/http response goes out in
// acknowledged batches) must reach the kernel by its deadline, the end of its head plus
// WriteTimeout. A mark covers everything written before it; the connection's timer is
// armed for the latest deadline of the tracked responses it covers (the mark is late only when the
// last of them is), or for the deadline of a tracked response written after it, if earlier (that
// one cannot be out before the mark is). If the mark is not acknowledged by then, the connection
// is closed, as net/http closes it when a write passes the deadline. As net/http reads the next
// request only once the response is written, the next request waits for the mark after a tracked
// response (outFull), so that its deadline starts then. A smaller response is not followed, as the
// last batch of a net/http response is not: it goes out with the next mark's.

const (
	nativeOutMarkAt = outHoldAt / 4 // the engine's default low-water mark
	nativeTrackAt   = flushSize
)

// outFlow is what a connection needs for its marks, made with the first one (or the first tracked
// response), so that a connection that never writes a MiB of native output does not carry it.
//
// A mark is a Conn.Flushed callback, registered on the loop when the mark is posted: it covers the
// output written so far, which is what postMark records.
type outFlow struct {
	ackFn   func(eddy.Conn, error) // markAcked
	checkFn func(eddy.Conn)        // checkWriteDeadline
	timer   *time.Timer            // the WriteTimeout deadline of the output not yet out; made on first use

	outMarked int   // bytes covered by the mark in flight
	markDL    int64 // server clock: the latest deadline of the tracked responses it covers; 0 none
	pendDL    int64 // the oldest deadline of the tracked responses in outPend; 0 none
	pendLast  int64 // the latest one

	marking bool // a mark is in flight (posted and not yet acknowledged)
}

func (sc *conn) outFlow() *outFlow {
	f := sc.flow
	if f == nil {
		f = &outFlow{}
		f.ackFn, f.checkFn = sc.markAcked, sc.checkWriteDeadline
		sc.flow = f
	}
	return f
}

// wroteNative accounts for a native response of n bytes, written with the deadline
// sc.rd.nat.writeDL (0: none), and sends a mark when one is due.
func (sc *conn) wroteNative(n int) {
	sc.outPend += n
	if dl := sc.rd.nat.writeDL; dl != 0 && n >= nativeTrackAt {
		f := sc.outFlow()
		first := f.pendDL == 0
		if first {
			f.pendDL = dl
		}
		f.pendLast = dl
		if !f.marking {
			sc.postMark()
		} else if first {
			// Behind a mark in flight: if that mark is never acknowledged, this response is
			// late at its own deadline.
			sc.armWriteDeadline()
		}
		return
	}
	if sc.outPend >= nativeOutMarkAt {
		if f := sc.flow; f == nil || !f.marking {
			sc.postMark()
		}
	}
}

// outFull reports whether the next native request must wait for the output to drain: too much of
// it is not known to be out, or a response bound by WriteTimeout is not. Only a mark in flight can
// end the wait, so without one the requests go on.
//
// The second wait is net/http's: it reads the next request, starting its WriteTimeout, once the
// previous response is written. Parsed at once, a batch of pipelined requests would share one
// deadline, and a client reading steadily, each response well within WriteTimeout, would be cut off
// when the whole batch could not reach the kernel within one WriteTimeout.
func (sc *conn) outFull() bool {
	f := sc.flow
	return f != nil && f.marking && (f.outMarked+sc.outPend > outHoldAt || f.pendDL != 0 || f.markDL != 0)
}

// postMark sends a mark after the output written so far, on the loop: the mark covers it, and its
// timer is the latest deadline among the tracked responses in it (the mark is late only when the
// last of them is). On a closed connection the mark is acknowledged at once, with the error.
func (sc *conn) postMark() {
	f := sc.outFlow()
	f.marking = true
	f.outMarked, sc.outPend = sc.outPend, 0
	f.markDL, f.pendDL, f.pendLast = f.pendLast, 0, 0
	sc.armWriteDeadline()
	sc.c.Flushed(f.ackFn)
}

// armWriteDeadline sets the connection's timer to the earliest deadline that closes it: the mark's
// (the latest it covers), or that of the oldest tracked response written after it, which cannot be
// out before the mark is acknowledged.
func (sc *conn) armWriteDeadline() {
	f := sc.flow
	dl := f.writeDeadline()
	if dl == 0 {
		if f.timer != nil {
			f.timer.Stop()
		}
		return
	}
	d := time.Duration(dl - sc.srv.now())
	if f.timer != nil {
		f.timer.Reset(d)
		return
	}
	c, check := sc.c, f.checkFn
	f.timer = time.AfterFunc(d, func() { executeRetrying(c, check) })
}

// writeDeadline returns the deadline armWriteDeadline arms: 0 when no mark is in flight or nothing
// it waits for is tracked.
func (f *outFlow) writeDeadline() int64 {
	if !f.marking {
		return 0
	}
	dl := f.markDL
	if f.pendDL != 0 && (dl == 0 || f.pendDL < dl) {
		dl = f.pendDL
	}
	return dl
}

// markAcked runs on the loop once the output the mark covers reached the kernel (or with the
// error that ended the connection): it sends the next mark if one is due, and serves the requests
// that waited for it.
func (sc *conn) markAcked(_ eddy.Conn, err error) {
	f := sc.flow
	f.marking = false
	f.outMarked, f.markDL = 0, 0
	if f.timer != nil {
		f.timer.Stop()
	}
	if err != nil || sc.state == stClosed {
		return
	}
	if sc.outPend >= nativeOutMarkAt || f.pendDL != 0 {
		sc.postMark() // it arms the timer
	}
	if sc.state == stOutHeld && !sc.outFull() {
		sc.resumeOut()
	}
}

// checkWriteDeadline runs on the loop when the timer fires: if the mark in flight is still waiting
// past its deadline, or past that of a tracked response written after it, a response was not
// written within WriteTimeout, and the connection closes.
func (sc *conn) checkWriteDeadline(eddy.Conn) {
	if sc.state == stClosed {
		return
	}
	f := sc.flow
	dl := f.writeDeadline()
	if dl == 0 {
		return
	}
	if sc.srv.now() >= dl {
		sc.abort(os.ErrDeadlineExceeded) // as net/http closes it when a write passes its deadline
		return
	}
	sc.armWriteDeadline() // a stale firing: the deadline moved on
}
