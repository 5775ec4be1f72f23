package http1_test

// A reverse proxy built the way a user would deploy one: an http1.Server whose net/http handler
// forwards each request with an http1.Transport (httputil.ReverseProxy with Transport set to eddy's,
// and a hand-written forwarder on RoundTripAsync), in front of a backend that is an http1.Server or a
// net/http server, on every engine, held against the same proxy built on net/http's server and
// Transport.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

var (
	proxyBig = flag.Bool("http1.proxybig", false, "stream 64 MiB through the reverse proxy in TestProxy* (4 MiB otherwise)")
	proxyAll = flag.Bool("http1.proxyall", false, "run each TestProxy* on every engine with every backend and proxy form (one form per engine otherwise)")
)

// proxyBodySize is the size of the bodies streamed through the proxy.
func proxyBodySize() int64 {
	if *proxyBig {
		return 64 << 20
	}
	return 4 << 20
}

// patternReader yields the bytes of the test pattern from offset 0 to n.
type patternReader struct{ off, n int64 }

func patternByte(i int64) byte { return byte(i*7 + i>>11) }

// patternPeriod is the period of patternByte: i*7 repeats every 256 bytes, i>>11 (mod 256) every
// 512 KiB.
const patternPeriod = 1 << 19

// patternTable is one period of the pattern. patternReader and checkPattern copy and compare runs
// of it: under -race a byte computed or checked in a loop is a call into the race runtime each
// (seconds for the MiBs each proxy test streams), a copy or a compare is one.
var patternTable = sync.OnceValue(func() []byte {
	b := make([]byte, patternPeriod)
	for i := range b {
		b[i] = patternByte(int64(i))
	}
	return b
})

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	k := int(min(int64(len(b)), p.n-p.off))
	table := patternTable()
	for done := 0; done < k; {
		done += copy(b[done:k], table[(p.off+int64(done))%patternPeriod:])
	}
	p.off += int64(k)
	return k, nil
}

// checkPattern reads r to its end and reports how many bytes were read and the first mismatch.
func checkPattern(r io.Reader, read *atomic.Int64) (int64, error) {
	buf := make([]byte, 64<<10)
	table := patternTable()
	var off int64
	for {
		n, err := r.Read(buf)
		for done := 0; done < n; {
			want := table[(off+int64(done))%patternPeriod:]
			k := min(n-done, len(want))
			if got := buf[done : done+k]; !bytes.Equal(got, want[:k]) {
				for i := range k {
					if at := off + int64(done+i); got[i] != want[i] {
						return at, fmt.Errorf("byte %d is %#x, want %#x", at, got[i], patternByte(at))
					}
				}
			}
			done += k
		}
		off += int64(n)
		if read != nil {
			read.Add(int64(n))
		}
		if err == io.EOF {
			return off, nil
		}
		if err != nil {
			return off, err
		}
	}
}

// proxyBackend is the backend's handler and what it saw.
type proxyBackend struct {
	mu       sync.Mutex
	remotes  map[string]bool // connections the backend served requests on
	written  atomic.Int64    // body bytes written by /down
	slowDone chan error      // /slow's context error, once it ends
	release  chan struct{}   // /hold waits for it
	holding  atomic.Int64    // /hold requests waiting
	sunk     atomic.Int64    // body bytes read by /sink
	open     atomic.Int64    // connections open, for a net/http backend (ConnState)
}

func newProxyBackend() *proxyBackend {
	return &proxyBackend{remotes: map[string]bool{}, slowDone: make(chan error, 16), release: make(chan struct{})}
}

func (b *proxyBackend) conns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.remotes)
}

