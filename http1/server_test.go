package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

func TestClientGetsHelloInBothStyles(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				addr := start(t, engine, serverFor(style))
				cl := client(t)
				for i := range 3 {
					resp, err := cl.Get("http://" + addr + "/")
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 || string(b) != "Hello, World!" || resp.ContentLength != 13 {
						t.Fatalf("request %d: %s %q (length %d)", i, resp.Status, b, resp.ContentLength)
					}
					if resp.Header.Get("Date") == "" {
						t.Fatal("no Date header")
					}
				}
			})
		}
	})
}

func TestKeepAliveReusesTheConnection(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				addr := start(t, engine, serverFor(style))
				cl := client(t)
				var reused atomic.Int32
				trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
					if i.Reused {
						reused.Add(1)
					}
				}}
				for range 5 {
					req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", "http://"+addr+"/", nil)
					resp, err := cl.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if reused.Load() != 4 {
					t.Fatalf("reused the connection %d times of 4", reused.Load())
				}
			})
		}
	})
}

func TestPipelinedRequestsAreAnsweredInOrder(t *testing.T) {
	var mu sync.Mutex
	order := []string{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(20 * time.Millisecond)
		}
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		order = append(order, r.URL.Path)
		mu.Unlock()
		fmt.Fprintf(w, "%s:%s", r.URL.Path, body)
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		fmt.Fprintf(w, "%s:%s", r.Path(), r.Body)
	})
	raw := "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n1\r\nf\r\n0\r\n\r\n" +
		"GET /d HTTP/1.1\r\nHost: x\r\n\r\n"
	want := []string{"/slow:", "/b:abc", "/c:def", "/d:"}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				srv := &http1.Server{Handler: h}
				if style == "native" {
					srv = &http1.Server{Native: nat}
				}
				addr := start(t, engine, srv)
				got := exchange(t, addr, raw, "GET", "POST", "POST", "GET")
				for i, r := range got {
					if r.status != 200 || r.body != want[i] {
						t.Errorf("response %d: %d %q; want 200 %q", i, r.status, r.body, want[i])
					}
				}
			})
		}
	})
}

func TestRequestFieldsMatchNetHTTP(t *testing.T) {
	var got *http.Request
	var gotBody []byte
	done := make(chan struct{}, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotBody, _ = io.ReadAll(r.Body)
		got = r
		if _, ok := r.Context().Value(http.LocalAddrContextKey).(interface{ Network() string }); !ok {
			t.Error("no LocalAddrContextKey in the request context")
		}
		done <- struct{}{}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		raw := "POST /p/a%20th?q=1&r=2 HTTP/1.1\r\nHost: example.com:8080\r\nX-Multi: a\r\nx-multi: b\r\n" +
			"Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\nPragma: no-cache\r\nConnection: keep-alive\r\n\r\n" +
			"5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"
		exchange(t, addr, raw, "POST")
		<-done
		r := got
		checks := []struct {
			name      string
			got, want any
		}{
			{"Method", r.Method, "POST"},
			{"Path", r.URL.Path, "/p/a th"},
			{"RawQuery", r.URL.RawQuery, "q=1&r=2"},
			{"RequestURI", r.RequestURI, "/p/a%20th?q=1&r=2"},
			{"Host", r.Host, "example.com:8080"},
			{"Proto", r.Proto, "HTTP/1.1"},
			{"ContentLength", r.ContentLength, int64(-1)},
			{"TransferEncoding", fmt.Sprint(r.TransferEncoding), "[chunked]"},
			{"X-Multi", fmt.Sprint(r.Header["X-Multi"]), "[a b]"},
			{"Host header", r.Header.Get("Host"), ""},
			{"Transfer-Encoding header", r.Header.Get("Transfer-Encoding"), ""},
			{"Cache-Control (from Pragma)", r.Header.Get("Cache-Control"), "no-cache"},
			{"Trailer", fmt.Sprint(r.Trailer), "map[X-Sum:[42]]"},
			{"Body", string(gotBody), "hello"},
			{"Close", r.Close, false},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
			}
		}
		if !strings.HasPrefix(r.RemoteAddr, "127.0.0.1:") {
			t.Errorf("RemoteAddr = %q", r.RemoteAddr)
		}
	})
}

