package eddy_test

import (
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// halfCloser answers what it read once the peer has shut down its sending side, from another
// goroutine and a little later, as a worker pool would; or, with keep false, lets the engine close.
type halfCloser struct {
	*counter
	keep bool
	got  []byte
}

func (h *halfCloser) OnData(c eddy.Conn) {
	b, _ := c.Next(-1)
	h.got = append(h.got, b...)
}

func (h *halfCloser) OnPeerClosed(c eddy.Conn) bool {
	if !h.keep {
		return false
	}
	answer := append([]byte("answer to "), h.got...)
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.AsyncWrite(answer, nil)
		c.Execute(func(c eddy.Conn) { c.Close() })
	}()
	return true
}

func TestHalfCloseHandlerAnswersAfterPeerFIN(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		for _, keep := range []bool{true, false} {
			h := &halfCloser{counter: newCounter(), keep: keep}
			s := startServer(t, kind, h)
			c := s.dial(t)
			io.WriteString(c, "the question")
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			b, err := io.ReadAll(c) // ends with EOF: the server closed
			want := ""
			if keep {
				want = "answer to the question"
			}
			if err != nil || string(b) != want {
				t.Fatalf("keep=%v: read %q, %v; want %q", keep, b, err, want)
			}
			wantErr := error(nil)
			if !keep {
				wantErr = io.EOF
			}
			if err := h.waitClosed(t, 5*time.Second); err != wantErr {
				t.Fatalf("keep=%v: OnClose(%v), want %v", keep, err, wantErr)
			}
		}
	})
}
