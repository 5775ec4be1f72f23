package http1_test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestStreamingWire: streaming handlers (flushes before, between and after writes) on the
// request forms that change their framing (HTTP/1.0, HEAD, Connection: close, a declared
// Content-Length, trailers, bodyless statuses): the bytes on the wire, Date aside, are net/http's.
func TestStreamingWire(t *testing.T) {
	sse := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		f.Flush()
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			f.Flush()
		}
	}
	cases := []struct {
		name string
		req  string
		h    http.HandlerFunc
	}{
		{"sse", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", sse},
		{"sse http/1.0", "GET / HTTP/1.0\r\n\r\n", sse},
		{"sse http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", sse},
		{"sse head", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", sse},
		{"sse close", "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", sse},
		{"flush with content-length", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "abc")
			w.(http.Flusher).Flush()
			io.WriteString(w, "defghij")
		}},
		{"flush only", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
		}},
		{"flush empty between", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		}},
		{"flush trailers", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "part")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "42")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		}},
		{"flush 204", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
			w.(http.Flusher).Flush()
			io.WriteString(w, "dropped")
		}},
		{"flush 304", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(http.StatusNotModified)
			w.(http.Flusher).Flush()
		}},
		{"flush 103 then sse", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			sse(w, r)
		}},
		{"sse post unread body", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", sse},
	}
	date := regexp.MustCompile(`(?m)^Date: [^\r]*\r$`)
	wire := func(t *testing.T, addr, req string) string {
		c := dial(t, addr)
		io.WriteString(c, req)
		// The client's FIN ends a kept-alive connection after the response, on either server.
		c.(*net.TCPConn).CloseWrite()
		var buf bytes.Buffer
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(&buf, c); err != nil {
			t.Fatalf("reading the response: %v", err)
		}
		return date.ReplaceAllString(buf.String(), "Date: -\r")
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := wire(t, netHTTPRef(t, tc.h, nil), tc.req)
			if !strings.HasPrefix(want, "HTTP/1.") {
				t.Fatalf("net/http answered %q", want)
			}
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				got := wire(t, start(t, engine, &http1.Server{Handler: tc.h, ErrorLog: newLogger(io.Discard)}), tc.req)
				if got != want {
					t.Errorf("wire\n%q\nnet/http's\n%q", got, want)
				}
			})
		})
	}
}

// TestHijackAfterAPartialRead: a handler reads part of the body, then hijacks the connection
// to speak raw bytes both ways (what a WebSocket or CONNECT-style handler does). net/http hands over
// the connection with the unread rest of the body in the bufio.Reader; http1's net.Conn reads it
// first, as it does on every engine.
func TestHijackAfterAPartialRead(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		head := make([]byte, 5)
		if _, err := io.ReadFull(r.Body, head); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if _, ok := w.(http.Hijacker); !ok {
			t.Errorf("the ResponseWriter is not an http.Hijacker")
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			http.Error(w, "hijack: "+err.Error(), http.StatusNotImplemented)
			return
		}
		defer conn.Close()
		// The rest of the body, then what the client sends after it, raw.
		rest := make([]byte, 5)
		if _, err := io.ReadFull(brw, rest); err != nil {
			t.Errorf("reading the rest of the body: %v", err)
			return
		}
		fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n%s|%s\n", head, rest)
		brw.Flush()
		line, err := brw.ReadString('\n')
		if err != nil {
			t.Errorf("reading raw bytes: %v", err)
			return
		}
		io.WriteString(conn, "echo "+line)
	})
	check := func(t *testing.T, addr, path string) {
		c := dial(t, addr)
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhelloworld")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if line, err := br.ReadString('\n'); err != nil || line != "hello|world\n" {
			t.Fatalf("after the hijack: %q %v", line, err)
		}
		io.WriteString(c, "ping\n")
		if line, err := br.ReadString('\n'); err != nil || line != "echo ping\n" {
			t.Fatalf("raw echo: %q %v", line, err)
		}
		// The handler closed the connection.
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after the handler's Close: %d %v; want EOF", n, err)
		}
	}
	t.Run("nethttp", func(t *testing.T) { check(t, netHTTPRef(t, h, nil), "/nethttp") })
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}), "/http1")
	})
}
