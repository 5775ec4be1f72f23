package http1

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
)

func startInternal(t *testing.T, srv *Server) string {
	t.Helper()
	srv.Addr = "127.0.0.1:0"
	srv.Engine = eddy.EngineEpoll
	srv.Loops = 1
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + srv.Addrs()[0].String()
}

// lateDeadlineHandler serves /leave, whose handler leaves a goroutine holding its
// ResponseController behind, and /call, whose handler (on the same connection, after /leave's
// response is done) has that goroutine call SetWriteDeadline and SetReadDeadline and answers with
// what they returned.
func lateDeadlineHandler() http.Handler {
	call := make(chan chan [2]error, 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/leave":
			rc := http.NewResponseController(w)
			go func() {
				res := <-call
				far := time.Now().Add(time.Hour) // moves nothing that matters
				res <- [2]error{rc.SetWriteDeadline(far), rc.SetReadDeadline(far)}
			}()
		case "/call":
			res := make(chan [2]error, 1)
			call <- res
			errs := <-res
			io.WriteString(w, errText(errs[0])+" "+errText(errs[1]))
		}
	})
}

func errText(err error) string {
	if err == nil {
		return "nil"
	}
	return "error"
}

// A goroutine the handler left behind calls SetWriteDeadline after ServeHTTP returned, while the
// connection is open: net/http returns nil (it moves the connection's deadline); so does http1
// (doc.go). The calls come from the next request's handler, after the first response was done,
// so that they do not race with http1's recycling of the response.
func TestLateSetDeadlineWhileOpen(t *testing.T) {
	for _, side := range []string{"net/http", "http1"} {
		t.Run(side, func(t *testing.T) {
			var base string
			if side == "net/http" {
				ts := httptest.NewServer(lateDeadlineHandler())
				defer ts.Close()
				base = ts.URL
			} else {
				base = startInternal(t, &Server{Handler: lateDeadlineHandler()})
			}
			tr := &http.Transport{MaxConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			var got string
			for _, path := range []string{"/leave", "/call"} {
				resp, err := c.Get(base + path)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				got = string(b)
			}
			if got != "nil nil" {
				t.Fatalf("late SetWriteDeadline, SetReadDeadline returned %q, want nil nil", got)
			}
		})
	}
}

// net/http's late SetWriteDeadline, once the connection has closed, fails with an error wrapping
// net.ErrClosed (doc.go says so; http1's cannot be called then without a data race).
func TestLateSetWriteDeadlineNetHTTPClosed(t *testing.T) {
	rcs := make(chan *http.ResponseController, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rcs <- http.NewResponseController(w)
	}))
	resp, err := http.Get(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ts.Close()
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	err = (<-rcs).SetWriteDeadline(time.Now().Add(time.Hour))
	if !errors.Is(err, net.ErrClosed) {
		t.Fatalf("net/http's late SetWriteDeadline on a closed connection: %v, want net.ErrClosed", err)
	}
}

// A late SetWriteDeadline (from a goroutine the handler left behind) that lands on a response
// waiting in the pool must not reach the request that takes it next, on whatever connection: the
// write deadline starts afresh with each request. The late calls are simulated here on responses
// put in the pool, to be race-free; the test looks for a request served by one of them.
func TestPooledResponseForgetsLateWriteDeadline(t *testing.T) {
	poisoned := make(map[*response]bool)
	poison := func() {
		var ws []*response
		for range 32 {
			w := responses.Get().(*response)
			w.SetWriteDeadline(time.Now().Add(-time.Hour)) // what a late call does
			poisoned[w] = true
			ws = append(ws, w)
		}
		for _, w := range ws {
			responses.Put(w)
		}
	}
	poison()
	hit := make(chan bool, 1)
	body := strings.Repeat("x", 8<<10)
	base := startInternal(t, &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- poisoned[w.(*response)]
		io.WriteString(w, body)
	})})
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i := range 200 {
		resp, err := c.Get(base)
		wasPoisoned := <-hit
		var b []byte
		if err == nil {
			b, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if !wasPoisoned {
			if err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
			continue
		}
		if err != nil || len(b) != len(body) {
			t.Fatalf("request %d, served by a response whose late write deadline had passed: %d bytes, %v", i, len(b), err)
		}
		return
	}
	t.Skip("no request was served by a pooled response the test had poisoned")
}
