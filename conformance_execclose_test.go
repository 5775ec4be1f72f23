package eddy_test

import (
	"bytes"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// openConns hands each opened connection to the test, and tells of each OnClose on closed, if set.
type openConns struct {
	eddy.BaseHandler
	ch     chan eddy.Conn
	closed chan struct{}
}

func (h *openConns) OnOpen(c eddy.Conn) { h.ch <- c }

func (h *openConns) OnClose(eddy.Conn, error) {
	if h.closed != nil {
		h.closed <- struct{}{}
	}
}

// A Write made in an Execute that a Close from another goroutine races: if the Write returned nil,
// its bytes are the peer's before the EOF (the output accepted before the close is flushed); if it
// returned ErrClosed, none of them are.
func TestExecuteWriteRacingClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &openConns{ch: make(chan eddy.Conn, 1), closed: make(chan struct{}, 1)}
		s := startServer(t, kind, h)
		data := bytes.Repeat([]byte("racing close "), 1000)
		for i := range 200 {
			c := s.dial(t)
			sc := <-h.ch
			res := make(chan error, 1)
			if err := sc.Execute(func(c eddy.Conn) { _, err := c.Write(data); res <- err }); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				time.Sleep(time.Duration(i%7) * time.Microsecond)
			}
			sc.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("round %d: read: %v", i, err)
			}
			// A function given to Execute runs before OnClose or not at all (the connection had
			// closed when its turn came: std may drop it so). Waiting a second for it instead made
			// this test take two minutes once std's Execute stopped running fn on the caller.
			select {
			case <-h.closed:
			case <-time.After(10 * time.Second):
				t.Fatalf("round %d: no OnClose", i)
			}
			var werr error
			select {
			case werr = <-res:
			default:
				werr = eddy.ErrClosed // the Execute did not run: the Close came first
			}
			switch {
			case werr == nil && !bytes.Equal(got, data):
				t.Fatalf("round %d: the Write returned nil, the peer read %d of %d bytes", i, len(got), len(data))
			case werr != nil && len(got) != 0:
				t.Fatalf("round %d: the Write returned %v, the peer read %d bytes", i, werr, len(got))
			}
			c.Close()
		}
	})
}