func (b *proxyBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.remotes[r.RemoteAddr] = true
	b.mu.Unlock()
	q := r.URL.Query()
	switch r.URL.Path {
	case "/down":
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		if q.Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		}
		buf := make([]byte, 32<<10)
		p := &patternReader{n: n}
		for {
			k, _ := p.Read(buf)
			if k == 0 {
				return
			}
			if _, err := w.Write(buf[:k]); err != nil {
				return
			}
			b.written.Add(int64(k))
		}
	case "/up":
		var read atomic.Int64
		if q.Get("slow") != "" { // read 1 MiB, then wait for release and drop the rest
			io.CopyN(io.Discard, r.Body, 1<<20)
			<-b.release
			io.Copy(io.Discard, r.Body)
			return
		}
		n, err := checkPattern(r.Body, &read)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %v %q", n, r.TransferEncoding, r.Trailer.Get("X-Req-Sum"))
	case "/trailer":
		w.Header().Set("Trailer", "X-Sum")
		h := sha256.New()
		for i := range 50 {
			chunk := strings.Repeat(strconv.Itoa(i), 1000)
			io.WriteString(h, chunk)
			io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", fmt.Sprintf("%x", h.Sum(nil)))
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	case "/slow":
		w.Header().Set("Content-Type", "application/octet-stream")
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-r.Context().Done():
				b.slowDone <- r.Context().Err()
				return
			case <-t.C:
			}
			w.Write(make([]byte, 1024))
			w.(http.Flusher).Flush()
		}
	case "/reset":
		n := 100 << 10
		if q.Get("cl") != "" {
			w.Header().Set("Content-Length", strconv.Itoa(2*n))
		}
		io.Copy(w, &patternReader{n: int64(n)})
		w.(http.Flusher).Flush()
		time.Sleep(20 * time.Millisecond)
		panic(http.ErrAbortHandler) // the connection is cut in the middle of the body
	case "/wait": // no answer until the request is cancelled
		<-r.Context().Done()
		b.slowDone <- r.Context().Err()
	case "/sink": // reads the body until it fails
		buf := make([]byte, 32<<10)
		for {
			n, err := r.Body.Read(buf)
			b.sunk.Add(int64(n))
			if err != nil {
				b.slowDone <- err
				return
			}
		}
	case "/status":
		code, _ := strconv.Atoi(q.Get("code"))
		if code == http.StatusNotModified {
			w.Header().Set("Etag", `"x"`)
		}
		w.WriteHeader(code)
		io.WriteString(w, "not found")
	case "/bighead":
		w.Header().Set("X-Big", r.Header.Get("X-Big"))
	case "/events": // one event at once, the next once released
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-b.release
		io.WriteString(w, "data: two\n\n")
	case "/hold":
		b.holding.Add(1)
		<-b.release
		io.WriteString(w, "held "+q.Get("i"))
	case "/early":
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "ok")
	case "/echo":
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q", r.Method, body)
	default:
		io.WriteString(w, "hello "+r.URL.Path)
	}
}

// proxyRig is a backend, a proxy in front of it, and what they saw.
type proxyRig struct {
	name       string
	engine     eddy.EngineKind // "" for net/http's proxy
	backend    *proxyBackend
	backendURL string
	proxyURL   string
	proxySrv   *http1.Server // nil for net/http's proxy
	refSrv     *httptest.Server
	eddyTr     *http1.Transport
	netBackend bool     // the backend is a net/http server, which counts its connections
	clientRem  sync.Map // connections of the client to the proxy
}

// forEachProxy runs fn on the combinations of each scenario: backend (http1 or net/http server), proxy
// (ReverseProxy or the hand-written forwarder on eddy's server and Transport, or net/http's
// ReverseProxy as the reference), on each engine.
func forEachProxy(t *testing.T, fn func(t *testing.T, rig *proxyRig)) {
	type form struct{ backend, proxy string }
	forms := []form{{"http1", "reverseproxy"}, {"nethttp", "async"}, {"nethttp", "reverseproxy"}, {"http1", "async"}}
	// By default each engine gets one of the four forms, which ones turning with the test's name,
	// so that the suite covers them all in a quarter of the time; -http1.proxyall runs each on all.
	turn := int(crc32.ChecksumIEEE([]byte(t.Name())))
	for i, e := range testEngines() {
		for j, f := range forms {
			if !*proxyAll && j != (i+turn)%len(forms) {
				continue
			}
			name := string(e) + "/" + f.backend + "/" + f.proxy
			t.Run(name, func(t *testing.T) { fn(t, newProxyRig(t, name, e, f.backend, f.proxy)) })
		}
	}
	t.Run("reference", func(t *testing.T) { fn(t, newProxyRig(t, "reference", "", "nethttp", "nethttp")) })
	skipMissingUring(t)
}

