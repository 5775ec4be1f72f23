package http1

import (
	"io"
	"net/http"
	"net/textproto"
	"sync"
)

// respBody is a response body on its way from the loop, which decodes it, to the goroutine that reads
// it. The loop pushes no more than the pipe has room for; the rest waits in the connection's input,
// with reading paused, until a read makes room and asks the loop to push again. Once the loop has
// pushed the last byte, the connection serves other requests and the pipe holds what is left: a body
// up to the pipe's size never holds a connection.
//
// A read that finds the pipe empty lends its buffer to the loop while it waits, and the loop copies
// into it first: a reader that keeps up gets the body with one copy from the connection's input
// instead of two (with 4 MiB bodies read into 256 KiB buffers, most bytes go this way).
type respBody struct {
	x      *exchange // constant; the reader uses only x.onLoop, the rest is the loop's
	length int64     // the Content-Length, or -1

	mu       sync.Mutex
	buf      []byte // unread bytes are buf[r:]
	r        int
	err      error // io.EOF once the body is complete, or why it failed
	closed   bool
	needPump bool           // the loop stopped pushing for want of room
	lent     []byte         // the buffer of a read waiting on an empty pipe, filled first
	lentN    int            // bytes of lent filled
	trailer  []string       // trailer fields (key, value, ...) for the read that returns io.EOF
	resp     *http.Response // whose Trailer that read fills
	ready    chan struct{}  // signalled when bytes or an error arrive, and on Close
}

// clientPipeSize is how many body bytes a response may hold ahead of its reader.
const clientPipeSize = 64 << 10

// room returns how many more bytes push may take, or -1 if the reader closed the body. Called by the
// loop; a 0 asks the next read that makes room to pump.
func (b *respBody) room() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed || b.err != nil {
		return -1
	}
	n := clientPipeSize - (len(b.buf) - b.r) + len(b.lent) - b.lentN
	if n <= 0 {
		b.needPump = true
		return 0
	}
	return n
}

// push appends p, which room allowed, and wakes the reader. Called by the loop.
func (b *respBody) push(p []byte) {
	b.mu.Lock()
	if b.closed || b.err != nil {
		b.mu.Unlock()
		return
	}
	if b.lent != nil {
		n := copy(b.lent[b.lentN:], p)
		b.lentN += n
		if p = p[n:]; len(p) == 0 {
			b.mu.Unlock()
			b.signal()
			return
		}
	}
	if b.buf == nil {
		size := 4 << 10
		if n := b.length; n > 0 && n < int64(size) {
			size = int(n) // a small body of known length: no more
		}
		b.buf = make([]byte, 0, max(len(p), size))
	}
	if len(b.buf)+len(p) > cap(b.buf) {
		if n := len(b.buf) - b.r; n+len(p) <= cap(b.buf) {
			copy(b.buf, b.buf[b.r:])
			b.buf, b.r = b.buf[:n], 0
		} else {
			nb := make([]byte, n, max(n+len(p), min(2*cap(b.buf), clientPipeSize)))
			copy(nb, b.buf[b.r:])
			b.buf, b.r = nb, 0
		}
	}
	b.buf = append(b.buf, p...)
	b.mu.Unlock()
	b.signal()
}

// trailerKV copies trailer fields as canonical key, value, key, value...
func trailerKV(trailers []Field) []string {
	if len(trailers) == 0 {
		return nil
	}
	kv := make([]string, 0, 2*len(trailers))
	for _, f := range trailers {
		kv = append(kv, textproto.CanonicalMIMEHeaderKey(string(f.Name)), string(f.Value))
	}
	return kv
}

// finish marks the end of the body, with its trailer fields (from trailerKV). Called by the loop.
func (b *respBody) finish(kv []string) {
	b.mu.Lock()
	if b.err == nil {
		b.err = io.EOF
		b.trailer = kv
	}
	b.mu.Unlock()
	b.signal()
}

// fail ends the body with err, which later reads return once the bytes before it are read. Called
// by the loop, or by the cancellation of the request.
func (b *respBody) fail(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
	b.signal()
}

func (b *respBody) signal() {
	select {
	case b.ready <- struct{}{}:
	default:
	}
}

// Read reads the body as it arrives. The read that returns the last bytes of the body returns
// io.EOF with them when the end has arrived, as net/http's body does.
func (b *respBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	for {
		if b.closed {
			b.mu.Unlock()
			b.signal() // a Close wakes one blocked read: this one passes it on to any other
			return 0, http.ErrBodyReadAfterClose
		}
		if b.r < len(b.buf) {
			if len(p) == 0 {
				b.mu.Unlock()
				return 0, nil
			}
			n := copy(p, b.buf[b.r:])
			b.r += n
			var err error
			if b.r == len(b.buf) {
				b.buf, b.r = b.buf[:0], 0
				if b.err != nil {
					err = b.endLocked()
				}
			}
			pump := b.needPump && len(b.buf)-b.r <= clientPipeSize/2
			if pump {
				b.needPump = false
			}
			b.mu.Unlock()
			if pump { // ask the loop to push again
				b.x.onLoop((*clientConn).drain)
			}
			return n, err
		}
		if b.err != nil {
			err := b.endLocked()
			b.mu.Unlock()
			return 0, err
		}
		if len(p) == 0 {
			b.mu.Unlock()
			return 0, nil
		}
		b.lent, b.lentN = p, 0
		b.mu.Unlock()
		<-b.ready
		b.mu.Lock()
		n := b.lentN
		b.lent, b.lentN = nil, 0
		if n > 0 {
			var err error
			if b.r == len(b.buf) && b.err != nil && !b.closed {
				err = b.endLocked()
			}
			b.mu.Unlock()
			return n, err
		}
	}
}

// endLocked returns the error that ends the reads, once every byte is read, and for io.EOF puts
// the trailer fields in Response.Trailer, on the reader's goroutine as net/http does.
func (b *respBody) endLocked() error {
	if b.err == io.EOF && b.trailer != nil {
		kv := b.trailer
		b.trailer = nil
		if b.resp.Trailer == nil {
			b.resp.Trailer = make(http.Header, len(kv)/2)
		}
		for i := 0; i < len(kv); i += 2 {
			b.resp.Trailer[kv[i]] = append(b.resp.Trailer[kv[i]], kv[i+1])
		}
	}
	return b.err
}

// Close stops reading: later reads fail, a read blocked in another goroutine returns, and if the body
// has not arrived in full the connection is closed, since the rest of it would have to be read
// before another response. Closing a body that arrived in full only drops what was not read.
func (b *respBody) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	complete := b.err == io.EOF
	b.buf, b.r, b.needPump = nil, 0, false
	b.mu.Unlock()
	b.signal()
	if !complete { // the rest would have to be read before another response: end the connection
		b.x.onLoop(func(cc *clientConn) { cc.kill(errBodyClosed) })
	}
	return nil
}
