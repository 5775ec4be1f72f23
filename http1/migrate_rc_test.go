package http1_test

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestResponseController: Flush, EnableFullDuplex, SetReadDeadline and SetWriteDeadline through
// http.ResponseController, as net/http.
func TestMigrateResponseController(t *testing.T) {
	obs := &zzObs{}
	proceed := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		switch r.URL.Path {
		case "/flush":
			io.WriteString(w, "first")
			obs.add("flush %v", rc.Flush())
			<-proceed // the client has read "first"
			io.WriteString(w, "second")
		case "/duplex":
			obs.add("duplex %v", rc.EnableFullDuplex())
			w.WriteHeader(200)
			rc.Flush()
			br := bufio.NewReader(r.Body)
			for {
				line, err := br.ReadString('\n')
				if line != "" {
					io.WriteString(w, "echo:"+line)
					rc.Flush()
				}
				if err != nil {
					obs.add("duplex read end %s", zzErrClass(err))
					return
				}
			}
		case "/rdl":
			obs.add("rdl %v", rc.SetReadDeadline(time.Now().Add(-time.Second)))
			b, err := io.ReadAll(r.Body)
			obs.add("read %q %s ctx %v", b, zzErrClass(err), r.Context().Err())
			obs.add("rdl clear %v", rc.SetReadDeadline(time.Time{}))
			io.WriteString(w, "after")
		case "/rdlkeep":
			obs.add("rdl %v", rc.SetReadDeadline(time.Now().Add(-time.Second)))
			b, err := io.ReadAll(r.Body)
			obs.add("read %q %s ctx %v", b, zzErrClass(err), r.Context().Err())
			io.WriteString(w, "after")
		case "/rdlok":
			obs.add("rdl %v", rc.SetReadDeadline(time.Now().Add(time.Hour)))
			b, err := io.ReadAll(r.Body)
			obs.add("read %q %s", b, zzErrClass(err))
		case "/wdl":
			obs.add("wdl %v", rc.SetWriteDeadline(time.Now().Add(-time.Second)))
			_, err := io.WriteString(w, strings.Repeat("y", 100))
			obs.add("small write %s", zzErrClass(err))
			err = rc.Flush()
			obs.add("flush %s", zzErrClass(err))
		case "/wdlok":
			obs.add("wdl %v", rc.SetWriteDeadline(time.Now().Add(time.Hour)))
			io.WriteString(w, "ok")
			obs.add("flush %v", rc.Flush())
		}
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		// Flush: "first" arrives before the handler goes on.
		c := dial(t, s.addr)
		io.WriteString(c, "GET /flush HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		wh, err := readWireHead(br)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("flush head %d %s\n", wh.status, headerKeys(wh.header))
		for {
			chunk, err := readWireChunk(br)
			if err != nil {
				t.Fatal(err)
			}
			out += fmt.Sprintf("chunk %q\n", chunk)
			if chunk == "first" {
				proceed <- struct{}{}
			}
			if chunk == "" {
				break
			}
		}
		out += zzAfter(c, br, false) + "\n" + obs.take()

		// Full duplex: each line sent is echoed before the next is sent.
		c = dial(t, s.addr)
		io.WriteString(c, "POST /duplex HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		br = bufio.NewReader(c)
		wh, err = readWireHead(br)
		if err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("duplex head %d %s\n", wh.status, headerKeys(wh.header))
		for i := range 3 {
			line := fmt.Sprintf("line %d\n", i)
			fmt.Fprintf(c, "%x\r\n%s\r\n", len(line), line)
			chunk, err := readWireChunk(br)
			out += fmt.Sprintf("echo %q %v\n", chunk, err)
		}
		io.WriteString(c, "0\r\n\r\n")
		chunk, err := readWireChunk(br)
		out += fmt.Sprintf("last %q %v\n", chunk, err)
		out += zzAfter(c, br, false) + "\n" + obs.take()

		for _, raw := range []string{
			"POST /rdl HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			// (With the deadline cleared before the handler returns, net/http waits for the rest
			// of the body before it answers; http1 answers at once and closes the connection.)
			"POST /rdlkeep HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello",
			"POST /rdlok HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
			"GET /wdl HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /wdlok HTTP/1.1\r\nHost: x\r\n\r\n",
		} {
			m, _, _ := strings.Cut(raw, " ")
			out += firstLine(raw) + "\n" + zzRaw(t, s, raw, m) + "\n" + obs.take()
		}
		return out
	})
}

