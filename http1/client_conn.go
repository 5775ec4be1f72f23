package http1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/future"
)

// clientConn is one connection of a Transport. Its fields other than next, hc and closed (guarded by
// Transport.mu) belong to its loop.
type clientConn struct {
	t       *Transport
	c       eddy.Conn
	beginFn func(eddy.Conn)

	// Guarded by t.mu.
	hc     *hostConns
	next   *exchange // handed to the connection, for begin to start
	closed bool      // OnClose ran

	// The loop's.
	x          *exchange // the exchange in progress, nil while idle
	p          respParser
	chunk      ChunkedDecoder
	reused     bool      // it went back to the pool (or to a waiting request): the server may close it as it is reused
	paused     bool      // reading paused for want of room in the body's pipe
	waiting    *exchange // complete, its request's last write not yet reported (requestSent)
	peerClosed bool      // the server's FIN arrived while body bytes waited in the input
	showing    bool      // a Got1xxResponse hook runs (showInterim): reading is paused until it returns
	dead       bool      // the client aborted or closed it: it serves no other exchange
}

// exchangePhase is where an exchange is.
type exchangePhase uint8

const (
	xWait exchangePhase = iota // waiting for a connection
	xHead                      // request sent (or being sent), waiting for the response head
	xBody                      // response head delivered, body arriving
	xDone                      // over
)

// exchange is one request and its response.
type exchange struct {
	t          *Transport
	req        *http.Request
	key        string        // host:port
	secure     bool          // https
	head       []byte        // the request head, and the body when it was read ahead
	body       io.ReadCloser // the streamed body of the attempt under way (from GetBody after a retry), or nil
	chunked    bool          // body is sent chunked
	bodyLen    int64         // or has this length
	isHEAD     bool
	idempotent bool
	wantsClose bool // the request asked for Connection: close
	pr         future.Promise[*http.Response]
	stopWatch  func() bool // ends the watch of the request's context
	stopAsync  func() bool // ends the watch of the future's context (RoundTripAsync), or nil

	// The request body closeReqBody closes, once each: req.Body, then each body GetBody returned
	// for a retry (rewind).
	bodyMu   sync.Mutex
	bodyRC   io.ReadCloser
	bodyShut bool // bodyRC was closed

	// The streamed body's writer of the attempt under way: writerDone is closed once it has
	// returned, and bodyErr is then why it could not read the body, if it could not.
	writerDone chan struct{}
	bodyErr    error

	ccP        atomic.Pointer[clientConn]         // the connection serving it, for cancel
	lastQueued atomic.Bool                        // the body's writer queued its last write
	stopDial   atomic.Pointer[context.CancelFunc] // cancels the dial made for it, if one is under way
	rbodyP     atomic.Pointer[respBody]           // the response body, for cancel

	// The loop's, from begin.
	phase     exchangePhase
	retries   int  // times sent again after a reused connection died under it
	gotBytes  bool // a byte of the response arrived
	interim   int  // bytes of the 1xx response heads received
	reqDone   bool // the request, body included, reached the kernel
	frame     framing
	remaining int64 // of a Content-Length body
	mustClose bool  // the connection cannot be reused after this response
	rbody     *respBody
	resp      *http.Response // a bodyless response, for ended to deliver
	trailers  []string       // the trailer fields (key, value, ...), copied, for ended
	timer     *eddy.Timer
}

// unwatch ends the watch of the request's context, once the exchange is over.
func (x *exchange) unwatch() {
	if x.stopWatch != nil {
		x.stopWatch()
	}
}

// reject fails x's future (once) and releases the request body.
func (x *exchange) reject(err error) {
	x.unwatch()
	x.pr.Reject(err)
	x.closeReqBody()
}