// newProxyRig starts a backend and a proxy, stopped when the test ends.
func newProxyRig(t *testing.T, name string, engine eddy.EngineKind, backend, proxy string) *proxyRig {
	rig := &proxyRig{name: name, engine: engine, backend: newProxyBackend()}
	t.Cleanup(func() {
		select {
		case <-rig.backend.release:
		default:
			close(rig.backend.release)
		}
	})
	if backend == "http1" {
		srv := &http1.Server{Handler: rig.backend}
		rig.backendURL = "http://" + start(t, engine, srv)
	} else {
		ts := httptest.NewUnstartedServer(rig.backend)
		ts.Config.ErrorLog = newLogger(io.Discard)
		ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				rig.backend.open.Add(1)
			case http.StateClosed, http.StateHijacked:
				rig.backend.open.Add(-1)
			}
		}
		rig.netBackend = true
		ts.Start()
		t.Cleanup(ts.Close)
		rig.backendURL = ts.URL
	}
	target, _ := url.Parse(rig.backendURL)
	var rt http.RoundTripper
	if proxy == "nethttp" {
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		t.Cleanup(tr.CloseIdleConnections)
		rt = tr
	} else {
		// At most 32 connections, so that TestProxyConcurrent's other requests wait in line. It is set
		// here, before the proxy serves: set by the test, under -race, the write and the proxy's reads
		// had no happens-before edge (a socket is none for eddy's engines: see docs/engine.md).
		tr := &http1.Transport{Engine: engine, Loops: 1, MaxConnsPerHost: 32}
		t.Cleanup(func() { tr.Close() })
		rig.eddyTr, rt = tr, tr
	}
	var h http.Handler
	if proxy == "async" {
		h = asyncForwarder(rig.eddyTr, target)
	} else {
		rp := httputil.NewSingleHostReverseProxy(target)
		rp.Transport = rt
		rp.ErrorLog = newLogger(io.Discard)
		h = rp
	}
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rig.clientRem.Store(r.RemoteAddr, true)
		h.ServeHTTP(w, r)
	})
	if proxy == "nethttp" {
		ts := httptest.NewUnstartedServer(counted)
		ts.Config.ErrorLog = newLogger(io.Discard)
		ts.Start()
		t.Cleanup(ts.Close)
		rig.refSrv = ts
		rig.proxyURL = ts.URL
	} else {
		rig.proxySrv = &http1.Server{Handler: counted, ErrorLog: newLogger(io.Discard)}
		rig.proxyURL = "http://" + start(t, engine, rig.proxySrv)
	}
	return rig
}

// shutdown shuts the proxy down gracefully.
func (rig *proxyRig) shutdown(ctx context.Context) error {
	if rig.proxySrv != nil {
		return rig.proxySrv.Shutdown(ctx)
	}
	return rig.refSrv.Config.Shutdown(ctx)
}

// hopHeaders are the hop-by-hop fields a proxy does not forward (RFC 9110 §7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

// asyncForwarder is a forwarder written by hand on RoundTripAsync: the response's future is awaited
// with the request's context, and the body streamed back, with a flush after each read when its
// length is unknown (as httputil.ReverseProxy flushes). Flushing a response of known length too
// sent its head before the handler returned: an early refusal (413) of a large upload then went
// out without "Connection: close" (http1 keeps the body readable after the head: doc.go), the
// connection closed behind it for the body left unread, and the client, which had reused it for
// its next request, got EOF.
func asyncForwarder(tr *http1.Transport, target *url.URL) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Interim responses go to the client as they come, before the final one (the hook runs on
		// the Transport's loop while this goroutine waits for the final response).
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			maps.Copy(w.Header(), http.Header(h))
			w.WriteHeader(code)
			clear(w.Header())
			return nil
		}}
		out := r.Clone(httptrace.WithClientTrace(r.Context(), trace))
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = target.Scheme, target.Host
		if r.ContentLength == 0 {
			out.Body = nil
		}
		for _, k := range hopHeaders {
			out.Header.Del(k)
		}
		f := tr.RoundTripAsync(out)
		resp, err := f.Await(r.Context())
		if err != nil {
			f.Cancel()
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for _, k := range hopHeaders {
			resp.Header.Del(k)
		}
		for k, vv := range resp.Header {
			w.Header()[k] = vv
		}
		for k := range resp.Trailer {
			w.Header().Add("Trailer", k)
		}
		w.WriteHeader(resp.StatusCode)
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					panic(http.ErrAbortHandler)
				}
				if resp.ContentLength == -1 {
					w.(http.Flusher).Flush()
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				panic(http.ErrAbortHandler) // the client must see the response cut short
			}
		}
		for k, vv := range resp.Trailer {
			w.Header()[k] = vv
		}
	})
}

