package http1

import (
	"context"
	"crypto/tls"
	"io"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// Connection states, owned by the loop.
//
//	reading -> (native: answered inline) -> reading
//	reading -> outHeld -> reading               output waits for the client to read it
//	reading -> nativeBody -> reading            a native request whose body is still arriving
//	reading -> handler -> reading | draining    a net/http request on the pool
//	draining -> reading                          the rest of a body the handler left unread
//	handler -> hijacked                          the handler took the connection over (hijack.go)
//	any -> closed
const (
	stReading    uint8 = iota // reading a request head (possibly nothing buffered yet)
	stNativeBody              // collecting the body of a native request
	stHandler                 // a net/http handler runs; its body is fed to it as it arrives
	stDraining                // dropping the unread rest of a body before the next request
	stOutHeld                 // responses wait for the client to read: no request is served
	stHijacked                // a handler took the connection over: input goes to its net.Conn
	stClosed                  // closing or closed: input is dropped
)

// While a handler runs, the bytes that arrive ahead of it (body bytes beyond what the body pipe
// holds, or pipelined requests) wait in the connection. Past inboundHoldAt of them the connection
// stops reading (eddy.Conn.SetReadPaused), so that TCP flow control holds back a client that sends
// faster than the handler reads, as it does for net/http; reading restarts once the handler has
// taken them down to half of that. What reached the engine before the pause took effect (at most a
// read buffer on epoll and std; on uring a read's worth and a buffer since Linux 6.17's recv limit, up
// to a receive window before) can pass the bound; maxInboundBacklog is the safety net past which the
// connection is closed.
const (
	inboundHoldAt     = 256 << 10
	maxInboundBacklog = 8 << 20
)

// outHoldAt bounds the output a connection holds for its client before the next pipelined request
// is served: past it, the request waits, reading paused (stOutHeld), until the client has taken that
// output, as net/http reads the next request only once the previous response is written. Native
// responses count it with marks (outFull, markAcked); a net/http response, written (its last batch,
// with Conn.Write) when its handler returns, with the engine's OutboundBuffered (holdOutput,
// outFlushed). Without the wait, a client that pipelines small requests and never reads the
// responses had the server hold a response for each request already received, tens of MiB per
// connection (the engine's back-pressure stops reading, not serving what was read). It is the
// engine's default high-water mark.
const outHoldAt = eddy.DefaultHighWater

// conn is the state of one connection. Every field is owned by the connection's loop, except those
// the pool side reads as documented on exchange.
type conn struct {
	srv *Server
	c   eddy.Conn
	rd  *reader // parser and decoders, held only while a request is in progress
	ex  *response

	state      uint8
	closeAfter bool          // close once the current response is out
	peerGone   bool          // the client shut down its sending side: close once idle
	bodyOpen   bool          // a net/http request's body is still arriving (fed, or dropped)
	inHeld     bool          // reading is paused: too many bytes wait ahead of the handler (holdInput)
	timeout    time.Duration // the idle timeout last set on c
	deadline   int64         // server clock: when reading the current request must end; 0 none
	drained    int64         // body bytes dropped since the handler stopped reading

	// Native output not yet known to be in the kernel (native.go, wroteNative): the bytes written
	// since the last mark's snapshot, and the rest of native flow control, made with the first mark.
	outPend int
	flow    *outFlow

	// Used by net/http requests, made on the first one.
	http *connHTTP
}

// connHTTP is what a connection needs for net/http requests: made once, kept for its life.
type connHTTP struct {
	ctx    context.Context // carries http.ServerContextKey and http.LocalAddrContextKey
	remote string
	tls    *tls.ConnectionState // nil on a plain connection
	acks   chan error           // AsyncWrite completions; one write in flight at most
	// deadlineMoved wakes a handler waiting on acks when SetWriteDeadline, perhaps from another
	// goroutine, moves the deadline of the wait. A wake-up left over from an earlier request only
	// makes the next wait look at its deadline once more.
	deadlineMoved chan struct{}
	next          *response // the exchange handed to the pool: set by the loop, taken by runFn
	runFn         func()
	finishFn      func(eddy.Conn)
	endFn         func() // finish as a task of the loop; nil unless loopRunsCallbacks
	pumpFn        func(eddy.Conn)
	ackFn         func(eddy.Conn, error)
	flushedFn     func(eddy.Conn, error) // outFlushed
	handoff       *loopHandoff           // nil: each request is submitted to the pool by itself
	hj            *hijackedConn          // the connection's net.Conn once a handler has hijacked it
}

// reader holds the per-request parsing state. It is taken from a pool when a request starts and
// given back when the connection is idle, so an idle connection holds none of it.
type reader struct {
	p    Parser
	body BodyDecoder
	nat  nativeState
}

var readers = sync.Pool{New: func() any { return new(reader) }}

// maxKeptFieldLines is the most field lines of a usual head. It bounds the room a pooled reader keeps
// for them, so that a head with many more (the server bounds them by MaxHeaderBytes alone) does not
// leave its slices behind in the pool, and the size buildHeader makes a header for.
const maxKeptFieldLines = 4 * DefaultMaxHeaders

func (sc *conn) reader() *reader {
	if sc.rd == nil {
		r := readers.Get().(*reader)
		r.p.MaxHeaderBytes = sc.srv.cfg.maxHeaderBytes
		// The server bounds the head by its bytes alone, as net/http does (its MaxHeaderBytes
		// is the only limit it has on header fields), not by the Parser's count of field lines:
		// a request that net/http serves, say with 150 short fields, must be served here too,
		// and a count would be one more limit, and one more Server field, with no net/http
		// counterpart. The cost of a field line is bounded by its bytes: at least 3 of them
		// ("a:" and LF) for one entry in the parser's slices and in the request's header.
		r.p.MaxHeaders = maxHeaderBytesCap
		sc.rd = r
	}
	return sc.rd
}

func (sc *conn) releaseReader() {
	if r := sc.rd; r != nil {
		sc.rd = nil
		if cap(r.p.spans) > maxKeptFieldLines {
			r.p.spans = nil
		}
		if cap(r.p.head.Fields) > maxKeptFieldLines {
			r.p.head.Fields = nil
		}
		r.p.Reset()
		r.nat.reset()
		readers.Put(r)
	}
}

// open sets the first request's header deadline, which runs from the accept as in net/http.
func (sc *conn) open() {
	if d := sc.srv.cfg.headerTimeout; d > 0 {
		sc.deadline = sc.srv.now() + int64(d)
		sc.setTimeout(d)
		return
	}
	sc.setTimeout(0)
}

// setTimeout sets the engine's idle timeout of the connection, unless it is set already. The engine
// closes the connection once it has neither read nor written for d.
func (sc *conn) setTimeout(d time.Duration) {
	if sc.timeout != d || d == 0 {
		sc.timeout = d
		sc.c.SetIdleTimeout(d)
	}
}

// armDeadline makes the idle timeout fire at sc.deadline, and reports false, having closed the
// connection, if it has passed. Called after each read, it bounds a request that trickles in.
func (sc *conn) armDeadline() bool {
	if sc.deadline == 0 {
		return true
	}
	left := time.Duration(sc.deadline - sc.srv.now())
	if left <= 0 {
		sc.close()
		return false
	}
	sc.timeout = left
	sc.c.SetIdleTimeout(left)
	return true
}

// requestDone prepares for the next request on a kept-alive connection.
func (sc *conn) requestDone() {
	sc.setState(http.StateIdle)
	sc.state = stReading
	sc.deadline = 0
	if d := sc.srv.cfg.idleTimeout; sc.timeout != d {
		sc.setTimeout(d)
	}
}

func (sc *conn) close() {
	sc.state = stClosed
	sc.c.Close()
}

// abort closes the connection at once, dropping the output not yet sent: for a client that does not
// read its responses within WriteTimeout (a graceful close would wait for one that reads slowly).
func (sc *conn) abort(err error) {
	sc.state = stClosed
	sc.c.Abort(err)
}

// serve consumes what has arrived: request heads, bodies, pipelined requests, one at a time.
func (sc *conn) serve() {
	c := sc.c
	for {
		switch sc.state {
		case stClosed:
			c.Discard(-1)
			return
		case stOutHeld: // the output's acknowledgement serves the rest (markAcked, outFlushed)
			return
		case stHijacked:
			sc.hijackedInput()
			return
		case stHandler:
			sc.pumpBody()
			sc.holdInput()
			if c.Buffered() > maxInboundBacklog {
				sc.srv.logf("http1: closing connection from %v: %d bytes arrived ahead of a handler that has not read them", c.RemoteAddr(), c.Buffered())
				sc.close()
			}
			return
		case stDraining:
			if !sc.pumpBody() {
				if sc.state == stDraining {
					sc.armDrain()
				}
				return
			}
			sc.requestDone()
		case stNativeBody:
			if !sc.nativeBody() {
				return
			}
			continue
		}
		if sc.http != nil && c.Buffered() > 0 && c.OutboundBuffered() > outHoldAt {
			sc.holdOutput()
			return
		}
		buf, _ := c.Peek(-1)
		if len(buf) == 0 {
			sc.releaseReader() // between requests: the parser holds nothing
			if sc.peerGone {
				sc.close()
			}
			return
		}
		if sc.srv.inShutdown.Load() {
			sc.reportActive() // bytes of a request were read, as net/http reports then
			sc.close()
			return
		}
		rd := sc.reader()
		head, n, err := rd.p.Parse(buf)
		if err != nil {
			sc.refuse(err)
			return
		}
		if head == nil {
			if sc.peerGone { // the rest of the head will never come
				sc.refuse(errHeadCutShort)
				return
			}
			sc.headIncomplete()
			return
		}
		if !sc.begin(head, n, buf) {
			if sc.state == stHandler {
				continue // feed the handler the body that is here, and hold the input behind it
			}
			return
		}
	}
}

// holdOut makes the next request wait, reading paused, until the client has taken the output held
// (outHoldAt); resumeOut ends the wait.
func (sc *conn) holdOut() {
	sc.state = stOutHeld
	sc.c.SetReadPaused(true)
}

// resumeOut serves the requests that waited in holdOut.
func (sc *conn) resumeOut() {
	sc.state = stReading
	sc.c.SetReadPaused(false)
	sc.serve()
}

// holdOutput holds the next request until the output of the net/http responses written so far has
// reached the kernel.
func (sc *conn) holdOutput() {
	sc.holdOut()
	sc.c.Flushed(sc.http.flushedFn)
}

// outFlushed runs on the loop once the output held by holdOutput has reached the kernel, or with
// the error that ended the connection, and serves the requests that waited.
func (sc *conn) outFlushed(_ eddy.Conn, err error) {
	if sc.state != stOutHeld {
		return
	}
	if err != nil {
		sc.close()
		return
	}
	sc.resumeOut()
}

// headIncomplete starts or checks the header deadline while a head trickles in.
func (sc *conn) headIncomplete() {
	if sc.deadline == 0 {
		d := sc.srv.cfg.headerTimeout
		if d > 0 {
			sc.deadline = sc.srv.now() + int64(d)
		}
		sc.setTimeout(d)
		return
	}
	sc.armDeadline()
}

// begin serves the request whose head was just parsed and reports whether the caller should go
// on with the bytes that follow (the next pipelined request).
func (sc *conn) begin(h *RequestHead, n int, buf []byte) bool {
	sc.reportActive()
	if v := h.Get("Expect"); len(v) > 0 && !listContains(v, "100-continue") {
		sc.answerClose(h, http.StatusExpectationFailed)
		return false
	}
	if sc.srv.cfg.native != nil {
		return sc.beginNative(h, n, buf)
	}
	sc.beginHTTP(h, n, buf)
	return false
}

// refuse answers a request that cannot be served as net/http answers bad requests: a plain text
// body, "Connection: close", no Date, and the connection closed.
func (sc *conn) refuse(err error) {
	sc.reportActive() // bytes of the request were read
	code := StatusOf(err)
	text := http.StatusText(code)
	b := make([]byte, 0, 160)
	b = appendStatusLine(b, 1, code)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"...)
	b = appendStatusCode(b, code)
	b = append(b, ' ')
	b = append(b, text...)
	if e, ok := err.(*Error); ok && e.Reason != "" {
		b = append(b, ": "...)
		b = append(b, e.Reason...)
	}
	sc.c.Write(b)
	sc.close()
}

// answerClose answers h with an empty response of the given status and closes the connection.
func (sc *conn) answerClose(h *RequestHead, code int) {
	b := make([]byte, 0, 160)
	b = appendStatusLine(b, h.ProtoMinor, code)
	b = append(b, "Connection: close\r\nContent-Length: 0\r\nDate: "...)
	b = appendDate(b)
	b = append(b, "\r\n\r\n"...)
	sc.c.Write(b)
	sc.close()
}

// busy answers a request that found the worker pool full.
func (sc *conn) busy() {
	s := sc.srv
	if now, last := s.now()+1, s.lastBusy.Load(); last == 0 || now-last > int64(time.Second) {
		s.lastBusy.Store(now)
		s.logf("http1: worker pool full, answering 503 (raise Server.PoolSize or the pool's workers)")
	}
	b := make([]byte, 0, 200)
	b = appendStatusLine(b, 1, http.StatusServiceUnavailable)
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nRetry-After: 1\r\n\r\n503 Service Unavailable: server busy"...)
	sc.c.Write(b)
	sc.close()
}

// errHeadCutShort answers a request head that the client's FIN cut short, as net/http does.
var errHeadCutShort = badRequest("request head cut short by the end of the connection")

// peerClosed runs when the client has shut down its sending side, and reports whether to keep the
// connection open for writing: only while a net/http handler runs, whose answer net/http would
// still send, or while responses wait for the client to read (stOutHeld). A handler's
// context is cancelled, as net/http cancels it on the client's EOF, and a body still arriving
// fails. Requests pipelined before the FIN are served after it; then the connection closes.
func (sc *conn) peerClosed() bool {
	switch {
	case sc.state == stHijacked: // the hijacker reads EOF, and may go on writing
		sc.http.hj.peerClosed()
		return true
	case sc.state == stReading && sc.c.Buffered() > 0:
		sc.refuse(errHeadCutShort) // answered as net/http answers it, then closed
		return false
	case sc.state == stOutHeld: // requests pipelined before the FIN are served once the output drains
		sc.peerGone = true
		return true
	case sc.state != stHandler || sc.ex == nil:
		return false
	}
	sc.peerGone = true
	sc.ex.ctx.cancel()
	sc.pumpBody() // fails a body that cannot be complete now
	return true
}

// closed runs from OnClose: a request in flight loses its connection.
func (sc *conn) closed(err error) {
	if sc.srv.cfg.hooked {
		if sc.state == stReading && sc.rd != nil {
			sc.reportActive() // a head cut short by its deadline: net/http read bytes of it
		}
		sc.setState(http.StateClosed) // unless hijacked
	}
	sc.state = stClosed
	if sc.http != nil && sc.http.hj != nil {
		sc.http.hj.connClosed(err)
	}
	if ex := sc.ex; ex != nil {
		sc.ex = nil
		ex.connClosed(err)
		ex.endPart() // the request ends when its handler returns too
	}
	if sc.rd != nil && sc.rd.nat.counted {
		sc.srv.requestEnded()
	}
	sc.releaseReader()
	if f := sc.flow; f != nil && f.timer != nil {
		f.timer.Stop()
	}
}

// ---- net/http requests ----

// netHTTP returns the connection's net/http state, made on first use.
func (sc *conn) netHTTP() *connHTTP {
	if sc.http == nil {
		h := &connHTTP{acks: make(chan error, 1), deadlineMoved: make(chan struct{}, 1)}
		var parent context.Context // BaseContext's, ConnContext's, with http.ServerContextKey
		if hk := sc.hooks(); hk != nil {
			parent = hk.ctx
		} else {
			parent = sc.srv.serverContext()
		}
		h.ctx = context.WithValue(parent, http.LocalAddrContextKey, sc.c.LocalAddr())
		h.remote = sc.c.RemoteAddr().String()
		if st, ok := etls.ConnectionState(sc.c); ok {
			h.tls = &st
		}
		h.runFn = sc.run
		h.finishFn = sc.finish
		h.pumpFn = sc.pump
		h.ackFn = sc.ack
		h.flushedFn = sc.outFlushed
		if hook := ackHook.Load(); hook != nil { // tests only
			ack := sc.ack
			h.ackFn = func(c eddy.Conn, err error) { (*hook)(c); ack(c, err) }
		}
		h.handoff = sc.srv.handoffFor(sc.c.Loop())
		if sc.srv.loopRunsCallbacks() {
			h.endFn = func() { sc.finish(sc.c) }
		}
		sc.http = h
	}
	return sc.http
}

// beginHTTP turns the head into an *http.Request and hands it to the pool.
func (sc *conn) beginHTTP(h *RequestHead, n int, buf []byte) {
	s := sc.srv
	if !s.requestBegun() {
		sc.close()
		return
	}
	rd := sc.reader()
	rd.body.MaxBodyBytes = s.cfg.maxBody
	if err := rd.body.Reset(h); err != nil {
		s.requestEnded()
		sc.refuse(err)
		return
	}
	hs := sc.netHTTP()
	w, err := sc.newExchange(h, n, buf)
	if err != nil {
		s.requestEnded()
		sc.refuse(err)
		return
	}
	sc.c.Discard(n)
	if sc.peerGone {
		w.ctx.cancel() // pipelined before the FIN: served, with its context cancelled
	}
	sc.ex = w
	sc.state = stHandler
	sc.closeAfter = false
	sc.drained = 0
	// Not armed while the handler runs, whose body reads have their own deadline (ReadTimeout, or
	// what the handler sets); finish takes that one for the drain of a body left unread.
	sc.deadline = 0
	sc.setTimeout(0) // the handler may take its time; ReadTimeout bounds its body reads
	sc.bodyOpen = w.pipe != nil
	if sc.bodyOpen {
		sc.pumpBody()
	} else {
		sc.releaseReaderIfIdle()
	}
	if hs.handoff != nil {
		hs.handoff.add(w)
		return
	}
	hs.next = w
	if err := s.cfg.pool.TrySubmit(hs.runFn); err != nil {
		w.endPart() // the handler's: it will not run
		sc.refuseBusy(w, err)
	}
}

// refuseBusy answers the request of w, which the pool refused, with 503 and closes the connection.
// The caller has counted the handler's end of the request (endPart): the handler will not run.
func (sc *conn) refuseBusy(w *response, err error) {
	if sc.ex != w {
		return // the connection has closed meanwhile, and closed counted the loop's end
	}
	sc.ex = nil
	w.connClosed(err)
	w.endPart()
	sc.busy()
}

// releaseReaderIfIdle gives back the reader while a bodiless request runs, unless pipelined bytes
// are waiting: those are parsed once the response is out.
func (sc *conn) releaseReaderIfIdle() {
	if sc.c.Buffered() == 0 {
		sc.releaseReader()
	}
}

// run serves the exchange on a pool worker.
func (sc *conn) run() {
	w := sc.http.next
	sc.http.next = nil // an idle connection must not keep its last request alive
	w.serve()
}

// pumpBody feeds the arriving body to the handler's pipe (or drops it once the handler stopped
// reading) and reports whether the body is complete.
func (sc *conn) pumpBody() bool {
	if !sc.bodyOpen || sc.state == stClosed {
		return true
	}
	c := sc.c
	var pipe, ended *bodyPipe // where to push the body, and which pipe to tell of its end
	if sc.state == stHandler && sc.ex != nil {
		pipe = sc.ex.pipe
		ended = pipe
	}
	for {
		in, _ := c.Peek(-1)
		if len(in) == 0 {
			if sc.peerGone { // the rest of the body will never come
				if pipe != nil {
					pipe.fail(io.ErrUnexpectedEOF)
				}
				sc.closeAfter = true
				if sc.state == stDraining {
					sc.close()
				}
			}
			return false
		}
		room := len(in)
		if pipe != nil {
			room = pipe.room()
			if room < 0 { // the handler closed the body: drop the rest
				pipe = nil
				room = len(in)
				// What it left in the pipe counts too: net/http gives up on a body once more
				// than maxPostHandlerReadBytes of what the handler left has to be read.
				sc.drained += ended.takeDropped()
			} else if room == 0 {
				return false
			}
		}
		data, k, done, err := sc.rd.body.Decode(in[:min(len(in), room)])
		if err != nil {
			// Bad framing or a body over the limit: nothing more on this connection can be
			// trusted. The handler sees the error; the connection closes after its answer.
			if pipe != nil {
				pipe.fail(err)
			}
			sc.closeAfter = true
			c.Discard(-1)
			if sc.state == stDraining {
				sc.close()
			}
			return false
		}
		if pipe != nil && len(data) > 0 {
			pipe.push(data)
		} else if len(data) > 0 {
			sc.drained += int64(len(data))
			if sc.drained > maxPostHandlerReadBytes {
				sc.closeAfter = true
				if ended != nil {
					// A head still to be made must say that the connection closes: the body's
					// end, should it follow, must not make it look complete (tooMuchLeft).
					ended.fail(errLeftUnread)
				}
				if sc.state == stDraining {
					sc.close()
					return false
				}
			}
		}
		c.Discard(k)
		if done {
			if ended != nil { // also when closed: the response's head may want to know
				ended.finish(sc.rd.body.Trailers())
			}
			sc.bodyOpen = false
			sc.rd.body.Reset(&noBody)
			return true
		}
		if k == 0 {
			return false
		}
	}
}

// noBody is the head of a request without a body, to reset a BodyDecoder with.
var noBody RequestHead

// bodyRemaining returns the bytes of a Content-Length body still to come; 0 for a chunked body,
// whose length is unknown (its drain is bounded as it goes).
func bodyRemaining(d *BodyDecoder) int64 {
	if d.chunked {
		return 0
	}
	return d.lengthDec.Remaining()
}

// armDrain bounds the drain of a body the handler left unread: by the idle timeout between
// arrivals, and by the request's read deadline (ReadTimeout) in all, as net/http discards the
// body under it. It reports false, having closed the connection, if the deadline has passed.
// Called on entering stDraining and after each arrival.
func (sc *conn) armDrain() bool {
	d := sc.srv.cfg.idleTimeout
	if sc.deadline != 0 {
		left := time.Duration(sc.deadline - sc.srv.now())
		if left <= 0 {
			sc.close()
			return false
		}
		if d <= 0 || left < d {
			d = left
		}
	}
	if d > 0 {
		sc.timeout = d
		sc.c.SetIdleTimeout(d)
	}
	return true
}

// clockAfter returns the time left after now, on a clock of int64 nanoseconds (Server.now's, or
// clockNow's): at least 1 (0 means none), however long past a deadline is, and saturating for one so
// far away (a handler's "never", the year 3000) that the sum would overflow into the past, which closed
// the connection at once.
func clockAfter(now int64, left time.Duration) int64 {
	switch {
	case left <= 0:
		return max(now, 1)
	case now > math.MaxInt64-int64(left):
		return math.MaxInt64
	}
	return now + int64(left)
}

// pump runs on the loop when the handler has made room in a pipe that was full.
func (sc *conn) pump(eddy.Conn) {
	if sc.state == stHandler {
		sc.pumpBody()
		sc.holdInput()
	}
}

// holdInput pauses reading while more than inboundHoldAt bytes wait ahead of the handler, and
// restarts it once they are down to half of that (finish restarts it when the handler is done).
func (sc *conn) holdInput() {
	n := sc.c.Buffered()
	switch {
	case !sc.inHeld && n > inboundHoldAt && sc.state == stHandler:
		sc.inHeld = true
		sc.c.SetReadPaused(true)
	case sc.inHeld && (n <= inboundHoldAt/2 || sc.state != stHandler):
		sc.inHeld = false
		sc.c.SetReadPaused(false)
	}
}

// ackHook, set only by tests, runs on the loop before each acknowledgement of the connections made
// while it is set (their ackFn), to hold it back.
var ackHook atomic.Pointer[func(eddy.Conn)]

// ack receives the completion of an AsyncWrite of the response.
func (sc *conn) ack(_ eddy.Conn, err error) {
	select {
	case sc.http.acks <- err:
	default: // a write abandoned at its deadline: nobody waits for it
	}
}

// finish runs on the loop once the handler is done: it writes the end of the response and moves
// on to the next request.
func (sc *conn) finish(c eddy.Conn) {
	w := sc.ex
	if w == nil {
		return
	}
	if sc.state == stHijacked { // the handler of a hijacked connection returned: nothing to send
		sc.ex = nil
		w.release()
		w.recycle()
		return
	}
	if len(w.final) > 0 {
		c.Write(w.final)
	}
	if sc.bodyOpen && w.pipe != nil {
		// The drain of the rest of the body is bounded by the body's read deadline, as net/http
		// discards it under the connection's: ReadTimeout's, or the one the handler set with
		// http.ResponseController.SetReadDeadline (none, if it lifted it).
		sc.deadline = 0
		if dl := w.pipe.dl.get(); dl != 0 {
			sc.deadline = clockAfter(sc.srv.now(), time.Duration(dl-clockNow()))
		}
	}
	closeAfter := w.closeAfter
	w.endPart() // the handler's part is in: this ends the request
	w.release()
	w.recycle()
	sc.ex = nil
	if sc.inHeld { // the rest of the input is the server's to read now
		sc.inHeld = false
		c.SetReadPaused(false)
	}
	if closeAfter || sc.closeAfter || sc.state == stClosed {
		sc.close()
		return
	}
	if !sc.srv.keepAlives() {
		// The head went out keeping the connection, before Shutdown (or SetKeepAlivesEnabled)
		// said otherwise: the request is done, as net/http reports it (StateIdle) before it
		// closes the connection then.
		sc.setState(http.StateIdle)
		sc.close()
		return
	}
	if sc.bodyOpen {
		if bodyRemaining(&sc.rd.body) > maxPostHandlerReadBytes {
			sc.close()
			return
		}
		sc.state = stDraining
		if !sc.armDrain() {
			return
		}
	} else {
		sc.requestDone()
	}
	sc.serve()
}