// closeReqBody closes the request body of the attempt under way, if it is not closed: from any
// goroutine (cancel closes it to end a Read the body's writer is blocked in).
func (x *exchange) closeReqBody() {
	x.bodyMu.Lock()
	rc, shut := x.bodyRC, x.bodyShut
	x.bodyShut = true
	x.bodyMu.Unlock()
	if !shut && rc != nil {
		rc.Close()
	}
}

// cancel stops x from any goroutine: its future fails with err if it has not completed, its body
// reads fail with err if it has, and the connection serving it is aborted. A request waiting for a
// connection is skipped when its turn comes.
func (x *exchange) cancel(err error) {
	x.pr.Reject(err)
	if b := x.rbodyP.Load(); b != nil {
		b.fail(err)
	}
	if stop := x.stopDial.Load(); stop != nil {
		(*stop)()
	}
	x.onLoop(func(cc *clientConn) { cc.kill(err) })
	x.closeReqBody()
	x.t.cancelled(x)
}

// onLoop runs fn, from any goroutine, on the loop of the connection serving x, if one does and still
// serves x when fn's turn comes: a connection that has gone on to the next exchange is left alone.
func (x *exchange) onLoop(fn func(cc *clientConn)) {
	if cc := x.ccP.Load(); cc != nil {
		executeRetrying(cc.c, func(eddy.Conn) {
			if cc.x == x {
				fn(cc)
			}
		})
	}
}

// post hands the exchange in cc.next to cc's loop.
func (cc *clientConn) post() {
	if err := executeRetrying(cc.c, cc.beginFn); err != nil {
		// The connection is closing: OnClose finds cc.next and schedules it again, unless it has
		// run already.
		cc.t.mu.Lock()
		var x *exchange
		if cc.closed {
			x, cc.next = cc.next, nil
		}
		cc.t.mu.Unlock()
		if x != nil {
			cc.t.schedule(x)
		}
	}
}

// begin starts the exchange handed to cc: writes the request head and starts the body's writer.
// Called on the loop.
func (cc *clientConn) begin() {
	t := cc.t
	t.mu.Lock()
	x := cc.next
	cc.next = nil
	t.mu.Unlock()
	if x == nil {
		return
	}
	x.ccP.Store(cc)               // before the check: a cancel after it finds the connection to abort
	if x.pr.Future().Resolved() { // cancelled on its way here
		x.ccP.Store(nil)
		t.putIdle(cc)
		return
	}
	if cc.dead { // killed while it sat in the pool: OnClose has not run yet
		cc.requeue(x, ErrTransportClosed)
		return
	}
	c := cc.c
	cc.x = x
	x.phase = xHead
	c.SetIdleTimeout(0)
	cc.p.reset()
	cc.p.maxHead = t.maxHead // an exchange's interim responses lowered it
	if _, err := c.Write(x.head); err != nil {
		cc.requeue(x, err)
		return
	}
	if x.body == nil {
		x.reqDone = true
		cc.awaitHead(x)
	} else {
		x.writerDone = make(chan struct{})
		go x.writeBody(cc, x.body, x.writerDone) // requestSent starts the wait
	}
	if c.Buffered() > 0 {
		cc.drain()
	}
}

// awaitHead starts the ResponseHeaderTimeout of x, once the whole request is written: as with
// net/http, the time a large or slow upload takes does not count.
func (cc *clientConn) awaitHead(x *exchange) {
	d := cc.t.ResponseHeaderTimeout
	if d <= 0 {
		return
	}
	x.timer = cc.c.Loop().AfterFunc(d, func() {
		x.onLoop(func(cc *clientConn) {
			if x.phase == xHead {
				cc.kill(&timeoutError{fmt.Sprintf("http1: %s %s: no response head within ResponseHeaderTimeout (%v)", x.req.Method, x.key, d)})
			}
		})
	})
}

