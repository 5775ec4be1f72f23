package http1_test

// Adversarial tests of HTTPS in http1: the server (StartTLS and friends, over package etls) and the
// client (Transport with https URLs). Tests that found a bug stay here, failing, with a comment on
// the bug above them.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/etls"
	"github.com/eddyio/eddy/http1"
	"github.com/eddyio/eddy/internal/testtls"
)

// ---- helpers ----

// advClientConfig is a client configuration trusting the test certificate, HTTP/1.1 by ALPN.
func advClientConfig() *tls.Config {
	_, cfg := testtls.Configs()
	cfg.NextProtos = []string{"http/1.1"}
	cfg.ServerName = "127.0.0.1"
	return cfg
}

// advDial dials addr with TLS and completes the handshake.
func advDial(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, advClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// advWaitClosed reads from c until it ends, and fails if that takes longer than within.
func advWaitClosed(t *testing.T, c net.Conn, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(within + 2*time.Second))
	_, err := io.Copy(io.Discard, c)
	d := time.Since(start)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
	if d > within {
		t.Fatalf("connection closed after %v, want within %v", d, within)
	}
	return d
}

// coalescingConn passes its first write (the ClientHello) through and holds the later ones until no
// write came for a while, then sends them at once: the client's Finished and whatever follows it
// reach the server in one flight.
type coalescingConn struct {
	net.Conn
	mu     sync.Mutex
	writes int
	buf    []byte
	timer  *time.Timer
}

func (c *coalescingConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	if c.writes == 1 {
		return c.Conn.Write(b)
	}
	c.buf = append(c.buf, b...)
	if c.timer == nil {
		c.timer = time.AfterFunc(50*time.Millisecond, c.flush)
	} else {
		c.timer.Reset(50 * time.Millisecond)
	}
	return len(b), nil
}

func (c *coalescingConn) flush() {
	c.mu.Lock()
	b := c.buf
	c.buf = nil
	c.mu.Unlock()
	c.Conn.Write(b)
}

// readResponses reads n responses from br, each with its body.
func readResponses(t *testing.T, br *bufio.Reader, n int, method string) []string {
	t.Helper()
	var bodies []string
	for i := range n {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("response %d body: %v", i, err)
		}
		bodies = append(bodies, string(b))
	}
	return bodies
}

// ---- server ----

// TestTLSAdvHandshakeSlowloris: a client that trickles its ClientHello is cut off by
// ReadHeaderTimeout, which bounds the handshake.
func TestTLSAdvHandshakeSlowloris(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 300 * time.Millisecond,
			ErrorLog: log.New(io.Discard, "", 0)}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // a record header announcing a long ClientHello, then a byte every 50 ms
			defer wg.Done()
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01})
			for {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
					if _, err := c.Write([]byte{0}); err != nil {
						return
					}
				}
			}
		}()
		advWaitClosed(t, c, 2*time.Second)
		close(stop)
		wg.Wait()
	})
}

// TestTLSAdvIdleAfterHandshake: a client that completes the handshake and then sends nothing is
// closed by ReadHeaderTimeout.
func TestTLSAdvIdleAfterHandshake(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	// The engines at once: each waits out the 2 s on a server of its own.
	forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
		// The header timeout bounds the handshake too, from the accept: 2 s leaves a handshake
		// with client and server in one process under -race on a loaded machine time to finish (at
		// 300 ms, runs under load saw it time out).
		srv := &http1.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 2 * time.Second}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c := advDial(t, addr)
		// And one that sends half a head after the handshake (both wait at once).
		c2 := advDial(t, addr)
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n")
		advWaitClosed(t, c, 5*time.Second)
		advWaitClosed(t, c2, 5*time.Second)
	})
}

// TestTLSAdvPipelinedFirstFlight: the client's Finished and many pipelined requests (more than the
// 64 KiB etls holds during a handshake) arrive together; every request is answered, in order.
func TestTLSAdvPipelinedFirstFlight(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %d %x", r.URL.Path, len(b), sha256.Sum256(b))
	})
	native := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		fmt.Fprintf(w, "%s %d %x", r.Path(), len(r.Body), sha256.Sum256(r.Body))
	})
	for _, kind := range []string{"nethttp", "native"} {
		t.Run(kind, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				srv := &http1.Server{Handler: handler}
				if kind == "native" {
					srv.Native = native
				}
				addr := startTLS(t, engine, srv, certFile, keyFile)
				raw, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				cc := &coalescingConn{Conn: raw}
				c := tls.Client(cc, advClientConfig())
				defer c.Close()
				const n = 150
				var req bytes.Buffer
				var want []string
				for i := range n {
					body := bytes.Repeat([]byte{byte('a' + i%26)}, 1000+i)
					if i%3 == 0 {
						body = nil
						fmt.Fprintf(&req, "GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
					} else {
						fmt.Fprintf(&req, "POST /r%d HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", i, len(body), body)
					}
					want = append(want, fmt.Sprintf("/r%d %d %x", i, len(body), sha256.Sum256(body)))
				}
				if req.Len() < 100<<10 {
					t.Fatalf("only %d bytes pipelined", req.Len())
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := c.Write(req.Bytes()); err != nil { // handshake, then the requests
					t.Fatal(err)
				}
				got := readResponses(t, bufio.NewReader(c), n, "GET")
				if !slices.Equal(got, want) {
					for i := range got {
						if got[i] != want[i] {
							t.Fatalf("response %d: %q, want %q", i, got[i], want[i])
						}
					}
				}
			})
		})
	}
}

// TestTLSAdvSlowUpload: big uploads (Content-Length and chunked) to a handler that reads slowly
// arrive whole.
func TestTLSAdvSlowUpload(t *testing.T) {
	certFile, keyFile, client := testCert(t)
	body := make([]byte, 6<<20)
	rand.Read(body)
	want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 64<<10)
		n := 0
		for {
			k, err := r.Body.Read(buf)
			h.Write(buf[:k])
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			time.Sleep(time.Millisecond)
		}
		fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		base := "https://" + startTLS(t, engine, &http1.Server{Handler: handler}, certFile, keyFile)
		for _, chunked := range []bool{false, true} {
			var r io.Reader = bytes.NewReader(body)
			if chunked {
				r = io.MultiReader(r) // hides the length: sent chunked
			}
			resp, err := client.Post(base+"/", "application/octet-stream", r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != want {
				t.Fatalf("chunked=%v: %q, want %q", chunked, b, want)
			}
		}
	})
}

