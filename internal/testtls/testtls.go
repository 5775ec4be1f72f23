// Package testtls gives the tests of eddy's TLS users one certificate: net/http/httptest's, which is
// valid for 127.0.0.1, ::1 and example.com, as configurations, as PEM files and as a trusting
// *http.Client, and a peer that never speaks, for handshakes that must time out. It is for tests
// only.
package testtls

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var (
	once   sync.Once
	cert   tls.Certificate
	client *tls.Config
)

func load() {
	once.Do(func() {
		ts := httptest.NewUnstartedServer(nil)
		ts.StartTLS()
		cert = ts.TLS.Certificates[0]
		client = ts.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
		ts.Close()
		client.NextProtos = nil
	})
}

// Configs returns a server configuration with the certificate, and a client configuration that
// trusts it (ServerName unset: dial 127.0.0.1, or set "example.com"). Both are fresh copies.
func Configs() (server, clientCfg *tls.Config) {
	load()
	return &tls.Config{Certificates: []tls.Certificate{cert}}, client.Clone()
}

// Client returns an HTTP client that trusts the certificate and speaks HTTP/1.1 (ALPN
// "http/1.1"); its idle connections are closed when the test ends.
func Client(t testing.TB) *http.Client {
	_, cfg := Configs()
	cfg.NextProtos = []string{"http/1.1"}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// Files writes the certificate (with its chain) and its private key as PEM files in a directory
// removed when the test ends.
func Files(t testing.TB) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile, err := WriteFiles(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// WriteFiles writes the certificate (with its chain) and its private key as cert.pem and key.pem in
// dir, for examples, which have no testing.TB.
func WriteFiles(dir string) (certFile, keyFile string, err error) {
	load()
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return "", "", err
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	var certPEM bytes.Buffer
	for _, der := range cert.Certificate {
		pem.Encode(&certPEM, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	if err := os.WriteFile(certFile, certPEM.Bytes(), 0o600); err != nil {
		return "", "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// SilentPeer listens on 127.0.0.1 and holds every connection it accepts without a byte until the test
// ends (a TLS handshake against it waits for the server's hello), and returns its address.
func SilentPeer(tb testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	Hold(tb, ln)
	return ln.Addr().String()
}

// Hold accepts on ln and holds every connection it accepts without a byte until the test ends, when
// it closes ln and them (SilentPeer on a listener of the caller's: any network and address).
func Hold(tb testing.TB, ln net.Listener) {
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}