// proxyClient returns a net/http client for the proxy, its idle connections closed at the end.
func proxyClient(t *testing.T) (*http.Client, *http.Transport) {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}, tr
}

func TestProxyDownload(t *testing.T) {
	n := proxyBodySize()
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for _, chunked := range []bool{false, true} {
			u := fmt.Sprintf("%s/down?n=%d", rig.proxyURL, n)
			if chunked {
				u += "&chunked=1"
			}
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			got, err := checkPattern(resp.Body, nil)
			resp.Body.Close()
			if err != nil || got != n {
				t.Fatalf("chunked=%v: read %d of %d bytes: %v", chunked, got, n, err)
			}
		}
		k := 0
		rig.clientRem.Range(func(any, any) bool { k++; return true })
		if k != 1 || rig.backend.conns() != 1 {
			t.Errorf("client connections %d, backend connections %d; want 1 and 1", k, rig.backend.conns())
		}
	})
}

func TestProxyUpload(t *testing.T) {
	n := proxyBodySize()
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for _, chunked := range []bool{false, true} {
			req, _ := http.NewRequest("POST", rig.proxyURL+"/up", io.NopCloser(&patternReader{n: n}))
			if !chunked {
				req.ContentLength = n
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.HasPrefix(string(b), strconv.FormatInt(n, 10)+" ") {
				t.Fatalf("chunked=%v: %d %q", chunked, resp.StatusCode, b)
			}
		}
	})
}

func TestProxyTrailers(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		resp, err := c.Get(rig.proxyURL + "/trailer")
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		_, err = io.Copy(h, resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if got, want := resp.Trailer.Get("X-Sum"), fmt.Sprintf("%x", h.Sum(nil)); got != want {
			t.Errorf("X-Sum trailer %q, want %q (trailer %v, te %v)", got, want, resp.Trailer, resp.TransferEncoding)
		}
		if got := resp.Trailer.Get("X-Late"); got != "late" && rig.name != "reference" && !strings.HasSuffix(rig.name, "async") {
			t.Errorf("X-Late trailer %q (trailer %v)", got, resp.Trailer)
		}
	})
}

// waitFor waits until cond holds (at most 10 s), failing the test with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProxyClientCancel(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for _, path := range []string{"/slow", "/wait"} {
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "GET", rig.proxyURL+path, nil)
			if path == "/slow" { // cancelled in the middle of the body
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(resp.Body, make([]byte, 8<<10)); err != nil {
					t.Fatal(err)
				}
				cancel()
				resp.Body.Close()
			} else { // cancelled before the head
				go func() {
					time.Sleep(50 * time.Millisecond)
					cancel()
				}()
				if resp, err := c.Do(req); err == nil {
					resp.Body.Close()
					t.Fatalf("%s: a response, %d", path, resp.StatusCode)
				}
			}
			select {
			case err := <-rig.backend.slowDone:
				if err == nil {
					t.Fatalf("%s: the backend's context ended without an error", path)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: the backend's handler did not see its context done", path)
			}
			if rig.netBackend {
				waitFor(t, "the backend's connections to close", func() bool { return rig.backend.open.Load() == 0 })
			}
		}
	})
}

func TestProxyBackendReset(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for _, cl := range []bool{false, true} {
			u := rig.proxyURL + "/reset"
			if cl {
				u += "?cl=1"
			}
			resp, err := c.Get(u)
			if err != nil {
				t.Fatalf("cl=%v: %v", cl, err)
			}
			n, err := checkPattern(resp.Body, nil)
			resp.Body.Close()
			if err == nil {
				t.Errorf("cl=%v: the response cut short by the backend reached the client whole (%d bytes, te %v, length %d)", cl, n, resp.TransferEncoding, resp.ContentLength)
			}
		}
	})
}

func TestProxyKeepAlive(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for i := range 20 {
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = c.Get(rig.proxyURL + "/x")
			} else {
				resp, err = c.Post(rig.proxyURL+"/echo", "text/plain", strings.NewReader("body"))
			}
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		n := 0
		rig.clientRem.Range(func(any, any) bool { n++; return true })
		if n != 1 || rig.backend.conns() != 1 {
			t.Errorf("client connections %d, backend connections %d; want 1 and 1", n, rig.backend.conns())
		}
	})
}

