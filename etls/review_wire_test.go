package etls_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// Once established, a record header announcing more than TLS allows (RFC 8446 5.2: at most 2^14+256
// bytes of ciphertext) is rejected by crypto/tls as soon as it reads the header (record_overflow
// alert, connection closed). etls's framer waited for the whole announced body before letting
// crypto/tls see the header, so the connection just stalled: no alert, no OnClose (found in session
// 19).
func TestOversizedRecordHeaderIsRefused(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		closed := make(chan error, 1)
		h := &advH{
			data:   func(c eddy.Conn) { b, _ := c.Next(-1); c.Write(b) },
			closed: func(_ eddy.Conn, err error) { closed <- err },
		}
		addr := serve(t, k, etls.Server(h, p.server))
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		tc := tls.Client(nc, p.client.Clone())
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := tc.Write([]byte("ping")); err != nil { // the handshake, and one echo
			t.Fatal(err)
		}
		if _, err := io.ReadFull(tc, make([]byte, 4)); err != nil {
			t.Fatal(err)
		}
		// An application-data header announcing 65,535 bytes, and a few of them.
		if _, err := nc.Write([]byte{0x17, 0x03, 0x03, 0xff, 0xff, 1, 2, 3, 4}); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-closed:
			if err == nil {
				t.Error("OnClose(nil) for a connection that sent an oversized record")
			}
		case <-time.After(3 * time.Second):
			t.Fatal("an oversized record header (length 0xffff) left the connection open 3 s: no alert, no OnClose")
		}
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(nc); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("after the oversized record: %v, want the connection's end", err)
		}
	})
}

// A handshake that outlives Handler.HandshakeTimeout is cut short with a reset, as the Handler's doc
// says (docs/tls.md said "gracefully" until session 19).
func TestHandshakeTimeoutResets(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		h := etls.Server(echo{}, p.server)
		h.HandshakeTimeout = 200 * time.Millisecond
		addr := serve(t, k, h)
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = nc.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("a timed-out handshake: read %v, want ECONNRESET", err)
		}
	})
}

// Writev's doc says small slices are encrypted together "so that they share records"; above 16 KiB in
// total each slice became a record of its own, however small (20 KiB in 10-byte slices: 2048 records
// where one Write makes 2; session 19).
func TestWritevSmallSlicesShareRecords(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		const slices, size = 2048, 10
		h := &advH{open: func(c eddy.Conn) {
			bs := make([][]byte, slices)
			for i := range bs {
				bs[i] = []byte("0123456789")
			}
			c.Writev(bs)
		}}
		addr := serve(t, k, etls.Server(h, p.server))
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		rc := &wireRecorder{Conn: nc}
		cfg := p.client.Clone()
		cfg.MaxVersion = tls.VersionTLS12 // no session tickets after the handshake
		tc := tls.Client(rc, cfg)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.ReadFull(tc, make([]byte, slices*size)); err != nil {
			t.Fatal(err)
		}
		rc.mu.Lock()
		_, n := lastRecordType(rc.got)
		rc.mu.Unlock()
		if n > 64 {
			t.Errorf("Writev of %d slices of %d bytes: %d records on the wire", slices, size, n)
		}
	})
}
