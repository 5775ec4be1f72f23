package http1

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
)

// Response buffering, as net/http: a body of at most bufferBeforeChunking bytes written by a
// handler that returns without flushing gets a Content-Length; a larger one is sent chunked (or,
// to HTTP/1.0 clients, delimited by closing the connection). Once the head is out, body bytes are
// sent in batches of up to flushSize.
const (
	bufferBeforeChunking = 2048
	flushSize            = 32 << 10
)

// outBuffers holds response buffers. A sync.Pool stores pointers, so each buffer travels in a box
// (*[]byte); the boxes emptied by getOut wait in emptyBoxes for putOut, so that neither
// allocates in steady state.
var (
	outBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}
	emptyBoxes = sync.Pool{New: func() any { return new([]byte) }}
)

func getOut() []byte {
	box := outBuffers.Get().(*[]byte)
	b := (*box)[:0]
	*box = nil
	emptyBoxes.Put(box)
	return b
}

func putOut(b []byte) {
	if b != nil && cap(b) <= 2*flushSize+8<<10 {
		box := emptyBoxes.Get().(*[]byte)
		*box = b[:0]
		outBuffers.Put(box)
	}
}

// response is one request in flight on the pool: the http.ResponseWriter given to the handler, and
// the exchange between the handler's goroutine and the connection's loop.
//
// Responses are pooled (responses): once the loop has written the last batch, finish puts the
// response back with its header map cleared and its buffers kept, so that a request on a warm
// server allocates neither. As in net/http, neither the ResponseWriter nor the map returned by
// Header may be used after ServeHTTP returns.
//
// The handler's goroutine owns the writer fields. The loop reads final, closeAfter and pipe only in
// finish, which the goroutine queues last. Across goroutines, the handler
// side sends bytes with AsyncWrite (one batch in flight at a time, acknowledged on acks, which is
// the back-pressure of a slow client) and ends with Execute(finish).
type response struct {
	sc   *conn
	c    eddy.Conn
	req  *http.Request
	ctx  *requestContext // req's, cancelled when the handler returns or the connection closes
	pipe *bodyPipe       // nil without a body
	// ends counts the two ends of the request, atomically: the handler's return (serve) and the
	// loop's end of it (conn.finish, or conn.closed when the connection goes first). The second ends
	// the request for Shutdown (endPart): a connection that closes under a running handler must not
	// let Shutdown return before the handler does, as net/http's does not.
	ends int32

	minor            int
	isHEAD           bool
	wants10KeepAlive bool
	wantsClose       bool

	handlerHeader http.Header
	snap          headSnapshot // the header as at WriteHeader, in wire format
	wroteHeader   bool         // a final status was given (logically written)
	headSent      bool         // the head is on its way (physically written)
	status        int
	contentLength int64 // declared or computed; -1 unknown
	written       int64
	chunked       bool
	bodyless      bool // HEAD, 1xx, 204, 304: body bytes are counted and dropped
	trailers      []string
	handlerDone   bool
	hijacked      bool // Hijack took the connection over: the response sends nothing more
	finishPosted  bool
	closeAfter    bool

	buf      []byte // body bytes not yet sent (pooled, returned by release)
	out      []byte // the batch being built
	inflight []byte // the batch AsyncWrite is sending
	final    []byte // the last batch, written by finish on the loop
	err      error  // sticky: the connection failed or a deadline passed

	// wdl is the write deadline. SetWriteDeadline may come from another goroutine of the
	// handler's, a watchdog freeing a write blocked behind a client that does not read, as
	// net/http's connection deadline allows; its wake-up channel is the connection's
	// (connHTTP.deadlineMoved).
	wdl         deadline
	closeNotify chan bool // made by CloseNotify

	spare  [3][]byte // buffers kept by a pooled response for its next use (getBuf, putBuf)
	nspare int

	expect       bool // the request asked for 100-continue (its automatic 100 Continue is the pipe's)
	connGone     atomic.Bool
	bodyTooLarge atomic.Bool
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)