func TestLargeUploadStreamsThroughTheBodyPipe(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.New()
		n, err := io.Copy(sum, r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Fprintf(w, "%d %x", n, sum.Sum(nil))
	})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	want := fmt.Sprintf("%d %x", len(payload), sha256.Sum256(payload))
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		cl := client(t)
		for _, chunked := range []bool{false, true} {
			var body io.Reader = bytes.NewReader(payload)
			if chunked {
				body = io.MultiReader(body) // hides the length: the client sends it chunked
			}
			resp, err := cl.Post("http://"+addr+"/", "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != want {
				t.Fatalf("chunked=%v: got %q; want %q", chunked, b, want)
			}
		}
	})
}

func TestResponseFraming(t *testing.T) {
	big := strings.Repeat("x", 5000)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			io.WriteString(w, "<html>small</html>")
		case "/big":
			io.WriteString(w, big)
		case "/flushed":
			io.WriteString(w, "a")
			w.(http.Flusher).Flush()
			io.WriteString(w, "b")
		case "/declared":
			w.Header().Set("Content-Length", "5000")
			io.WriteString(w, big)
		case "/nocontent":
			w.WriteHeader(204)
		case "/trailers":
			w.Header().Set("Trailer", "X-Checksum")
			io.WriteString(w, "body")
			w.Header().Set("X-Checksum", "abc")
			w.Header().Set(http.TrailerPrefix+"X-Late", "late")
		}
	})
	cases := []struct {
		path, method string
		status       int
		cl           string // Content-Length header, "" for none
		te           string // Transfer-Encoding, "" for none
		ctype        string
		body         string
	}{
		{"/small", "GET", 200, "18", "", "text/html; charset=utf-8", "<html>small</html>"},
		{"/small", "HEAD", 200, "18", "", "text/html; charset=utf-8", ""},
		{"/big", "GET", 200, "", "chunked", "text/plain; charset=utf-8", big},
		{"/flushed", "GET", 200, "", "chunked", "text/plain; charset=utf-8", "ab"},
		{"/declared", "GET", 200, "5000", "", "text/plain; charset=utf-8", big},
		{"/nocontent", "GET", 204, "", "", "", ""},
		{"/trailers", "GET", 200, "", "chunked", "text/plain; charset=utf-8", "body"},
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		for _, c := range cases {
			r := exchange(t, addr, c.method+" "+c.path+" HTTP/1.1\r\nHost: x\r\n\r\n", c.method)[0]
			if r.status != c.status || r.header.Get("Content-Length") != c.cl || r.header.Get("Transfer-Encoding") != c.te ||
				r.header.Get("Content-Type") != c.ctype || r.body != c.body {
				t.Errorf("%s %s: %d CL=%q TE=%q CT=%q body %d bytes; want %d CL=%q TE=%q CT=%q body %d bytes",
					c.method, c.path, r.status, r.header.Get("Content-Length"), r.header.Get("Transfer-Encoding"),
					r.header.Get("Content-Type"), len(r.body), c.status, c.cl, c.te, c.ctype, len(c.body))
			}
			if c.path == "/trailers" && (r.header.Get("Trailer-Value-X-Checksum") != "abc" || r.header.Get("Trailer-Value-X-Late") != "late") {
				t.Errorf("trailers: %v", r.header)
			}
		}
	})
}

func TestStreamingResponseArrivesBeforeTheHandlerEnds(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "first\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "second\n")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		resp, err := client(t).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		if line, err := br.ReadString('\n'); line != "first\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		release <- struct{}{}
		if rest, _ := io.ReadAll(br); string(rest) != "second\n" {
			t.Fatalf("rest %q", rest)
		}
	})
}

func TestExpectContinueIsSentWhenTheHandlerReadsTheBody(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "got %s", b)
			return
		}
		http.Error(w, "no", http.StatusForbidden)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		br := bufio.NewReader(c)
		io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		line, _ := br.ReadString('\n')
		if line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("first line %q; want 100 Continue", line)
		}
		br.ReadString('\n')
		io.WriteString(c, "data")
		r, err := readResponse(br, "POST")
		if err != nil || r.body != "got data" {
			t.Fatalf("%v %+v", err, r)
		}
		// A handler that answers without reading gets no 100, and the connection closes.
		c2 := dial(t, addr)
		io.WriteString(c2, "POST /deny HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
		out := string(waitClosed(t, c2, 5*time.Second))
		if !strings.HasPrefix(out, "HTTP/1.1 403") || !strings.Contains(out, "Connection: close") {
			t.Fatalf("got %q", out)
		}
	})
}

