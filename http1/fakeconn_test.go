package http1

import (
	"net"
	"os"
	"sync"
	"time"

	"github.com/eddyio/eddy"
)

// fakeLoop is an eddy.Loop whose tasks run when the benchmark calls run.
type fakeLoop struct {
	mu    sync.Mutex
	tasks []func()
	spare []func()
	ready chan struct{}
}

func newFakeLoop() *fakeLoop { return &fakeLoop{ready: make(chan struct{}, 1)} }

func (l *fakeLoop) Execute(fn func()) {
	l.mu.Lock()
	l.tasks = append(l.tasks, fn)
	l.mu.Unlock()
	select {
	case l.ready <- struct{}{}:
	default:
	}
}

func (l *fakeLoop) AfterFunc(time.Duration, func()) *eddy.Timer { panic("not used") }
func (l *fakeLoop) Index() int                                  { return 0 }
func (l *fakeLoop) Conns() int                                  { return 1 }

// run runs the queued tasks.
func (l *fakeLoop) run() {
	l.mu.Lock()
	batch := l.tasks
	l.tasks = l.spare[:0]
	l.mu.Unlock()
	for i, fn := range batch {
		fn()
		batch[i] = nil
	}
	l.mu.Lock()
	l.spare = batch[:0]
	l.mu.Unlock()
}

// fakeConn is an eddy.Conn on a fakeLoop: input is what the benchmark puts in in, output goes
// to out.
type fakeConn struct {
	l      *fakeLoop
	in     []byte
	out    []byte
	ctx    any
	closed bool
	execFn func(eddy.Conn)
	async  []asyncWrite
}

type asyncWrite struct {
	b  []byte
	cb func(eddy.Conn, error)
}

var fakeAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}

func (c *fakeConn) Peek(n int) ([]byte, error) {
	if n <= 0 || n >= len(c.in) {
		return c.in, nil
	}
	return c.in[:n], nil
}
func (c *fakeConn) Next(n int) ([]byte, error) {
	b, _ := c.Peek(n)
	c.in = c.in[len(b):]
	return b, nil
}
func (c *fakeConn) Discard(n int) (int, error) {
	if n < 0 || n > len(c.in) {
		n = len(c.in)
	}
	c.in = c.in[n:]
	return n, nil
}
func (c *fakeConn) Buffered() int               { return len(c.in) }
func (c *fakeConn) Write(b []byte) (int, error) { c.out = append(c.out, b...); return len(b), nil }
func (c *fakeConn) Writev(bs [][]byte) (int, error) {
	n := 0
	for _, b := range bs {
		k, _ := c.Write(b)
		n += k
	}
	return n, nil
}
func (c *fakeConn) AsyncWrite(b []byte, cb func(eddy.Conn, error)) error {
	c.l.Execute(func() {
		c.Write(b)
		if cb != nil {
			cb(c, nil)
		}
	})
	return nil
}
func (c *fakeConn) Flushed(cb func(eddy.Conn, error)) { cb(c, nil) }
func (c *fakeConn) OutboundBuffered() int             { return 0 }
func (c *fakeConn) Execute(fn func(eddy.Conn)) error {
	c.l.Execute(func() { fn(c) })
	return nil
}
func (c *fakeConn) SendFile(*os.File, int64, int64, func(eddy.Conn, error)) error {
	return eddy.ErrUnsupported
}
func (c *fakeConn) Close() error                       { c.closed = true; return nil }
func (c *fakeConn) Abort(error)                        { c.closed = true }
func (c *fakeConn) CloseWrite() error                  { return nil }
func (c *fakeConn) SetIdleTimeout(time.Duration) error { return nil }
func (c *fakeConn) SetReadPaused(bool)                 {}
func (c *fakeConn) Context() any                       { return c.ctx }
func (c *fakeConn) SetContext(v any)                   { c.ctx = v }
func (c *fakeConn) LocalAddr() net.Addr                { return fakeAddr }
func (c *fakeConn) RemoteAddr() net.Addr               { return fakeAddr }
func (c *fakeConn) Loop() eddy.Loop                    { return c.l }
