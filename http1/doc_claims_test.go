package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// What the package doc says of transfer codings: a request whose last coding is not chunked is
// refused with 400 (RFC 9112 §6.3), one with another coding before chunked with 501. (The doc said
// 501 for both, as net/http answers; a review in session 18 found the difference.)
func TestUnknownTransferCodings(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})})
		for te, want := range map[string]int{"gzip, chunked": http.StatusNotImplemented, "gzip": http.StatusBadRequest} {
			c := dial(t, addr)
			io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "+te+"\r\n\r\n0\r\n\r\n")
			resp, err := readResponse(bufio.NewReader(c), "POST")
			if err != nil {
				t.Fatalf("Transfer-Encoding: %s: %v", te, err)
			}
			if resp.status != want {
				t.Errorf("Transfer-Encoding: %s: status %d, want %d", te, resp.status, want)
			}
		}
	})
}

// The TLS handshake is bounded by ReadTimeout when ReadHeaderTimeout is zero, as the package doc says
// (it said 10 s then, until a review in session 18), and as net/http does.
func TestTLSHandshakeBoundedByReadTimeout(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	srv := &http1.Server{
		Addr:        "127.0.0.1:0",
		Engine:      eddy.EngineStd,
		Loops:       1,
		TLSConfig:   serverCfg,
		ReadTimeout: 300 * time.Millisecond, // ReadHeaderTimeout left at zero
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
	}
	if err := srv.StartTLS("", ""); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := dial(t, srv.Addrs()[0].String()) // a TCP connection that never starts its handshake
	begun := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if took := time.Since(begun); took >= 5*time.Second {
		t.Errorf("a silent handshake was still open after %v (%v), with ReadTimeout 300 ms", took.Round(time.Millisecond), err)
	}
}
