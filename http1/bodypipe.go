package http1

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// pipeSize is how many body bytes a request can hold ahead of its handler; the rest waits in the
// connection's input.
const pipeSize = 64 << 10

// pipeBuffers holds pipe buffers, boxed like outBuffers.
var pipeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, pipeSize); return &b }}

// errConnClosed is the error of body reads when the connection closed before the body was complete.
var errConnClosed = errors.New("http1: connection closed before the request body was complete")

// errLeftUnread ends a body of which the loop dropped more than maxPostHandlerReadBytes after the
// handler closed it: the connection closes after the response.
var errLeftUnread = errors.New("http1: more of the request body was left unread than the server drops")

// bodyPipe is a request body on its way from the loop, which decodes it, to the handler, which
// reads it. The loop pushes no more than the pipe has room for and leaves the rest buffered in
// the connection; a read that makes room asks the loop to push again.
//
// The pipe outlives its response: a goroutine of the handler's may still hold Request.Body after
// the loop has recycled the response, perhaps for another request. Only the loop's own calls
// (room, push, finish, fail, state, release) use w, and a read only under mu before release (the
// trailer of sawEOFLocked); Read and Close otherwise use only the pipe and the connection's parts
// that never change (sc.c, sc.http). So the automatic 100 Continue is the pipe's too: a late read
// that found the pipe open must not send one for the next request of the recycled response.
type bodyPipe struct {
	w   *response
	sc  *conn           // w's connection, whose c and http stay put for its life
	ctx *requestContext // the request's, which is not recycled with w

	mu       sync.Mutex
	buf      []byte // unread bytes are buf[r:]
	r        int
	err      error
	small    bool // buf was made for a small body and is not pooled
	sawEOF   bool
	closed   bool // Close was called, or the pipe was released
	released bool // the exchange is over: w may be serving another request
	timedOut bool // a read hit the deadline: the rest of the body is in an unknown state
	needPump bool // the loop stopped pushing for want of room

	// canContinue is set until the first read sends the automatic 100 Continue, or the response
	// disables it (its head, a hijack, the handler's return). contMu orders that 100 before the
	// response's head. (Beside the bools, the pipe keeps its allocation's size class.)
	canContinue atomic.Bool
	contMu      sync.Mutex

	dropped int64 // unread bytes Close left in the pipe, not yet counted by the loop (takeDropped)

	dl    deadline      // of reads; its moves signal ready (its moved is nil)
	ready chan struct{} // signalled when bytes or an error arrive, on Close, and when dl moves

	// trailer holds the trailer fields (key, value, key, value...) that finish received, for the
	// read that returns io.EOF to put in Request.Trailer, on the handler's goroutine as net/http
	// does: the handler may look at Request.Trailer until it reads the body.
	trailer []string

	contentLength int64 // -1 for chunked
	pushed        int64 // body bytes the loop has pushed
}

func newBodyPipe(w *response, contentLength int64) *bodyPipe {
	p := &bodyPipe{w: w, sc: w.sc, ctx: w.ctx, ready: make(chan struct{}, 1), contentLength: contentLength}
	if contentLength > 0 && contentLength <= 4<<10 {
		p.buf = make([]byte, 0, contentLength)
		p.small = true
	}
	return p
}

// room returns how many more bytes push may take, or -1 if the handler closed the body and
// further bytes are to be dropped. Called by the loop.
func (p *bodyPipe) room() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.err != nil {
		return -1
	}
	if p.buf == nil {
		box := pipeBuffers.Get().(*[]byte)
		p.buf, *box = (*box)[:0], nil
		emptyBoxes.Put(box)
	}
	n := cap(p.buf) - (len(p.buf) - p.r)
	if n == 0 {
		p.needPump = true
	}
	return n
}

// push appends b, which room allowed, and wakes the reader. Called by the loop.
func (p *bodyPipe) push(b []byte) {
	p.mu.Lock()
	if p.closed || p.err != nil {
		p.mu.Unlock()
		return
	}
	if len(p.buf)+len(b) > cap(p.buf) {
		n := copy(p.buf, p.buf[p.r:])
		p.buf, p.r = p.buf[:n], 0
	}
	p.buf = append(p.buf, b...)
	p.pushed += int64(len(b))
	p.mu.Unlock()
	p.signal()
}

// finish marks the end of the body. The trailer fields, copied, are kept for the read that returns
// io.EOF, which puts them in Request.Trailer. Called by the loop, also for a closed pipe, so that
// state knows the body ended.
func (p *bodyPipe) finish(trailers []Field) {
	var kv []string
	if len(trailers) > 0 {
		kv = make([]string, 0, 2*len(trailers))
		for _, f := range trailers {
			kv = append(kv, textproto.CanonicalMIMEHeaderKey(string(f.Name)), string(f.Value))
		}
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = io.EOF
		if !p.closed {
			p.trailer = kv
		}
	}
	p.mu.Unlock()
	p.signal()
}

