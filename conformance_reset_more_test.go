//go:build linux

package eddy_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// TestPeerResetDeliversAllItSentFirst is TestPeerResetDeliversWhatItSentFirst with more input waiting
// in the server's socket than readsPerEvent (16) reads of the loop's read buffer take (a 4 KiB read
// buffer, 96 KiB of last words): the engine reads on to the end of the input, calling OnData, before
// OnClose reports the send's error (docs/engine.md, "A failed send reads on"). epoll stopped after 16
// reads and dropped the rest (found by a review in session 18).
func TestPeerResetDeliversAllItSentFirst(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &lastWordsHandler{counter: newCounter(), size: 16 << 20}
		s := startServer(t, kind, h, eddy.WithLoops(1), eddy.WithReadBufferSize(4096))
		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		time.Sleep(100 * time.Millisecond) // the server's reading is paused by back-pressure
		last := pattern(96<<10, 7)
		if _, err := c.Write(last); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // all of it in the server's receive queue
		c.SetLinger(0)                     // close sends RST
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
	})
}