func TestProxyInterim(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		c.Transport.(*http.Transport).ExpectContinueTimeout = 10 * time.Second
		var got100 atomic.Bool
		trace := &httptrace.ClientTrace{Got100Continue: func() { got100.Store(true) }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "POST", rig.proxyURL+"/echo", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != `POST "payload"` || !got100.Load() {
			t.Errorf("100-continue: body %q, got 100 %v", b, got100.Load())
		}

		var early []string
		trace = &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			early = append(early, fmt.Sprint(code, " ", h.Get("Link")))
			return nil
		}}
		req, _ = http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", rig.proxyURL+"/early", nil)
		resp, err = c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := "103 </style.css>; rel=preload"; string(b) != "ok" || len(early) != 1 || early[0] != want {
			t.Errorf("103: body %q, interim responses %q, want %q", b, early, want)
		}
	})
}

func TestProxyShutdown(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		const n = 8
		errs := make(chan error, n)
		for i := range n {
			go func() {
				resp, err := c.Get(fmt.Sprintf("%s/hold?i=%d", rig.proxyURL, i))
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && string(b) != fmt.Sprint("held ", i) {
					err = fmt.Errorf("body %q", b)
				}
				errs <- err
			}()
		}
		waitFor(t, "the requests to reach the backend", func() bool { return rig.backend.holding.Load() == n })
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done <- rig.shutdown(ctx)
		}()
		time.Sleep(50 * time.Millisecond)
		close(rig.backend.release)
		for range n {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
}

func TestProxyConcurrent(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		const n = 500
		tr := &http.Transport{MaxIdleConnsPerHost: n}
		defer tr.CloseIdleConnections()
		c := &http.Client{Transport: tr, Timeout: 60 * time.Second}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var resp *http.Response
				var err error
				want := fmt.Sprintf("hello /p%d", i)
				if i%2 == 0 {
					resp, err = c.Get(fmt.Sprintf("%s/p%d", rig.proxyURL, i))
				} else { // a streamed body: the server's request body has no GetBody
					size := int64(1<<10 + i*10)
					resp, err = c.Post(rig.proxyURL+"/up", "", io.NopCloser(&patternReader{n: size}))
					want = fmt.Sprintf("%d [chunked] \"\"", size)
				}
				if err != nil {
					errs <- err
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err == nil && string(b) != want {
					err = fmt.Errorf("%d: %d %q, want %q", i, resp.StatusCode, b, want)
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		k := 0
		for err := range errs {
			if k++; k <= 5 {
				t.Error(err)
			}
		}
		if k > 0 {
			t.Errorf("%d of %d requests failed", k, n)
		}
		if rig.eddyTr != nil && rig.backend.conns() > 32 {
			t.Errorf("%d connections to the backend, MaxConnsPerHost 32", rig.backend.conns())
		}
	})
}

func TestProxyBodiless(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		for _, tc := range []struct{ method, path, want string }{
			{"HEAD", "/down?n=1000", "200 1000 "},
			{"HEAD", "/down?n=1000&chunked=1", "200 1000 "},
			{"GET", "/status?code=204", "204 0 "},
			{"GET", "/status?code=304", "304 0 "},
			{"GET", "/status?code=404", "404 9 not found"},
		} {
			req, _ := http.NewRequest(tc.method, rig.proxyURL+tc.path, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			got := fmt.Sprint(resp.StatusCode, " ", resp.ContentLength, " ", string(b))
			if err != nil || got != tc.want {
				t.Errorf("%s %s: %q %v, want %q", tc.method, tc.path, got, err, tc.want)
			}
		}
		n := 0
		rig.clientRem.Range(func(any, any) bool { n++; return true })
		if n != 1 || rig.backend.conns() != 1 {
			t.Errorf("client connections %d, backend connections %d; want 1 and 1", n, rig.backend.conns())
		}
	})
}

