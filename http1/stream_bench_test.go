package http1_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// BenchmarkStreamFlush is a streaming response on a real connection: 16 small writes, each
// flushed (an SSE handler's pattern), per request; with a write deadline (WriteTimeout) and
// without, since each flush waits for the previous batch under it.
func BenchmarkStreamFlush(b *testing.B) {
	event := []byte("data: 0123456789abcdef0123456789abcdef0123456789abcdef\n\n")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := w.(http.Flusher)
		for range 16 {
			w.Write(event)
			f.Flush()
		}
	})
	for _, wt := range []time.Duration{0, time.Minute} {
		name := "nodeadline"
		if wt > 0 {
			name = "writetimeout"
		}
		b.Run(name, func(b *testing.B) {
			addr := start(b, eddy.EngineEpoll, &http1.Server{Handler: h, WriteTimeout: wt, ErrorLog: newLogger(io.Discard)})
			c := dial(b, addr)
			c.SetDeadline(time.Time{})
			req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			buf := make([]byte, 64<<10)
			end := []byte("\r\n0\r\n\r\n")
			// The first response, read to its end, gives the size of each (Date has a fixed width).
			c.Write(req)
			size := 0
			for !bytes.HasSuffix(buf[:size], end) {
				n, err := c.Read(buf[size:])
				if err != nil {
					b.Fatal(err)
				}
				size += n
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				c.Write(req)
				if _, err := io.ReadFull(c, buf[:size]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