// TestExpectContinue: "100 Continue" goes out when the handler reads the body, not when it
// does not, and the connection then is handled as net/http does.
func TestMigrateExpectContinue(t *testing.T) {
	obs := &zzObs{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/read":
			b, err := io.ReadAll(r.Body)
			obs.add("read %q %s", b, zzErrClass(err))
		case "/close":
			obs.add("close %v", r.Body.Close())
			w.WriteHeader(http.StatusExpectationFailed)
		default:
			w.WriteHeader(http.StatusUnauthorized)
		}
		io.WriteString(w, "done")
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, path := range []string{"/read"} {
			for _, te := range []string{"Content-Length: 5", "Transfer-Encoding: chunked"} {
				body := "hello"
				if te != "Content-Length: 5" {
					body = "5\r\nhello\r\n0\r\n\r\n"
				}
				c := dial(t, s.addr)
				io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+te+"\r\n\r\n")
				br := bufio.NewReader(c)
				out += path + " " + te + "\n"
				if path == "/read" {
					line, err := br.ReadString('\n')
					out += fmt.Sprintf("interim %q %v\n", line, err)
					blank, _ := br.ReadString('\n')
					out += fmt.Sprintf("blank %q\n", blank)
					io.WriteString(c, body)
				}
				got := zzResponses(t, c, br, "POST")
				out += got + "\n" + obs.take()
			}
		}
		// A client that does not wait for 100 and sends the body at once, to a handler that
		// does not read it.
		out += zzRaw(t, s, "POST /noread HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", "POST")
		// HTTP/1.0 with Expect.
		out += zzRaw(t, s, "POST /read HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", "POST") + obs.take()
		return out
	})
}

// TestExpectContinueUnread: a handler that does not read a body sent with Expect: 100-continue
// (or closes it unread) gets no "100 Continue" sent; the answer says "Connection: close" and the
// connection closes after it. net/http does the same, but first waits for the body the client
// holds back (its Body.Close, also the handler's, blocks until the body comes or the client goes);
// http1 does not wait. Checked on http1 alone, since net/http would wait here for ever.
func TestMigrateExpectContinueUnread(t *testing.T) {
	closeErr := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			closeErr <- r.Body.Close()
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "done")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)})
		for _, path := range []string{"/noread", "/close"} {
			for _, te := range []string{"Content-Length: 5", "Transfer-Encoding: chunked"} {
				c := dial(t, addr)
				io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"+te+"\r\n\r\n")
				b, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("%s %s: %v after %q", path, te, err, b)
				}
				resp := string(b)
				if !strings.HasPrefix(resp, "HTTP/1.1 401 ") || !strings.Contains(resp, "\r\nConnection: close\r\n") || !strings.HasSuffix(resp, "\r\n\r\ndone") {
					t.Errorf("%s %s: got %q; want a 401 with Connection: close, and then the connection closed", path, te, resp)
				}
				if path == "/close" {
					if err := <-closeErr; err != nil {
						t.Errorf("%s %s: Body.Close: %v", path, te, err)
					}
				}
			}
		}
	})
}

// TestTrailers: trailers declared with the Trailer header, and with http.TrailerPrefix.
func TestMigrateTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Trailer", "X-Sum, X-Count")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "abc")
			w.Header().Set("X-Count", "4")
			w.Header().Set("X-Undeclared", "no")
		case "/prefix":
			io.WriteString(w, "body")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/flushed":
			w.Header().Set("Trailer", "X-Sum")
			io.WriteString(w, "body")
			w.(http.Flusher).Flush()
			w.Header().Set("X-Sum", "f")
			w.Header().Set(http.TrailerPrefix+"X-Late", "yes")
		case "/cl":
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("Content-Length", "4")
			io.WriteString(w, "body")
			w.Header().Set("X-Sum", "cl")
		case "/head":
			w.Header().Set("Trailer", "X-Sum")
			w.Header().Set("X-Sum", "before")
		case "/req":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %q", b, r.Trailer)
		}
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, raw := range []string{
			"GET /declared HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /prefix HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /flushed HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /cl HTTP/1.1\r\nHost: x\r\n\r\n",
			"HEAD /declared HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /head HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET /declared HTTP/1.0\r\n\r\n",
			"POST /req HTTP/1.1\r\nHost: x\r\nTrailer: X-T\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: tv\r\nX-U: uv\r\n\r\n",
		} {
			m, _, _ := strings.Cut(raw, " ")
			out += firstLine(raw) + "\n" + zzRaw(t, s, raw, m) + "\n"
		}
		return out
	})
}

