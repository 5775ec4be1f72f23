package http1_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// tlsTransport returns a Transport on engine that trusts the test certificate; it is closed when the
// test ends.
func tlsTransport(t *testing.T, engine eddy.EngineKind) *http1.Transport {
	_, cfg := testtls.Configs()
	tr := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestClientTLS: https requests through the Transport to a net/http TLS server: Response.TLS, a
// streamed upload echoed back, keep-alive reuse (one TLS connection for every request), and http
// and https to the same host:port kept apart.
func TestClientTLS(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var conns atomic.Int64
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == "POST" {
				b, _ := io.ReadAll(r.Body) // net/http's server stops reading a body once it answers
				w.Write(b)
				return
			}
			io.WriteString(w, "hello over "+r.Proto)
		}))
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the 400 to the request in clear
		ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				conns.Add(1)
			}
		}
		ts.StartTLS()
		defer ts.Close()
		tr := tlsTransport(t, engine)
		cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for range 3 {
			resp, err := cl.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello over HTTP/1.1" || resp.TLS == nil || !resp.TLS.HandshakeComplete || resp.TLS.NegotiatedProtocol != "http/1.1" {
				t.Fatalf("GET: %q, TLS %+v", b, resp.TLS)
			}
		}
		body := bytes.Repeat([]byte("0123456789"), 300_000) // 3 MB: streamed, not sent with the head
		resp, err := cl.Post(ts.URL, "application/octet-stream", io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("POST echo: %d bytes, %v", len(got), err)
		}
		if n := conns.Load(); n != 1 {
			t.Fatalf("%d TLS connections for 4 requests, want 1", n)
		}
		// The same host:port in clear is another pool, on a connection of its own: crypto/tls's
		// server answers it with a 400 in clear. The https connection is not disturbed.
		resp, err = cl.Get(strings.Replace(ts.URL, "https://", "http://", 1))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || resp.TLS != nil {
			t.Fatalf("http to the TLS server: %d, TLS %v; want crypto/tls's 400 in clear", resp.StatusCode, resp.TLS)
		}
		if resp, err := cl.Get(ts.URL); err != nil {
			t.Fatal(err)
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
}

// TestClientTLSToEddyServer: eddy on both ends of an HTTPS exchange.
func TestClientTLSToEddyServer(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				http.Error(w, "no TLS", 500)
				return
			}
			io.WriteString(w, strings.Repeat("e", 100_000))
		})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		cl := &http.Client{Transport: tlsTransport(t, engine), Timeout: 20 * time.Second}
		for range 3 {
			resp, err := cl.Get("https://" + addr + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || len(b) != 100_000 {
				t.Fatalf("%d, %d bytes, %v", resp.StatusCode, len(b), err)
			}
		}
	})
}

// TestClientTLSFailures: an untrusted certificate, a name it is not for, and a server that never
// answers the hello (TLSHandshakeTimeout).
func TestClientTLSFailures(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ts := httptest.NewUnstartedServer(http.NotFoundHandler())
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake errors this test causes
		ts.StartTLS()
		defer ts.Close()

		tr := &http1.Transport{Engine: engine, Loops: 1}
		defer tr.Close()
		_, err := tr.RoundTrip(mustRequest(t, ts.URL))
		var unknown *tls.CertificateVerificationError
		if !errors.As(err, &unknown) {
			t.Fatalf("untrusted certificate: %v", err)
		}

		named := tlsTransport(t, engine)
		req := mustRequest(t, strings.Replace(ts.URL, "127.0.0.1", "localhost", 1))
		if _, err := named.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("name not in the certificate: %v", err)
		}

		silent, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer silent.Close()
		_, cfg := testtls.Configs()
		slow := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg, TLSHandshakeTimeout: 200 * time.Millisecond}
		defer slow.Close()
		start := time.Now()
		_, err = slow.RoundTrip(mustRequest(t, "https://"+silent.Addr().String()+"/"))
		if !errors.Is(err, etls.ErrHandshakeTimeout) {
			t.Fatalf("silent server: %v, want etls.ErrHandshakeTimeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("the handshake timeout took %v", d)
		}
	})
}

func mustRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
