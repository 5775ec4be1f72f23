package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would: a subprocess on a loopback port, asked
// over HTTP with net/http's client and stopped with SIGTERM.

const ioTimeout = 20 * time.Second // bounds every request

func TestMain(m *testing.M) { progtest.Main(m) }

// TestHelloHTTP runs the server in each handler style on each engine, and checks GET / (status,
// headers, body), HEAD /, 404 for another path and 405 for another method, all on one kept-alive
// connection; then it stops the server with SIGTERM while that connection is idle and checks that
// the program exits with status 0 and without a shutdown error.
func TestHelloHTTP(t *testing.T) {
	progtest.NeedSIGTERM(t)
	prog := progtest.Build(t)
	for _, style := range []string{"native", "nethttp"} {
		for _, engine := range progtest.Engines() {
			t.Run(style+"/"+engine, func(t *testing.T) {
				p := progtest.Start(t, prog, "-addr", "127.0.0.1:0", "-engine", engine, "-style", style, "-loops", "2")
				m := p.WaitListening(t, engine, regexp.MustCompile(`hello-http: (\S+) style, (\S+) engine, listening on (\S+);`))
				if m[1] != style || m[2] != engine {
					t.Errorf("server runs the %s style on the %s engine, want %s on %s", m[1], m[2], style, engine)
				}
				c := newClient(t, "http://"+m[3])

				for i := range 3 {
					r := c.do(t, "GET", "/")
					if r.status != http.StatusOK || r.body != hello {
						t.Errorf("GET / #%d: %d %q, want 200 %q", i, r.status, r.body, hello)
					}
					if r.proto != "HTTP/1.1" {
						t.Errorf("GET / #%d: protocol %s, want HTTP/1.1", i, r.proto)
					}
					if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
						t.Errorf("GET / #%d: Content-Type %q", i, ct)
					}
					if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(hello)) {
						t.Errorf("GET / #%d: Content-Length %q, want %d", i, cl, len(hello))
					}
				}
				if r := c.do(t, "HEAD", "/"); r.status != http.StatusOK || r.body != "" {
					t.Errorf("HEAD /: %d %q, want 200 and no body", r.status, r.body)
				}
				if r := c.do(t, "GET", "/missing"); r.status != http.StatusNotFound || r.body != "404 page not found\n" {
					t.Errorf("GET /missing: %d %q, want 404", r.status, r.body)
				}
				r := c.do(t, "POST", "/")
				if r.status != http.StatusMethodNotAllowed {
					t.Errorf("POST /: %d %q, want 405", r.status, r.body)
				}
				if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
					t.Errorf("POST /: Allow %q, want GET in it", allow)
				}
				if c.opened != 1 {
					t.Errorf("the client opened %d connections for %d requests, want 1: keep-alive is broken", c.opened, c.requests)
				}

				// Stop with the kept-alive connection idle in the client's pool.
				p.Stop(t)
				if out := p.Output(); strings.Contains(out, "shutdown") {
					t.Errorf("the stop reported an error; output:\n%s", out)
				}
			})
		}
	}
}

// client sends requests to one server and counts the connections it opens.
type client struct {
	base     string
	hc       *http.Client
	opened   int // connections opened, not reused
	requests int
}

func newClient(t *testing.T, base string) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: ioTimeout}}
}

type response struct {
	status int
	proto  string
	header http.Header
	body   string
}

// do sends one request and reads the whole response, so that the connection can be reused.
func (c *client) do(t *testing.T, method, path string) response {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				c.opened++
			}
		},
	}))
	c.requests++
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: string(body)}
}

// The bad flags (status 2) are checked in usage_test.go.
