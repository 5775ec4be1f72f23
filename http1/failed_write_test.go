package http1_test

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// dcb4142 with a handler that says "Connection: keep-alive" itself, and with keep-alive and close on
// two Connection lines: the close wins, the response does not say keep-alive, the connection closes.
func TestHTTP10KeepAliveCloseHandlerHeader(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "keep-alive")
			w.Header().Set("Content-Length", "2")
			io.WriteString(w, "ok")
		})}
		addr := start(t, engine, srv)
		for _, head := range []string{
			"Connection: keep-alive, close\r\n",
			"Connection: keep-alive\r\nConnection: close\r\n",
		} {
			c := dial(t, addr)
			io.WriteString(c, "GET / HTTP/1.0\r\n"+head+"\r\n")
			br := bufio.NewReader(c)
			r, err := readResponse(br, "GET")
			if err != nil || r.body != "ok" {
				t.Fatalf("%q: %v %+v", head, err, r)
			}
			if v := r.header.Get("Connection"); v == "keep-alive" {
				t.Errorf("%q: the response says Connection: %s", head, v)
			}
			if rest := waitClosed(t, c, 10*time.Second); len(rest) != 0 || br.Buffered() != 0 {
				t.Errorf("%q: after the response: %q", head, rest)
			}
		}
		// HTTP/1.1 with keep-alive alone is kept.
		c := dial(t, addr)
		br := bufio.NewReader(c)
		for range 2 {
			io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
			if r, err := readResponse(br, "GET"); err != nil || r.body != "ok" {
				t.Fatalf("HTTP/1.1: %v %+v", err, r)
			}
		}
		c.Close()
	})
}

// 3a4a89a: a handler that keeps writing after a write failed (the client gone) finds its context done
// at the first failure and every later write failing, with no panic; the server serves on.
func TestWritesAfterFailedWrite(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		type outcome struct {
			ctxDoneAtFirst bool
			laterFailed    int
			err            error
		}
		got := make(chan outcome, 1)
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/big" {
				io.WriteString(w, "ok")
				return
			}
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			deadline := time.Now().Add(20 * time.Second)
			var o outcome
			for time.Now().Before(deadline) {
				if _, err := w.Write(chunk); err != nil {
					o.err = err
					o.ctxDoneAtFirst = r.Context().Err() != nil
					break
				}
			}
			if o.err != nil {
				for range 5 {
					if _, err := w.Write(chunk); err != nil {
						o.laterFailed++
					}
					if f, ok := w.(http.Flusher); ok {
						f.Flush()
					}
				}
			}
			got <- o
		})}
		addr := start(t, engine, srv)
		c := dial(t, addr)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		// Read the start of the answer, then go away: the handler's writes fail.
		buf := make([]byte, 1024)
		if _, err := io.ReadAtLeast(c, buf, 1); err != nil {
			t.Fatal(err)
		}
		c.Close()
		select {
		case o := <-got:
			if o.err == nil {
				t.Fatalf("no write failed")
			}
			if !o.ctxDoneAtFirst {
				t.Errorf("context not done when the write failed (%v)", o.err)
			}
			if o.laterFailed != 5 {
				t.Errorf("%d of 5 later writes failed", o.laterFailed)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the handler did not end")
		}
		c2 := dial(t, addr)
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if r, err := readResponse(bufio.NewReader(c2), "GET"); err != nil || r.body != "ok" {
			t.Fatalf("next connection: %v %+v", err, r)
		}
		c2.Close()
	})
}
