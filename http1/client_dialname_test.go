package http1_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testdns"
)

// Session 31: the Transport dials through Engine.Dial, which now looks a host name up on a
// goroutine of its own (commit 6430806). A URL whose host is a name (served by testdns, inside the
// process) is fetched over http and over https (the certificate verified against the name), and a
// request whose name server never answers ends with its context's deadline.

func TestClientDialName(t *testing.T) {
	testdns.Loopback(t) // every name outside the hosts file is 127.0.0.1
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "host ", r.Host) })
	srv := httptest.NewServer(h)
	defer srv.Close()
	tsrv := httptest.NewTLSServer(h)
	defer tsrv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	tport := tsrv.Listener.Addr().(*net.TCPAddr).Port
	roots := x509.NewCertPool()
	roots.AddCert(tsrv.Certificate())
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1, TLSClientConfig: &tls.Config{RootCAs: roots}}
			defer tr.Close()
			for _, u := range []string{
				fmt.Sprintf("http://eddy-dialname.test:%d/", port),
				fmt.Sprintf("https://example.com:%d/", tport), // a name of httptest's certificate
			} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
				resp, err := tr.RoundTrip(req)
				if err != nil {
					cancel()
					t.Errorf("%s: %v", u, err)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
				if want := "host " + req.URL.Host; err != nil || string(b) != want {
					t.Errorf("%s: %q, %v; want %q", u, b, err, want)
				}
			}
		})
	}
	skipMissingUring(t)
}

func TestClientDialNameDeadline(t *testing.T) {
	release := make(chan struct{})
	saved := net.DefaultResolver
	net.DefaultResolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, errors.New("the name server said nothing")
	}}
	defer func() { net.DefaultResolver = saved; close(release) }()
	for _, kind := range testEngines() {
		t.Run(string(kind), func(t *testing.T) {
			tr := &http1.Transport{Engine: kind, Loops: 1}
			defer tr.Close()
			for _, u := range []string{"http://eddy-dialname-slow.test/", "https://eddy-dialname-slow.test/"} {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
				done := make(chan error, 1)
				go func() {
					resp, err := tr.RoundTrip(req)
					if err == nil {
						resp.Body.Close()
					}
					done <- err
				}()
				select {
				case err := <-done:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("%s: %v, want an error matching context.DeadlineExceeded", u, err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%s: RoundTrip did not return 10 s after a deadline of 300 ms", u)
				}
				cancel()
			}
		})
	}
	skipMissingUring(t)
}