// TestTLSAdvAnswerBeforeBody: a handler that answers without reading a big body: the client gets
// the answer (the server's close must not reset it away), and a small unread body keeps the
// connection usable.
func TestTLSAdvAnswerBeforeBody(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "early")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: handler}, certFile, keyFile)
		c := advDial(t, addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// A small body, unread: the server drops it and serves the next request.
		small := strings.Repeat("s", 10_000)
		fmt.Fprintf(c, "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%sGET /b HTTP/1.1\r\nHost: x\r\n\r\n", len(small), small)
		br := bufio.NewReader(c)
		if got := readResponses(t, br, 2, "GET"); got[0] != "early" || got[1] != "early" {
			t.Fatalf("%q", got)
		}
		// A big body announced, 1 MiB of it sent, the rest never: the answer arrives, then the
		// connection closes.
		fmt.Fprintf(c, "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 64<<20)
		go c.Write(bytes.Repeat([]byte("b"), 1<<20))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("big unread body: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "early" {
			t.Fatalf("big unread body: %q %v", b, err)
		}
	})
}

// TestTLSAdvSlowReaderLargeResponse: a large response to a client that stops reading holds the
// server's memory to a bound (flow control through TLS), and arrives whole when the client reads.
func TestTLSAdvSlowReaderLargeResponse(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	const size = 48 << 20
	chunk := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for n := 0; n < size; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: handler}, certFile, keyFile)
		c := advDial(t, addr)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		runtime.GC()
		var before, during runtime.MemStats
		runtime.ReadMemStats(&before)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReaderSize(c, 64<<10)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(800 * time.Millisecond) // not reading: the server must stop
		runtime.ReadMemStats(&during)
		grown := int64(during.HeapAlloc) - int64(before.HeapAlloc)
		if grown > 16<<20 {
			t.Errorf("heap grew by %d MiB while the client did not read a %d MiB response", grown>>20, size>>20)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != size {
			t.Fatalf("read %d of %d: %v", n, size, err)
		}
	})
}

// TestTLSAdvFileServerRange: http.FileServer over TLS: Range (single, suffix, multiple), HEAD,
// If-Modified-Since, through ReadFrom's copy instead of SendFile.
func TestTLSAdvFileServerRange(t *testing.T) {
	certFile, keyFile, client := testCert(t)
	dir := t.TempDir()
	file := make([]byte, 3<<20+17)
	rand.Read(file)
	if err := os.WriteFile(filepath.Join(dir, "f.bin"), file, 0o644); err != nil {
		t.Fatal(err)
	}
	fs := http.FileServer(http.Dir(dir))
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		base := "https://" + startTLS(t, engine, &http1.Server{Handler: fs}, certFile, keyFile)
		do := func(method, rng string) (*http.Response, []byte) {
			t.Helper()
			req, _ := http.NewRequest(method, base+"/f.bin", nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			return resp, b
		}
		if resp, b := do("GET", ""); resp.StatusCode != 200 || !bytes.Equal(b, file) {
			t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(b))
		}
		if resp, b := do("GET", "bytes=100-199"); resp.StatusCode != 206 || !bytes.Equal(b, file[100:200]) {
			t.Fatalf("range 100-199: %d, %d bytes", resp.StatusCode, len(b))
		}
		if resp, b := do("GET", "bytes=1000000-"); resp.StatusCode != 206 || !bytes.Equal(b, file[1000000:]) {
			t.Fatalf("range 1000000-: %d, %d bytes", resp.StatusCode, len(b))
		}
		if resp, b := do("GET", "bytes=-500"); resp.StatusCode != 206 || !bytes.Equal(b, file[len(file)-500:]) {
			t.Fatalf("range -500: %d, %d bytes", resp.StatusCode, len(b))
		}
		resp, b := do("GET", "bytes=0-9,2000000-2000009")
		if resp.StatusCode != 206 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/byteranges") ||
			!bytes.Contains(b, file[:10]) || !bytes.Contains(b, file[2000000:2000010]) {
			t.Fatalf("multiple ranges: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		if resp, _ := do("GET", "bytes=99999999-"); resp.StatusCode != 416 {
			t.Fatalf("unsatisfiable range: %d", resp.StatusCode)
		}
		resp, b = do("HEAD", "")
		if resp.StatusCode != 200 || len(b) != 0 || resp.ContentLength != int64(len(file)) {
			t.Fatalf("HEAD: %d, %d bytes, Content-Length %d", resp.StatusCode, len(b), resp.ContentLength)
		}
		// The connection is still in step after the HEAD.
		if resp, b := do("GET", "bytes=5-6"); resp.StatusCode != 206 || !bytes.Equal(b, file[5:7]) {
			t.Fatalf("after HEAD: %d %q", resp.StatusCode, b)
		}
	})
}

// TestTLSAdvShutdownMixed: Shutdown with a connection in its handshake, an idle one and an active
// one: the active request gets its whole answer, the others are closed, and Shutdown returns.
func TestTLSAdvShutdownMixed(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		release := make(chan struct{})
		started := make(chan struct{}, 1)
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, ErrorLog: log.New(io.Discard, "", 0),
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					started <- struct{}{}
					<-release
				}
				io.WriteString(w, "done "+r.URL.Path)
			})}
		if err := srv.StartTLS(certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		addr := srv.Addrs()[0].String()

		hs, err := net.Dial("tcp", addr) // in its handshake for ever
		if err != nil {
			t.Fatal(err)
		}
		defer hs.Close()
		hs.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00})

		idle := advDial(t, addr)
		idle.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(idle, "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n")
		ibr := bufio.NewReader(idle)
		if got := readResponses(t, ibr, 1, "GET"); got[0] != "done /idle" {
			t.Fatalf("%q", got)
		}

		active := advDial(t, addr)
		active.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(active, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
		<-started

		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			done <- srv.Shutdown(ctx)
		}()
		time.Sleep(200 * time.Millisecond)
		close(release)
		resp, err := http.ReadResponse(bufio.NewReader(active), nil)
		if err != nil {
			t.Fatalf("active request: %v", err)
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil || string(b) != "done /slow" || !resp.Close {
			t.Fatalf("active request: %q %v, Close %v", b, err, resp.Close)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("Shutdown: %v", err)
			}
		case <-time.After(4 * time.Second):
			srv.Close()
			t.Fatal("Shutdown did not return")
		}
		advWaitClosed(t, idle, time.Second)
		advWaitClosed(t, hs, time.Second)
	})
}

