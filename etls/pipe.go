package etls

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/eddyio/eddy"
)

// pipe is the net.Conn that crypto/tls reads records from and writes them to. During the handshake
// its caller is the handshake goroutine: reads wait for what the loop passes on, and writes go to the
// loop with AsyncWrite. Once the handshake is over its callers are on the loop: reads take what the
// raw connection has buffered and report errWouldBlock when that is empty (crypto/tls keeps a partial
// record for the next call after a temporary error), and writes go straight into the raw connection's
// output.
type pipe struct{ c *Conn }

// wouldBlock is the temporary error that tells crypto/tls to come back when more has arrived.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "etls: no more input buffered" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock error = wouldBlock{}

func (p pipe) Read(b []byte) (int, error) {
	c := p.c
	if c.onLoop {
		return c.readRaw(b)
	}
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	for {
		if c.pipeClosed.Load() {
			return 0, errPipeClosed // OnHandshakeError closed the pipe (Close)
		}
		if !c.hsDeadline.IsZero() && !time.Now().Before(c.hsDeadline) {
			// As a net.Conn's read past its deadline, input or not: a net.Error whose Timeout is true.
			return 0, os.ErrDeadlineExceeded
		}
		if len(c.hsBuf) > 0 || c.hsErr != nil {
			break
		}
		c.hsCond.Wait()
	}
	if len(c.hsBuf) == 0 {
		return 0, c.hsErr
	}
	n := copy(b, c.hsBuf[:c.fr.limit(c.hsBuf)])
	c.fr.advance(b[:n])
	c.hsBuf = c.hsBuf[n:]
	if len(c.hsBuf) == 0 {
		c.hsBuf = nil // the next append starts afresh: nothing is held once the handshake is done
	}
	if c.hsPaused && len(c.hsBuf) < hsResumeBytes {
		c.hsPaused = false
		c.post(c.resumeHandshakeInput) // an error means it is closing: nothing to resume
	}
	return n, nil
}

func (p pipe) Write(b []byte) (int, error) {
	c := p.c
	if c.onLoop {
		if c.notified {
			return len(b), nil // after close_notify (Conn.closeNotify)
		}
		n, err := c.raw.Write(b)
		c.watchOutput(n)
		return n, err
	}
	if c.pipeClosed.Load() {
		// OnHandshakeError closed the pipe: its close is queued, and would drop these bytes.
		return 0, errPipeClosed
	}
	if dl := c.writeDeadline(); !dl.IsZero() && !time.Now().Before(dl) {
		return 0, os.ErrDeadlineExceeded // as a net.Conn's write past its deadline, room or not
	}
	// crypto/tls reuses b: the loop gets a copy of its own. This is the handshake's goroutine, which
	// may wait while the loop's task queue is full (and must, to keep the records in order), as a
	// net.Conn's Write waits for room in the kernel's buffer.
	b = bytes.Clone(b)
	for wait := 50 * time.Microsecond; ; wait = min(2*wait, 10*time.Millisecond) {
		err := c.raw.AsyncWrite(b, nil)
		if err != eddy.ErrQueueFull {
			if err != nil {
				return 0, err
			}
			return len(b), nil
		}
		if err := c.waitQueueRoom(wait); err != nil {
			return 0, err
		}
	}
}

// waitQueueRoom waits about d for room in the loop's task queue, for a write of the handshake's
// goroutine. The wait ends early with the handshake's context, while the handshake runs (with the
// reason it ended: ErrHandshakeTimeout, a Dial's cancellation), and with the write deadline
// (SetWriteDeadline): os.ErrDeadlineExceeded, as a net.Conn's write past its deadline. Once a failed
// handshake is over (OnHandshakeError writing to a tls.RecordHeaderError's Conn), its context is
// cancelled and bounds nothing: the write waits for room, for the deadline, or for the connection's
// end (the next AsyncWrite returns ErrClosed); nothing was cancelled.
func (c *Conn) waitQueueRoom(d time.Duration) error {
	if dl := c.writeDeadline(); !dl.IsZero() {
		left := time.Until(dl)
		if left <= 0 {
			return os.ErrDeadlineExceeded
		}
		d = min(d, left)
	}
	var done <-chan struct{}
	if !c.hsOver.Load() {
		done = c.hsCtx.Done()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-done:
		if c.hsOver.Load() {
			return nil // the handshake ended meanwhile, and with it the context: wait on
		}
		return c.interrupted()
	}
}