func TestProxyShutdownStreaming(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		n := proxyBodySize()
		resp, err := c.Get(fmt.Sprintf("%s/down?n=%d&chunked=1", rig.proxyURL, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done <- rig.shutdown(ctx)
		}()
		time.Sleep(50 * time.Millisecond)
		got, err := checkPattern(io.MultiReader(&patternReader{n: 1 << 20}, resp.Body), nil)
		resp.Body.Close()
		if err != nil || got != n {
			t.Errorf("read %d of %d bytes: %v", got, n, err)
		}
		if err := <-done; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if _, err := c.Get(rig.proxyURL + "/x"); err == nil {
			t.Error("a request after Shutdown was served")
		}
	})
}

func TestProxyHTTP10(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		addr := strings.TrimPrefix(rig.proxyURL, "http://")
		c := dial(t, addr)
		io.WriteString(c, "GET /down?n=5000&chunked=1 HTTP/1.0\r\nHost: x\r\n\r\n")
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(string(b))), nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := checkPattern(resp.Body, nil)
		if err != nil || got != 5000 || resp.Proto != "HTTP/1.1" && resp.Proto != "HTTP/1.0" {
			t.Errorf("read %d bytes: %v; %s %v", got, err, resp.Proto, resp.TransferEncoding)
		}
	})
}

// stalled waits until v has not moved for 300 ms (bounded) and returns it.
func stalled(t *testing.T, v *atomic.Int64) int64 {
	t.Helper()
	last, since := v.Load(), time.Now()
	deadline := time.Now().Add(20 * time.Second)
	for time.Since(since) < 300*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("still moving after 20 s: %d", v.Load())
		}
		time.Sleep(20 * time.Millisecond)
		if n := v.Load(); n != last {
			last, since = n, time.Now()
		}
	}
	return last
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestProxySlowReader(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		before := heapInUse()
		resp, err := c.Get(fmt.Sprintf("%s/down?n=%d&chunked=1", rig.proxyURL, max(proxyBodySize(), 64<<20)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		w := stalled(t, &rig.backend.written)
		grew := int64(heapInUse()) - int64(before)
		t.Logf("backend ahead of the reader by %d MiB, heap grew %d KiB", (w-1<<20)>>20, grew>>10)
		// What flow control leaves in flight: the kernel's socket buffers on both legs (4-6 MiB
		// each on loopback), the pipes, and on uring up to a socketful in the Transport's input.
		if w-1<<20 > 40<<20 || grew > 24<<20 {
			t.Errorf("the backend ran %d MiB ahead of a reader that stopped, the heap grew %d KiB", (w-1<<20)>>20, grew>>10)
		}
		resp.Body.Close()
	})
}

func TestProxySlowBackend(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		before := heapInUse()
		var sent atomic.Int64
		body := &countingReader{r: &patternReader{n: max(proxyBodySize(), 64<<20)}, n: &sent}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, "POST", rig.proxyURL+"/up?slow=1", body)
		done := make(chan error, 1)
		go func() {
			resp, err := c.Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
		s := stalled(t, &sent)
		grew := int64(heapInUse()) - int64(before)
		t.Logf("client ahead of the backend by %d MiB, heap grew %d KiB", (s-1<<20)>>20, grew>>10)
		if s-1<<20 > 40<<20 || grew > 24<<20 {
			t.Errorf("the client ran %d MiB ahead of a backend that stopped reading, the heap grew %d KiB", (s-1<<20)>>20, grew>>10)
		}
		cancel()
		close(rig.backend.release)
		<-done
	})
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func TestProxyUploadCancel(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		pr, pw := io.Pipe()
		req, _ := http.NewRequestWithContext(ctx, "POST", rig.proxyURL+"/sink", pr)
		done := make(chan error, 1)
		go func() {
			resp, err := c.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		if _, err := pw.Write(make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the backend to read 1 MiB", func() bool { return rig.backend.sunk.Load() >= 1<<20 })
		cancel()
		pw.CloseWithError(context.Canceled)
		if err := <-done; err == nil {
			t.Error("no error")
		}
		select {
		case err := <-rig.backend.slowDone:
			t.Logf("backend: %v", err)
		case <-time.After(10 * time.Second):
			t.Fatal("the backend's handler did not end")
		}
		if rig.netBackend {
			waitFor(t, "the backend's connections to close", func() bool { return rig.backend.open.Load() == 0 })
		}
	})
}