// TestTLSAdvCloseDuringHandshakes: Close with many connections in their handshakes returns at once
// and leaves no handshake goroutine behind.
func TestTLSAdvCloseDuringHandshakes(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		base := runtime.NumGoroutine()
		srv := &http1.Server{Addr: "127.0.0.1:0", Engine: engine, Loops: 2, Handler: http.NotFoundHandler(),
			ErrorLog: log.New(io.Discard, "", 0)}
		if err := srv.StartTLS(certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		addr := srv.Addrs()[0].String()
		var conns []net.Conn
		for range 50 {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00})
			conns = append(conns, c)
		}
		// A few complete handshakes too, established and idle.
		for range 5 {
			advDial(t, addr)
		}
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		if err := srv.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Close took %v", d)
		}
		for _, c := range conns {
			advWaitClosed(t, c, 2*time.Second)
		}
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > base+2 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestTLSAdvCloseNotifyAfterRequest: a client that sends close_notify (and then its FIN) right after
// its requests still gets every answer.
func TestTLSAdvCloseNotifyAfterRequest(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "answer "+r.URL.Path)
	})
	native := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		w.WriteString("answer " + string(r.Path()))
	})
	for _, kind := range []string{"nethttp", "native"} {
		t.Run(kind, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				srv := &http1.Server{Handler: handler}
				if kind == "native" {
					srv.Native = native
				}
				addr := startTLS(t, engine, srv, certFile, keyFile)
				for _, fin := range []bool{false, true} {
					for _, n := range []int{1, 3} {
						c := advDial(t, addr)
						c.SetDeadline(time.Now().Add(5 * time.Second))
						var req strings.Builder
						var want []string
						for i := range n {
							fmt.Fprintf(&req, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
							want = append(want, fmt.Sprintf("answer /%d", i))
						}
						io.WriteString(c, req.String())
						if err := c.CloseWrite(); err != nil {
							t.Fatal(err)
						}
						if fin {
							c.NetConn().(*net.TCPConn).CloseWrite()
						}
						br := bufio.NewReader(c)
						got := readResponses(t, br, n, "GET")
						if !slices.Equal(got, want) {
							t.Fatalf("fin=%v n=%d: %q", fin, n, got)
						}
						if _, err := br.ReadByte(); err != io.EOF {
							t.Fatalf("fin=%v n=%d: after the answers: %v, want io.EOF (close_notify)", fin, n, err)
						}
					}
				}
			})
		})
	}
}

// TestTLSAdvSplitRecords: a request whose head and body come in many tiny TLS records, and records
// split across TCP writes byte by byte.
func TestTLSAdvSplitRecords(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s:%s", r.URL.Path, b)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: handler}, certFile, keyFile)
		// One record per byte.
		c := advDial(t, addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		for _, b := range []byte("POST /tiny HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello") {
			c.Write([]byte{b})
		}
		if got := readResponses(t, bufio.NewReader(c), 1, "GET"); got[0] != "/tiny:hello" {
			t.Fatalf("%q", got)
		}
		// Records trickled through the socket a few bytes at a time.
		raw, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer raw.Close()
		tc := tls.Client(trickleConn{raw}, advClientConfig())
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(tc, "POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
		if got := readResponses(t, bufio.NewReader(tc), 1, "GET"); got[0] != "/trickle:abc" {
			t.Fatalf("%q", got)
		}
	})
}

// trickleConn writes in pieces of 7 bytes, with a pause between them.
type trickleConn struct{ net.Conn }

func (c trickleConn) Write(b []byte) (int, error) {
	n := 0
	for len(b) > 0 {
		k := min(len(b), 7)
		m, err := c.Conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
		time.Sleep(200 * time.Microsecond)
	}
	return n, nil
}

// advCA makes a CA and a client certificate it signs.
func advCA(t *testing.T) (*x509.CertPool, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "adv CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "adv client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestTLSAdvClientCertificates: RequireAndVerifyClientCert: the handler (net/http and native) sees
// the client's certificate; a client without one is refused. Also for TLS 1.2.
func TestTLSAdvClientCertificates(t *testing.T) {
	pool, clientCert := advCA(t)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			io.WriteString(w, "no peer certificate")
			return
		}
		io.WriteString(w, "hello "+r.TLS.PeerCertificates[0].Subject.CommonName)
	})
	native := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		st, ok := etls.ConnectionState(r.Conn())
		if !ok || len(st.PeerCertificates) == 0 {
			w.WriteString("no peer certificate")
			return
		}
		w.WriteString("hello " + st.PeerCertificates[0].Subject.CommonName)
	})
	for _, kind := range []string{"nethttp", "native"} {
		t.Run(kind, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				serverCfg, _ := testtls.Configs()
				serverCfg.ClientAuth = tls.RequireAndVerifyClientCert
				serverCfg.ClientCAs = pool
				srv := &http1.Server{Handler: handler, TLSConfig: serverCfg, ErrorLog: log.New(io.Discard, "", 0)}
				if kind == "native" {
					srv.Native = native
				}
				addr := startTLS(t, engine, srv, "", "")
				for _, vers := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
					cfg := advClientConfig()
					cfg.Certificates = []tls.Certificate{clientCert}
					cfg.MaxVersion = vers
					cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
					for range 2 {
						resp, err := cl.Get("https://" + addr + "/")
						if err != nil {
							t.Fatal(err)
						}
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						if string(b) != "hello adv client" {
							t.Fatalf("TLS %x: %q", vers, b)
						}
					}
					cl.CloseIdleConnections()
					// Without a certificate: refused.
					cfg = advClientConfig()
					cfg.MaxVersion = vers
					cl = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
					if resp, err := cl.Get("https://" + addr + "/"); err == nil {
						b, _ := io.ReadAll(resp.Body)
						resp.Body.Close()
						t.Fatalf("TLS %x without a client certificate: %d %q", vers, resp.StatusCode, b)
					}
					cl.CloseIdleConnections()
				}
			})
		})
	}
}

// TestTLSAdvGetCertificate: a TLSConfig with only GetCertificate (chosen by SNI), no files.
func TestTLSAdvGetCertificate(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	cert := serverCfg.Certificates[0]
	var names sync.Map
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.TLS.ServerName)
		}), TLSConfig: &tls.Config{GetCertificate: func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
			names.Store(h.ServerName, true)
			return &cert, nil
		}}}
		addr := startTLS(t, engine, srv, "", "")
		cfg := advClientConfig()
		cfg.ServerName = "example.com"
		cl := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
		defer cl.CloseIdleConnections()
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "example.com" {
			t.Fatalf("%q", b)
		}
		if _, ok := names.Load("example.com"); !ok {
			t.Fatal("GetCertificate did not see the SNI name")
		}
	})
}

