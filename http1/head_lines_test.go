package http1_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A request head of MaxHeaderBytes made of short lines of one field (200,000 "A:" lines in 800 KB)
// must not cost the server much more than it costs net/http. The header map was sized by the
// number of lines (a 200,000-entry map for one key): 64 MiB allocated for the request, against
// net/http's 18 MiB, whose textproto caps its hint at 1,000. What remains above net/http (48 MiB)
// grows with the bytes as net/http's does: the parser's spans and the head's Fields, one per line.
func TestManyHeadLinesDoNotSizeTheHeader(t *testing.T) {
	const lines = 200000
	var req strings.Builder
	req.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
	for range lines {
		req.WriteString("A:\r\n")
	}
	req.WriteString("\r\n")
	got := make(chan int, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- len(r.Header["A"]) })
	// cost sends the request to addr and returns what the process allocated until the answer came.
	cost := func(t *testing.T, addr string) uint64 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		if _, err := io.WriteString(c, req.String()); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		runtime.ReadMemStats(&after)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := <-got; n != lines {
			t.Fatalf("the handler saw %d values of A, want %d", n, lines)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	ref := httptest.NewServer(h)
	defer ref.Close()
	want := cost(t, ref.Listener.Addr().String())
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
		alloc := cost(t, addr)
		t.Logf("%d KiB allocated for a head of %d lines (%d bytes); net/http %d KiB", alloc>>10, lines, req.Len(), want>>10)
		if alloc > 3*want {
			t.Errorf("the request allocated %d KiB, more than 3 times net/http's %d KiB", alloc>>10, want>>10)
		}
	})
}
