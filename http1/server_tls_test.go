package http1_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// testCert returns PEM files of the test certificate and a client that trusts it.
func testCert(t *testing.T) (certFile, keyFile string, client *http.Client) {
	certFile, keyFile = testtls.Files(t)
	return certFile, keyFile, testtls.Client(t)
}

// startTLS starts srv with TLS on a loopback port and shuts it down when the test ends.
func startTLS(t *testing.T, engine eddy.EngineKind, srv *http1.Server, certFile, keyFile string) string {
	t.Helper()
	srv.Addr = "127.0.0.1:0"
	srv.Engine = engine
	srv.Loops = 2
	if srv.ErrorLog == nil {
		srv.ErrorLog = log.New(testWriter{t}, "", 0)
	}
	if err := srv.StartTLS(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			srv.Close()
		}
	})
	return srv.Addrs()[0].String()
}

// TestServerTLS: net/http handlers behind TLS see Request.TLS; bodies both ways, a file served
// through ReadFrom (copied, since SendFile cannot encrypt), keep-alive reuse.
func TestServerTLS(t *testing.T) {
	certFile, keyFile, client := testCert(t)
	dir := t.TempDir()
	file := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB: above the SendFile threshold
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/tls", func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || !r.TLS.HandshakeComplete {
			http.Error(w, "no TLS state", 500)
			return
		}
		fmt.Fprintf(w, "%x %s", r.TLS.Version, r.TLS.NegotiatedProtocol)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) { io.Copy(w, r.Body) })
	mux.Handle("/files/", http.StripPrefix("/files/", http.FileServer(http.Dir(dir))))
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		base := "https://" + startTLS(t, engine, &http1.Server{Handler: mux}, certFile, keyFile)

		var reused []bool
		var mu sync.Mutex
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			mu.Lock()
			reused = append(reused, i.Reused)
			mu.Unlock()
		}}
		get := func(path string) []byte {
			t.Helper()
			req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", base+path, nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("GET %s: %d %q %v", path, resp.StatusCode, b, err)
			}
			return b
		}
		if got := string(get("/tls")); got != "304 http/1.1" {
			t.Fatalf("GET /tls: %q, want TLS 1.3 (304) with ALPN http/1.1", got)
		}
		if got := get("/files/big.bin"); !bytes.Equal(got, file) {
			t.Fatalf("GET big.bin: %d bytes, differ", len(got))
		}
		body := bytes.Repeat([]byte("upload "), 100_000)
		resp, err := client.Post(base+"/echo", "application/octet-stream", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("POST /echo: %d bytes, %v", len(got), err)
		}
		get("/tls")
		mu.Lock()
		defer mu.Unlock()
		if len(reused) != 3 || !reused[1] || !reused[2] {
			t.Fatalf("connection reuse: %v, want the first connection kept alive", reused)
		}
	})
}

// TestServerTLSNative: a native handler behind TLS.
func TestServerTLSNative(t *testing.T) {
	certFile, keyFile, client := testCert(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			w.AddHeader("Content-Type", "text/plain")
			w.WriteString("native over tls")
		})}
		base := "https://" + startTLS(t, engine, srv, certFile, keyFile)
		for range 3 {
			resp, err := client.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "native over tls" {
				t.Fatalf("got %q", b)
			}
		}
	})
}

// TestServerTLSErrors: a client that speaks neither TLS nor HTTP gets its connection closed and the
// handshake error is logged as net/http logs it (plain HTTP is answered: TestPlainHTTPToTLSPortGets400);
// a missing certificate is an error before anything starts.
func TestServerTLSErrors(t *testing.T) {
	certFile, keyFile, _ := testCert(t)
	var logged bytes.Buffer
	var mu sync.Mutex
	srv := &http1.Server{Handler: http.NotFoundHandler(), ErrorLog: log.New(lockedWriter{&mu, &logged}, "", 0)}
	addr := startTLS(t, eddy.EngineAuto, srv, certFile, keyFile)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello, not TLS\r\n"))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := io.ReadAll(c); len(b) > 0 {
		t.Errorf("a client speaking neither TLS nor HTTP was answered %q", b)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		s := logged.String()
		mu.Unlock()
		if strings.Contains(s, "http: TLS handshake error from 127.0.0.1:") && strings.Contains(s, "does not look like a TLS handshake") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log: %q", s)
		}
		time.Sleep(10 * time.Millisecond)
	}

	if err := (&http1.Server{Addr: "127.0.0.1:0"}).StartTLS("", ""); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("StartTLS without a certificate: %v", err)
	}
	if err := (&http1.Server{Addr: "127.0.0.1:0"}).StartTLS(certFile, "/nonexistent/key.pem"); err == nil {
		t.Fatal("StartTLS with a missing key file succeeded")
	}
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(tcp, &tls.Config{})
	if err := (&http1.Server{}).ServeTLS(ln, certFile, keyFile); err == nil || !strings.Contains(err.Error(), "TCPListener") {
		t.Fatalf("ServeTLS on a TLS listener: %v", err)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// A client that speaks plain HTTP to the TLS port is answered as net/http answers it, with a 400
// that says why, and the connection closes after it; the handshake error is logged with that
// reason. (etls called OnHandshakeError after the close was queued, so nothing written then
// reached the client: it got a bare FIN, found by a review in session 17.)
func TestPlainHTTPToTLSPortGets400(t *testing.T) {
	certFile, keyFile, _ := testCert(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var logged bytes.Buffer
		var mu sync.Mutex
		srv := &http1.Server{
			Handler:  http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			ErrorLog: log.New(lockedWriter{&mu, &logged}, "", 0),
		}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		got, err := io.ReadAll(c)
		want := "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
		if string(got) != want || err != nil {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("read %q, %v; want %q and EOF (log: %q)", got, err, want, logged.String())
		}
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			mu.Lock()
			line := logged.String()
			mu.Unlock()
			if strings.Contains(line, "client sent an HTTP request to an HTTPS server") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no log line of the plain request; logged %q", line)
			}
		}
	})
}
