package http1_test

import (
	"bufio"
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

// TestPipelinedBurstIsHeldBack: a client that pipelines megabytes of requests at once is held back
// the same way, request after request: each handler's start pauses reading again (the input ahead of
// it is past the bound) in the callback where the previous one's end restarted it. On uring the
// restart used to arm a receive that took a whole receive window before the pause's cancel, and
// ENOBUFS from that receive grew the window: the input doubled with every request, passed 8 MiB
// after a handful and the connection was closed.
func TestPipelinedBurstIsHeldBack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	const requests, read = 240000, 3000 // 8.6 MB of requests; the first 3,000 answers are read
	burst := bytes.Repeat([]byte("GET /abcdefghi HTTP/1.1\r\nHost: x\r\n\r\n"), requests)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.Write(burst) // cut short by the Close below, once the answers read are in
		}()
		br := bufio.NewReaderSize(c, 64<<10)
		for i := range read {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("answer %d: %v (the server closed the connection?)", i, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || string(b) != "ok" {
				t.Fatalf("answer %d: %q, %v; want \"ok\"", i, b, err)
			}
		}
		c.Close()
		<-wrote
	})
}
