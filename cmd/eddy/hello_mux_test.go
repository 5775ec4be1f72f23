package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// helloAnswer is what a user sees of an answer of eddy hello: the status, the header fields net/http's
// ServeMux sets, and the body.
type helloAnswer struct {
	status                          int
	location, allow, ctype, nosniff string
	body                            string
}

// helloAsk sends the request line line (method and target) to the server at addr over a connection of
// its own, and returns the answer.
func helloAsk(t *testing.T, addr, line string) helloAnswer {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "%s HTTP/1.1\r\nHost: h.test\r\nContent-Length: 0\r\n\r\n", line); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(line, " ")
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: body: %v", line, err)
	}
	return helloAnswer{
		status:   resp.StatusCode,
		location: resp.Header.Get("Location"),
		allow:    resp.Header.Get("Allow"),
		ctype:    resp.Header.Get("Content-Type"),
		nosniff:  resp.Header.Get("X-Content-Type-Options"),
		body:     string(body),
	}
}

// The native style answers as the nethttp style and the baseline (net/http's ServeMux) do, for every
// request and not only GET /: 405 with a text body (not an empty one) and Allow for another method,
// and a redirect to the cleaned path for // and the like (not 404).
func TestHelloNativeAnswersAsServeMux(t *testing.T) {
	lines := []string{
		"GET /", "HEAD /", "GET /?q=1",
		"POST /", "PUT /", "DELETE /", "OPTIONS /",
		"GET //", "HEAD //", "POST //", "GET ///", "GET /./", "GET /x/..", "GET /x/../?a=b&c=<d>",
		"GET //x", "GET /x//", "GET /x", "HEAD /x", "POST /nope", "GET /%2F", "GET /%2e/",
		"GET http://h.test//?q", "GET http://h.test", "GET http://h.test/x",
		"CONNECT h.test:1", "OPTIONS *",
		"GET /%zz", "GET //%zz", "POST /%zz", "GET //\x80", "GET //é?q=é",
	}
	base := func(cfg helloConfig) string { return strings.TrimPrefix(startHello(t, cfg), "http://") }
	native := base(helloConfig{style: "native", engine: "auto", loops: 1})
	peers := []struct{ name, addr string }{
		{"nethttp", base(helloConfig{style: "nethttp", engine: "auto", loops: 1})},
		{"baseline", base(helloConfig{baseline: true})},
	}
	for _, line := range lines {
		got := helloAsk(t, native, line)
		for _, p := range peers {
			want := helloAsk(t, p.addr, line)
			if p.name == "baseline" && want.status == http.StatusBadRequest {
				// Refused before any handler: by http1 for both eddy styles, by net/http itself here,
				// each with its own wording.
				want = helloAnswer{status: want.status, ctype: got.ctype, body: got.body}
			}
			if got != want {
				t.Errorf("%s: native answers\n\t%+v\nthe %s style\n\t%+v", line, got, p.name, want)
			}
		}
	}
	// What the fixes are about, said plainly.
	if a := helloAsk(t, native, "POST /"); a.status != http.StatusMethodNotAllowed || a.allow != "GET, HEAD" || a.body != "Method Not Allowed\n" {
		t.Errorf("POST /: %+v", a)
	}
	if a := helloAsk(t, native, "GET //"); a.status/100 != 3 || a.location != "/" {
		t.Errorf("GET //: %+v", a)
	}
}