// requeue gives back x, which began on cc but sent nothing, and kills cc with err (unless dead
// already): x goes back to cc.next, which OnClose schedules on another connection.
func (cc *clientConn) requeue(x *exchange, err error) {
	t := cc.t
	cc.x = nil
	x.ccP.Store(nil)
	x.phase = xWait
	t.mu.Lock()
	closed := cc.closed
	if !closed {
		cc.next = x
	}
	t.mu.Unlock()
	if !cc.dead {
		cc.kill(err)
	}
	if closed {
		t.schedule(x)
	}
}

// drain reads what the connection's input holds: the response head, then as much of the body as the
// pipe has room for. Called on the loop, by OnData and when the body's reader made room.
func (cc *clientConn) drain() {
	c := cc.c
	for !cc.dead && !cc.showing {
		x := cc.x
		if x == nil {
			if c.Buffered() > 0 {
				cc.kill(errRespUnsolicited)
			}
			return
		}
		switch x.phase {
		case xHead:
			buf, _ := c.Peek(-1)
			if len(buf) == 0 {
				return
			}
			x.gotBytes = true
			n, err := cc.p.parse(buf)
			if err != nil {
				cc.kill(fmt.Errorf("http1: %s %s: %w", x.req.Method, x.key, err))
				return
			}
			if n == 0 {
				return
			}
			if cc.p.status < 200 { // an interim response: the final one follows
				// As net/http's (Go 1.24 on), the interim heads are bounded by their size, not by
				// their count (a server may send 102 Processing as often as it likes): together with
				// the final head they stay within MaxResponseHeaderBytes.
				if x.interim += n; x.interim >= cc.t.maxHead {
					cc.kill(fmt.Errorf("http1: %s %s: %w (interim 1xx responses included)", x.req.Method, x.key, errRespHeadTooLarge))
					return
				}
				if cc.showInterim(x, buf, n) {
					x.interim = 0 // as net/http's: the hook's owner bounds what it was shown
				}
				c.Discard(n)
				cc.p.reset()
				cc.p.maxHead = cc.t.maxHead - x.interim
				continue
			}
			cc.respond(x, buf, n)
		case xBody:
			if !cc.body(x) {
				return
			}
		default:
			return
		}
	}
}

// showInterim shows the interim (1xx) response whose head is buf[:n] to the request's
// httptrace.ClientTrace, if it has a Got1xxResponse hook, as net/http's transport does:
// httputil.ReverseProxy passes them on to its client (a 103 Early Hints, say) with it. It reports
// whether there is a hook. The hook runs on a goroutine of its own, as on net/http's connection
// reader, not on the loop, which serves other connections: ReverseProxy's writes the response to
// its client, and waits there for one that does not read. Reading stops meanwhile (showing), so the
// final response waits for it; an error from the hook fails the request (interimShown).
func (cc *clientConn) showInterim(x *exchange, buf []byte, n int) bool {
	trace := httptrace.ContextClientTrace(x.req.Context())
	if trace == nil || trace.Got1xxResponse == nil {
		return false
	}
	resp := cc.p.build(buf, n, frameNone)
	cc.showing = true
	cc.c.SetReadPaused(true)
	go func() {
		err := errHookExited // the hook called runtime.Goexit (a panic ends the program, as with net/http)
		defer x.onLoop(func(cc *clientConn) { cc.interimShown(err) })
		err = trace.Got1xxResponse(resp.StatusCode, textproto.MIMEHeader(resp.Header))
	}()
	return true
}

// errHookExited fails a request whose Got1xxResponse hook did not return.
var errHookExited = errors.New("http1: the Got1xxResponse hook did not return")

// interimShown goes on with the response once the Got1xxResponse hook has returned err, on the loop
// (if the exchange is still the connection's: a cancellation or a timeout may have ended it).
func (cc *clientConn) interimShown(err error) {
	cc.showing = false
	if cc.dead {
		return
	}
	if err != nil {
		cc.kill(err)
		return
	}
	cc.c.SetReadPaused(false)
	cc.drain()
}