// atEndLocked reports whether the reader has had every byte of a body that ended: the loop
// finished it, or, for a Content-Length body, pushed its last byte (finish follows at once).
func (p *bodyPipe) atEndLocked() bool {
	return p.r == len(p.buf) && (p.err == io.EOF || p.err == nil && p.contentLength >= 0 && p.pushed == p.contentLength)
}

// sawEOFLocked records that the reader got io.EOF and puts the trailer fields in Request.Trailer
// (in the reader's goroutine, as net/http's body does): a key declared by the Trailer header gets
// its values, and an undeclared one is added.
func (p *bodyPipe) sawEOFLocked() {
	p.sawEOF = true
	kv := p.trailer
	if kv == nil {
		return
	}
	p.trailer = nil
	req := p.w.req
	if req.Trailer == nil {
		req.Trailer = make(http.Header, len(kv)/2)
	}
	for i := 0; i < len(kv); i += 2 {
		k := kv[i]
		if old := req.Trailer[k]; len(old) > 0 {
			req.Trailer[k] = append(old, kv[i+1])
		} else {
			req.Trailer[k] = kv[i+1 : i+2 : i+2] // no slice of its own for the usual single value
		}
	}
}

// fail ends the body with err: a body over the limit becomes *http.MaxBytesError, as
// http.MaxBytesReader reports it. Called by the loop, or when the connection closes.
func (p *bodyPipe) fail(err error) {
	if errors.Is(err, ErrBodyTooLarge) {
		p.w.bodyTooLarge.Store(true)
		err = &http.MaxBytesError{Limit: p.w.sc.srv.cfg.maxBody}
	}
	p.mu.Lock()
	if p.err == nil {
		p.err = err
	}
	p.mu.Unlock()
	p.signal()
}

func (p *bodyPipe) signal() {
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

// Read reads the body as it arrives. The first read of a request that expects 100-continue sends
// the 100 (Continue) response first, unless the handler has already answered. The read that
// returns the last bytes of the body returns io.EOF with them when the end is known, as net/http's
// body does (always for a Content-Length body): a reader that stops at the last byte, such as
// json.Decoder, has then read the body to its end. A read that passes its deadline cancels the
// request's context, as net/http's does.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		// Also after release: the response may be serving another request by now.
		return 0, http.ErrBodyReadAfterClose
	}
	if hook := bodyReadHook.Load(); hook != nil { // tests only
		(*hook)()
	}
	p.writeContinue()
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			p.signal() // a Close wakes one blocked read: this one passes it on to any other
			return 0, http.ErrBodyReadAfterClose
		}
		if p.r < len(p.buf) {
			n := copy(b, p.buf[p.r:])
			p.r += n
			var err error
			if p.atEndLocked() {
				err = io.EOF
				p.sawEOFLocked()
			}
			if p.r == len(p.buf) {
				p.buf, p.r = p.buf[:0], 0
			}
			pump := p.needPump && len(p.buf)-p.r <= cap(p.buf)/2
			if pump {
				p.needPump = false
			}
			p.mu.Unlock()
			if pump {
				p.pump()
			}
			return n, err
		}
		if p.atEndLocked() {
			p.sawEOFLocked()
			p.mu.Unlock()
			return 0, io.EOF
		}
		if p.err != nil {
			err := p.err
			p.mu.Unlock()
			return 0, err
		}
		if len(b) == 0 {
			// Nothing to wait for: net/http's body returns at once too (its bufio.Reader's Read
			// of nothing), and a reader that probes with an empty read must not block until the
			// client sends more.
			p.mu.Unlock()
			return 0, nil
		}
		p.mu.Unlock()
		if _, ok := awaitDeadline(&p.dl, p.ready, nil); !ok {
			p.mu.Lock()
			p.timedOut = true
			p.mu.Unlock()
			// A move of the deadline wakes one blocked read (ready has one slot): this one passes
			// it on to any other, which fails too, as a Close's does.
			p.signal()
			// As in net/http, whose failed read of the connection cancels the request's context:
			// work the handler goes on to do under it stops, as when the client goes away.
			p.ctx.cancel()
			return 0, os.ErrDeadlineExceeded
		}
		p.mu.Lock()
	}
}

// bodyReadHook, set only by tests, runs in each body Read between its check for a closed body and
// its 100 Continue, to hold a read there while the exchange ends.
var bodyReadHook atomic.Pointer[func()]

