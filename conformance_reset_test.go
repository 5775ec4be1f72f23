package eddy_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// lastWordsHandler writes size bytes on open, more than the high water mark so that reading pauses, and
// records what it receives.
type lastWordsHandler struct {
	*counter
	size int
	file *os.File // when set, the size bytes are sent from it with SendFile
	mu   sync.Mutex
	got  []byte
	// writeErr is what a Write in OnData returned, after the send failed.
	writeErr error
}

func (h *lastWordsHandler) OnOpen(c eddy.Conn) {
	h.counter.OnOpen(c)
	if h.file != nil {
		if err := c.SendFile(h.file, 0, int64(h.size), nil); err != nil {
			panic(err)
		}
		return
	}
	c.Write(pattern(h.size, 42))
}

func (h *lastWordsHandler) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	_, err := c.Write([]byte("too late"))
	h.mu.Lock()
	h.got = append(h.got, b...)
	h.writeErr = err
	h.mu.Unlock()
}

// A peer that sends its last bytes and then resets the connection while the server's send waits: the send
// fails with ECONNRESET, but the bytes that came before the reset are still the server's to read (Linux
// returns a socket's queued input before reporting the reset). The handler must get them before OnClose,
// as a program on package net would with a Read after its Write failed. An HTTP client meets this when a
// server answers "Connection: close" and closes with pipelined requests unread: its RST may arrive before
// the client has read the answer.
func TestPeerResetDeliversWhatItSentFirst(t *testing.T) {
	const size = 16 << 20
	path := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(path, pattern(size, 42), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, send := range []string{"Write", "SendFile"} {
			t.Run(send, func(t *testing.T) {
				h := &lastWordsHandler{counter: newCounter(), size: size}
				if send == "SendFile" {
					h.file = f
				}
				peerResetAfterLastWords(t, kind, h, 3000)
			})
		}
	})
}

// peerResetAfterLastWords is TestPeerResetDeliversWhatItSentFirst with one way of sending, n bytes of
// last words and opts for the server.
func peerResetAfterLastWords(t *testing.T, kind eddy.EngineKind, h *lastWordsHandler, n int, opts ...eddy.Option) {
	s := startServer(t, kind, h, append([]eddy.Option{eddy.WithLoops(1)}, opts...)...)
	c := s.dial(t)
	c.SetReadBuffer(64 << 10)
	// Let the server fill the socket and queue the rest: its reading is paused by back-pressure, so
	// what is sent now stays in its socket's receive queue.
	time.Sleep(100 * time.Millisecond)
	last := pattern(n, 7)
	if _, err := c.Write(last); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50*time.Millisecond + time.Duration(n/1024)*2*time.Millisecond) // all of it in the server's receive queue
	h.mu.Lock()
	early := len(h.got)
	h.mu.Unlock()
	if early != 0 {
		t.Fatalf("the server read %d bytes while its output was above the high water mark", early)
	}
	c.SetLinger(0) // close sends RST
	c.Close()
	err := h.waitClosed(t, 10*time.Second)
	var oe *eddy.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("OnClose reason = %v (%T), want a write *eddy.OpError", err, err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !bytes.Equal(h.got, last) {
		t.Fatalf("OnData got %d bytes, want the %d the peer sent before its reset", len(h.got), len(last))
	}
	if !errors.Is(h.writeErr, eddy.ErrClosed) {
		t.Fatalf("Write after the send failed = %v, want ErrClosed", h.writeErr)
	}
}