// h2Client is an http.Client that offers h2 and http/1.1 by ALPN, as net/http's default does.
func h2Client(t *testing.T) *http.Client {
	_, cfg := testtls.Configs()
	tr := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// TestTLSAdvNextProtosH2: a TLSConfig whose NextProtos has "h2" still serves HTTP/1.1 to a client
// that offers h2.
func TestTLSAdvNextProtosH2(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	serverCfg.NextProtos = []string{"h2", "http/1.1"}
	cl := h2Client(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto+" "+r.TLS.NegotiatedProtocol)
		}), TLSConfig: serverCfg}
		addr := startTLS(t, engine, srv, "", "")
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "HTTP/1.1 http/1.1" || resp.Proto != "HTTP/1.1" {
			t.Fatalf("%s %q", resp.Proto, b)
		}
	})
}

// Fixed bug: Server.tlsConfig clones TLSConfig and then removes "h2" from the clone's NextProtos with
// slices.DeleteFunc, in place; tls.Config.Clone copies the slice header only, so the caller's own
// TLSConfig.NextProtos is rewritten: []string{"h2", "http/1.1"} becomes []string{"http/1.1", ""}.
// A config shared with a net/http server (or reused) then offers an empty ALPN protocol, which
// crypto/tls rejects ("tls: invalid NextProtos value"). The same in-place DeleteFunc is in
// clientTLSConfig (client.go) for Transport.TLSClientConfig: see TestTLSAdvClientNextProtosNotMutated.
// TestTLSAdvServerNextProtosNotMutated: StartTLS leaves the caller's TLSConfig alone.
func TestTLSAdvServerNextProtosNotMutated(t *testing.T) {
	serverCfg, _ := testtls.Configs()
	serverCfg.NextProtos = []string{"h2", "http/1.1"}
	srv := &http1.Server{Handler: http.NotFoundHandler(), TLSConfig: serverCfg}
	startTLS(t, eddy.EngineEpoll, srv, "", "")
	if !slices.Equal(serverCfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Fatalf("StartTLS changed TLSConfig.NextProtos to %q", serverCfg.NextProtos)
	}
}

// Fixed bug: the "h2" filter of Server.tlsConfig applies to TLSConfig.NextProtos only; a configuration
// returned by GetConfigForClient is used as it is (etls hands it to crypto/tls), so when it offers
// "h2" a client that offers h2 (net/http's default) negotiates HTTP/2, and this HTTP/1.1-only server
// answers its preface as a bad request: the request fails. net/http's own docs make
// GetConfigForClient the usual way to vary certificates per client, so it often returns a config
// built for an HTTP/2 server. The server would need to wrap GetConfigForClient (filter the returned
// config's NextProtos, on a clone).
// TestTLSAdvGetConfigForClientH2: a GetConfigForClient config with h2 in NextProtos still serves
// HTTP/1.1.
func TestTLSAdvGetConfigForClientH2(t *testing.T) {
	inner, _ := testtls.Configs()
	inner.NextProtos = []string{"h2", "http/1.1"}
	cl := h2Client(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}), TLSConfig: &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return inner, nil
		}}, ErrorLog: log.New(io.Discard, "", 0)}
		addr := startTLS(t, engine, srv, "", "")
		resp, err := cl.Get("https://" + addr + "/")
		if err != nil {
			t.Fatalf("client offering h2, GetConfigForClient's config offering h2: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" || resp.Proto != "HTTP/1.1" {
			t.Fatalf("%s %q", resp.Proto, b)
		}
	})
}

// TestTLSAdvCurl: curl over https, HTTP/1.1 and (ALPN offering h2) the default.
func TestTLSAdvCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("no curl")
	}
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
		})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		for _, args := range [][]string{
			{"-sk", "--http1.1", "https://" + addr + "/a"},
			{"-sk", "https://" + addr + "/b"},
			{"-sk", "--http1.1", "--data-binary", "@" + certFile, "https://" + addr + "/c"},
			{"-s", "--cacert", certFile, "https://" + addr + "/d", "https://" + addr + "/e"},
		} {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
			cancel()
			if err != nil {
				t.Fatalf("curl %q: %v: %s", args, err, out)
			}
			st, _ := os.Stat(certFile)
			want := map[string]string{"/a": "GET /a 0", "/b": "GET /b 0", "/c": fmt.Sprintf("POST /c %d", st.Size()), "/d": "GET /d 0GET /e 0"}
			path := args[len(args)-1]
			path = path[strings.LastIndex(path, "/"):]
			if path == "/e" {
				path = "/d"
			}
			if string(out) != want[path] {
				t.Fatalf("curl %q: %q, want %q", args, out, want[path])
			}
		}
	})
}

// TestTLSAdvNativeLargePipelined: native responses of 1 MiB each, pipelined, to a client that
// reads slowly, all whole and in order.
func TestTLSAdvNativeLargePipelined(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	big := make([]byte, 1<<20)
	rand.Read(big)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			w.AddHeader("X-Path", string(r.Path()))
			w.Write(big)
		})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c := advDial(t, addr)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		const n = 8
		var req strings.Builder
		for i := range n {
			fmt.Fprintf(&req, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
		}
		io.WriteString(c, req.String())
		br := bufio.NewReader(c)
		for i := range n {
			time.Sleep(30 * time.Millisecond)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("response %d: %v", i, err)
			}
			b, err := io.ReadAll(resp.Body)
			if err != nil || !bytes.Equal(b, big) || resp.Header.Get("X-Path") != fmt.Sprintf("/%d", i) {
				t.Fatalf("response %d: %d bytes, %v, path %q", i, len(b), err, resp.Header.Get("X-Path"))
			}
		}
	})
}

// TestTLSAdvGarbageAfterHandshake: a client that sends a forged record after the handshake is cut
// off (no answer), and the server goes on serving others.
func TestTLSAdvGarbageAfterHandshake(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}), ErrorLog: log.New(io.Discard, "", 0)}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c := advDial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		c.SetDeadline(time.Now().Add(5 * time.Second))
		readResponses(t, br, 1, "GET")
		// An application-data record of random bytes, straight onto the socket.
		junk := make([]byte, 200)
		rand.Read(junk)
		c.NetConn().Write(append([]byte{0x17, 0x03, 0x03, 0x00, 200}, junk...))
		if _, err := br.ReadByte(); err == nil {
			t.Fatal("the connection answered after a forged record")
		}
		c2 := advDial(t, addr)
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c2, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readResponses(t, bufio.NewReader(c2), 1, "GET"); got[0] != "ok" {
			t.Fatalf("%q", got)
		}
	})
}

// ---- client (Transport) ----

