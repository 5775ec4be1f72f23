package http1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// A body read that passes its deadline (Server.ReadTimeout, or one set with
// http.ResponseController.SetReadDeadline) cancels the request's context in net/http: its failed
// read of the connection cancels it (connReader.handleReadErrorLocked), as the client's departure
// does, so that work the handler goes on to do under r.Context() stops. http1's context stayed
// live until the handler returned. Found by a differential review against net/http (by a
// helper).
func TestBodyReadDeadlineCancelsTheContext(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/rc" {
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		_, err := io.ReadAll(r.Body)
		// net/http cancels the context in the read that fails, before it returns.
		fmt.Fprintf(w, "timeout=%v ctx=%v", errors.Is(err, os.ErrDeadlineExceeded), r.Context().Err())
	})
	const want = "timeout=true ctx=context canceled"
	check := func(t *testing.T, addr string) {
		for _, path := range []string{"/timeout", "/rc"} {
			c := dial(t, addr)
			io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
			r, err := readResponse(bufio.NewReader(c), "POST")
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if r.body != want {
				t.Errorf("%s: handler saw %q; want %q", path, r.body, want)
			}
		}
	}
	// ReadTimeout is long for /rc, whose handler sets a shorter deadline itself.
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, h, func(s *http.Server) { s.ReadTimeout = 300 * time.Millisecond }))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: h, ReadTimeout: 300 * time.Millisecond, ErrorLog: newLogger(io.Discard)}))
	})
}