// Close is called by crypto/tls only when the handshake's context ends (it times out, or a Dial's
// context ends): the handshake goroutine's read is woken and the connection reset. Once a failed
// handshake is over, it is OnHandshakeError closing a tls.RecordHeaderError's Conn, as net/http does
// after its answer to plain HTTP: that close is graceful, and runs on the loop behind the answer's
// AsyncWrite (a Close from here would refuse it, since its turn on the loop has not come). (crypto/tls
// may call it late, from a context.AfterFunc that HandshakeContext does not wait for: the handshake
// goroutine has reset the cut connection itself then, and the graceful close does nothing.)
func (p pipe) Close() error {
	c := p.c
	if c.hsOver.Load() {
		if c.pipeClosed.Swap(true) {
			return errPipeClosed // as a second Close of a net.Conn fails
		}
		c.hsMu.Lock()
		c.hsCond.Broadcast() // a read waiting in another goroutine ends, as on a closed net.Conn
		c.hsMu.Unlock()
		c.post(closeRaw)
		return nil
	}
	err := c.interrupted()
	c.hsMu.Lock()
	if c.hsErr == nil {
		c.hsErr = err
	}
	c.hsCond.Broadcast()
	c.hsMu.Unlock()
	c.raw.Abort(err)
	return nil
}

func (p pipe) LocalAddr() net.Addr  { return p.c.raw.LocalAddr() }
func (p pipe) RemoteAddr() net.Addr { return p.c.raw.RemoteAddr() }

// errPipeClosed is what the pipe's reads, writes and a second Close return once OnHandshakeError has
// closed it: it matches eddy.ErrClosed, as the rest of etls's errors for a closed connection, and
// net.ErrClosed, as a closed net.Conn's, for code that was given the pipe as a net.Conn.
var errPipeClosed = fmt.Errorf("%w (%w)", eddy.ErrClosed, net.ErrClosed)

// SetDeadline sets the read and the write deadlines (SetReadDeadline, SetWriteDeadline).
func (p pipe) SetDeadline(t time.Time) error {
	p.SetWriteDeadline(t)
	return p.SetReadDeadline(t)
}

// SetReadDeadline bounds the reads of the handshake's goroutine, which wait for the loop's input, as
// a net.Conn's: crypto/tls sets none, but the code it gives the pipe to as a net.Conn may (a
// tls.RecordHeaderError's Conn in OnHandshakeError, reading more of a plain HTTP request; a
// ClientHelloInfo's Conn). Reads on the loop never wait: it has no effect on them.
func (p pipe) SetReadDeadline(t time.Time) error {
	p.c.setHandshakeReadDeadline(t)
	return nil
}

// SetWriteDeadline bounds the writes of the handshake's goroutine, which never wait for the peer but
// may wait for room in the loop's task queue (waitQueueRoom): past it they fail with
// os.ErrDeadlineExceeded, as a net.Conn's. Writes on the loop never wait: it has no effect on them
// (crypto/tls sets one around its close_notify).
func (p pipe) SetWriteDeadline(t time.Time) error {
	c := p.c
	c.hsMu.Lock()
	c.hsWDeadline = t
	c.hsMu.Unlock()
	return nil
}

// writeDeadline is the pipe's write deadline (SetWriteDeadline).
func (c *Conn) writeDeadline() time.Time {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	return c.hsWDeadline
}

// setHandshakeReadDeadline sets the deadline of the handshake goroutine's reads, and the timer that
// wakes a read waiting past it (a zero t clears both).
func (c *Conn) setHandshakeReadDeadline(t time.Time) {
	c.hsMu.Lock()
	defer c.hsMu.Unlock()
	if c.hsTimer != nil {
		c.hsTimer.Stop()
		c.hsTimer = nil
	}
	c.hsDeadline = t
	if d := time.Until(t); !t.IsZero() && d > 0 {
		c.hsTimer = time.AfterFunc(d, func() {
			c.hsMu.Lock()
			c.hsCond.Broadcast()
			c.hsMu.Unlock()
		})
	}
	c.hsCond.Broadcast() // a read waiting now looks at the new deadline
}

// readRaw gives crypto/tls, on the loop, the bytes the handshake goroutine left and then those the
// raw connection has buffered, up to the end of the record it reads (framer).
func (c *Conn) readRaw(b []byte) (int, error) {
	if len(c.leftover) > 0 {
		n := copy(b, c.leftover[:c.fr.limit(c.leftover)])
		c.fr.advance(b[:n])
		c.leftover = c.leftover[n:]
		if len(c.leftover) == 0 {
			c.leftover = nil
		}
		return n, nil
	}
	in, _ := c.raw.Peek(0)
	if len(in) == 0 {
		if c.rawEOF {
			return 0, io.EOF
		}
		return 0, errWouldBlock
	}
	n := copy(b, in[:c.fr.limit(in)])
	c.fr.advance(b[:n])
	c.raw.Discard(n)
	return n, nil
}
