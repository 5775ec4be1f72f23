package etls_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
)

// TestRecordVersionEveryTLSVersion echoes through an etls server on every engine for each TLS
// version crypto/tls still negotiates when asked (1.0 and 1.1 included): the record-version check
// must take 0x0301 and 0x0302 records on such a connection, 0x0303 on TLS 1.2 and 1.3, and refuse,
// on the header alone, a record of another version once the handshake is over.
func TestRecordVersionEveryTLSVersion(t *testing.T) {
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11, tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(v), func(t *testing.T) {
			forEngines(t, func(t *testing.T, k eddy.EngineKind) {
				p := getPKI(t)
				p.server.MinVersion, p.server.MaxVersion = v, v
				p.client.MinVersion, p.client.MaxVersion = v, v
				addr := serve(t, k, etls.Server(echo{}, p.server))
				c := dialTLS(t, addr, p.client)
				if got := c.ConnectionState().Version; got != v {
					t.Fatalf("negotiated %x, want %x", got, v)
				}
				// Several writes, sizes across a record's, so that records of every kind arrive:
				// the first after the handshake (maybe with the Finished), and split ones.
				for _, size := range []int{1, 100, 16 << 10, 16<<10 + 1, 40000} {
					msg := bytes.Repeat([]byte{byte(size)}, size)
					if _, err := c.Write(msg); err != nil {
						t.Fatalf("write %d: %v", size, err)
					}
					got := make([]byte, size)
					if _, err := io.ReadFull(c, got); err != nil {
						t.Fatalf("size %d: read: %v", size, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("size %d: echo differs", size)
					}
				}
			})
		})
	}
}

// TestRecordVersionMismatchTLS10 sends, on an established TLS 1.0 connection, a record header
// of TLS 1.2's version (0x0303) announcing a body never sent: the server refuses it on the header
// (crypto/tls's protocol_version alert) rather than waiting for the body.
func TestRecordVersionMismatchTLS10(t *testing.T) {
	forEngines(t, func(t *testing.T, k eddy.EngineKind) {
		p := getPKI(t)
		p.server.MinVersion, p.server.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
		p.client.MinVersion, p.client.MaxVersion = tls.VersionTLS10, tls.VersionTLS10
		addr := serve(t, k, etls.Server(echo{}, p.server))
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(20 * time.Second))
		c := tls.Client(raw, p.client)
		if _, err := c.Write([]byte("hi")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Write([]byte{23, 0x03, 0x03, 0x01, 0x00}); err != nil {
			t.Fatal(err)
		}
		_, err = c.Read(make([]byte, 10))
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Fatalf("read after a 0x0303 record header on TLS 1.0: %v, want the protocol_version alert", err)
		}
	})
}
