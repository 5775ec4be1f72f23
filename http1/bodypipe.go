package http1

import (
	"errors"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"sync"
	"time"
)

// pipeSize is how many body bytes a request can hold ahead of its handler; the rest waits in the
// connection's input.
const pipeSize = 64 << 10

// pipeBuffers holds pipe buffers, boxed like outBuffers.
var pipeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, pipeSize); return &b }}

// errConnClosed is the error of body reads when the connection closed before the body was complete.
var errConnClosed = errors.New("http1: connection closed before the request body was complete")

// bodyPipe is a request body on its way from the loop, which decodes it, to the handler, which
// reads it. The loop pushes no more than the pipe has room for and leaves the rest buffered in
// the connection; a read that makes room asks the loop to push again.
type bodyPipe struct {
	w *response

	mu       sync.Mutex
	buf      []byte // unread bytes are buf[r:]
	r        int
	small    bool // buf was made for a small body and is not pooled
	err      error
	sawEOF   bool
	closed   bool // Close was called
	timedOut bool // a read hit the deadline: the rest of the body is in an unknown state
	needPump bool // the loop stopped pushing for want of room
	deadline time.Time
	ready    chan struct{} // signalled when bytes or an error arrive

	contentLength int64 // -1 for chunked
	pushed        int64 // body bytes the loop has pushed
}

func newBodyPipe(w *response, contentLength int64) *bodyPipe {
	p := &bodyPipe{w: w, ready: make(chan struct{}, 1), contentLength: contentLength}
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

// finish marks the end of the body; the trailer fields, copied, fill the declared keys of
// Request.Trailer before the reader sees EOF. Called by the loop.
func (p *bodyPipe) finish(trailers []Field) {
	p.mu.Lock()
	if len(trailers) > 0 && p.err == nil {
		req := p.w.req
		for _, f := range trailers {
			if req.Trailer == nil {
				req.Trailer = make(http.Header)
			}
			k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
			req.Trailer[k] = append(req.Trailer[k], string(f.Value))
		}
	}
	if p.err == nil {
		p.err = io.EOF
	}
	p.mu.Unlock()
	p.signal()
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
// the 100 (Continue) response first, unless the handler has already answered.
func (p *bodyPipe) Read(b []byte) (int, error) {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		// Also after release: the response may be serving another request by now.
		return 0, http.ErrBodyReadAfterClose
	}
	p.w.writeContinue()
	p.mu.Lock()
	for {
		if p.closed {
			p.mu.Unlock()
			return 0, http.ErrBodyReadAfterClose
		}
		if p.r < len(p.buf) {
			n := copy(b, p.buf[p.r:])
			p.r += n
			if p.r == len(p.buf) {
				p.buf, p.r = p.buf[:0], 0
			}
			pump := p.needPump && len(p.buf)-p.r <= cap(p.buf)/2
			if pump {
				p.needPump = false
			}
			p.mu.Unlock()
			if pump {
				p.w.post(p.w.sc.http.pumpFn)
			}
			return n, nil
		}
		if p.err != nil {
			if p.err == io.EOF {
				p.sawEOF = true
			}
			err := p.err
			p.mu.Unlock()
			return 0, err
		}
		deadline := p.deadline
		p.mu.Unlock()
		if err := p.wait(deadline); err != nil {
			p.mu.Lock()
			p.timedOut = true
			p.mu.Unlock()
			return 0, err
		}
		p.mu.Lock()
	}
}

// wait waits for the loop to push bytes or an error, until deadline.
func (p *bodyPipe) wait(deadline time.Time) error {
	if deadline.IsZero() {
		<-p.ready
		return nil
	}
	d := time.Until(deadline)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.ready:
		return nil
	case <-t.C:
		return os.ErrDeadlineExceeded
	}
}

// Close stops reading: later reads fail, and the loop drops the rest of the body as it arrives
// (the connection is closed after the response if more than 256 KiB remain, as in net/http).
func (p *bodyPipe) Close() error {
	p.mu.Lock()
	p.closed = true
	pump := p.needPump
	p.needPump = false
	p.mu.Unlock()
	if pump {
		p.w.post(p.w.sc.http.pumpFn)
	}
	return nil
}

// setDeadline sets the deadline of reads (ResponseController.SetReadDeadline).
func (p *bodyPipe) setDeadline(t time.Time) {
	p.mu.Lock()
	p.deadline = t
	p.mu.Unlock()
	p.signal() // a waiting read re-checks
}

// state reports whether the handler read the body to its end, and whether the body failed (bad
// framing, over the limit, a read deadline): then the connection cannot be reused.
func (p *bodyPipe) state() (sawEOF, failed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sawEOF, p.timedOut || p.err != nil && p.err != io.EOF
}

// unreadKnown returns how many bytes of a Content-Length body the handler has not read: those
// still to arrive and those waiting in the pipe. It is 0 for a chunked body, whose rest is
// unknown.
func (p *bodyPipe) unreadKnown() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.contentLength < 0 {
		return 0
	}
	return p.contentLength - p.pushed + int64(len(p.buf)-p.r)
}

// release gives the buffer back once neither side will use it: the handler has returned and the
// loop has detached the exchange. A read after that fails as after Close. Called by the loop.
func (p *bodyPipe) release() {
	p.mu.Lock()
	buf, small := p.buf, p.small
	p.buf, p.r, p.closed = nil, 0, true
	p.mu.Unlock()
	if buf != nil && !small {
		box := emptyBoxes.Get().(*[]byte)
		*box = buf[:0]
		pipeBuffers.Put(box)
	}
}
