package http1_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// copyOnly hides the ResponseWriter's ReadFrom, so that http.FileServer copies the file through user
// space: the baseline of the sendfile path.
type copyOnly struct{ http.ResponseWriter }

// BenchmarkFileServer64MiB downloads a 64 MiB file from http.FileServer over loopback, with the body
// sent by SendFile ("sendfile") and copied through the response buffer ("copy"), on each engine.
func BenchmarkFileServer64MiB(b *testing.B) {
	dir := b.TempDir()
	const size = 64 << 20
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), make([]byte, size), 0o644); err != nil {
		b.Fatal(err)
	}
	fs := http.FileServer(http.Dir(dir))
	mux := http.NewServeMux()
	mux.Handle("/sendfile/", http.StripPrefix("/sendfile", fs))
	mux.Handle("/copy/", http.StripPrefix("/copy", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fs.ServeHTTP(copyOnly{w}, r)
	})))
	for _, engine := range []eddy.EngineKind{eddy.EngineEpoll, eddy.EngineUring, eddy.EngineStd} {
		b.Run(string(engine), func(b *testing.B) {
			addr := start(b, engine, &http1.Server{Handler: mux})
			cl := client(b)
			buf := make([]byte, 256<<10)
			for _, path := range []string{"sendfile", "copy"} {
				b.Run(path, func(b *testing.B) {
					b.SetBytes(size)
					for b.Loop() {
						resp, err := cl.Get("http://" + addr + "/" + path + "/big.bin")
						if err != nil {
							b.Fatal(err)
						}
						n, err := io.CopyBuffer(io.Discard, resp.Body, buf)
						resp.Body.Close()
						if err != nil || n != size {
							b.Fatalf("%d bytes, %v", n, err)
						}
					}
				})
			}
		})
	}
}
