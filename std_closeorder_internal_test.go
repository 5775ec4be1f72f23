package eddy

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// closeOrderHandler logs, in order, the completion callbacks and OnClose of one connection.
type closeOrderHandler struct {
	BaseHandler
	conn   chan Conn
	closed chan struct{}
	mu     sync.Mutex
	log    []string
}

func (h *closeOrderHandler) OnOpen(c Conn) { h.conn <- c }

func (h *closeOrderHandler) OnClose(c Conn, err error) {
	h.note(fmt.Sprintf("OnClose(%v)", err))
	close(h.closed)
}

func (h *closeOrderHandler) note(s string) {
	h.mu.Lock()
	h.log = append(h.log, s)
	h.mu.Unlock()
}

// On std, the writer that finished a graceful close's flush queued the completions of its last bytes
// (an AsyncWrite's or a Flushed callback, reporting nil) for the section's holder, then took the section
// to report the close: when it took it before the holder ran them (the holder's last look at the queue
// came just before they were queued), OnClose ran first and the callbacks reporting success came after
// it, against Handler.OnClose ("after the last other callback"). Seen once by the Conn contract model
// (TestConnContractModel/std, 2-minute run; now part of TestConnModel). The test holds the section as that holder, lets the writer
// queue the completion and block on the section, then releases it without running the queue.
func TestStdCompletionBeforeOnCloseWhenTheWriterTakesTheSection(t *testing.T) {
	h := &closeOrderHandler{conn: make(chan Conn, 1), closed: make(chan struct{})}
	e, err := New(h, []string{"tcp://127.0.0.1:0"}, WithEngine(EngineStd), WithLoops(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	defer e.Stop(context.Background())
	nc, err := net.DialTimeout("tcp", e.Addrs()[0].String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := (<-h.conn).(*stdConn)

	// As a callback: more output than the sockets hold while the peer does not read, so that the
	// Flushed callback waits for the writer, then a graceful close.
	c.mu.Lock()
	held := true
	defer func() {
		if held {
			c.mu.Unlock()
		}
	}()
	const size = 32 << 20
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	c.Flushed(func(_ Conn, err error) { h.note(fmt.Sprintf("Flushed(%v)", err)) })
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	// The peer reads it all, to the EOF: the writer has queued the Flushed callback (its TryLock
	// failed: the section is held here) and goes on to report the close.
	nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, nc)
	if n != size || err != nil {
		t.Fatalf("the peer read %d of %d bytes (%v)", n, size, err)
	}
	c.mu.Unlock() // without running the queued tasks, as a holder that lost the section to the writer
	held = false
	select {
	case <-h.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("no OnClose")
	}
	waitDeadline := time.Now().Add(5 * time.Second)
	for {
		h.mu.Lock()
		k := len(h.log)
		h.mu.Unlock()
		if k >= 2 || time.Now().After(waitDeadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if want := []string{"Flushed(<nil>)", "OnClose(<nil>)"}; fmt.Sprint(h.log) != fmt.Sprint(want) {
		t.Errorf("callbacks %q, want %q: the completion of bytes sent before the close must run before OnClose", h.log, want)
	}
}
