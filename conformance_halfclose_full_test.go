package eddy_test

import (
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// A client that sends its request, half-closes, and reads the answer only later: the answer fills the
// socket's send buffer while the peer's FIN is in, and must still arrive whole (the close waits for
// the flush). On uring a send to the full socket then ended with EAGAIN, which was taken for a failed
// send, and the connection was dropped mid-answer.
func TestHalfClosedPeerGetsALargeAnswer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const size = 16 << 20
		answer := pattern(size, 3)
		h := &funcHandler{counter: newCounter(), data: func(c eddy.Conn) {
			c.Discard(-1)
			c.Write(answer)
		}}
		s := startServer(t, kind, h)
		c := s.dial(t)
		c.SetReadBuffer(64 << 10)
		if _, err := c.Write([]byte("go")); err != nil {
			t.Fatal(err)
		}
		c.CloseWrite()
		time.Sleep(300 * time.Millisecond) // the answer fills the buffers, and the FIN is in
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || len(got) != size {
			t.Fatalf("read %d of %d bytes (%v)", len(got), size, err)
		}
		for i := range got {
			if got[i] != answer[i] {
				t.Fatalf("byte %d differs", i)
			}
		}
		if err := h.waitClosed(t, 5*time.Second); err != nil && err != io.EOF {
			t.Errorf("OnClose: %v", err)
		}
	})
}