// advTransport is a Transport trusting the test certificate, closed when the test ends.
func advTransport(t *testing.T, engine eddy.EngineKind) *http1.Transport {
	_, cfg := testtls.Configs()
	tr := &http1.Transport{Engine: engine, Loops: 2, TLSClientConfig: cfg}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestTLSAdvClientConcurrent: many concurrent https requests to one host under MaxConnsPerHost:
// every one is answered, and the server never sees more connections than allowed, then reuse.
func TestTLSAdvClientConcurrent(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var conns, open, maxOpen atomic.Int64
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(time.Millisecond)
			io.WriteString(w, r.URL.Path)
		}))
		ts.EnableHTTP2 = false
		ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				conns.Add(1)
				if n := open.Add(1); n > maxOpen.Load() {
					maxOpen.Store(n)
				}
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		ts.StartTLS()
		defer ts.Close()
		tr := advTransport(t, engine)
		tr.MaxConnsPerHost = 8
		cl := &http.Client{Transport: tr, Timeout: 20 * time.Second}
		for wave := range 2 {
			var wg sync.WaitGroup
			errs := make(chan error, 300)
			for i := range 300 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					path := fmt.Sprintf("/%d/%d", wave, i)
					resp, err := cl.Get(ts.URL + path)
					if err != nil {
						errs <- err
						return
					}
					b, err := io.ReadAll(resp.Body)
					resp.Body.Close()
					if err != nil || string(b) != path {
						errs <- fmt.Errorf("%s: %q %v", path, b, err)
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		}
		if n := conns.Load(); n > 8 {
			t.Fatalf("%d TLS connections (at most %d at once) for MaxConnsPerHost 8", n, maxOpen.Load())
		}
	})
}

// tlsRawServer serves TLS connections with serve, one goroutine each, until the test ends.
func tlsRawServer(t *testing.T, serve func(n int, c *tls.Conn)) string {
	t.Helper()
	serverCfg, _ := testtls.Configs()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverCfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(n, c.(*tls.Conn))
			}()
		}
	}()
	return ln.Addr().String()
}

// readReq reads one request head (and a Content-Length body) from br.
func readReq(br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, req.Body)
	return req, nil
}

// TestTLSAdvClientServerClosesKeptAlive: a server that closes a kept-alive TLS connection (with
// close_notify) when the next request arrives on it, without answering: the GET is retried on a new
// connection.
func TestTLSAdvClientServerClosesKeptAlive(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := tlsRawServer(t, func(n int, c *tls.Conn) {
			br := bufio.NewReader(c)
			for i := 0; ; i++ {
				req, err := readReq(br)
				if err != nil {
					return
				}
				if n == 0 && i == 1 {
					return // the second request on the first connection: closed unanswered
				}
				fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(req.URL.Path), req.URL.Path)
			}
		})
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 10 * time.Second}
		for i := range 3 {
			resp, err := cl.Get(fmt.Sprintf("https://%s/%d", addr, i))
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != fmt.Sprintf("/%d", i) {
				t.Fatalf("request %d: %q", i, b)
			}
		}
	})
}

// TestTLSAdvClientIdleClosedByServer: an https server whose IdleTimeout closes the pooled
// connection: the next request goes out on a new connection.
func TestTLSAdvClientIdleClosedByServer(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "ok")
		}))
		ts.Config.IdleTimeout = 50 * time.Millisecond
		ts.StartTLS()
		defer ts.Close()
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 10 * time.Second}
		for i := range 4 {
			resp, err := cl.Get(ts.URL)
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "ok" {
				t.Fatalf("request %d: %q", i, b)
			}
			time.Sleep(time.Duration(i) * 40 * time.Millisecond) // 0, 40, 80 ms: around the timeout
		}
	})
}

// TestTLSAdvClientCloseNotifyAfterKeepAlive: a server that answers with Connection: keep-alive and
// then at once sends close_notify and its FIN: the response is whole, and the following requests
// (at once and later) succeed on new connections. With a body larger than the Transport's pipe, read
// slowly, too.
func TestTLSAdvClientCloseNotifyAfterKeepAlive(t *testing.T) {
	big := make([]byte, 2<<20)
	rand.Read(big)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var conns atomic.Int64
		addr := tlsRawServer(t, func(n int, c *tls.Conn) {
			conns.Add(1)
			br := bufio.NewReader(c)
			req, err := readReq(br)
			if err != nil {
				return
			}
			body := []byte(req.URL.Path)
			if req.URL.Path == "/big" {
				body = big
			}
			var out bytes.Buffer
			fmt.Fprintf(&out, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: %d\r\n\r\n", len(body))
			out.Write(body)
			c.Write(out.Bytes())
			c.Close() // close_notify and FIN
		})
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 10 * time.Second}
		for i, path := range []string{"/a", "/b", "/big", "/c", "/big", "/d"} {
			if i == 3 {
				time.Sleep(50 * time.Millisecond)
			}
			resp, err := cl.Get("https://" + addr + path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			var b []byte
			if path == "/big" {
				time.Sleep(100 * time.Millisecond) // the close arrives while the pipe is full
				buf := make([]byte, 8<<10)
				for {
					n, err := resp.Body.Read(buf)
					b = append(b, buf[:n]...)
					if err == io.EOF {
						break
					}
					if err != nil {
						t.Fatalf("%s: after %d bytes: %v", path, len(b), err)
					}
					if len(b)%(256<<10) < 8<<10 {
						time.Sleep(5 * time.Millisecond)
					}
				}
			} else {
				b, err = io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
			}
			resp.Body.Close()
			want := []byte(path)
			if path == "/big" {
				want = big
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("%s: %d bytes, differ", path, len(b))
			}
		}
	})
}

// TestTLSAdvClientSlowBody: a large response body read slowly through the Transport arrives whole.
func TestTLSAdvClientSlowBody(t *testing.T) {
	big := make([]byte, 8<<20)
	rand.Read(big)
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/chunked" {
				for i := 0; i < len(big); i += 100_000 {
					w.Write(big[i:min(i+100_000, len(big))])
				}
				return
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 30 * time.Second}
		for _, path := range []string{"/length", "/chunked", "/length"} {
			resp, err := cl.Get("https://" + addr + path)
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.New()
			buf := make([]byte, 100_000)
			n := 0
			for {
				k, err := resp.Body.Read(buf)
				h.Write(buf[:k])
				n += k
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: after %d: %v", path, n, err)
				}
				if n%(1<<20) < 100_000 {
					time.Sleep(10 * time.Millisecond)
				}
			}
			resp.Body.Close()
			if n != len(big) || !bytes.Equal(h.Sum(nil), func() []byte { s := sha256.Sum256(big); return s[:] }()) {
				t.Fatalf("%s: %d bytes, differ", path, n)
			}
		}
	})
}

