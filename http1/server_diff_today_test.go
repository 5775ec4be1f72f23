package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A handler that outlasts ReadTimeout and leaves unread a small body that has arrived whole (the
// loop pushed all of it into the pipe: nothing is left to drain). net/http discards it from its
// buffer and keeps the connection; the first version of http1's drainDeadline check in appendHead said
// Connection: close whenever the handler did not read to EOF, although finish would not drain (found by
// the review of session 19's changes; bodyPipe.arrived).
func TestReadTimeoutArrivedBodyKeepsConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(500 * time.Millisecond) // body left unread (say, refused by its header)
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	check := func(t *testing.T, addr string) {
		for _, raw := range []string{
			"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789",
			"POST /slow HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n",
		} {
			reviewCheckArrivedBody(t, addr, raw)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, func(s *http.Server) { s.ReadTimeout = 250 * time.Millisecond }))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ReadTimeout: 250 * time.Millisecond}))
	})
}

func reviewCheckArrivedBody(t *testing.T, addr, raw string) {
	{
		c := dial(t, addr)
		io.WriteString(c, raw)
		br := bufio.NewReader(c)
		first, err := readResponse(br, "POST")
		if err != nil {
			t.Fatal(err)
		}
		if first.close {
			t.Errorf("%q: the response to a request whose 10-byte body had arrived whole says Connection: close (header %v)", raw[:40], first.header)
			return
		}
		io.WriteString(c, diffGET("/next"))
		second, err := readResponse(br, "GET")
		if err != nil {
			t.Fatalf("second request on the kept connection: %v", err)
		}
		if second.body != "ok /next" {
			t.Fatalf("second: %q", second.body)
		}
	}
}
