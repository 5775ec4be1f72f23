package http1_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// TestStreamingOverTLS: the streaming contracts through etls. An SSE stream whose client goes
// away mid-stream fails the handler's next write and cancels its context; a write deadline set on a
// client that stops reading fails the blocked Write, also when a watchdog goroutine sets it.
func TestStreamingOverTLS(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	type outcome struct {
		ctxErr, writeErr error
	}
	outcomes := make(chan outcome, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		var o outcome
		switch r.URL.Path {
		case "/sse":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; o.writeErr == nil && i < 5000; i++ {
				time.Sleep(2 * time.Millisecond)
				if _, o.writeErr = fmt.Fprintf(w, "data: %d\n\n", i); o.writeErr == nil {
					o.writeErr = rc.Flush()
				}
			}
			select {
			case <-r.Context().Done():
				o.ctxErr = r.Context().Err()
			case <-time.After(10 * time.Second):
			}
		case "/deadline", "/watchdog":
			if r.URL.Path == "/deadline" {
				rc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
			} else {
				done := make(chan struct{})
				defer close(done)
				go func() {
					select {
					case <-done:
					case <-time.After(300 * time.Millisecond):
						rc.SetWriteDeadline(time.Now())
					}
				}()
			}
			chunk := []byte(strings.Repeat("t", 32<<10))
			for i := 0; o.writeErr == nil && i < 8192; i++ { // 256 MiB at most
				_, o.writeErr = w.Write(chunk)
			}
		}
		outcomes <- o
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}, certFile, keyFile)
		t.Run("sse", func(t *testing.T) {
			c := advDial(t, addr)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, "GET /sse HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			if _, err := readWireHead(br); err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if _, err := readWireChunk(br); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
			o := <-outcomes
			if o.writeErr == nil || !errors.Is(o.ctxErr, context.Canceled) {
				t.Errorf("after the client went: write %v, context %v; want both to fail", o.writeErr, o.ctxErr)
			}
		})
		for _, path := range []string{"/deadline", "/watchdog"} {
			t.Run(path[1:], func(t *testing.T) {
				c := advDial(t, addr)
				io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
				select {
				case o := <-outcomes:
					if !errors.Is(o.writeErr, os.ErrDeadlineExceeded) {
						t.Errorf("the write to a client that stopped reading ended with %v; want os.ErrDeadlineExceeded", o.writeErr)
					}
				case <-time.After(10 * time.Second):
					c.Close()
					<-outcomes
					t.Errorf("the handler's write stayed blocked 10 s past its deadline")
				}
			})
		}
	})
}
