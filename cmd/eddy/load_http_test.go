package main

import (
	"io"
	"net"
	"strings"
	"testing"
)

// The tests of the http mode against servers that answer in every way HTTP/1.1 allows, or not.

// rawHTTPServer answers every request head it reads with resp; it closes the connection after each
// answer when closeAfter is set.
func rawHTTPServer(t *testing.T, resp string, closeAfter bool) string {
	return rawServer(t, func(c net.Conn) {
		b := make([]byte, 64<<10)
		var got []byte
		for {
			n, err := c.Read(b)
			if err != nil {
				return
			}
			got = append(got, b[:n]...)
			for {
				i := strings.Index(string(got), "\r\n\r\n")
				if i < 0 {
					break
				}
				got = got[i+4:]
				if _, err := io.WriteString(c, resp); err != nil || closeAfter {
					return
				}
			}
		}
	})
}

// A Content-Length smaller than the body sent: the rest of the body is taken for the next response, which
// is malformed; the run counts it and fails.
func TestLoadHTTPResponseLongerThanItsLengthIsMalformed(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) {
		b := make([]byte, 4096)
		for {
			if _, err := c.Read(b); err != nil {
				return
			}
			if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHello, World!"); err != nil {
				return
			}
		}
	})
	code, r, stderr := runLoadJSON(t, "--url", "http://"+addr+"/", "--engine", "epoll", "--conns", "2", "--requests", "20", "--duration", "3s")
	t.Logf("exit %d, round trips %d, errors %d, first %q\n%s", code, r.RoundTrips, r.Errors, r.FirstError, stderr)
	if code != exitFail || r.Errors == 0 || !strings.Contains(r.FirstError, "malformed") {
		t.Errorf("exit code %d, errors %d (%q): want a failure", code, r.Errors, r.FirstError)
	}
}

// Every shape of response a server may send is read whole, on every engine: interim responses before
// the final one, chunked bodies with trailers, a body ended by the connection's end, HTTP/1.0, the
// response to HEAD and a 304, whose Content-Length frames no body.
func TestLoadHTTPResponseShapes(t *testing.T) {
	tests := []struct {
		name       string
		resp       string
		closeAfter bool
		args       []string
	}{
		{"interim responses", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false, []string{"--pipeline", "3"}},
		{"chunked with trailers", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n", false, []string{"--pipeline", "3"}},
		{"body until EOF", "HTTP/1.1 200 OK\r\n\r\nuntil the end", true, nil},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", true, []string{"--pipeline", "2"}},
		{"HEAD with length", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", false, []string{"--method", "HEAD", "--pipeline", "3"}},
		{"304", "HTTP/1.1 304 Not Modified\r\nContent-Length: 1000\r\n\r\n", false, []string{"--pipeline", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawHTTPServer(t, tt.resp, tt.closeAfter)
			forEachLoadEngine(t, func(t *testing.T, engine string) {
				args := append([]string{"--url", "http://" + addr + "/", "--engine", engine, "--conns", "2", "--requests", "60", "--duration", "10s"}, tt.args...)
				code, r, stderr := runLoadJSON(t, args...)
				if code != exitOK || r.RoundTrips != 60 || r.Errors != 0 {
					t.Errorf("exit %d, round trips %d, errors %d (%s); want %d, 60, 0\n%s", code, r.RoundTrips, r.Errors, r.FirstError, exitOK, stderr)
				}
			})
		})
	}
}
