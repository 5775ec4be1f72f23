package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyio/eddy/internal/testtls"
)

// eddy get over https, with both clients: the ranges arrive byte for byte when --cacert trusts the
// server's certificate, and the download fails with a certificate error when nothing does.
func TestGetTLS(t *testing.T) {
	content := randomBytes(3<<20 + 7)
	srv := httptest.NewUnstartedServer(serveBlob(content))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes of the last case
	srv.StartTLS()
	t.Cleanup(srv.Close)
	u := srv.URL + "/blob.bin"
	certFile, _ := testtls.Files(t)
	for _, client := range []string{"auto", "eddy", "net"} {
		t.Run(client, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "blob.bin")
			code, _, stderr := runCmd(t, t.Context(), "get", "--out", out, "--client", client, "--chunk", "1MiB", "--cacert", certFile, u)
			if code != exitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			checkDownload(t, dir, "blob.bin", content)
			want := "client eddy"
			if client == "net" {
				want = "client net"
			}
			if !strings.Contains(stderr, want) {
				t.Errorf("report %q does not say %q", stderr, want)
			}

			code, _, stderr = runCmd(t, t.Context(), "get", "--out", filepath.Join(dir, "again.bin"), "--client", client, u)
			if code != exitFail || !strings.Contains(stderr, "certificate") {
				t.Fatalf("without --cacert: exit %d, stderr:\n%s", code, stderr)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "empty.pem")
	os.WriteFile(bad, []byte("not a certificate"), 0o600)
	code, _, stderr := runCmd(t, t.Context(), "get", "--out", filepath.Join(t.TempDir(), "x"), "--cacert", bad, u)
	if code != exitFail || !strings.Contains(stderr, "no PEM certificate") {
		t.Fatalf("--cacert without a certificate: exit %d, stderr:\n%s", code, stderr)
	}
}
