package http1_test

import (
	"bytes"
	"io"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// earlyByteListener hands out connections that, once they have written a 101 response, hold
// that Write until a Read has taken bytes from the client (or until a generous bound passes).
// With net/http this forces, every time, the interleaving that TestHijackEcho/nethttp met under
// load: response.Hijack flushes the 101, the client sends its first bytes at once, and the
// connection's background read takes one of them before hijackLocked's abortPendingRead stops
// it, so Hijack's bufio.Reader holds it.
type earlyByteListener struct {
	net.Listener
	mu      sync.Mutex
	gateHit bool // a 101 Write was let go by a Read, not by the bound
}

func (l *earlyByteListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &earlyByteConn{Conn: c, l: l, read: make(chan struct{})}, nil
}

func (l *earlyByteListener) hit() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gateHit
}

type earlyByteConn struct {
	net.Conn
	l        *earlyByteListener
	mu       sync.Mutex
	upgraded bool // the 101 is being written: the client sends nothing between the request and it
	once     sync.Once
	read     chan struct{} // closed by the first Read with bytes after the 101
}

func (c *earlyByteConn) Write(p []byte) (int, error) {
	is101 := bytes.HasPrefix(p, []byte("HTTP/1.1 101 "))
	if is101 {
		// Before the bytes go: the client's answer may come back before this Write returns.
		c.mu.Lock()
		c.upgraded = true
		c.mu.Unlock()
	}
	n, err := c.Conn.Write(p)
	if is101 {
		select {
		case <-c.read:
			c.l.mu.Lock()
			c.l.gateHit = true
			c.l.mu.Unlock()
		case <-time.After(10 * time.Second):
		}
	}
	return n, err
}

func (c *earlyByteConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	up := c.upgraded
	c.mu.Unlock()
	if n > 0 && up {
		c.once.Do(func() { close(c.read) })
	}
	return n, err
}

// TestHijackEchoNetHTTPEarlyBytes: TestHijackEcho's handler against net/http when the client's
// first bytes reach Hijack's bufio.Reader (forced by earlyByteListener): the echo still comes back
// whole, as it must for TestHijackEcho/nethttp to be a reference that does not fail under load.
// Before hijackEcho echoed what that reader holds, it failed here every time with "1 bytes: EOF;
// the handler ended with the bufio.Reader holds 1 bytes".
func TestHijackEchoNetHTTPEarlyBytes(t *testing.T) {
	done := make(chan error, 1)
	ref := httptest.NewUnstartedServer(hijackEcho(t, done, true))
	ln := &earlyByteListener{Listener: ref.Listener}
	ref.Listener = ln
	ref.Config.ErrorLog = newLogger(io.Discard)
	ref.Start()
	t.Cleanup(ref.Close)
	hijackEchoRun(t, dial(t, ref.Listener.Addr().String()), done)
	if !ln.hit() {
		t.Fatal("the client's first byte did not reach net/http before its Hijack: the interleaving was not forced")
	}
}
