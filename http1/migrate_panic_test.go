package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestPanics: what the client and the error log see of a handler's panic, before and after its
// head went out, with http.ErrAbortHandler and with another value; the server goes on.
func TestMigratePanics(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v any = "boom"
		if r.URL.Query().Get("abort") != "" {
			v = http.ErrAbortHandler
		}
		if r.URL.Query().Get("flush") != "" {
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
		} else if r.URL.Query().Get("write") != "" {
			io.WriteString(w, "buffered")
		}
		panic(v)
	})
	check := func(t *testing.T, addr string, log *syncLog) string {
		var out string
		for _, q := range []string{"?abort=1", "?abort=1&write=1", "?abort=1&flush=1", "?flush=1", "?write=1", ""} {
			c := dial(t, addr)
			io.WriteString(c, "GET /"+q+" HTTP/1.1\r\nHost: x\r\n\r\n")
			b, err := io.ReadAll(bufio.NewReader(c))
			resp := strings.ReplaceAll(string(b), "\r\n", "|")
			if i := strings.Index(resp, "|Date: "); i >= 0 {
				j := strings.Index(resp[i+1:], "|")
				resp = resp[:i] + resp[i+1+j:]
			}
			// Wait for the log line of a panic that logs.
			deadline := time.Now().Add(10 * time.Second)
			for !strings.Contains(q, "abort") && !strings.Contains(log.String(), "boom") && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond) // a log line that should not come
			l := log.String()
			log.mu.Lock()
			log.buf.Reset()
			log.mu.Unlock()
			first, _, _ := strings.Cut(l, "\n")
			if i := strings.Index(first, "127.0.0.1:"); i >= 0 {
				first = first[:i] + "ADDR" + first[strings.IndexByte(first[i:], ':')+i+1:][strings.IndexAny(first[strings.IndexByte(first[i:], ':')+i+1:], ": "):]
			}
			out += fmt.Sprintf("%s: %s %s; log %q stack %v\n", q, zzErrClass(err), resp, first, strings.Contains(l, "goroutine "))
		}
		out += zzRaw(t, zzServer{addr: addr}, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
		return out
	}
	mux := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/next" {
			io.WriteString(w, "next")
			return
		}
		h(w, r)
	})
	var ref string
	t.Run("nethttp", func(t *testing.T) {
		log := &syncLog{}
		ref = check(t, netHTTPRef(t, mux, func(s *http.Server) { s.ErrorLog = newLogger(log) }), log)
		t.Logf("net/http:\n%s", ref)
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		log := &syncLog{}
		got := check(t, start(t, engine, &http1.Server{Handler: mux, ErrorLog: newLogger(log)}), log)
		// http1's doc: a panic before anything was sent gets a 500 answer (net/http sends none).
		got = strings.ReplaceAll(got, ": nil HTTP/1.1 500 Internal Server Error|Connection: close|Content-Length: 22|Content-Type: text/plain; charset=utf-8|X-Content-Type-Options: nosniff||Internal Server Error\n;", ": nil ;")
		if got != ref {
			t.Errorf("differs from net/http:\n%s", zzLineDiff(ref, got))
		}
	})
}

// TestRegisterOnShutdown: net/http runs the hooks on every Shutdown call, a Shutdown after Close
// included; Close runs none. http1 runs them once, on the first Shutdown, as its doc says.
func TestMigrateRegisterOnShutdown(t *testing.T) {
	type srv struct {
		onShutdown func(func())
		shutdown   func(context.Context) error
		close      func() error
	}
	check := func(t *testing.T, newSrv func() srv, onlyFirst bool) string {
		var out string
		for _, seq := range []string{"S", "SS", "SC", "CS", "C"} {
			s := newSrv()
			var n atomic.Int32
			ran := make(chan struct{}, 8)
			s.onShutdown(func() { n.Add(1); ran <- struct{}{} })
			for _, op := range seq {
				if op == 'S' {
					s.shutdown(context.Background())
				} else {
					s.close()
				}
			}
			want := strings.Count(seq, "S")
			if onlyFirst {
				want = strings.Count(seq[:1], "S")
			}
			for range want {
				select {
				case <-ran:
				case <-time.After(2 * time.Second):
				}
			}
			time.Sleep(20 * time.Millisecond)
			out += fmt.Sprintf("%s: %d hooks; ", seq, n.Load())
		}
		return out
	}
	ref := check(t, func() srv {
		hs := httptest.NewServer(hello)
		t.Cleanup(hs.Close)
		return srv{hs.Config.RegisterOnShutdown, hs.Config.Shutdown, hs.Config.Close}
	}, false)
	t.Logf("net/http: %s", ref)
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		got := check(t, func() srv {
			s := &http1.Server{Handler: hello}
			start(t, engine, s)
			return srv{s.RegisterOnShutdown, s.Shutdown, s.Close}
		}, true)
		// http1's doc: the hooks run once, on the first Shutdown, and not on a Shutdown after
		// Close.
		want := strings.NewReplacer("SS: 2 hooks", "SS: 1 hooks", "CS: 1 hooks", "CS: 0 hooks").Replace(ref)
		if got != want {
			t.Errorf("got  %s\nwant %s (net/http: %s)", got, want, ref)
		}
	})
}
