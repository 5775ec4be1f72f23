package etls_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// reviewSplitConn writes the next record in two parts, the second a while after the first, as TCP
// may deliver a record: the first part is a record's beginning, not yet whole.
type reviewSplitConn struct {
	net.Conn
	mu    sync.Mutex
	split bool
	done  chan struct{}
}

func (c *reviewSplitConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	split := c.split
	c.split = false
	c.mu.Unlock()
	if !split || len(b) <= 3 {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(b[:3]); err != nil {
		return 0, err
	}
	rest := bytes.Clone(b[3:])
	go func() {
		defer close(c.done)
		time.Sleep(300 * time.Millisecond)
		c.Conn.Write(rest)
	}()
	return len(b), nil
}

// A long download to a slow reader must not time out while its output progresses (the raw
// connection's writes count), even when the wrapped handler's last Write is older than its idle
// timeout. When part of a record arrives meanwhile (the client's next message, split by TCP),
// idleAfterInput cut the raw connection's idle timeout to what was left since the handler's last
// Write: nothing, so the connection was closed as idle at once, in the middle of the download, and
// the client's message never answered (found by a review of session 20's changes). The output's
// progress to the kernel counts now (watchOutput).
func TestDownloadWithPartialRecordIsNotIdle(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		cl := newCloseLog()
		const size = 32 << 20
		payload := make([]byte, size)
		h := &advH{closed: cl.onClose}
		h.open = func(c eddy.Conn) { c.SetIdleTimeout(time.Second) }
		var in []byte
		h.data = func(c eddy.Conn) {
			b, _ := c.Next(-1)
			in = append(in, b...)
			for len(in) >= 4 {
				switch string(in[:4]) {
				case "get!":
					c.Write(payload)
				case "ping":
					c.Write([]byte("pong"))
				}
				in = in[4:]
			}
		}
		// Reading goes on under the output (back-pressure would otherwise hold the part record in
		// the socket until the output has drained).
		_, addr := advStart(t, k, etls.Server(h, p.server), eddy.WithWriteBufferWaterMarks(1<<20, 512<<20))
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		sc := &reviewSplitConn{Conn: nc, done: make(chan struct{})}
		tc := tls.Client(sc, p.client)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(60 * time.Second))
		if _, err := tc.Write([]byte("get!")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		buf := make([]byte, 256<<10)
		read, pinged := 0, false
		for read < size {
			n, err := io.ReadFull(tc, buf[:min(len(buf), size-read)])
			read += n
			if err != nil {
				t.Fatalf("after %d of %d bytes: %v (OnClose: %v)", read, size, err, cl.errs)
			}
			if !pinged && time.Since(start) > 1500*time.Millisecond && read < size/2 {
				pinged = true
				sc.mu.Lock()
				sc.split = true
				sc.mu.Unlock()
				if _, err := tc.Write([]byte("ping")); err != nil {
					t.Fatal(err)
				}
			}
			time.Sleep(20 * time.Millisecond) // about 12 MB/s: close to 3 s for the download
		}
		if !pinged {
			t.Skip("the download went too fast to send the message in its middle")
		}
		<-sc.done
		b := make([]byte, 4)
		if _, err := io.ReadFull(tc, b); err != nil || string(b) != "pong" {
			cl.mu.Lock()
			errs := cl.errs
			cl.mu.Unlock()
			t.Fatalf("the message sent during the download: answer %q, %v; OnClose: %v", b, err, errs)
		}
	})
}