// TestTLSAdvClientCancelMidHandshake: a request whose context ends while its handshake waits for a
// server that never answers fails at once with the context's error; the Transport is usable.
func TestTLSAdvClientCancelMidHandshake(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := testtls.SilentPeer(t)
		tr := advTransport(t, engine)
		for _, d := range []time.Duration{0, 5 * time.Millisecond, 100 * time.Millisecond} {
			ctx, cancel := context.WithTimeout(context.Background(), d+time.Millisecond)
			req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/", nil)
			start := time.Now()
			_, err := tr.RoundTrip(req)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("timeout %v: %v, want context.DeadlineExceeded", d, err)
			}
			if el := time.Since(start); el > d+time.Second {
				t.Fatalf("timeout %v: took %v", d, el)
			}
		}
		// Cancel a RoundTripAsync's future mid-handshake.
		req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
		f := tr.RoundTripAsync(req)
		time.Sleep(50 * time.Millisecond)
		f.Cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if _, err := f.Await(ctx); err == nil || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("cancelled future: %v", err)
		}
	})
}

// TestTLSAdvClientCloseDuringHandshakes: Transport.Close with requests in their handshakes fails
// them with ErrTransportClosed at once, and no handshake goroutine is left.
func TestTLSAdvClientCloseDuringHandshakes(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := testtls.SilentPeer(t)
		base := runtime.NumGoroutine()
		_, cfg := testtls.Configs()
		tr := &http1.Transport{Engine: engine, Loops: 2, TLSClientConfig: cfg, MaxConnsPerHost: 10}
		errs := make(chan error, 30)
		for range 30 { // 10 in handshakes, 20 waiting for a connection
			go func() {
				req, _ := http.NewRequest("GET", "https://"+addr+"/", nil)
				_, err := tr.RoundTrip(req)
				errs <- err
			}()
		}
		time.Sleep(200 * time.Millisecond)
		start := time.Now()
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		for range 30 {
			select {
			case err := <-errs:
				if !errors.Is(err, http1.ErrTransportClosed) {
					t.Errorf("request: %v, want ErrTransportClosed", err)
				}
			case <-time.After(3 * time.Second):
				t.Fatal("a request did not end after Close")
			}
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Close and the failures took %v", d)
		}
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > base+1 {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestTLSAdvClientServerName: InsecureSkipVerify to a name the certificate does not have, and a
// ServerName override verified instead of the URL's host.
func TestTLSAdvClientServerName(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "sni="+r.TLS.ServerName)
		}))
		ts.StartTLS()
		defer ts.Close()
		get := func(tr *http1.Transport, url string) string {
			t.Helper()
			defer tr.Close()
			resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(url)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(b)
		}
		port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]
		insecure := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
		if got := get(insecure, "https://localhost:"+port+"/"); got != "sni=localhost" {
			t.Fatalf("InsecureSkipVerify to localhost: %q", got)
		}
		_, cfg := testtls.Configs()
		cfg.ServerName = "example.com"
		named := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
		if got := get(named, "https://localhost:"+port+"/"); got != "sni=example.com" {
			t.Fatalf("ServerName example.com: %q", got)
		}
		// An IP literal is verified against the certificate's IP addresses and sent without SNI.
		_, cfg = testtls.Configs()
		plain := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
		if got := get(plain, "https://127.0.0.1:"+port+"/"); got != "sni=" {
			t.Fatalf("IP literal: %q, want no SNI", got)
		}
	})
}

// TestTLSAdvClientIPv6: an https URL with an IPv6 literal.
func TestTLSAdvClientIPv6(t *testing.T) {
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "v6 "+r.Host)
	}))
	ts.Listener.Close()
	ts.Listener = ln
	ts.StartTLS()
	defer ts.Close()
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 10 * time.Second}
		port := ln.Addr().(*net.TCPAddr).Port
		for _, url := range []string{fmt.Sprintf("https://[::1]:%d/", port)} {
			resp, err := cl.Get(url)
			if err != nil {
				t.Fatalf("%s: %v", url, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != fmt.Sprintf("v6 [::1]:%d", port) {
				t.Fatalf("%s: %q", url, b)
			}
		}
	})
}

// TestTLSAdvClientRedirects: http -> https -> http through http.Client, the Transport serving both.
func TestTLSAdvClientRedirects(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var plainURL atomic.Value
		secure := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.TLS == nil {
				http.Error(w, "not tls", 500)
				return
			}
			http.Redirect(w, r, plainURL.Load().(string)+"/final", http.StatusFound)
		}))
		secure.StartTLS()
		defer secure.Close()
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/final" {
				io.WriteString(w, "final")
				return
			}
			http.Redirect(w, r, secure.URL+"/middle", http.StatusMovedPermanently)
		}))
		defer plain.Close()
		plainURL.Store(plain.URL)
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 10 * time.Second}
		for range 3 {
			resp, err := cl.Get(plain.URL + "/start")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "final" || resp.TLS != nil {
				t.Fatalf("%q, TLS %v", b, resp.TLS != nil)
			}
		}
	})
}

// TestTLSAdvClientRoundTripAsync: RoundTripAsync with https, many at once, and Response.TLS.
func TestTLSAdvClientRoundTripAsync(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
			w.Write(r.Path())
		})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		tr := advTransport(t, engine)
		type pending struct {
			path string
			f    interface {
				Await(context.Context) (*http.Response, error)
			}
		}
		var ps []pending
		for i := range 100 {
			path := fmt.Sprintf("/%d", i)
			req, _ := http.NewRequest("GET", "https://"+addr+path, nil)
			ps = append(ps, pending{path, tr.RoundTripAsync(req)})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, p := range ps {
			resp, err := p.f.Await(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != p.path || resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
				t.Fatalf("%s: %q, TLS %v", p.path, b, resp.TLS)
			}
		}
	})
}