func TestProxyEarlyRefusal(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, tr := proxyClient(t)
		tr.ExpectContinueTimeout = 10 * time.Second
		for _, expect := range []bool{false, true} {
			for attempt := 1; ; attempt++ {
				req, _ := http.NewRequest("POST", rig.proxyURL+"/status?code=413", io.NopCloser(&patternReader{n: proxyBodySize()}))
				req.ContentLength = proxyBodySize()
				if expect {
					req.Header.Set("Expect", "100-continue")
				}
				resp, err := c.Do(req)
				// net/http's Transport, still writing the body when the peer's close resets the
				// connection, gives up unless it has read the answer within 50 ms of the failed
				// write (maxWriteWaitBeforeConnReuse). In the reference both the proxy's Transport
				// (a 502) and the client's (a broken pipe) are net/http's, and under load (a CI run)
				// each lost that race, about one time in two in some runs. That is not what this test is about; eddy's Transport reads
				// the answer beside the body, and eddy's server closes behind the answer.
				if rig.name == "reference" && attempt < 10 && (err != nil || resp.StatusCode == http.StatusBadGateway) {
					if err == nil {
						resp.Body.Close()
					}
					t.Logf("expect=%v: attempt %d: net/http failed (%v); again", expect, attempt, err)
					continue
				}
				if err != nil {
					t.Fatalf("expect=%v: %v", expect, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 413 || string(b) != "not found" {
					t.Errorf("expect=%v: %d %q", expect, resp.StatusCode, b)
				}
				break
			}
		}
		big := strings.Repeat("v", 60<<10)
		req, _ := http.NewRequest("GET", rig.proxyURL+"/bighead", nil)
		req.Header.Set("X-Big", big)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Big") != big {
			t.Errorf("big header: %d, %d bytes back", resp.StatusCode, len(resp.Header.Get("X-Big")))
		}
	})
}

// TestTransportRequestURI: a Transport ignores Request.RequestURI, as net/http's does (only
// http.Client refuses it). httputil.ReverseProxy hands its Transport a clone of the request its
// server received, RequestURI included: every request through it failed with 502.
func TestTransportRequestURI(t *testing.T) {
	backend := netHTTPRef(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Method, r.RequestURI)
	}), nil)
	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		in, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		out := in.Clone(context.Background())
		out.URL.Scheme, out.URL.Host = "http", backend
		for name, rt := range map[string]http.RoundTripper{"http1": tr, "net/http": &http.Transport{}} {
			resp, err := rt.RoundTrip(out)
			if err != nil {
				t.Fatalf("%s: RoundTrip with RequestURI %q: %v", name, out.RequestURI, err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "GET /a?b=c" {
				t.Errorf("%s: %q", name, b)
			}
			if tr, ok := rt.(*http.Transport); ok {
				tr.CloseIdleConnections()
			}
		}
	})
}

// TestServerContextKey: the request context carries http.ServerContextKey, which code under a
// server looks for (httputil.ReverseProxy: TestProxyBackendReset).
func TestServerContextKey(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		var logs syncLog
		srv := &http1.Server{ReadHeaderTimeout: 7 * time.Second, ErrorLog: newLogger(&logs)}
		srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server)
			if !ok || hs == nil {
				fmt.Fprintf(w, "no server: %v", r.Context().Value(http.ServerContextKey))
				return
			}
			hs.ErrorLog.Printf("logged through %s", hs.Addr)
			fmt.Fprintf(w, "%v %v", hs.ReadHeaderTimeout, hs.Handler != nil)
		})
		addr := start(t, engine, srv)
		resp, err := client(t).Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "7s true" {
			t.Errorf("handler saw %q", b)
		}
		if got := logs.String(); got != "logged through 127.0.0.1:0\n" {
			t.Errorf("the ErrorLog of the described server wrote %q to the server's log", got)
		}
	})
}