// TestRequestFields: RemoteAddr, TLS, Host, RequestURI, Proto, URL as net/http gives them.
func TestMigrateRequestFields(t *testing.T) {
	obs := &zzObs{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := splitHostPortZZ(r.RemoteAddr)
		obs.add("remote host %s err %v tls %v host %q uri %q proto %q %d.%d url %q path %q raw %q opaque %q method %q close %v cl %d te %q",
			host, err, r.TLS != nil, r.Host, r.RequestURI, r.Proto, r.ProtoMajor, r.ProtoMinor, r.URL.String(), r.URL.Path, r.URL.RawPath, r.URL.Opaque, r.Method, r.Close, r.ContentLength, r.TransferEncoding)
		obs.add("header %q", r.Header)
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, raw := range []string{
			"GET /a/b?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
			"GET http://other.example/x%2Fy?z HTTP/1.1\r\nHost: example.com\r\n\r\n",
			"GET /p%20q HTTP/1.0\r\n\r\n",
			"GET / HTTP/1.0\r\nHost: h10\r\nConnection: keep-alive\r\n\r\n",
			"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
			"GET //double/slash HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
			"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nX-Multi: 1\r\nX-Multi: 2\r\n\r\n",
			"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			"GET /x HTTP/1.2\r\nHost: x\r\n\r\n",
		} {
			m, _, _ := strings.Cut(raw, " ")
			out += firstLine(raw) + "\n" + zzRaw(t, s, raw, m) + "\n" + obs.take()
		}
		return out
	})
}

func splitHostPortZZ(a string) (string, int, error) {
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return "", 0, fmt.Errorf("no port in %q", a)
	}
	p, err := strconv.Atoi(a[i+1:])
	return a[:i], p, err
}

// TestBodyCloseThenWrite: a handler that closes the request body unread (large and small,
// Content-Length and chunked) and then writes its response.
func TestMigrateBodyCloseThenWrite(t *testing.T) {
	obs := &zzObs{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("read") != "" {
			buf := make([]byte, 10)
			n, err := io.ReadFull(r.Body, buf)
			obs.add("read %d %s", n, zzErrClass(err))
		}
		obs.add("close %v", r.Body.Close())
		n, err := r.Body.Read(make([]byte, 10))
		obs.add("read after close %d %v", n, err)
		_, err = io.WriteString(w, "written after close")
		obs.add("write %v", err)
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, size := range []int{5, 100 << 10, 300 << 10, 2 << 20} {
			for _, q := range []string{"", "?read=1"} {
				for _, chunked := range []bool{false, true} {
					if chunked && size == 100<<10 {
						// Whether the connection stays depends on whether the body's end has
						// arrived when the handler returns (http1's doc says so).
						continue
					}
					body := strings.Repeat("z", size)
					raw := "POST /" + q + " HTTP/1.1\r\nHost: x\r\n"
					if chunked {
						raw += "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", size, body)
					} else {
						raw += "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n" + body
					}
					out += fmt.Sprintf("size %d %s chunked %v\n", size, q, chunked)
					out += zzRawFull(t, s, raw, "POST") + "\n" + obs.take()
				}
			}
		}
		return out
	})
}

// zzRawFull is zzRaw, but the request is written whole before the next request is; a write
// that fails since the server closed is not an error.
func zzRawFull(t *testing.T, s zzServer, raw string, methods ...string) string {
	t.Helper()
	c := dial(t, s.addr)
	done := make(chan struct{})
	go func() { io.WriteString(c, raw); close(done) }()
	out := zzResponses(t, c, bufio.NewReader(c), methods...)
	c.Close()
	<-done
	return out
}

