//go:build linux

package eddy_test

import (
	"testing"

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
		peerResetAfterLastWords(t, kind, h, 96<<10, eddy.WithReadBufferSize(4096))
	})
}