// respond turns the head in buf[:n] into the response, completes x's future with it, and consumes
// the head.
func (cc *clientConn) respond(x *exchange, buf []byte, n int) {
	f, mustClose := cc.p.bodyFraming(x.isHEAD)
	resp := cc.p.build(buf, n, f)
	resp.Request = x.req
	if tc, ok := cc.c.(*etls.Conn); ok {
		st := tc.ConnectionState()
		resp.TLS = &st
	}
	x.mustClose = mustClose || resp.Close
	cc.c.Discard(n)
	cc.p.reset()
	if x.timer != nil {
		x.timer.Stop()
	}
	x.frame = f
	x.phase = xBody
	if f == frameNone {
		resp.Body = http.NoBody
	} else {
		x.remaining = resp.ContentLength
		if f == frameChunked {
			cc.chunk.Reset()
		}
		b := &respBody{x: x, length: resp.ContentLength, resp: resp, ready: make(chan struct{}, 1)}
		x.rbody = b
		x.rbodyP.Store(b)
		resp.Body = b
	}
	if f == frameNone {
		// Back to the pool first (see complete), then delivered by ended.
		x.resp = resp
		cc.complete(x, nil)
		return
	}
	// A watch of the future's context that has started is a Future.Cancel on its way to x.cancel (the
	// loser of a Race settled earlier in this batch of events, say): deliver nothing, as if it had come.
	if x.stopAsync != nil && !x.stopAsync() || !x.pr.Resolve(resp) {
		// Cancelled meanwhile: nobody will read this body. kill marks the connection dead, so
		// drain stops here and the connection serves nobody else.
		cc.kill(context.Canceled)
	}
}

// body moves body bytes from the input to the pipe and reports whether drain should go on.
func (cc *clientConn) body(x *exchange) bool {
	c := cc.c
	room := x.rbody.room()
	if room < 0 { // the reader closed the body (its Close aborts the connection) or it failed
		cc.kill(errBodyClosed)
		return false
	}
	if room == 0 {
		if !cc.paused {
			cc.paused = true
			c.SetReadPaused(true)
		}
		return false
	}
	buf, _ := c.Peek(-1)
	if len(buf) == 0 {
		if cc.paused {
			// The input is drained: read on. Not before, or each read that makes room in the
			// pipe would let the engine take in another socketful (a uring loop re-arms its
			// multishot receive at once).
			cc.paused = false
			c.SetReadPaused(false)
		}
		if cc.peerClosed {
			cc.peerEnded(x)
		}
		return false
	}
	switch x.frame {
	case frameLength:
		k := int(min(int64(min(len(buf), room)), x.remaining))
		x.rbody.push(buf[:k])
		c.Discard(k)
		if x.remaining -= int64(k); x.remaining == 0 {
			cc.complete(x, nil)
		}
	case frameEOF:
		k := min(len(buf), room)
		x.rbody.push(buf[:k])
		c.Discard(k)
	case frameChunked:
		data, n, done, err := cc.chunk.Decode(buf[:min(len(buf), room)])
		if err != nil {
			cc.kill(fmt.Errorf("http1: %s %s: %w: %v", x.req.Method, x.key, ErrMalformedResponse, err))
			return false
		}
		if len(data) > 0 {
			x.rbody.push(data)
		}
		c.Discard(n)
		if done {
			cc.complete(x, cc.chunk.Trailers())
		} else if n == 0 {
			return false
		}
	}
	return true
}

// maxRetries bounds the retries of one request. Each follows the death of a reused connection
// (net/http retries for as long as that is so); the bound only guards against a server that closes
// every connection as the request arrives.
const maxRetries = 8

// kill aborts the connection from its loop. Abort only queues the close, so the connection is marked
// dead at once: nothing else may be started on it or read from it meanwhile (a waiting request handed
// to it would fail with this exchange's reason).
func (cc *clientConn) kill(err error) {
	cc.dead = true
	cc.c.Abort(err)
}

