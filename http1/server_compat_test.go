package http1_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// rawExchange sends raw to addr and returns everything the server sends until it closes the
// connection (or 2 s of silence), with the Date lines removed.
func rawExchange(t *testing.T, addr, raw string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, raw)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	var buf bytes.Buffer
	io.Copy(&buf, c)
	return dateLine.ReplaceAllString(buf.String(), "")
}

var dateLine = regexp.MustCompile(`(?m)^Date: [^\r]*\r\n`)

// startPair starts h on net/http (configured by refCfg) and on http1 (configured by cfg), on the
// first engine.
func startPair(t *testing.T, h http.Handler, refCfg func(*http.Server), cfg func(*http1.Server)) (ref, ours string) {
	t.Helper()
	ref = netHTTPRef(t, h, refCfg)
	srv := &http1.Server{Handler: h, ErrorLog: newLogger(io.Discard)}
	if cfg != nil {
		cfg(srv)
	}
	ours = start(t, testEngines()[0], srv)
	return ref, ours
}

// diffRaw compares the raw answers of both servers to raw.
func diffRaw(t *testing.T, h http.Handler, raw string) {
	t.Helper()
	ref, ours := startPair(t, h, nil, nil)
	want := rawExchange(t, ref, raw)
	got := rawExchange(t, ours, raw)
	if got != want {
		t.Errorf("http1 answered\n%q\nnet/http answered\n%q", got, want)
	}
}

// The ResponseWriter is an http.CloseNotifier, as net/http's (deprecated, but still asserted without
// a check by middleware such as gin's responseWriter.CloseNotify, used by Context.Stream); it was
// not, so such code panicked (found by a review).
func TestResponseWriterIsACloseNotifier(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, ok := w.(http.CloseNotifier)
		fmt.Fprintf(w, "CloseNotifier=%v", ok)
	})
	diffRaw(t, h, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
}

// net/http reads up to MaxHeaderBytes+4096 bytes of request head (initialReadLimitSize), so a
// server configured with MaxHeaderBytes: 4096 serves a request with a 6000-byte Cookie, and the
// default (1 MiB) serves a head a little over 1 MiB; so does http1, which answered both with 431
// (found by a review).
func TestMaxHeaderBytesHasNetHTTPsSlack(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	for _, c := range []struct {
		name  string
		limit int
		value int
	}{{"MaxHeaderBytes=4096", 4096, 6000}, {"default", 0, 1<<20 + 1000}} {
		t.Run(c.name, func(t *testing.T) {
			ref, ours := startPair(t, h, func(s *http.Server) { s.MaxHeaderBytes = c.limit }, func(s *http1.Server) { s.MaxHeaderBytes = c.limit })
			raw := "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: " + strings.Repeat("a", c.value) + "\r\n\r\n"
			want := rawExchange(t, ref, raw)
			got := rawExchange(t, ours, raw)
			if got != want {
				t.Errorf("http1 answered\n%.200q\nnet/http answered\n%.200q", got, want)
			}
		})
	}
}

// CloseNotify's channel receives true when the client goes away while the handler runs.
func TestCloseNotifyTellsOfTheClientsDeparture(t *testing.T) {
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		told := make(chan bool, 1)
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case v := <-w.(http.CloseNotifier).CloseNotify():
				told <- v
			case <-time.After(5 * time.Second):
				told <- false
			}
		})
		addr := start(t, engine, &http1.Server{Handler: h})
		c := dial(t, addr)
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		time.Sleep(50 * time.Millisecond) // the handler waits
		c.Close()
		if !<-told {
			t.Fatal("CloseNotify's channel did not tell of the client's departure within 5 s")
		}
	})
}