// writeContinue sends "100 Continue" before the first body read of a request that expects it,
// unless the response has disabled it.
func (p *bodyPipe) writeContinue() {
	if !p.canContinue.Load() {
		return
	}
	p.contMu.Lock()
	defer p.contMu.Unlock()
	if !p.canContinue.Load() {
		return
	}
	p.canContinue.Store(false)
	asyncWriteRetrying(p.sc.c, continueLine, nil) // a closed connection has no use for it
}

// disableContinue stops the automatic 100 Continue, waiting for one being sent. Once it returns
// no read sends one, not even a read that started before.
func (p *bodyPipe) disableContinue() {
	p.contMu.Lock()
	p.canContinue.Store(false)
	p.contMu.Unlock()
}

// Close stops reading: later reads fail, a read blocked in another goroutine returns, and the loop
// drops the rest of the body as it arrives (the connection is closed after the response if more
// than 256 KiB may remain, as in net/http). Once the exchange is over, Close does nothing: any
// goroutine may call it, also after the handler returned.
func (p *bodyPipe) Close() error {
	p.mu.Lock()
	if p.released {
		p.mu.Unlock()
		return nil
	}
	if !p.closed {
		p.dropped = int64(len(p.buf) - p.r) // what net/http's Body.Close would have to read
	}
	p.closed = true
	pump := p.needPump
	p.needPump = false
	p.mu.Unlock()
	p.signal()
	if pump {
		p.pump()
	}
	return nil
}

// takeDropped returns the unread bytes the handler's Close left in the pipe, once: the loop counts
// them with the rest of the body it drops, as net/http's Body.Close counts everything the handler
// left. Called by the loop.
func (p *bodyPipe) takeDropped() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.dropped
	p.dropped = 0
	return n
}

// pump asks the loop to push again, now that the pipe has room (or is closed and the rest is to
// be dropped). It never uses p.w, which the loop may have recycled meanwhile: a pump that comes
// late finds another request or none, and only makes the loop look at its input again. If the
// connection has closed there is nothing to pump.
func (p *bodyPipe) pump() {
	executeRetrying(p.sc.c, p.sc.http.pumpFn)
}

// setDeadline sets the deadline of reads (ResponseController.SetReadDeadline).
func (p *bodyPipe) setDeadline(t time.Time) {
	p.dl.set(t)
	p.signal() // a waiting read looks at it
}

// deadlinePassed reports whether the deadline of reads has passed: a drain of the rest of the body
// would stop at once.
func (p *bodyPipe) deadlinePassed() bool { return p.dl.passed() }

// state reports whether the handler read the body to its end, and whether the body failed (bad
// framing, over the limit, a read deadline): then the connection cannot be reused.
func (p *bodyPipe) state() (sawEOF, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sawEOF, p.timedOut || p.err != nil && p.err != io.EOF
}

// arrived reports whether the whole body has reached the pipe (read or not): the loop finished it,
// or pushed the last byte of a Content-Length body. Nothing is left to drain from the connection then.
func (p *bodyPipe) arrived() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err == io.EOF || p.contentLength >= 0 && p.pushed == p.contentLength
}

// tooMuchLeft reports whether more of the body than the server drains after the handler
// (maxPostHandlerReadBytes) may be left unread: for a Content-Length body, the bytes still to
// arrive and those waiting in the pipe; for a chunked body, whose rest is unknown, whether it has
// not ended yet (or the loop dropped too much of it, errLeftUnread). net/http finds out by reading
// up to that much before it writes the head; the loop drops only what has arrived
// (dropArrivedBody), so it says Connection: close whenever the rest may be too long, rather than
// close the connection behind a response that promised to keep it.
func (p *bodyPipe) tooMuchLeft() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.contentLength < 0 {
		return p.err != io.EOF
	}
	return p.contentLength-p.pushed+int64(len(p.buf)-p.r) >= maxPostHandlerReadBytes
}

// chunkedUnended reports whether the body is chunked and has neither ended nor failed so far: what
// is left of it is unknown.
func (p *bodyPipe) chunkedUnended() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.contentLength < 0 && p.err == nil && !p.timedOut
}

// release gives the buffer back once neither side will use it: the handler has returned and the
// loop has detached the exchange. A read after that fails as after Close. Called by the loop.
func (p *bodyPipe) release() {
	p.mu.Lock()
	buf, small := p.buf, p.small
	p.buf, p.r, p.closed, p.released, p.needPump, p.trailer = nil, 0, true, true, false, nil
	p.mu.Unlock()
	p.signal() // a read still blocked (net/http forbids it) fails rather than waits for ever
	if buf != nil && !small {
		box := emptyBoxes.Get().(*[]byte)
		*box = buf[:0]
		pipeBuffers.Put(box)
	}
}