// shut closes the connection gracefully from its loop, marking it dead as kill does.
func (cc *clientConn) shut() {
	cc.dead = true
	cc.c.Close()
}

// timeoutError is the error of ResponseHeaderTimeout: a net.Error whose Timeout is true, and
// context.DeadlineExceeded for errors.Is, as net/http's ("net/http: timeout awaiting response
// headers": a program that tells a timeout by errors.Is(err, context.DeadlineExceeded) took
// this one for another failure, session 31), and os.ErrDeadlineExceeded too.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string        { return e.msg }
func (e *timeoutError) Timeout() bool        { return true }
func (e *timeoutError) Temporary() bool      { return true }
func (e *timeoutError) Is(target error) bool { return target == context.DeadlineExceeded }
func (e *timeoutError) Unwrap() error        { return os.ErrDeadlineExceeded }

// errBodyClosed ends a connection whose response body was closed before it arrived in full.
var errBodyClosed = errors.New("http1: response body closed before its end")

// peerEnded ends the body of x once the input is empty after the server's FIN.
func (cc *clientConn) peerEnded(x *exchange) {
	if x.frame == frameEOF {
		x.mustClose = true
		cc.complete(x, nil)
		return
	}
	cc.kill(fmt.Errorf("http1: %s %s: connection closed in the middle of the response body: %w", x.req.Method, x.key, io.ErrUnexpectedEOF))
}

// complete ends x, whose response arrived in full, and reuses or closes the connection. The
// connection is back in the pool (or serving the next request in line) before the body's reader
// can see io.EOF, so that a program that reads one response to its end and then sends the next
// request finds it there.
func (cc *clientConn) complete(x *exchange, trailers []Field) {
	x.phase = xDone
	cc.x = nil
	x.ccP.Store(nil)
	x.unwatch()
	if cc.paused {
		cc.paused = false
		cc.c.SetReadPaused(false)
	}
	if x.frame == frameChunked {
		// Copied for ended (now, or once the request's last write is reported), and the decoder
		// reset: one that took a large trailer section lets go of its memory rather than keep it
		// while the connection idles in the pool.
		x.trailers = trailerKV(trailers)
		cc.chunk.Reset()
	}
	switch {
	case cc.dead:
	case cc.c.Buffered() > 0:
		// Bytes after the response that nothing asked for: taken for the next request's answer,
		// they would put the connection out of step.
		cc.kill(errRespUnsolicited)
	case x.mustClose || x.wantsClose || cc.peerClosed || cc.t.DisableKeepAlives:
		cc.shut()
	case !x.reqDone && x.lastQueued.Load():
		// The end of the request body is on its way to the kernel (its callback may come after
		// the response, on std): the connection is reused once it has gone, and the caller sees
		// the response's end only then (requestSent), as net/http's waits for the request's write.
		// Not for ever (lastWriteLate): a server that answered early may read no more of the
		// body, and the write would then hold the response's end for as long as it reads
		// nothing (session 30).
		cc.waiting = x
		x.timer = cc.c.Loop().AfterFunc(lastWriteWait, func() {
			// (On the connection's side of the loop: on std, its callbacks run elsewhere. An
			// Execute that fails finds the connection closing, and closedWith ends x.)
			executeRetrying(cc.c, func(eddy.Conn) { cc.lastWriteLate(x) })
		})
		return
	case !x.reqDone:
		// The server answered before taking the whole request: the connection is out of step.
		x.closeReqBody()
		cc.shut()
	default:
		cc.t.putIdle(cc)
	}
	cc.ended(x)
}

