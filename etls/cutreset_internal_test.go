package etls

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/internal/testtls"
)

// cutConn is the raw connection of a handshake that its bound cuts: it records, in order, the reset
// (Abort) and the graceful close (Close, from the handshake's closeRaw task), and holds the first
// Abort back (as if its goroutine were preempted just before the call) until the close comes or a
// second has passed.
type cutConn struct {
	eddy.Conn // not used: a call to any other method panics
	mu        sync.Mutex
	events    []string
	aborts    int
	closed    chan struct{}
}

func (f *cutConn) note(ev string) {
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
}

func (f *cutConn) Abort(error) {
	f.mu.Lock()
	f.aborts++
	first := f.aborts == 1
	f.mu.Unlock()
	if first {
		select {
		case <-f.closed:
		case <-time.After(time.Second):
		}
	}
	f.note("abort")
}

func (f *cutConn) Close() error {
	f.note("close")
	select {
	case <-f.closed:
	default:
		close(f.closed)
	}
	return nil
}

func (f *cutConn) Execute(fn func(eddy.Conn)) error { fn(f); return nil }
func (f *cutConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (f *cutConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2} }

// A handshake cut by its bound resets the connection (docs/tls.md: its goroutine may be in the middle
// of a flight), before anything closes it gracefully. The reset came only from the pipe's Close, which
// crypto/tls (Go 1.26) calls from a context.AfterFunc that HandshakeContext does not wait for: the
// handshake goroutine, woken by that Close, ran OnHandshakeError and queued its graceful close while
// the Close had not yet reset the connection (or, later still, took it for OnHandshakeError's own,
// hsOver, and closed gracefully too), and the client got a FIN. Silent clients on every engine saw it
// now and then (0.2 % of them under -race, 2 % on std at 100 ms bounds; session 44).
func TestCutHandshakeResetsBeforeClosing(t *testing.T) {
	server, _ := testtls.Configs()
	h := Server(eddy.BaseHandler{}, server)
	h.HandshakeTimeout = 20 * time.Millisecond
	hsErr := make(chan error, 1)
	h.OnHandshakeError = func(_ eddy.Conn, err error) { hsErr <- err }
	raw := &cutConn{closed: make(chan struct{})}
	c := &Conn{raw: raw, h: h}
	c.hsCond.L = &c.hsMu
	c.tc = tls.Server(pipe{c}, server)
	c.hsCtx, c.hsCancel = h.handshakeContext(context.Background())
	c.handshake() // the client never speaks: the bound cuts it
	if err := <-hsErr; err == nil {
		t.Fatal("no handshake error")
	}
	<-raw.closed
	deadline := time.Now().Add(5 * time.Second)
	for {
		raw.mu.Lock()
		events := append([]string(nil), raw.events...)
		raw.mu.Unlock()
		if len(events) >= 2 || time.Now().After(deadline) {
			if len(events) == 0 || events[0] != "abort" {
				t.Fatalf("the cut handshake's connection saw %v: closed gracefully before its reset", events)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