// TestTransportGot1xxResponse: interim responses are shown to the request's
// httptrace.ClientTrace, as net/http's Transport shows them, and an error from the hook fails the
// request. httputil.ReverseProxy passes 1xx responses (103 Early Hints) on through the hook: they
// were dropped.
func TestTransportGot1xxResponse(t *testing.T) {
	backend := netHTTPRef(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Set("Link", "</b.js>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "final")
	}), nil)
	forEachClientEngine(t, func(t *testing.T, tr *http1.Transport) {
		for name, rt := range map[string]http.RoundTripper{"http1": tr, "net/http": &http.Transport{}} {
			var got []string
			fail := errors.New("refused by the hook")
			for _, refuse := range []bool{false, true} {
				got = got[:0]
				trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
					got = append(got, fmt.Sprint(code, " ", h["Link"]))
					if refuse {
						return fail
					}
					return nil
				}}
				req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", "http://"+backend+"/", nil)
				resp, err := rt.RoundTrip(req)
				if refuse {
					if !errors.Is(err, fail) || len(got) != 1 {
						t.Errorf("%s: a hook that fails: %v, interim %q", name, err, got)
					}
					if err == nil {
						resp.Body.Close()
					}
					continue
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				want := []string{"103 [</a.css>; rel=preload]", "103 [</b.js>; rel=preload]"}
				if string(b) != "final" || !slices.Equal(got, want) {
					t.Errorf("%s: body %q, interim %q, want %q", name, b, got, want)
				}
			}
			if tr, ok := rt.(*http.Transport); ok {
				tr.CloseIdleConnections()
			}
		}
	})
}

// TestProxyRawBackendCut: a backend that resets its connection (SO_LINGER 0) in the middle of
// a body, or ends a body delimited by the close with a FIN, behind the proxy: the client sees the
// first cut short, the second whole.
func TestProxyRawBackendCut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err != nil {
					return
				}
				body := make([]byte, 100<<10)
				(&patternReader{n: int64(len(body))}).Read(body)
				switch req.URL.Path {
				case "/rst-length":
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 2*len(body))
				case "/rst-chunked":
					fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n", 2*len(body))
				case "/rst-eof", "/fin-eof":
					io.WriteString(c, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
				}
				c.Write(body)
				time.Sleep(20 * time.Millisecond)
				if strings.HasPrefix(req.URL.Path, "/rst") {
					c.(*net.TCPConn).SetLinger(0)
				}
			})
		}
	})
	backendURL := "http://" + ln.Addr().String()
	each := func(t *testing.T, proxyURL string) {
		c, _ := proxyClient(t)
		for _, path := range []string{"/rst-length", "/rst-chunked", "/rst-eof", "/fin-eof"} {
			resp, err := c.Get(proxyURL + path)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			n, err := checkPattern(resp.Body, nil)
			resp.Body.Close()
			// A cut-short response may lose the bytes the proxy still held when it aborted.
			if whole := path == "/fin-eof"; whole != (err == nil) || whole && n != 100<<10 {
				t.Errorf("%s: read %d bytes, error %v (te %v)", path, n, err, resp.TransferEncoding)
			}
		}
	}
	target, _ := url.Parse(backendURL)
	for _, e := range testEngines() {
		t.Run(string(e), func(t *testing.T) {
			tr := &http1.Transport{Engine: e, Loops: 1}
			defer tr.Close()
			rp := httputil.NewSingleHostReverseProxy(target)
			rp.Transport, rp.ErrorLog = tr, newLogger(io.Discard)
			srv := &http1.Server{Handler: rp, ErrorLog: newLogger(io.Discard)}
			each(t, "http://"+start(t, e, srv))
		})
	}
	skipMissingUring(t)
	t.Run("reference", func(t *testing.T) {
		rp := httputil.NewSingleHostReverseProxy(target)
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		rp.Transport, rp.ErrorLog = tr, newLogger(io.Discard)
		each(t, "http://"+netHTTPRef(t, rp, nil))
	})
}

// TestProxyEventStream: an event flushed by the backend reaches the client while the backend
// waits, before the response ends.
func TestProxyEventStream(t *testing.T) {
	forEachProxy(t, func(t *testing.T, rig *proxyRig) {
		c, _ := proxyClient(t)
		resp, err := c.Get(rig.proxyURL + "/events")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		br := bufio.NewReader(resp.Body)
		got := make(chan string, 1)
		go func() {
			line, _ := br.ReadString('\n')
			got <- line
		}()
		select {
		case line := <-got:
			if line != "data: one\n" {
				t.Errorf("first line %q", line)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the first event did not come through while the backend waited")
		}
		close(rig.backend.release)
		rest, err := io.ReadAll(br)
		if err != nil || string(rest) != "\ndata: two\n\n" {
			t.Errorf("rest %q, %v", rest, err)
		}
	})
}
