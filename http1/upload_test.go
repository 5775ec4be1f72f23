package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestSlowHandlerGetsALargeUpload: a handler that does some work (here 500 ms) before it reads a
// large request body gets the whole body, as with net/http: the connection stops reading while the
// bytes ahead of the handler pass a bound (eddy.Conn.SetReadPaused), and TCP flow control holds the
// client back, instead of the server buffering the upload or closing the connection.
func TestSlowHandlerGetsALargeUpload(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond) // say, an authorization check against a database
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n, err)
	})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<20) // 16 MiB
	want := fmt.Sprintf("%d <nil>", len(payload))
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		resp, err := client(t).Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(payload))
		if err != nil {
			t.Fatalf("upload failed: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != want {
			t.Fatalf("%s %q; want 200 %q", resp.Status, b, want)
		}
	})
}