// serve runs the handler on a pool worker and completes the response.
func (w *response) serve() {
	s := w.sc.srv
	returned, ended := false, false
	defer func() {
		v := recover()
		if v == nil && !returned {
			// runtime.Goexit (t.FailNow in a test's handler): no answer, and the connection closes,
			// as with net/http; the request must end all the same, or it holds Shutdown for ever.
			v = http.ErrAbortHandler
		}
		if v != nil {
			if !ended {
				w.endPart()
			}
			if w.hijacked {
				w.sc.srv.hijackers.Add(-1)
			}
			w.abort(v)
		}
	}()
	h := s.cfg.handler
	if !s.DisableGeneralOptionsHandler && w.req.RequestURI == "*" && w.req.Method == http.MethodOptions {
		h = http.HandlerFunc(globalOptions)
	}
	h.ServeHTTP(w, w.req)
	returned = true
	if w.hijacked {
		s.hijackers.Add(-1)
	}
	w.ctx.cancel()
	// The handler's end, before finishRequest hands the response to the loop, whose finish may run
	// (and recycle w) before this goroutine goes on.
	ended = true
	w.endPart()
	w.finishRequest()
}

// refuseBusy answers the request with 503 on its loop, the pool having refused it. Any goroutine,
// the loop's own included (loopHandoff.end), so it must not wait.
func (w *response) refuseBusy(err error) {
	w.endPart() // the handler's: it will not run
	w.postRefusal(err)
}

// postRefusal hands the 503 of refuseBusy to the loop. While the connection's task queue is full
// (WithTaskQueueCapacity) it tries again a millisecond later, from a timer: it may be running on
// the loop, which has to drain that queue first, so it cannot wait as executeRetrying does. On a
// closed connection OnClose has counted the loop's end; any other error aborts the connection,
// whose OnClose then counts it, so that the request never stays unanswered and open. w is not
// recycled meanwhile: only finish recycles, and the handler that would post it never runs.
func (w *response) postRefusal(err error) {
	c := w.c
	xerr := c.Execute(func(eddy.Conn) { w.sc.refuseBusy(w, err) })
	switch {
	case xerr == nil, errors.Is(xerr, eddy.ErrClosed):
	case errors.Is(xerr, eddy.ErrQueueFull):
		c.Loop().AfterFunc(time.Millisecond, func() { w.postRefusal(err) })
	default:
		c.Abort(xerr)
	}
}

// globalOptions answers "OPTIONS *" as net/http does.
func globalOptions(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Length", "0")
	if r.ContentLength != 0 {
		b := make([]byte, 4<<10)
		for n := 0; n < 4<<10; {
			k, err := r.Body.Read(b)
			n += k
			if err != nil {
				break
			}
		}
	}
}

// abort handles a panic in the handler: logged (unless it is http.ErrAbortHandler), answered with
// 500 if nothing was sent yet, and the connection closed either way.
func (w *response) abort(v any) {
	w.ctx.cancel()
	if v != http.ErrAbortHandler {
		buf := make([]byte, 64<<10)
		buf = buf[:runtime.Stack(buf, false)]
		w.sc.srv.logf("http: panic serving %v: %v\n%s", w.req.RemoteAddr, v, buf)
	}
	w.closeAfter = true
	w.disableContinue()
	if w.hijacked || w.headSent || v == http.ErrAbortHandler || w.err != nil {
		w.endWithError()
		return
	}
	w.headSent = true
	b := appendInternalError(w.getBuf(), w.minor, w.isHEAD)
	w.waitInflight()
	w.final = b
	w.postFinish()
}

// Header returns the header map of the response, as net/http's: changes after WriteHeader do not
// reach the client, except trailers.
func (w *response) Header() http.Header {
	if w.handlerHeader == nil {
		w.handlerHeader = make(http.Header)
	}
	return w.handlerHeader
}