// ended shows the caller the end of x's response, which arrived in full, once the connection has
// been dealt with: its future completes with a bodyless response (dropped if nobody waits for it
// any more), or its body's reader gets io.EOF after the bytes in the pipe.
func (cc *clientConn) ended(x *exchange) {
	if x.rbody != nil {
		x.rbody.finish(x.trailers)
	} else if resp := x.resp; resp != nil && (x.stopAsync == nil || x.stopAsync()) {
		// (A watch of the future's context that has started is a Future.Cancel on its way, as in
		// respond: x.cancel fails the future, and finds no connection to abort.)
		x.pr.Resolve(resp)
	}
	x.resp, x.trailers = nil, nil
}

// lastWriteWait bounds the wait of a complete response for its request's last write (complete):
// net/http's Transport waits 50 ms (maxWriteWaitBeforeConnReuse), then closes the connection
// rather than reuse it; this is longer, since on std the write's callback comes from another
// goroutine, and a loaded machine should not make a sequential client dial for nothing.
const lastWriteWait = 250 * time.Millisecond

// errLastWriteLate ends a connection whose request's last write had not reached the kernel within
// lastWriteWait of the response's end: the server answered before it read the whole request.
var errLastWriteLate = errors.New("http1: the server answered and did not take the rest of the request body")

// lastWriteLate shows the end of x's response, which arrived in full lastWriteWait ago, to its
// reader, if its request's last write has not reached the kernel yet: the server answered early and
// reads no more (its 413, say), and its reader would otherwise wait for as long as that lasts, a
// cancellation of its context included (the exchange is over). The connection, out of step, is
// aborted, as net/http's Transport closes it. On the loop.
func (cc *clientConn) lastWriteLate(x *exchange) {
	if cc.waiting != x {
		return
	}
	cc.waiting = nil
	defer cc.ended(x)
	x.closeReqBody()
	if !cc.dead {
		cc.kill(errLastWriteLate)
	}
}

// requestSent is the callback of the request's last write, on the loop: a connection whose
// response came first (complete) goes back to the pool now, or closes if the write failed.
func (cc *clientConn) requestSent(x *exchange, err error) {
	if err == nil {
		x.reqDone = true
		if x.phase == xHead {
			cc.awaitHead(x)
		}
	}
	if cc.waiting != x {
		return
	}
	cc.waiting = nil
	x.timer.Stop()
	defer cc.ended(x)
	if err != nil {
		cc.kill(err)
		return
	}
	if cc.c.Buffered() > 0 {
		cc.kill(errRespUnsolicited)
		return
	}
	cc.t.putIdle(cc)
}

// closedWith handles the end of the connection (OnClose).
func (cc *clientConn) closedWith(err error) {
	t := cc.t
	t.mu.Lock()
	cc.closed = true
	t.dropIdle(cc)
	pending := cc.next
	cc.next = nil
	hc := cc.hc
	t.mu.Unlock()
	if hc != nil {
		t.connGone(hc)
	}
	if pending != nil { // it never started here: try again elsewhere
		t.schedule(pending)
	}
	if w := cc.waiting; w != nil { // its response is complete: the last write's callback is not needed
		cc.waiting = nil
		w.timer.Stop()
		cc.ended(w)
	}
	x := cc.x
	if x == nil {
		return
	}
	cc.x = nil
	x.ccP.Store(nil)
	if x.phase == xBody && x.frame == frameEOF && err == io.EOF && cc.c.Buffered() == 0 {
		x.mustClose = true
		cc.complete(x, nil)
		return
	}
	if x.timer != nil {
		x.timer.Stop()
	}
	peerEnded := peerEndedErr(err)
	err = x.connError(err)
	x.phase = xDone
	if peerEnded && !x.gotBytes && cc.reused && x.retries < maxRetries && x.idempotent && (x.body == nil || x.req.GetBody != nil) && !x.pr.Future().Resolved() {
		// The server closed a kept-alive connection as the request went out: once more, afresh
		// (with net/http's isReplayable: a streamed body only if GetBody can make it again).
		x.retries++
		x.phase = xWait
		x.reqDone = false
		if x.body != nil {
			t.mu.Lock()
			closed := t.closed
			if !closed {
				if t.rewinding == nil {
					t.rewinding = make(map[*exchange]struct{})
				}
				t.rewinding[x] = struct{}{}
			}
			t.mu.Unlock()
			if closed {
				x.reject(ErrTransportClosed)
				return
			}
			go x.rewind(x.writerDone)
			return
		}
		t.schedule(x)
		return
	}
	x.unwatch()
	x.pr.Reject(err)
	if x.rbody != nil {
		x.rbody.fail(err)
	}
	x.closeReqBody()
}