func TestInformationalResponses(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "done")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, hdr textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprint(code, hdr["Link"]))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), "GET", "http://"+addr+"/", nil)
		resp, err := client(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "done" || len(hints) != 1 || hints[0] != "103 [</style.css>; rel=preload]" {
			t.Fatalf("body %q hints %q", b, hints)
		}
	})
}

func TestRequestContextIsCancelledWhenTheClientGoes(t *testing.T) {
	started := make(chan struct{})
	cancelled := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- errors.New("not cancelled")
		}
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		started = make(chan struct{})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		<-started
		c.Close()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
	})
}

func TestPanickingHandlerGets500AndTheServerGoesOn(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		io.WriteString(w, "ok")
	})
	nat := http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
		if string(r.Path()) == "/panic" {
			panic("boom")
		}
		w.WriteString("ok")
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				var logged syncLog
				srv := &http1.Server{Handler: h, ErrorLog: newLogger(&logged)}
				if style == "native" {
					srv = &http1.Server{Native: nat, ErrorLog: newLogger(&logged)}
				}
				addr := start(t, engine, srv)
				r := exchange(t, addr, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", "GET")[0]
				if r.status != 500 || !r.close {
					t.Fatalf("panic answered %d (close %v)", r.status, r.close)
				}
				if !strings.Contains(logged.String(), "panic serving") || !strings.Contains(logged.String(), "boom") {
					t.Fatalf("log: %q", logged.String())
				}
				if r := exchange(t, addr, "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n", "GET")[0]; r.status != 200 || r.body != "ok" {
					t.Fatalf("after the panic: %d %q", r.status, r.body)
				}
			})
		}
	})
}

func TestResponseControllerDeadlines(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		if err := rc.SetWriteDeadline(time.Time{}); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		if err := rc.EnableFullDuplex(); err != nil {
			t.Errorf("EnableFullDuplex: %v", err)
		}
		fmt.Fprintf(w, "read: %v", errors.Is(err, os.ErrDeadlineExceeded))
		rc.Flush()
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.body != "read: true" {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func TestReadTimeoutBoundsBodyReads(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "timeout: %v", errors.Is(err, os.ErrDeadlineExceeded))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		addr := start(t, engine, &http1.Server{Handler: h, ReadTimeout: 100 * time.Millisecond})
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil || r.body != "timeout: true" {
			t.Fatalf("%v %+v", err, r)
		}
	})
}

func TestHTTP10KeepAliveAndClose(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				addr := start(t, engine, serverFor(style))
				r := exchange(t, addr, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n", "GET", "GET")
				if r[0].proto != "HTTP/1.0" || r[0].header.Get("Connection") != "keep-alive" || r[0].close {
					t.Fatalf("first: %+v", r[0])
				}
				if !r[1].close || r[1].body != "Hello, World!" {
					t.Fatalf("second: %+v", r[1])
				}
			})
		}
	})
}

// An HTTP/1.0 request that names both keep-alive and close asks for the close (RFC 9112 §9.6: the
// server MUST close after its response): the response does not say keep-alive, and the connection
// ends. net/http answers "Connection: keep-alive" and keeps it, as http1's net/http path did (session
// 31's differential test); the native path closed it.
func TestHTTP10KeepAliveWithCloseCloses(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			for _, conn := range []string{"keep-alive, close", "close, keep-alive"} {
				t.Run(style+"/"+conn, func(t *testing.T) {
					addr := start(t, engine, serverFor(style))
					c := dial(t, addr)
					io.WriteString(c, "GET / HTTP/1.0\r\nConnection: "+conn+"\r\n\r\n")
					br := bufio.NewReader(c)
					r, err := readResponse(br, "GET")
					if err != nil || r.body != "Hello, World!" {
						t.Fatalf("%v %+v", err, r)
					}
					if r.header.Get("Connection") == "keep-alive" {
						t.Errorf("the response says Connection: keep-alive: %+v", r.header)
					}
					if n := br.Buffered(); n != 0 {
						t.Errorf("%d bytes after the response", n)
					}
					if rest := waitClosed(t, c, 10*time.Second); len(rest) != 0 {
						t.Errorf("after the response: %q", rest)
					}
				})
			}
		}
	})
}

