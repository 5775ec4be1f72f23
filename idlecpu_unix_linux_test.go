package eddy_test

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

// The waiting states of the TCP probes on a Unix stream socket, whose poll reports differ (room is the
// peer's receive queue; the peer's shutdown shows as POLLRDHUP as on TCP).
func TestNoSpinUnixSocket(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB
	loopEngines(t, func(t *testing.T, kind eddy.EngineKind) {
		path := filepath.Join(t.TempDir(), "s.sock")
		h, opened := openedConns(nil)
		h.peerClosed = func(eddy.Conn) bool { return true }
		e := startEngine(t, kind, h, []string{"unix://" + path}, eddy.WithWriteBufferWaterMarks(64<<10, 256<<10))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			e.Stop(ctx)
		})
		p := lockLoops(t, e)
		dial := func() (*net.UnixConn, eddy.Conn) {
			c, err := net.Dial("unix", path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c.(*net.UnixConn), <-opened
		}
		file := spinFile(t, 32<<20)

		c, sc := dial()
		onConn(t, sc, func(c eddy.Conn) { c.SetReadPaused(true) })
		fillPeer(t, c)
		p.expectWaiting(t, "unix: paused, the peer's writes stalled")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "unix: paused, the peer half-closed")

		c, sc = dial()
		onConn(t, sc, func(c eddy.Conn) { c.Write(big) })
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: output blocked")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "unix: output blocked, the peer half-closed")

		c, sc = dial()
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		onConn(t, sc, func(c eddy.Conn) { c.Write(big) })
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: output after the peer's FIN, blocked")

		c, sc = dial()
		sendFileTo(t, sc, file, 32<<20)
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: SendFile blocked")
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		p.expectWaiting(t, "unix: SendFile blocked, the peer half-closed")

		c, sc = dial()
		c.CloseWrite()
		time.Sleep(50 * time.Millisecond)
		sendFileTo(t, sc, file, 32<<20)
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: SendFile after the peer's FIN, blocked")

		c, sc = dial()
		onConn(t, sc, func(c eddy.Conn) { c.Write(big); c.Close() })
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: closing, the output blocked")

		c, sc = dial()
		sc.Close()
		time.Sleep(100 * time.Millisecond)
		p.expectWaiting(t, "unix: lingering for the peer's FIN")
		_ = c
	})
}