// Fixed bug: clientTLSConfig (client.go) clones TLSClientConfig and removes "h2" from the clone's
// NextProtos with slices.DeleteFunc, which works in place on the backing array the clone shares
// with the caller's config (tls.Config.Clone copies the slice header): the caller's NextProtos
// []string{"h2", "http/1.1"} becomes []string{"http/1.1", ""}. A net/http Transport sharing that
// config then fails every handshake with "tls: invalid NextProtos value".
// TestTLSAdvClientNextProtosNotMutated: the Transport leaves the caller's TLSClientConfig alone.
func TestTLSAdvClientNextProtosNotMutated(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	}))
	ts.EnableHTTP2 = true
	ts.StartTLS()
	defer ts.Close()
	_, cfg := testtls.Configs()
	cfg.NextProtos = []string{"h2", "http/1.1"}
	tr := &http1.Transport{Loops: 1, TLSClientConfig: cfg}
	defer tr.Close()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "HTTP/1.1" {
		t.Fatalf("eddy's Transport to an h2 server: %q", b)
	}
	if !slices.Equal(cfg.NextProtos, []string{"h2", "http/1.1"}) {
		t.Errorf("the Transport changed TLSClientConfig.NextProtos to %q", cfg.NextProtos)
	}
	// The config shared with net/http's Transport still works.
	nt := &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}
	defer nt.CloseIdleConnections()
	resp, err = (&http.Client{Transport: nt, Timeout: 10 * time.Second}).Get(ts.URL)
	if err != nil {
		t.Fatalf("net/http with the shared config: %v", err)
	}
	resp.Body.Close()
}

// TestTLSAdvClientUploadToSlowServer: a streamed upload over https to a server that reads slowly,
// and one that answers before reading (the Transport reports the answer).
func TestTLSAdvClientUploadToSlowServer(t *testing.T) {
	body := make([]byte, 4<<20)
	rand.Read(body)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/early" {
				w.Header().Set("Connection", "close")
				io.WriteString(w, "early")
				return
			}
			h := sha256.New()
			buf := make([]byte, 32<<10)
			n := 0
			for {
				k, err := r.Body.Read(buf)
				h.Write(buf[:k])
				n += k
				if err != nil {
					break
				}
				if n%(512<<10) < 32<<10 {
					time.Sleep(5 * time.Millisecond)
				}
			}
			fmt.Fprintf(w, "%d %x", n, h.Sum(nil))
		}))
		ts.StartTLS()
		defer ts.Close()
		cl := &http.Client{Transport: advTransport(t, engine), Timeout: 20 * time.Second}
		resp, err := cl.Post(ts.URL+"/slow", "application/octet-stream", io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := fmt.Sprintf("%d %x", len(body), sha256.Sum256(body)); string(b) != want {
			t.Fatalf("%q, want %q", b, want)
		}
		resp, err = cl.Post(ts.URL+"/early", "application/octet-stream", io.MultiReader(bytes.NewReader(body)))
		if err != nil {
			t.Fatalf("early answer: %v", err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "early" {
			t.Fatalf("early answer: %q", b)
		}
	})
}

// TestTLSAdvCloseNotifyMidUpload: a client that sends a big body and close_notify right behind it,
// to a handler that reads slowly (the server pauses its input meanwhile): the handler gets the whole
// body and its answer arrives. A body cut short by close_notify fails the handler's read.
func TestTLSAdvCloseNotifyMidUpload(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	body := make([]byte, 3<<20)
	rand.Read(body)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		buf := make([]byte, 32<<10)
		n := 0
		var rerr error
		for {
			k, err := r.Body.Read(buf)
			h.Write(buf[:k])
			n += k
			if err != nil {
				if err != io.EOF {
					rerr = err
				}
				break
			}
			if n%(256<<10) < 32<<10 {
				time.Sleep(2 * time.Millisecond)
			}
		}
		fmt.Fprintf(w, "%d %x %v", n, h.Sum(nil), rerr)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: handler}, certFile, keyFile)
		for _, chunked := range []bool{false, true} {
			c := advDial(t, addr)
			c.SetDeadline(time.Now().Add(20 * time.Second))
			var req bytes.Buffer
			if chunked {
				io.WriteString(&req, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
				for i := 0; i < len(body); i += 100_000 {
					part := body[i:min(i+100_000, len(body))]
					fmt.Fprintf(&req, "%x\r\n%s\r\n", len(part), part)
				}
				io.WriteString(&req, "0\r\n\r\n")
			} else {
				fmt.Fprintf(&req, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			}
			go func() {
				c.Write(req.Bytes())
				c.CloseWrite()
			}()
			got := readResponses(t, bufio.NewReader(c), 1, "GET")
			if want := fmt.Sprintf("%d %x <nil>", len(body), sha256.Sum256(body)); got[0] != want {
				t.Fatalf("chunked=%v: %q, want %q", chunked, got[0], want)
			}
		}
		// Cut short: half the announced body, then close_notify.
		c := advDial(t, addr)
		c.SetDeadline(time.Now().Add(20 * time.Second))
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", len(body))
		c.Write(body[:len(body)/2])
		c.CloseWrite()
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			if strings.HasSuffix(string(b), "<nil>") {
				t.Fatalf("a body cut short by close_notify read as whole: %q", b)
			}
		}
	})
}

// TestTLSAdvExpectContinue: net/http's client waiting for 100 Continue over TLS gets it at once.
func TestTLSAdvExpectContinue(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := startTLS(t, engine, &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%d", len(b))
		})}, certFile, keyFile)
		tr := &http.Transport{TLSClientConfig: advClientConfig(), ExpectContinueTimeout: 5 * time.Second}
		defer tr.CloseIdleConnections()
		cl := &http.Client{Transport: tr, Timeout: 10 * time.Second}
		for range 2 {
			req, _ := http.NewRequest("POST", "https://"+addr+"/", bytes.NewReader(make([]byte, 100_000)))
			req.Header.Set("Expect", "100-continue")
			start := time.Now()
			resp, err := cl.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "100000" {
				t.Fatalf("%q", b)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("took %v: no 100 Continue", d)
			}
		}
	})
}

// TestTLSAdvWriteTimeout: a client that does not read a large response is cut off at WriteTimeout
// over TLS too, and the server goes on.
func TestTLSAdvWriteTimeout(t *testing.T) {
	certFile, keyFile := testtls.Files(t)
	big := bytes.Repeat([]byte("x"), 1<<20)
	// The engines at once: each waits out the 2 s on a server and a handler of its own.
	forEachEngineAtOnce(t, func(t *testing.T, engine eddy.EngineKind) {
		done := make(chan error, 1)
		// WriteTimeout bounds the TLS handshake too, as on net/http (Server.handshakeTimeout): long
		// enough for a handshake on a loaded machine.
		srv := &http1.Server{WriteTimeout: 2 * time.Second, ErrorLog: log.New(io.Discard, "", 0),
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/small" {
					io.WriteString(w, "small")
					return
				}
				var err error
				for i := 0; i < 64 && err == nil; i++ {
					_, err = w.Write(big)
				}
				done <- err
			})}
		addr := startTLS(t, engine, srv, certFile, keyFile)
		c := advDial(t, addr)
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		select {
		case err := <-done:
			if err == nil {
				t.Fatal("64 MiB written to a client that reads nothing")
			}
		case <-time.After(15 * time.Second):
			t.Fatal("the handler's write did not fail at WriteTimeout")
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err == nil {
			t.Log("connection ended cleanly (close_notify) after a response cut by WriteTimeout")
		}
		c2 := advDial(t, addr)
		c2.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(c2, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
		if got := readResponses(t, bufio.NewReader(c2), 1, "GET"); got[0] != "small" {
			t.Fatalf("%q", got)
		}
	})
}

