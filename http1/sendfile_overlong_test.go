package http1_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A file longer than the Content-Length its handler declared is not sent past that length: the
// copy stops with http.ErrContentLength and the connection closes (net/http, whose ReadFrom hands
// the whole file to sendfile, sends all of it; doc.go lists the difference).
func TestSendFileLongerThanContentLength(t *testing.T) {
	dir := t.TempDir()
	blob := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	const declared = 100_000
	copyErr := make(chan error, 1)
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		setFileHead(w, declared)
		_, err := io.Copy(w, f)
		copyErr <- err
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		var buf bytes.Buffer
		_, err := io.Copy(&buf, c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the connection stayed open after %d bytes", buf.Len())
		}
		if err := <-copyErr; err != http.ErrContentLength {
			t.Errorf("the handler's copy: %v, want http.ErrContentLength", err)
		}
		_, body, ok := bytes.Cut(buf.Bytes(), []byte("\r\n\r\n"))
		if !ok || len(body) > declared || !bytes.Equal(body, blob[:len(body)]) {
			t.Fatalf("%d body bytes after a Content-Length of %d (equal to the file's: %v)", len(body), declared, bytes.Equal(body, blob[:min(len(body), len(blob))]))
		}
	})
}
