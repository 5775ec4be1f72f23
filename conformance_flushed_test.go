package eddy_test

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// Conn.Flushed on every engine: at once when nothing is queued; after a peer that reads slowly has
// taken everything written before it (and not before); not failed by a Close made after it; ErrClosed
// on a connection that takes no more output.
func TestFlushed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, kind eddy.EngineKind) {
		h := &openConns{ch: make(chan eddy.Conn, 1)}
		s := startServer(t, kind, h)
		c := s.dial(t)
		sc := <-h.ch
		on := func(fn func(c eddy.Conn)) {
			t.Helper()
			done := make(chan struct{})
			if err := sc.Execute(func(c eddy.Conn) { fn(c); close(done) }); err != nil {
				t.Fatal(err)
			}
			<-done
		}

		var atOnce error = errors.New("not run")
		on(func(c eddy.Conn) { c.Flushed(func(_ eddy.Conn, err error) { atOnce = err }) })
		if atOnce != nil {
			t.Fatalf("Flushed with nothing queued: %v before it returned, want nil", atOnce)
		}

		data := bytes.Repeat([]byte("flushed "), 4<<20/8) // more than the socket buffers take
		flushed := make(chan error, 1)
		on(func(c eddy.Conn) {
			c.Write(data)
			c.Flushed(func(_ eddy.Conn, err error) { flushed <- err })
			c.Close() // after it: the close flushes, and does not fail the callback
		})
		select {
		case err := <-flushed:
			t.Fatalf("Flushed ran (%v) while the peer had read nothing of 4 MiB", err)
		case <-time.After(100 * time.Millisecond):
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("read %d of %d bytes, %v", len(got), len(data), err)
		}
		select {
		case err := <-flushed:
			if err != nil {
				t.Fatalf("Flushed: %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Flushed did not run once the peer had read everything")
		}

		c2 := s.dial(t)
		sc2 := <-h.ch
		refused := make(chan error, 1)
		sc2.Execute(func(c eddy.Conn) {
			c.CloseWrite()
			c.Flushed(func(_ eddy.Conn, err error) { refused <- err })
		})
		if err := <-refused; err != eddy.ErrClosed {
			t.Fatalf("Flushed after CloseWrite: %v, want ErrClosed", err)
		}
		c2.Close()
	})
}
