package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/eddyio/eddy/internal/testtls"
)

// TestServeTLS: --tls-cert and --tls-key serve the same files over HTTPS, on every engine.
func TestServeTLS(t *testing.T) {
	dir, blob := fileDir(t, 1<<20)
	certFile, keyFile := testtls.Files(t)
	cl := testtls.Client(t)
	for _, engine := range serveEngines {
		t.Run(engine, func(t *testing.T) {
			l, _ := startServe(t, serveConfig{dir: dir, engine: engine, loops: 2, tls: tlsFiles{certFile, keyFile}})
			base := "https://" + l.Addr.String()
			if resp, b := fetch(t, cl, base+"/blob.bin"); resp.StatusCode != 200 || !bytes.Equal(b, blob) || resp.TLS == nil {
				t.Fatalf("GET blob.bin over TLS: %d, %d bytes", resp.StatusCode, len(b))
			}
			if resp, b := fetch(t, cl, base+"/blob.bin", "Range", "bytes=100-199"); resp.StatusCode != 206 || !bytes.Equal(b, blob[100:200]) {
				t.Fatalf("range over TLS: %d, %d bytes", resp.StatusCode, len(b))
			}
		})
	}
}

func TestServeTLSCommandLine(t *testing.T) {
	dir, _ := fileDir(t, 10)
	certFile, keyFile := testtls.Files(t)
	for _, tt := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"cert without key", []string{"serve", "--dir", dir, "--tls-cert", certFile}, exitUsage, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"serve", "--dir", dir, "--tls-key", keyFile}, exitUsage, "--tls-cert and --tls-key go together"},
		{"swapped files", []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--tls-cert", keyFile, "--tls-key", certFile}, exitFail, "tls:"},
		{"runs", []string{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--duration", "10ms", "--tls-cert", certFile, "--tls-key", keyFile}, exitOK, "on https://127.0.0.1:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, t.Context(), tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d)\nstderr: %s\nwant %q", code, tt.code, stderr, tt.stderr)
			}
		})
	}
}
