package http1_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// styles are the two ways a Server runs handlers.
var styles = []string{"nethttp", "native"}

// forEachEngine runs f as a subtest on every engine.
func forEachEngine(t *testing.T, f func(t *testing.T, engine eddy.EngineKind)) {
	for _, e := range testEngines() {
		t.Run(string(e), func(t *testing.T) { f(t, e) })
	}
	skipMissingUring(t)
}

// start starts srv on a loopback port with the given engine and stops it when the test ends. It
// returns the address.
func start(t testing.TB, engine eddy.EngineKind, srv *http1.Server) string {
	t.Helper()
	srv.Addr = "127.0.0.1:0"
	srv.Engine = engine
	if srv.Loops == 0 {
		srv.Loops = 2
	}
	if srv.ErrorLog == nil && srv.Logger == nil {
		srv.ErrorLog = log.New(testWriter{t}, "", 0)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
			srv.Close()
		}
	})
	return srv.Addrs()[0].String()
}

// testWriter sends a logger's output to the test log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// client returns an http.Client whose idle connections are closed when the test ends.
func client(t testing.TB) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 4}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// dial opens a raw connection closed when the test ends.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawResponse is a response read off the wire, with its body decoded.
type rawResponse struct {
	proto  string
	status int
	header http.Header
	body   string
	close  bool // the response asks for the connection to close
}

// readResponse reads one response to a request with the given method.
func readResponse(br *bufio.Reader, method string) (*rawResponse, error) {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	h := resp.Header.Clone()
	if len(resp.TransferEncoding) > 0 {
		h["Transfer-Encoding"] = resp.TransferEncoding
	}
	for k, vv := range resp.Trailer {
		h["Trailer-Value-"+k] = vv
	}
	return &rawResponse{proto: resp.Proto, status: resp.StatusCode, header: h, body: string(b), close: resp.Close}, nil
}

// exchange sends raw bytes and reads n responses to requests of the given methods.
func exchange(t testing.TB, addr, raw string, methods ...string) []*rawResponse {
	t.Helper()
	c := dial(t, addr)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out []*rawResponse
	for _, m := range methods {
		r, err := readResponse(br, m)
		if err != nil {
			t.Fatalf("reading response %d to %q: %v", len(out)+1, raw, err)
		}
		out = append(out, r)
	}
	return out
}

// waitClosed reads from c until EOF (or an error) and returns what was read.
func waitClosed(t testing.TB, c net.Conn, within time.Duration) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(within))
	var buf bytes.Buffer
	_, err := io.Copy(&buf, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v; read %q", within, buf.String())
	}
	return buf.Bytes()
}

// syncLog is a goroutine-safe log sink for checking what the server logged.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hello is the handler of most tests, in both styles.
var hello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "Hello, World!")
})

var helloNative = http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
	w.AddHeader("Content-Type", "text/plain; charset=utf-8")
	w.WriteString("Hello, World!")
})

// serverFor returns a server with the hello handler in the given style.
func serverFor(style string) *http1.Server {
	if style == "native" {
		return &http1.Server{Native: helloNative}
	}
	return &http1.Server{Handler: hello}
}

// newLogger returns a logger writing to w without prefixes.
func newLogger(w io.Writer) *log.Logger { return log.New(w, "", 0) }

// finalResponse reads responses to a request of the given method, skipping 1xx ones, and returns
// the final one.
func finalResponse(br *bufio.Reader, method string) (*rawResponse, error) {
	for {
		r, err := readResponse(br, method)
		if err != nil || r.status >= 200 {
			return r, err
		}
	}
}

// netHTTPRef starts a net/http server with h, for the tests that check their expectation against
// it, and returns its address.
func netHTTPRef(t *testing.T, h http.Handler, config func(*http.Server)) string {
	ref := httptest.NewUnstartedServer(h)
	ref.Config.ErrorLog = newLogger(io.Discard)
	if config != nil {
		config(ref.Config)
	}
	ref.Start()
	t.Cleanup(ref.Close)
	return ref.Listener.Addr().String()
}
