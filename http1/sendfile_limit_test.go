package http1_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A LimitedReader whose N is negative reads nothing (io.CopyN with a negative count copies
// nothing), but ReadFrom took a negative N for "no limit" and sent the rest of the file with
// SendFile: a handler's io.CopyN(w, f, n) with a negative n sent the whole file where net/http sends
// nothing (found by the file-serving review).
func TestSendFileNegativeLimitSendsNothing(t *testing.T) {
	dir := t.TempDir()
	blob := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB: above the SendFile threshold
	path := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(path, blob, 0o644); err != nil {
		t.Fatal(err)
	}
	copied := make(chan int64, 1)
	h := fileHandler(t, path, os.O_RDONLY, func(w http.ResponseWriter, r *http.Request, f *os.File) {
		setFileHead(w, len(blob))
		var n int64
		if r.URL.Path == "/limited" {
			n, _ = io.Copy(w, &io.LimitedReader{R: f, N: -1})
		} else {
			n, _ = io.CopyN(w, f, -1)
		}
		w.Write([]byte("tail"))
		copied <- n
	})
	raw := "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	ref := netHTTPRef(t, h, nil)
	want := map[string]string{}
	for _, p := range []string{"/copyn", "/limited"} {
		want[p] = rawExchange(t, ref, strings.Replace(raw, "%s", p, 1))
		if n := <-copied; n != 0 {
			t.Fatalf("net/http: %s copied %d bytes", p, n)
		}
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		for _, p := range []string{"/copyn", "/limited"} {
			got := rawExchange(t, addr, strings.Replace(raw, "%s", p, 1))
			if n := <-copied; n != 0 {
				t.Errorf("%s: the handler's copy of a negative count returned %d (the file has %d bytes)", p, n, len(blob))
			}
			if got != want[p] {
				t.Errorf("%s: http1 answered %d bytes %.200q, net/http %d bytes %.200q", p, len(got), got, len(want[p]), want[p])
			}
		}
	})
}
