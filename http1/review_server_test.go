package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A net/http handler that ends its goroutine with runtime.Goexit (t.FailNow or t.Fatal called in a
// handler of a test server, say) closes the connection without an answer and ends the request, as
// net/http's does. It never completed its response: response.serve's deferred recover saw nil and
// did nothing, the connection stayed open with no answer and Shutdown could never return (found by
// a review in session 18).
func TestGoexitInHandlerClosesTheConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/exit" {
			runtime.Goexit()
		}
		io.WriteString(w, "ok")
	})
	// The reference: net/http closes the connection at once.
	rc := dial(t, netHTTPRef(t, h, nil))
	io.WriteString(rc, "GET /exit HTTP/1.1\r\nHost: x\r\n\r\n")
	waitClosed(t, rc, 3*time.Second)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
		addr := start(t, engine, srv)
		c := dial(t, addr)
		io.WriteString(c, "GET /exit HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		got, err := io.ReadAll(c)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("connection still open, with no answer, 3 s after the handler's Goexit (read %q); net/http closes it at once", got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown after a handler's Goexit: %v; the request it left is still counted in flight", err)
			srv.Close()
		}
	})
}

// chunkedWithFatExtensions is a chunked body carrying 256 bytes of data in 256 one-byte chunks, each
// behind a 4000-byte chunk extension: 1 MiB of framing for 256 bytes of payload.
func chunkedWithFatExtensions() string {
	var sb strings.Builder
	ext := ";" + strings.Repeat("e", 4000)
	for range 256 {
		sb.WriteString("1" + ext + "\r\nX\r\n")
	}
	sb.WriteString("0\r\n\r\n")
	return sb.String()
}

// net/http bounds the non-data overhead of a chunked body (CVE-2023-39326, Go 1.21.5: "chunked
// encoding contains too much non-data": 16 bytes per chunk plus twice the chunk's data, with 16 KiB
// of slack), so that a sender cannot make the server read arbitrarily many bytes per byte of body
// with chunk extensions; http1 bounds it the same way. Its ChunkedDecoder bounded only each
// chunk-size line (4096 bytes): the body below, 1 MiB of extensions around 256 bytes of data, was
// read to its end without error, and the loop read (and drained after the handler) ~4000 framing
// bytes per payload byte, which no body bound counts (found by a review in session 18).
func TestChunkExtensionOverheadIsBounded(t *testing.T) {
	body := chunkedWithFatExtensions()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "read=%d failed=%v", len(b), err != nil)
	})
	// What net/http does with the same body.
	ref := netHTTPRef(t, h, nil)
	check := func(t *testing.T, addr string) string {
		c := dial(t, addr)
		go io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil {
			t.Fatal(err)
		}
		return r.body
	}
	if got := check(t, ref); !strings.Contains(got, "failed=true") {
		t.Fatalf("net/http: %q; expected the reference to refuse the body", got)
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		if got := check(t, addr); !strings.Contains(got, "failed=true") {
			t.Errorf("handler's read of a body with 1 MiB of chunk extensions around 256 data bytes: %q; "+
				"net/http fails it (too much non-data)", got)
		}
	})
}

// The decoder itself, as the native path and Parser users see it.
func TestChunkedDecoderBoundsNonData(t *testing.T) {
	in := []byte(chunkedWithFatExtensions())
	var d http1.ChunkedDecoder
	total, read := 0, 0
	for {
		data, n, done, err := d.Decode(in)
		if err != nil {
			return // refused: what net/http does
		}
		total += len(data)
		read += n
		in = in[n:]
		if done {
			break
		}
		if n == 0 {
			t.Fatal("decoder wants more input at the end of a complete body")
		}
	}
	t.Errorf("decoded %d payload bytes out of %d input bytes without error; the framing overhead is unbounded", total, read)
}