// WriteHeader sends an informational (1xx) response at once, or sets the final status; the head
// goes out with the first flush of the body, or when the handler returns.
func (w *response) WriteHeader(code int) {
	if w.hijacked {
		w.logMisuse("http: response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.logMisuse("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 101 || code > 199 {
		w.disableContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInformational(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := first(w.handlerHeader["Content-Length"]); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.sc.srv.logf("http: invalid Content-Length of %q", cl)
			w.handlerHeader.Del("Content-Length")
		}
	}
	w.snapshotHeader()
}

// logMisuse logs a misuse of the ResponseWriter as net/http does, naming the code that made the
// call: the first function on the stack outside net/http and this package (so a superfluous
// WriteHeader made by http.Error names its caller).
func (w *response) logMisuse(what string) {
	caller := relevantCaller()
	w.sc.srv.logf("%s from %s (%s:%d)", what, caller.Function, path.Base(caller.File), caller.Line)
}

// relevantCaller returns the first frame on the caller's stack outside net/http and this package,
// as net/http's function of that name does.
func relevantCaller() runtime.Frame {
	var pcs [16]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	var frame runtime.Frame
	for more := true; more; {
		frame, more = frames.Next()
		if !strings.HasPrefix(frame.Function, "net/http.") && !strings.HasPrefix(frame.Function, thisPackage) {
			return frame
		}
	}
	return frame
}

// thisPackage is the prefix of the functions of this package in a stack trace.
var thisPackage = func() string {
	pc, _, _, _ := runtime.Caller(0)
	name := runtime.FuncForPC(pc).Name() // "<import path>.init.func1" or the like
	if i := strings.LastIndex(name, "/"); i >= 0 {
		if j := strings.Index(name[i:], "."); j >= 0 {
			return name[:i+j+1]
		}
	}
	return "github.com/eddyio/eddy/http1."
}()

// writeInformational sends a 1xx response with the current header (RFC 8297 keeps it for the final
// response), unless the client speaks HTTP/1.0, which has no 1xx responses (RFC 9110 §15.2: a
// server must not send one), as native handlers do.
func (w *response) writeInformational(code int) {
	if w.minor == 0 {
		return
	}
	b := w.getBuf()
	b = appendStatusLine(b, w.minor, code)
	b = appendHeader(b, w.handlerHeader, excludeNoBody)
	b = append(b, "\r\n"...)
	w.sendBatch(b)
}

// Write buffers p as the body of the response, sending the head and the body in batches as the
// buffer fills.
func (w *response) Write(p []byte) (int, error) { return w.write(len(p), p, "") }

// WriteString is Write for a string, without converting it.
func (w *response) WriteString(s string) (int, error) { return w.write(len(s), nil, s) }

func (w *response) write(n int, p []byte, s string) (int, error) {
	if w.hijacked {
		if n > 0 {
			w.logMisuse("http: response.Write on hijacked connection")
		}
		return 0, http.ErrHijacked
	}
	w.disableContinue()
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.err == nil && w.connGone.Load() {
		w.fail(eddy.ErrClosed)
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.headSent && w.bodyless {
		return n, nil
	}
	if w.buf == nil {
		w.buf = w.getBuf()
	}
	if !w.headSent && len(w.buf)+n <= bufferBeforeChunking {
		w.buf = append(w.buf, p...)
		w.buf = append(w.buf, s...)
		return n, nil
	}
	// Past the buffer: the response streams, its head going with the first batch.
	for len(p)+len(s) > 0 {
		room := max(flushSize-len(w.buf), 0)
		if p != nil {
			k := min(room, len(p))
			w.buf, p = append(w.buf, p[:k]...), p[k:]
		} else {
			k := min(room, len(s))
			w.buf, s = append(w.buf, s[:k]...), s[k:]
		}
		if len(w.buf) >= flushSize {
			if err := w.flush(false); err != nil {
				return 0, err
			}
		}
	}
	if !w.headSent {
		if err := w.flush(false); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// CloseNotify returns a channel that receives true once the client's connection has gone away
// (http.CloseNotifier, deprecated in net/http but still asserted by frameworks such as gin's
// streaming). It is told by the request's context, which also ends when the handler returns: as
// net/http says, after the handler has returned there is no guarantee either way.
func (w *response) CloseNotify() <-chan bool {
	if w.closeNotify == nil {
		ch := make(chan bool, 1)
		w.closeNotify = ch
		context.AfterFunc(w.ctx, func() { ch <- true })
	}
	return w.closeNotify
}

// Flush sends the head and the buffered body now (http.Flusher).
func (w *response) Flush() { w.FlushError() }

// FlushError is Flush that reports an error (used by http.ResponseController).
func (w *response) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	return w.flush(false)
}

// SetWriteDeadline sets when writes stop being accepted; at it, the connection is closed
// (http.ResponseController). The zero time removes the deadline. As with net/http, it may be
// called from another goroutine while the handler's Write or Flush waits for the client, which
// then looks at the new deadline; and as with net/http, not after ServeHTTP has returned (the
// response may serve another request by then).
func (w *response) SetWriteDeadline(t time.Time) error {
	w.wdl.set(t)
	return nil
}

// clockBase is the origin of clockNow.
var clockBase = time.Now()

// clockNow is the time on the clock of write deadlines: monotonic, as package net's deadlines are
// (a wall clock set back or forth does not move them).
func clockNow() int64 { return int64(time.Since(clockBase)) }

// clockDeadline returns t on clockNow's clock: 0 for the zero time, at least 1 for one past, and
// saturating for one too far away to add (clockAfter).
func clockDeadline(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return clockAfter(clockNow(), time.Until(t))
}

// SetReadDeadline sets the deadline of request body reads (http.ResponseController).
func (w *response) SetReadDeadline(t time.Time) error {
	if w.pipe != nil {
		w.pipe.setDeadline(t)
	}
	return nil
}

// EnableFullDuplex reports success: the request body stays readable while the response is written,
// always (http.ResponseController).
func (w *response) EnableFullDuplex() error { return nil }

// flush sends what is buffered, after the head if it has not gone yet. The final flush always
// ends with finish queued on the loop, even after an error, so the loop learns that the handler
// is done.
func (w *response) flush(final bool) error {
	if w.err != nil {
		if final {
			return w.endWithError()
		}
		return w.err
	}
	b := w.out
	if b == nil {
		b = w.getBuf()
	}
	w.out = nil
	if !w.headSent {
		w.headSent = true
		b = w.appendHead(b, w.buf, final)
	}
	if len(w.buf) > 0 && !w.bodyless {
		if w.chunked {
			b = strconv.AppendInt(b, int64(len(w.buf)), 16)
			b = append(b, "\r\n"...)
			b = append(b, w.buf...)
			b = append(b, "\r\n"...)
		} else {
			b = append(b, w.buf...)
		}
	}
	w.buf = w.buf[:0]
	if !final {
		return w.sendBatch(b)
	}
	if w.chunked {
		b = append(b, "0\r\n"...)
		b = w.appendTrailers(b)
		b = append(b, "\r\n"...)
	}
	w.waitInflight()
	if w.err != nil || w.deadlinePassed() {
		w.putBuf(b)
		return w.endWithError()
	}
	w.final = b
	return w.postFinish()
}

// endWithError ends a response that failed: finish closes the connection. It returns the
// response's error: once finish is queued, the loop may recycle w, so the caller must not look
// at w again.
func (w *response) endWithError() error {
	w.closeAfter = true
	w.waitInflight()
	w.final = nil
	err := w.err
	w.postFinish()
	return err
}

// sendBatch hands b to the loop with AsyncWrite once the previous batch is in the kernel, so a
// response holds at most two batches however slowly the client reads.
func (w *response) sendBatch(b []byte) error {
	w.waitInflight()
	if w.err != nil {
		w.putBuf(b)
		return w.err
	}
	if len(b) == 0 {
		w.out = b
		return nil
	}
	if w.deadlinePassed() {
		w.putBuf(b)
		return w.err
	}
	if err := asyncWriteRetrying(w.c, b, w.sc.http.ackFn); err != nil {
		w.fail(err)
		w.putBuf(b)
		return w.err
	}
	w.inflight = b
	return nil
}

// waitInflight waits for the batch in flight to reach the kernel, until the write deadline, and
// keeps its buffer for the next batch.
func (w *response) waitInflight() {
	if w.inflight == nil {
		return
	}
	ok, err := w.awaitAck()
	if !ok {
		// The deadline passed first: the loop ends the connection (endAtDeadline). The batch in
		// flight is abandoned (its late acknowledgement is dropped: no other write will follow).
		w.fail(os.ErrDeadlineExceeded)
		w.endAtDeadline()
		w.inflight = nil
		return
	}
	b := w.inflight
	w.inflight = nil
	if err != nil {
		w.fail(err)
		w.putBuf(b)
		return
	}
	w.out = b[:0]
}

// awaitAck waits for the outcome, on acks, of the write or file region in flight: whether it came
// before the write deadline, and its error. SetWriteDeadline may move the deadline meanwhile:
// each move wakes the wait to look at it again.
func (w *response) awaitAck() (bool, error) {
	err, ok := awaitDeadline(&w.wdl, w.sc.http.acks, nil)
	return ok, err
}

// endAtDeadline ends the connection of a response whose write deadline passed before the outcome
// of its batch (or file region) in flight came back. The handler cannot tell why: the client does
// not read, or the bytes did reach the kernel and their acknowledgement is still on its way (on
// uring it comes an iteration of the loop later; on every engine the deadline can pass meanwhile).
// So the loop decides, in a task queued behind the write (Execute and AsyncWrite, or the SendFile
// task, share the connection's queue on every engine, etls included): output still held by the
// engine then is stuck behind a client that does not read, and the connection is aborted (a graceful
// close would wait for it up to the flush timeout); with nothing held, everything written has reached
// the kernel and the close is graceful, as deadlinePassed's, so that the client reads it all and then
// EOF, as with net/http, rather than a reset that its kernel may report before bytes it holds.
func (w *response) endAtDeadline() {
	executeRetrying(w.c, closeAtDeadline) // ErrClosed: the connection is ending already
}

// closeAtDeadline is endAtDeadline's decision, on the loop.
func closeAtDeadline(c eddy.Conn) {
	if c.OutboundBuffered() > 0 {
		c.Abort(os.ErrDeadlineExceeded)
		return
	}
	c.Close()
}

// deadlinePassed fails the response and closes the connection if the write deadline has passed.
// Everything written before has reached the kernel (waitInflight came first), so the close is
// graceful, as net/http's, whose client reads what was sent and then EOF; a reset, which the
// client's kernel may report before the bytes it holds, is for output stuck behind a client that
// does not read (waitInflight).
func (w *response) deadlinePassed() bool {
	if !w.wdl.passed() {
		return false
	}
	w.fail(os.ErrDeadlineExceeded)
	w.c.Close()
	return true
}

// fail records the error that ends the response (a write that failed on the connection, or at
// the write deadline) and cancels the request's context before the failing call returns, as
// net/http cancels it on a failed write to the connection: a handler that sees a write fail finds
// its context done. (The loop cancels it too as the connection closes, but later.)
func (w *response) fail(err error) {
	if w.err == nil {
		w.err = err
	}
	w.ctx.cancel()
}

// post runs fn on the connection's loop, retrying while the loop's queue is full.
func (w *response) post(fn func(eddy.Conn)) error {
	err := executeRetrying(w.c, fn)
	if err != nil {
		w.fail(err)
	}
	return err
}

// executeRetrying is c.Execute(fn) from a goroutine that may wait: it retries while the connection's task
// queue is full (WithTaskQueueCapacity), and returns nil or the error of a closed connection.
func executeRetrying(c eddy.Conn, fn func(eddy.Conn)) error {
	for {
		err := c.Execute(fn)
		if !errors.Is(err, eddy.ErrQueueFull) {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// asyncWriteRetrying is c.AsyncWrite(b, cb) from a goroutine that may wait, retrying like executeRetrying.
func asyncWriteRetrying(c eddy.Conn, b []byte, cb func(eddy.Conn, error)) error {
	for {
		err := c.AsyncWrite(b, cb)
		if !errors.Is(err, eddy.ErrQueueFull) {
			return err
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// postFinish queues finish on the loop, once per response: finish acts on the connection's
// current exchange, so a second one could end the next request. It is the last use of w by the
// handler's goroutine: finish recycles w.
func (w *response) postFinish() error {
	if w.finishPosted {
		return nil
	}
	w.finishPosted = true
	if fn := w.sc.http.endFn; fn != nil {
		// The loop's own Execute takes a func made once per connection: Conn.Execute would
		// allocate for each request. finish checks that the request is still the connection's.
		w.c.Loop().Execute(fn)
		return nil
	}
	return w.post(w.sc.http.finishFn)
}

// finishRequest completes the response once the handler has returned.
func (w *response) finishRequest() {
	w.handlerDone = true
	if w.hijacked {
		w.postFinish() // the loop lets the response go (conn.finish)
		return
	}
	w.disableContinue()
	if !w.wroteHeader {
		if w.bodyTooLarge.Load() {
			w.closeAfter = true
			w.WriteHeader(http.StatusRequestEntityTooLarge)
		} else {
			w.WriteHeader(http.StatusOK)
		}
	}
	if !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written {
		w.closeAfter = true // the client would wait for the rest: do not reuse the connection
	}
	w.flush(true)
}

// dropArrivedBody closes the body the handler returned without reading to its end, and waits for
// the loop to drop what of it has arrived: then the pipe knows whether the body ended (a chunked
// body's end may wait in the connection's input behind a full pipe), or failed, the loop having
// dropped more than maxPostHandlerReadBytes of it. The loop's answer comes on acks, as sendFile's
// does.
func (w *response) dropArrivedBody() {
	w.waitInflight() // a 1xx response may be in flight: acks carries one outcome at a time
	if w.err != nil || w.connGone.Load() {
		return
	}
	w.pipe.Close()
	sc, h := w.sc, w.sc.http
	if err := w.post(func(c eddy.Conn) {
		sc.pump(c)
		h.ackFn(c, nil)
	}); err != nil {
		return
	}
	if err := <-h.acks; err != nil {
		w.fail(err)
	}
}

var continueLine = []byte("HTTP/1.1 100 Continue\r\n\r\n")

// disableContinue stops the body from sending an automatic 100 Continue, waiting for one being
// sent (bodyPipe.writeContinue).
func (w *response) disableContinue() {
	if p := w.pipe; p != nil && p.canContinue.Load() {
		p.disableContinue()
	}
}

// connClosed runs on the loop when the connection closes with the request in flight: its context
// is cancelled and its body fails. The handler's writes fail from now on.
func (w *response) connClosed(err error) {
	w.connGone.Store(true)
	w.ctx.cancel()
	// Wakes a sendFile whose task the closed connection dropped. If acks is full, its value goes to
	// the wait under way, and sendFile checks connGone before it posts another task.
	select {
	case w.sc.http.acks <- eddy.ErrClosed:
	default:
	}
	if w.pipe != nil {
		w.pipe.fail(errConnClosed)
	}
}

// endPart records one of the request's two ends (see ends); the second ends the request.
func (w *response) endPart() {
	if atomic.AddInt32(&w.ends, 1) == 2 {
		w.sc.srv.requestEnded()
	}
}

// release returns the buffers once the loop has written the last batch.
func (w *response) release() {
	w.putBuf(w.final)
	w.putBuf(w.buf)
	w.putBuf(w.snap.lines)
	w.putBuf(w.out)
	w.final, w.buf, w.snap.lines, w.out = nil, nil, nil, nil
	if w.pipe != nil {
		w.pipe.release()
	}
}

// responses holds the responses finish is done with.
var responses = sync.Pool{New: func() any { return new(response) }}

// Bounds on what a pooled response keeps.
const (
	maxKeptHeaderKeys = 32
	maxKeptBuffer     = 8 << 10
)

// recycle puts a released response back in the pool, keeping its header map, cleared, its spare
// buffers and its write deadline's timer. Called by the loop once nothing else refers to w: the
// handler has returned and posted finish, which is the last thing its goroutine does with w.
func (w *response) recycle() {
	h := w.handlerHeader
	if len(h) > maxKeptHeaderKeys {
		h = nil
	}
	clear(h)
	spare, nspare := w.spare, w.nspare
	var timer *time.Timer
	if !w.wdl.busy.Load() { // busy: a goroutine the handler left behind waits still (misuse)
		timer = w.wdl.timer // stopped: every wait stops it or sees it fire
	}
	*w = response{handlerHeader: h, spare: spare, nspare: nspare}
	w.wdl.timer = timer
	responses.Put(w)
}

// getBuf returns an empty buffer: one the response kept, or one from outBuffers.
func (w *response) getBuf() []byte {
	if w.nspare == 0 {
		return getOut()
	}
	w.nspare--
	b := w.spare[w.nspare]
	w.spare[w.nspare] = nil
	return b[:0]
}

// putBuf keeps b for the response's next use, or gives it back to outBuffers.
func (w *response) putBuf(b []byte) {
	switch {
	case b == nil:
	case w.nspare < len(w.spare) && cap(b) <= maxKeptBuffer:
		w.spare[w.nspare] = b[:0]
		w.nspare++
	default:
		putOut(b)
	}
}
