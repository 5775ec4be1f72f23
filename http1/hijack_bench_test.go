package http1_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/eddyio/eddy/http1"
)

// BenchmarkHijackPingPong: 64-byte round trips over a hijacked connection, one connection, the
// handler echoing with io.Copy from the hijack's bufio.Reader: eddy's hijacked net.Conn on each engine against net/http's (a
// *net.TCPConn). Each round trip on eddy's crosses from the loop to the handler's goroutine and
// back, where net/http's handler reads and writes the socket itself.
func BenchmarkHijackPingPong(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		io.Copy(conn, brw) // net/http's bufio.Reader may hold the first message already
	})
	run := func(b *testing.B, addr string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		msg, got := make([]byte, 64), make([]byte, 64)
		b.SetBytes(64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(msg); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(br, got); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("nethttp", func(b *testing.B) {
		srv := &http.Server{Handler: h}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		go srv.Serve(ln)
		defer srv.Close()
		run(b, ln.Addr().String())
	})
	for _, e := range testEngines() {
		b.Run(string(e), func(b *testing.B) {
			run(b, start(b, e, &http1.Server{Handler: h, Loops: 1}))
		})
	}
}
