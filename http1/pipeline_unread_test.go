package http1_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// heapInuse returns the heap in use after a collection.
func heapInuse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// TestPipelinedUnreadResponsesBounded: a client pipelines thousands of small requests and reads
// none of the responses. net/http serves the next request only once the previous response is
// written, so what it holds stays at a few KiB; the server used to serve every request it had
// read, the engine's back-pressure stopping only further reads, and held a response for each:
// tens of MiB for a few hundred KiB of requests. Once the client reads, every response must come,
// in order.
func TestPipelinedUnreadResponsesBounded(t *testing.T) {
	const requests = 6000 // 21 MiB of responses: the server held 16.5 MiB of them before the fix, 4 MiB after
	body := strings.Repeat("b", 2000)
	pad := strings.Repeat("p", 1500)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var served atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			w.Header().Set("X-Pad", pad)
			w.Header().Set("X-N", r.URL.Query().Get("n"))
			io.WriteString(w, body)
		})
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
		addr := start(t, engine, srv)

		var raw bytes.Buffer
		for i := range requests {
			raw.WriteString("GET /?n=")
			raw.WriteString(strconv.Itoa(i))
			raw.WriteString(" HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		before := heapInuse()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(raw.Bytes())
			wrote <- err
		}()
		// Wait until the server stops serving: it has no more to do until the client reads.
		waitStill(&served)
		grew := heapInuse() - before
		t.Logf("served %d of %d requests unread; heap grew by %d KiB", served.Load(), requests, grew>>10)
		if grew > 8<<20 {
			t.Errorf("heap grew by %d KiB while the client read none of the responses (served %d requests)", grew>>10, served.Load())
		}

		c.SetDeadline(time.Now().Add(60 * time.Second))
		br := bufio.NewReaderSize(c, 64<<10)
		readNumbered(t, br, requests, body)
		if err := <-wrote; err != nil {
			t.Fatalf("writing the requests: %v", err)
		}
	})
}

// TestPipelinedUnreadThenHalfClosed: requests pipelined before the client's FIN are all
// answered, in order, also when their responses made the server wait for the client to read
// (stOutHeld), and then the connection closes.
func TestPipelinedUnreadThenHalfClosed(t *testing.T) {
	const requests = 3000 // about 10 MiB of responses: more than the kernel holds, so the server waits
	body := strings.Repeat("b", 2000)
	pad := strings.Repeat("p", 1500)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Pad", pad)
			w.Header().Set("X-N", r.URL.Query().Get("n"))
			io.WriteString(w, body)
		})
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
		addr := start(t, engine, srv)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var raw bytes.Buffer
		for i := range requests {
			raw.WriteString("GET /?n=" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		if _, err := c.Write(raw.Bytes()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // let the server get ahead of the client, if it will
		if err := c.(*net.TCPConn).CloseWrite(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(c)
		readNumbered(t, br, requests, body)
		if n, err := br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("after the last response: %d bytes, %v; want EOF", n, err)
		}
	})
}

// TestPipelinedUnreadThenReset: a client whose responses made the server hold its pipelined
// requests (stOutHeld) resets the connection instead of reading. The wait for its output ends with
// the error (outFlushed), nothing more of its requests is served, and the server goes on serving
// other connections.
func TestPipelinedUnreadThenReset(t *testing.T) {
	const requests = 10000
	body := strings.Repeat("b", 2000)
	pad := strings.Repeat("p", 1500)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var served atomic.Int64
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			served.Add(1)
			w.Header().Set("X-Pad", pad)
			w.Header().Set("X-N", r.URL.Query().Get("n"))
			io.WriteString(w, body)
		})
		addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		var raw bytes.Buffer
		for i := range requests {
			raw.WriteString("GET /?n=" + strconv.Itoa(i) + " HTTP/1.1\r\nHost: x\r\n\r\n")
		}
		go c.Write(raw.Bytes()) // ends with the reset
		waitStill(&served)
		c.(*net.TCPConn).SetLinger(0)
		c.Close() // a reset: the server's wait for the output fails
		time.Sleep(200 * time.Millisecond)
		held := served.Load()
		if held >= requests {
			t.Fatalf("the server served all %d requests of a client that read nothing", requests)
		}
		// Another connection is served, and the first serves nothing more.
		resp, err := http.Get("http://" + addr + "/?n=0")
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != body {
			t.Fatalf("a request after the reset: %d, %d bytes, %v", resp.StatusCode, len(b), err)
		}
		time.Sleep(200 * time.Millisecond)
		if n := served.Load(); n != held+1 {
			t.Errorf("served %d requests after the reset, want 1 (the new connection's)", n-held)
		}
	})
}

// waitStill waits until served has stopped growing for half a second (the server has no more to
// do until the client reads), at most 20 s.
func waitStill(served *atomic.Int64) {
	deadline := time.Now().Add(20 * time.Second)
	last, still := served.Load(), 0
	for still < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if n := served.Load(); n != last {
			last, still = n, 0
		} else {
			still++
		}
	}
}

// TestDocumentedHeadChoices holds the server to what the package doc says of heads net/http
// treats otherwise: empty Transfer-Encoding list elements are ignored, CONNECT without Host and
// "*" with another method than OPTIONS get 400.
func TestDocumentedHeadChoices(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(499)
			}
			w.Write(b)
		})
		addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
		for _, tc := range []struct {
			raw    string
			status int
			body   string
		}{
			{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: , chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, "abc"},
			{"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked ,\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 200, "abc"},
			{"CONNECT a.example:443 HTTP/1.1\r\n\r\n", 400, ""},
			{"GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400, ""},
		} {
			c := dial(t, addr)
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, tc.raw)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("%q: %v", tc.raw, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			c.Close()
			if resp.StatusCode != tc.status || tc.status == 200 && string(b) != tc.body {
				t.Errorf("%q: %d %q, want %d %q", tc.raw, resp.StatusCode, b, tc.status, tc.body)
			}
		}
	})
}

// readNumbered reads n responses from br and checks that response i is a 200 with body and the
// header X-N: i, as the pipelining tests' handler answers request i.
func readNumbered(t *testing.T, br *bufio.Reader, n int, body string) {
	t.Helper()
	for i := range n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || string(b) != body || resp.Header.Get("X-N") != strconv.Itoa(i) {
			t.Fatalf("response %d: %d X-N=%q body %d bytes, %v", i, resp.StatusCode, resp.Header.Get("X-N"), len(b), err)
		}
	}
}