func TestServerIsAnEddyHandler(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				srv := serverFor(style)
				e, err := eddy.New(srv, []string{"tcp://127.0.0.1:0"}, eddy.WithEngine(engine), eddy.WithLoops(1))
				if err != nil {
					t.Fatal(err)
				}
				if err := e.Start(); err != nil {
					t.Fatal(err)
				}
				c := dial(t, e.Addrs()[0].String())
				io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
				r, err := readResponse(bufio.NewReader(c), "GET")
				if err != nil || r.status != 200 || r.body != "Hello, World!" {
					t.Errorf("%v %+v", err, r)
				}
				c.Close()                                                  // or the engine's graceful stop waits for the client's FIN
				if err := srv.Shutdown(context.Background()); err != nil { // drains requests, stops the pool
					t.Error(err)
				}
				if err := e.Stop(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
	})
}

// TestBlockedHandlerDoesNotHoldUpOthers checks that the requests a loop hands to the pool in one
// batch do not wait for a handler of the batch that blocks: one connection's handler blocks until
// every other connection of the same loop has its answer.
func TestBlockedHandlerDoesNotHoldUpOthers(t *testing.T) {
	const others = 16
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		release := make(chan struct{})
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/block" {
				<-release
			}
			io.WriteString(w, r.URL.Path)
		})
		addr := start(t, engine, &http1.Server{Handler: h, Loops: 1})
		for round := range 2 {
			blocked := dial(t, addr)
			conns := make([]net.Conn, others)
			for i := range conns {
				conns[i] = dial(t, addr)
			}
			// Round 0: the blocking request first, alone; round 1: all at once, so that they
			// may arrive in one loop iteration, the blocking one in the middle.
			if round == 0 {
				io.WriteString(blocked, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
				time.Sleep(10 * time.Millisecond)
			}
			for i, c := range conns {
				if round == 1 && i == others/2 {
					io.WriteString(blocked, "GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
				}
				fmt.Fprintf(c, "GET /fast%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
			}
			for i, c := range conns {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				r, err := readResponse(bufio.NewReader(c), "GET")
				if err != nil || r.body != fmt.Sprintf("/fast%d", i) {
					t.Fatalf("round %d, connection %d: %v %+v", round, i, err, r)
				}
			}
			release <- struct{}{}
			if r, err := readResponse(bufio.NewReader(blocked), "GET"); err != nil || r.body != "/block" {
				t.Fatalf("round %d, blocked connection: %v %+v", round, err, r)
			}
		}
	})
}

// TestHigherMinorVersionIsServedAsHTTP11: RFC 9110 §2.5: a recipient of a message with a major
// version it implements and a higher minor version SHOULD process it as the highest minor version
// it conforms to, and §15.6.6 keeps 505 for a major version the server does not support. As
// net/http does, "HTTP/1.2" is served as HTTP/1.1, and Request.Proto says what was sent.
func TestHigherMinorVersionIsServedAsHTTP11(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %d %v", r.Proto, r.ProtoMinor, r.ProtoAtLeast(1, 1))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		r := exchange(t, start(t, engine, &http1.Server{Handler: h}), "GET / HTTP/1.2\r\nHost: x\r\n\r\n", "GET")[0]
		if r.status != 200 || r.proto != "HTTP/1.1" || r.body != "HTTP/1.2 2 true" || r.close {
			t.Fatalf("HTTP/1.2 request answered %s %d close=%v %q; want HTTP/1.1 200, kept alive, \"HTTP/1.2 2 true\", as net/http does",
				r.proto, r.status, r.close, r.body)
		}
		r = exchange(t, start(t, engine, &http1.Server{Native: helloNative}), "GET / HTTP/1.2\r\nHost: x\r\n\r\n", "GET")[0]
		if r.status != 200 || r.proto != "HTTP/1.1" || r.close {
			t.Fatalf("native: HTTP/1.2 request answered %s %d close=%v", r.proto, r.status, r.close)
		}
		r = exchange(t, start(t, engine, &http1.Server{Handler: h}), "GET / HTTP/2.0\r\nHost: x\r\n\r\n", "GET")[0]
		if r.status != 505 {
			t.Fatalf("HTTP/2.0 request answered %d; want 505", r.status)
		}
	})
}
