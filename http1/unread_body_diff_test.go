package http1_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A request whose body (chunked with trailers, or of a Content-Length) arrived whole, followed by a pipelined GET, with
// a handler that leaves the body unread in several ways (returns at once, reads half, closes it,
// panics; HEAD; Expect: 100-continue): whether the response says Connection: close, and whether
// the pipelined request is answered, as net/http decides, on every engine, in clear and over TLS.
func TestUnreadBodyCasesAsNetHTTP(t *testing.T) {
	type tcase struct {
		method, path, expect string
		chunks               int  // of 3,000 bytes: 50 fill the pipe, 120 pass maxPostHandlerReadBytes
		length               bool // a Content-Length body of as many bytes, not chunked
	}
	var cases []tcase
	// Not between 256 KiB and 256 KiB + the pipe's 64 KiB: net/http counts the bytes its reader
	// had buffered in the 256 KiB it drops, the loop only those it drops (not the pipe's), and keeps
	// the connection where net/http gives up (lenient: those bytes have been read already).
	for _, length := range []bool{false, true} {
		for _, chunks := range []int{50, 120} {
			cases = append(cases, tcase{"POST", "/ignore", "", chunks, length}, tcase{"POST", "/half", "", chunks, length},
				tcase{"POST", "/all", "", chunks, length}, tcase{"POST", "/close", "", chunks, length},
				tcase{"POST", "/panic", "", chunks, length}, tcase{"HEAD", "/ignore", "", chunks, length},
				tcase{"POST", "/ignore", "Expect: 100-continue\r\n", chunks, length},
				tcase{"POST", "/half", "Expect: 100-continue\r\n", chunks, length})
		}
		// A head flushed before the handler returns says nothing of a body left unread past the
		// limit (doc.go: the body stays readable after it): only the small body.
		cases = append(cases, tcase{"POST", "/flush", "", 50, length})
	}

	var mu sync.Mutex
	arrived := map[string]chan struct{}{} // by the request's query
	arrival := func(q string) chan struct{} {
		mu.Lock()
		defer mu.Unlock()
		if arrived[q] == nil {
			arrived[q] = make(chan struct{}, 1)
		}
		return arrived[q]
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		<-arrival(r.URL.RawQuery)
		time.Sleep(100 * time.Millisecond) // loopback carries the rest to the server
		switch r.URL.Path {
		case "/half":
			io.CopyN(io.Discard, r.Body, 32<<10)
		case "/all":
			io.Copy(io.Discard, r.Body)
		case "/close":
			r.Body.Close()
		case "/flush":
			io.WriteString(w, "flushed")
			w.(http.Flusher).Flush()
		case "/panic":
			panic(http.ErrAbortHandler)
		}
		io.WriteString(w, "ok")
	})
	chunked := func(chunks int) string {
		var b strings.Builder
		for range chunks {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", 3000, strings.Repeat("c", 3000))
		}
		b.WriteString("0\r\nX-Sum: 1\r\n\r\n")
		return b.String()
	}
	type outcome struct {
		close, next bool
	}
	var runs int
	// run sends every case on a connection of its own, at once, and returns what came back.
	run := func(t *testing.T, dial func() (net.Conn, error)) []outcome {
		runs++
		out := make([]outcome, len(cases))
		var wg sync.WaitGroup
		for i, tc := range cases {
			wg.Go(func() {
				c, err := dial()
				if err != nil {
					t.Error(err)
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				q := strconv.Itoa(runs) + "-" + strconv.Itoa(i)
				raw := tc.method + " " + tc.path + "?" + q + " HTTP/1.1\r\nHost: x\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n" +
					tc.expect + "\r\n" + chunked(tc.chunks) + diffGET("/next")
				if tc.length {
					raw = tc.method + " " + tc.path + "?" + q + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(3000*tc.chunks) + "\r\n" +
						tc.expect + "\r\n" + strings.Repeat("l", 3000*tc.chunks) + diffGET("/next")
				}
				if _, err := io.WriteString(c, raw); err != nil {
					t.Error(err)
					return
				}
				arrival(q) <- struct{}{}
				br := bufio.NewReader(c)
				first, err := finalResponse(br, tc.method)
				if err != nil {
					if tc.path != "/panic" {
						t.Errorf("%s %s: %v", tc.method, tc.path, err)
					}
					out[i] = outcome{close: true}
					return
				}
				second, err := readResponse(br, "GET")
				out[i] = outcome{close: first.close, next: err == nil && second.body == "next"}
			})
		}
		wg.Wait()
		return out
	}
	ref := netHTTPRef(t, h, nil)
	want := run(t, func() (net.Conn, error) { return net.Dial("tcp", ref) })
	check := func(t *testing.T, dial func() (net.Conn, error)) {
		for i, got := range run(t, dial) {
			if tc := cases[i]; got != want[i] {
				t.Errorf("%s %s %q %d chunks (length %v): close=%v, pipelined answered=%v; net/http: close=%v, answered=%v",
					tc.method, tc.path, tc.expect, tc.chunks, tc.length, got.close, got.next, want[i].close, want[i].next)
			}
		}
	}
	certFile, keyFile, _ := testCert(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		t.Run("clear", func(t *testing.T) {
			addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
			check(t, func() (net.Conn, error) { return net.Dial("tcp", addr) })
		})
		t.Run("tls", func(t *testing.T) {
			addr := startTLS(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}, certFile, keyFile)
			check(t, func() (net.Conn, error) {
				return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
			})
		})
	})
}
