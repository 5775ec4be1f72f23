package etls_test

// Found by a review of HTTPS (http1 over etls), session 20: the etls side.

import (
	"io"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// TestIdleTimeoutCountsPlaintext: Conn.SetIdleTimeout passed the timeout to the raw connection, whose
// clock counts ciphertext bytes. A peer that, after the handshake, sent the header of a 16 KiB record
// and then one byte of it every 200 ms kept the connection open for ever (about an hour for this
// record, and the next one may do the same), though the wrapped handler, with an idle timeout of 1 s,
// read nothing and wrote nothing: OnData never ran, and the timeout never fired. It counts the wrapped
// handler's plaintext traffic now.
// (http1 relies on it for ReadHeaderTimeout, IdleTimeout and its ReadTimeout on drains and native
// bodies: see http1/tls_slowloris_test.go.)
func TestIdleTimeoutCountsPlaintext(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		cl := newCloseLog()
		h := &advH{closed: cl.onClose}
		h.open = func(c eddy.Conn) { c.SetIdleTimeout(time.Second) }
		h.data = func(c eddy.Conn) { b, _ := c.Next(-1); c.Write(b) }
		_, addr := advStart(t, k, etls.Server(h, p.server))
		c := dialTLS(t, addr, p.client)
		c.Write([]byte("ping"))
		if _, err := io.ReadFull(c, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		raw := c.NetConn()
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, err := raw.Write([]byte{0x17, 0x03, 0x03, 0x40, 0x00}); err != nil {
				return
			}
			for {
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
					if _, err := raw.Write([]byte{0x42}); err != nil {
						return
					}
				}
			}
		}()
		defer func() { close(stop); <-done }()
		select {
		case err := <-cl.ch:
			if err != eddy.ErrIdleTimeout {
				t.Fatalf("OnClose: %v, want ErrIdleTimeout", err)
			}
		case <-time.After(8 * time.Second): // against a connection that stays open; the timeout is 1 s
			t.Fatal("idle timeout of 1 s: still open after 8 s of a record trickled a byte at a time")
		}
	})
}