// rewind sends x, whose streamed body's writer was writing to a connection that died, again with a
// body from GetBody, as net/http's Transport does. It runs on a goroutine of its own: it waits for
// that writer to return (done), which closes the old body and stops using x (its Read may block:
// a cancellation meanwhile fails x at once, and its closeReqBody ends that Read), then calls
// GetBody, user code that may block too. An error of the old body's read, or of GetBody, fails x
// with it, as with net/http; a new body that comes after x was cancelled is closed here, and
// otherwise by whoever ends x (closeReqBody). Until it schedules x, x is in t.rewinding, where a
// Transport.Close finds it and fails it, as a cancellation does.
func (x *exchange) rewind(done <-chan struct{}) {
	defer x.t.rewound(x)
	<-done
	if x.pr.Future().Resolved() { // cancelled meanwhile: nothing to send
		return
	}
	if err := x.bodyErr; err != nil {
		x.reject(err)
		return
	}
	body, err := x.req.GetBody()
	if err != nil {
		x.reject(err)
		return
	}
	if body == nil {
		body = http.NoBody // the writer then reports the body's length as wrong
	}
	x.bodyMu.Lock()
	// Under bodyMu: a cancel that failed x before this check finds it here; one after it closes
	// this body in its closeReqBody.
	cancelled := x.pr.Future().Resolved()
	if !cancelled {
		x.bodyRC, x.bodyShut = body, false
	}
	x.bodyMu.Unlock()
	if cancelled {
		body.Close()
		return
	}
	x.body = body
	x.bodyErr = nil
	x.lastQueued.Store(false)
	x.t.rewound(x) // on its way to a connection, or failed by schedule if Close came first
	x.t.schedule(x)
}

// rewound takes x out of the requests Close fails in rewind: it has failed, or is scheduled
// (schedule fails it once the Transport is closed).
func (t *Transport) rewound(x *exchange) {
	t.mu.Lock()
	delete(t.rewinding, x)
	t.mu.Unlock()
}

// peerEndedErr reports whether a connection's end came from the peer (its FIN or reset, or a write
// that found it gone), rather than from the client (a timeout, a cancellation, a bad response).
func peerEndedErr(err error) bool {
	return err == io.EOF || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// connError is the error of x when its connection ended with err.
func (x *exchange) connError(err error) error {
	switch {
	case errors.Is(err, eddy.ErrEngineStopped):
		return ErrTransportClosed
	case err == io.EOF || err == nil:
		switch {
		case x.phase == xBody:
			return fmt.Errorf("http1: %s %s: server closed the connection in the middle of the response body: %w", x.req.Method, x.key, io.ErrUnexpectedEOF)
		case x.gotBytes:
			return fmt.Errorf("http1: %s %s: server closed the connection in the middle of the response head: %w", x.req.Method, x.key, io.ErrUnexpectedEOF)
		}
		// No byte of a response: io.EOF, as net/http's Transport says (retry logic looks for it).
		return fmt.Errorf("http1: %s %s: server closed the connection before the response: %w", x.req.Method, x.key, io.EOF)
	}
	if _, ok := errors.AsType[*eddy.OpError](err); ok { // a reset, say: name the request
		return fmt.Errorf("http1: %s %s: %w", x.req.Method, x.key, err)
	}
	return err // the client's own reason (a cancellation, a timeout, a bad response), as it was made
}