// TestTLSAdvClientTruncatedBody: a server that sends part of a Content-Length (or chunked) body and
// then close_notify: the Transport reports an error, not a short body.
func TestTLSAdvClientTruncatedBody(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := tlsRawServer(t, func(n int, c *tls.Conn) {
			br := bufio.NewReader(c)
			req, err := readReq(br)
			if err != nil {
				return
			}
			switch req.URL.Path {
			case "/length":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
			case "/chunked":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n")
			case "/eof":
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n0123456789")
			case "/fin": // FIN without close_notify, in an EOF-framed body
				io.WriteString(c, "HTTP/1.1 200 OK\r\n\r\n0123456789")
				c.NetConn().Close()
				return
			case "/finlength":
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
				c.NetConn().Close()
				return
			}
			c.Close()
		})
		tr := advTransport(t, engine)
		for _, path := range []string{"/length", "/chunked", "/eof", "/fin", "/finlength"} {
			resp, err := tr.RoundTrip(mustRequest(t, "https://"+addr+path))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch path {
			case "/eof", "/fin":
				if err != nil || string(b) != "0123456789" {
					t.Fatalf("%s: %q %v", path, b, err)
				}
			default:
				if err == nil {
					t.Fatalf("%s: a truncated body read as whole: %q", path, b)
				}
			}
		}
	})
}

// TestTLSAdvClientCertificate: the Transport presents TLSClientConfig.Certificates to a server that
// requires one (eddy's own).
func TestTLSAdvClientCertificate(t *testing.T) {
	pool, clientCert := advCA(t)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		serverCfg, _ := testtls.Configs()
		serverCfg.ClientAuth = tls.RequireAndVerifyClientCert
		serverCfg.ClientCAs = pool
		srv := &http1.Server{TLSConfig: serverCfg, ErrorLog: log.New(io.Discard, "", 0),
			Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
			})}
		addr := startTLS(t, engine, srv, "", "")
		_, cfg := testtls.Configs()
		cfg.Certificates = []tls.Certificate{clientCert}
		tr := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
		defer tr.Close()
		for range 2 {
			resp, err := tr.RoundTrip(mustRequest(t, "https://"+addr+"/"))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "adv client" {
				t.Fatalf("%q", b)
			}
		}
		// Without the certificate the request fails (TLS 1.3: the server's alert comes after the
		// client's Finished, with the first read).
		_, cfg = testtls.Configs()
		bare := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
		defer bare.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/", nil)
		if resp, err := bare.RoundTrip(req); err == nil {
			resp.Body.Close()
			t.Fatalf("no client certificate: %d", resp.StatusCode)
		} else if errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("no client certificate: hung until the context's end")
		}
	})
}

// opensslRenegotiating starts openssl s_server (TLS 1.2) on a free port: once the request arrives,
// it renegotiates ("r") and then answers. It returns the address and a channel of the server's
// output so far when it ends.
func opensslRenegotiating(t *testing.T) (string, func() string) {
	t.Helper()
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	certFile, keyFile := testtls.Files(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	cmd := exec.CommandContext(ctx, openssl, "s_server", "-tls1_2", "-crlf", "-naccept", "1",
		"-cert", certFile, "-key", keyFile, "-accept", addr)
	stdin, _ := cmd.StdinPipe()
	var out lockedBuf
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Skip("openssl s_server:", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !out.contains("ACCEPT") {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		for !out.contains("GET /") {
			if ctx.Err() != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		io.WriteString(stdin, "r\n")
		time.Sleep(300 * time.Millisecond)
		io.WriteString(stdin, "HTTP/1.1 200 OK\nContent-Length: 2\nConnection: close\n\nok")
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !out.contains("ACCEPT") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop := func() string {
		cancel()
		cmd.Process.Kill() // the child started here, by its PID
		cmd.Wait()
		<-done
		return out.String()
	}
	t.Cleanup(func() { stop() })
	tail := func() string {
		s := stop()
		return s[max(0, len(s)-120):] // the request openssl received
	}
	return addr, tail
}

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }
func (l *lockedBuf) contains(s string) bool {
	return strings.Contains(l.String(), s)
}

// TestTLSAdvClientRenegotiation: a TLS 1.2 server that renegotiates after the request, with
// TLSClientConfig.Renegotiation set to allow it. net/http's Transport (the control subtest)
// renegotiates. eddy's cannot: crypto/tls renegotiates inside tls.Conn.Read, which etls runs on the
// loop, where the new handshake cannot wait for the server. Before etls forced RenegotiateNever, the
// handshake failed with etls's temporary errWouldBlock, crypto/tls kept that as its sticky handshake
// error, and every later Read returned it: the request hung until its deadline. Now the request fails
// at once with crypto/tls's no_renegotiation error.
func TestTLSAdvClientRenegotiation(t *testing.T) {
	_, cfg := testtls.Configs()
	cfg.Renegotiation = tls.RenegotiateOnceAsClient
	cfg.ServerName = "127.0.0.1"
	t.Run("nethttp", func(t *testing.T) {
		addr, stop := opensslRenegotiating(t)
		tr := &http.Transport{TLSClientConfig: cfg}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/")
		if err != nil {
			t.Fatalf("%v\nopenssl: %s", err, stop())
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("%q\nopenssl: %s", b, stop())
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr, stop := opensslRenegotiating(t)
		tr := &http1.Transport{Engine: engine, Loops: 1, TLSClientConfig: cfg}
		defer tr.Close()
		start := time.Now()
		resp, err := (&http.Client{Transport: tr, Timeout: 3 * time.Second}).Get("https://" + addr + "/")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a renegotiating server answered: %s", resp.Status)
		}
		if !strings.Contains(err.Error(), "no renegotiation") || time.Since(start) > 2*time.Second {
			t.Fatalf("after %v: %v, want crypto/tls's no_renegotiation error at once\nopenssl: %s", time.Since(start), err, stop())
		}
	})
}