// TestLargeBodies: 1 MiB+ request bodies read whole, Content-Length and chunked, and echoed.
func TestMigrateLargeBodies(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hs := sha256.New()
		n, err := io.Copy(hs, r.Body)
		fmt.Fprintf(w, "%d %x %s cl=%d", n, hs.Sum(nil)[:8], zzErrClass(err), r.ContentLength)
	})
	zzDiff(t, h, func(t *testing.T, s zzServer) string {
		var out string
		for _, size := range []int{1 << 20, 3<<20 + 7} {
			body := strings.Repeat("0123456789abcdef", size/16+1)[:size]
			for _, chunked := range []bool{false, true} {
				raw := "POST / HTTP/1.1\r\nHost: x\r\n"
				if chunked {
					raw += "Transfer-Encoding: chunked\r\n\r\n"
					for i := 0; i < size; i += 65000 {
						part := body[i:min(size, i+65000)]
						raw += fmt.Sprintf("%x\r\n%s\r\n", len(part), part)
					}
					raw += "0\r\n\r\n"
				} else {
					raw += "Content-Length: " + strconv.Itoa(size) + "\r\n\r\n" + body
				}
				out += zzRawFull(t, s, raw, "POST") + "\n"
			}
		}
		// Through net/http's client too.
		resp, err := client(t).Post("http://"+s.addr+"/", "application/octet-stream", strings.NewReader(strings.Repeat("q", 2<<20)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		out += string(b)
		return out
	})
}

var _ = os.ErrDeadlineExceeded

// TestWriteDeadlinePassedClosesGracefully: a write deadline (WriteTimeout, or one the handler
// sets) that has passed when the handler writes, with everything sent before already taken by the
// client: net/http closes the connection, and the client reads what was sent and then EOF. http1
// reset the connection, so the client got ECONNRESET (and may lose what it had not read yet).
func TestMigrateWriteDeadlinePassedClosesGracefully(t *testing.T) {
	proceed := make(chan struct{}, 1)
	handlerDone := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		var err error
		switch r.URL.Path {
		case "/past":
			rc.SetWriteDeadline(time.Now().Add(-time.Second))
			io.WriteString(w, "late")
			err = rc.Flush()
		case "/flushed":
			io.WriteString(w, "first")
			rc.Flush()
			<-proceed
			// An empty flush: with http1, it waits for "first" to be known sent. (Were the
			// deadline to pass with that still unknown, the loop would close gracefully all the
			// same, "first" being in the kernel: TestZZDeadlineWithAckInTransitClosesGracefully.)
			rc.Flush()
			rc.SetWriteDeadline(time.Now().Add(-time.Second))
			io.WriteString(w, "late")
			err = rc.Flush()
		case "/writetimeout":
			time.Sleep(300 * time.Millisecond) // past the server's WriteTimeout of 100 ms
			io.WriteString(w, "late")
		}
		handlerDone <- err
	})
	check := func(t *testing.T, addr string) string {
		var out string
		for _, path := range []string{"/past", "/flushed", "/writetimeout"} {
			c := dial(t, addr)
			io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			if path == "/flushed" {
				wh, err := readWireHead(br)
				if err != nil {
					t.Fatal(err)
				}
				chunk, err := readWireChunk(br)
				out += fmt.Sprintf("%s: %d %q %v; ", path, wh.status, chunk, err)
				proceed <- struct{}{}
			}
			b, err := io.ReadAll(br)
			out += fmt.Sprintf("%s: then %q %s; handler %s\n", path, b, zzErrClass(err), zzErrClass(<-handlerDone))
		}
		return out
	}
	var ref string
	t.Run("nethttp", func(t *testing.T) {
		ref = check(t, netHTTPRef(t, h, func(s *http.Server) { s.WriteTimeout = 100 * time.Millisecond }))
		t.Logf("net/http:\n%s", ref)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard), WriteTimeout: 100 * time.Millisecond}
		if got := check(t, start(t, engine, srv)); got != ref {
			t.Errorf("differs from net/http:\n%s", zzLineDiff(ref, got))
		}
	})
}
