package http1

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// This file measures the server's own work per request, without sockets: a fake connection
// whose loop is the benchmark's goroutine feeds requests to Server.OnData and collects the
// responses. What is left is parsing, the handler, building the response, and for net/http
// handlers the handoff to the pool and back; run with -cpu 1 to see it as a pinned server does.

// wrkRequest is the request wrk sends.
const wrkRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n"

// benchmarkServe serves wrk's request on conns connections at once, as a loop does when that many
// arrive in one iteration; ns/op is per request.
func benchmarkServe(b *testing.B, s *Server, conns int) {
	benchmarkServeRequest(b, s, conns, wrkRequest)
}

// benchmarkServeRequest is benchmarkServe for the request req.
func benchmarkServeRequest(b *testing.B, s *Server, conns int, req string) {
	l := newFakeLoop()
	cs := make([]*fakeConn, conns)
	inbufs := make([][]byte, conns)
	for i := range cs {
		cs[i] = &fakeConn{l: l}
		s.OnOpen(cs[i])
		inbufs[i] = make([]byte, 0, len(req))
	}
	defer s.Close()
	done := func(c *fakeConn, want int) bool {
		return bytes.HasSuffix(c.out, []byte("Hello, World!")) && len(c.out) >= want
	}
	// serve one request on each connection; return the length of the responses (Date has a
	// fixed width)
	serve := func(want int) int {
		for i, c := range cs {
			c.in = append(inbufs[i][:0], req...)
			s.OnData(c)
		}
		l.run()
		for _, c := range cs {
			for !done(c, want) {
				<-l.ready
				l.run()
			}
		}
		n := len(cs[0].out)
		for _, c := range cs {
			if len(c.out) != n {
				b.Fatalf("responses of %d and %d bytes", n, len(c.out))
			}
			c.out = c.out[:0]
		}
		return n
	}
	size := serve(0)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i += conns {
		if n := serve(size); n != size {
			b.Fatalf("response of %d bytes, want %d", n, size)
		}
	}
	// CPU time per request is what to compare on a shared machine: time other processes take
	// from this one counts in ns/op but not here.
	if cpu > 0 {
		b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
	}
	for _, c := range cs {
		if c.closed {
			b.Fatal("connection closed")
		}
	}
}

func helloNetHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Hello, World!")
}

func helloNativeHandler(w *ResponseBuffer, r *NativeRequest) {
	w.AddHeader("Content-Type", "text/plain; charset=utf-8")
	w.WriteString("Hello, World!")
}

// BenchmarkServeNetHTTP is the server's work for wrk's GET / answered by a net/http handler, one
// request per loop iteration and 16 (on as many connections).
func BenchmarkServeNetHTTP(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprint("conns=", conns), func(b *testing.B) {
			benchmarkServe(b, &Server{Handler: http.HandlerFunc(helloNetHTTP)}, conns)
		})
	}
}

// helloNetHTTPBody reads the request body to its end, then answers as helloNetHTTP.
func helloNetHTTPBody(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	helloNetHTTP(w, r)
}

// BenchmarkServeNetHTTPBody is BenchmarkServeNetHTTP for a POST whose body the handler reads, sent
// with a Content-Length and chunked (with a trailer).
func BenchmarkServeNetHTTPBody(b *testing.B) {
	body := strings.Repeat("x", 512)
	reqs := []struct{ name, req string }{
		{"length", fmt.Sprintf("POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Length: %d\r\n\r\n%s", len(body), body)},
		{"chunked", fmt.Sprintf("POST / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n%x\r\n%s\r\n0\r\nX-Sum: 1\r\n\r\n", len(body), body)},
	}
	for _, r := range reqs {
		b.Run(r.name, func(b *testing.B) {
			benchmarkServeRequest(b, &Server{Handler: http.HandlerFunc(helloNetHTTPBody)}, 1, r.req)
		})
	}
}

// BenchmarkServeNative is the same with a native handler.
func BenchmarkServeNative(b *testing.B) {
	for _, conns := range []int{1, 16} {
		b.Run(fmt.Sprint("conns=", conns), func(b *testing.B) {
			benchmarkServe(b, &Server{Native: NativeHandlerFunc(helloNativeHandler)}, conns)
		})
	}
}
