package eddy_test

import (
	"bytes"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// lineReplier answers every complete line with a reply of replySize bytes.
type lineReplier struct {
	eddy.BaseHandler
	replySize int
	lines     atomic.Int64
}

func (h *lineReplier) OnData(c eddy.Conn) {
	for {
		b, _ := c.Peek(-1)
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return
		}
		c.Discard(i + 1)
		h.lines.Add(1)
		c.Write(make([]byte, h.replySize))
	}
}

// heldInputOpts make one loop with small read buffers and low write water marks: the first reply of a
// lineReplier to the requests of writeThreeLines holds back the input after it.
var heldInputOpts = []eddy.Option{eddy.WithLoops(1), eddy.WithReadBufferSize(4096),
	eddy.WithWriteBufferWaterMarks(4<<10, 8<<10)}

// writeThreeLines sends three requests of 4000 bytes and a newline on c, in one write.
func writeThreeLines(t *testing.T, c net.Conn) {
	t.Helper()
	var req []byte
	for i := 0; i < 3; i++ {
		req = append(req, bytes.Repeat([]byte{'a' + byte(i)}, 4000)...)
		req = append(req, '\n')
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
}

// A client sends three requests and half-closes. The first reply puts the output above the high water
// mark, so the rest of the input is held back by back-pressure; it must still reach OnData before the
// connection closes, as it does when the peer does not half-close. On epoll (and std) the held-back input
// stays in the socket and is read once the output drains. On uring the multishot recv has already
// posted it, with the EOF after it: the input waits in c.in and the EOF waits for its delivery.
func TestInputHeldByBackPressureSurvivesPeerEOF(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const reply = 64 << 10
		h := &lineReplier{replySize: reply}
		s := startServer(t, kind, h, heldInputOpts...)
		for round := 0; round < 5; round++ {
			h.lines.Store(0)
			c := s.dial(t)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			writeThreeLines(t, c)
			c.CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("round %d: read: %v after %d bytes", round, err, len(got))
			}
			if len(got) != 3*reply {
				t.Fatalf("round %d: %d bytes of replies (%d requests seen by OnData), want 3 replies of %d",
					round, len(got), h.lines.Load(), reply)
			}
			c.Close()
		}
	})
}

// The same with a reset instead of a half-close: "the bytes the peer sent before its reset ... eddy
// does not drop them" (docs/engine.md, "A failed send reads on"). On uring the end of the recv with the
// reset waits until the input held back in c.in has been delivered.
func TestInputHeldByBackPressureSurvivesPeerReset(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		const reply = 64 << 10
		h := &lineReplier{replySize: reply}
		k := newCounter()
		s := startServer(t, kind, &resetLines{h, k}, heldInputOpts...)
		for round := 0; round < 5; round++ {
			h.lines.Store(0)
			c := s.dial(t)
			writeThreeLines(t, c)
			c.SetLinger(0) // close sends RST
			c.Close()
			k.waitClosed(t, 10*time.Second)
			if n := h.lines.Load(); n != 3 {
				t.Fatalf("round %d: OnData saw %d of the 3 requests sent before the reset", round, n)
			}
		}
	})
}

type resetLines struct {
	*lineReplier
	*counter
}

func (h *resetLines) OnData(c eddy.Conn) { h.lineReplier.OnData(c) }
