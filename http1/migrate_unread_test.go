package http1_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestUnreadChunkedBodyCount: a handler that leaves 300 KiB of a chunked request body unread
// (closing it, or just returning), the whole body having arrived by then. net/http reads up to
// 256 KiB of what the handler left to find its end, and, more being left, answers with
// "Connection: close" and closes the connection. http1 counted only what it dropped from the
// connection's input, not the up to 64 KiB the handler left in the body's pipe, so it kept the
// connection where net/http closes it.
func TestMigrateUnreadChunkedBodyCount(t *testing.T) {
	sent := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		select {
		case <-sent:
			// The client wrote all; give the server a moment to have read it (a slow machine
			// only makes the check weaker).
			time.Sleep(200 * time.Millisecond)
		case <-time.After(10 * time.Second):
		}
		if r.URL.Query().Get("read") != "" {
			io.ReadFull(r.Body, make([]byte, 1000))
		}
		if r.URL.Query().Get("close") != "" {
			r.Body.Close()
		}
		io.WriteString(w, "answer")
	})
	const size = 300 << 10
	body := strings.Repeat("z", size)
	var framed strings.Builder
	for i := 0; i < size; i += 16000 {
		part := body[i:min(size, i+16000)]
		fmt.Fprintf(&framed, "%x\r\n%s\r\n", len(part), part)
	}
	framed.WriteString("0\r\n\r\n")
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, q := range []string{"?close=1", "?read=1&close=1", "", "?read=1"} {
			c := dial(t, s.addr)
			done := make(chan struct{})
			go func() {
				io.WriteString(c, "POST /"+q+" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+framed.String())
				sent <- struct{}{}
				close(done)
			}()
			out += q + "\n" + zzResponses(t, c, bufio.NewReader(c), "POST") + "\n"
			c.Close()
			<-done
		}
		return out
	})
}
