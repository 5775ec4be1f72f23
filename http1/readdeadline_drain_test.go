package http1_test

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// TestHandlersReadDeadlineBoundsTheDrain: a handler moves the body's read deadline with
// http.ResponseController.SetReadDeadline, reads part of a body larger than the server's body pipe,
// and answers while the rest is still on its way. net/http discards the rest before the head under
// the deadline the handler set. Lifted (ReadTimeout short): the discard waits for the rest, the
// connection stays and the pipelined request that follows is served. Shortened (ReadTimeout long):
// the discard fails at the handler's deadline and the head says Connection: close. http1 bounded
// the drain by ReadTimeout whatever the handler had set, getting both the other way round.
// (IdleTimeout is long: http1 bounds a drain by it between arrivals too.)
func TestHandlersReadDeadlineBoundsTheDrain(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		switch r.URL.Path {
		case "/lifted":
			rc.SetReadDeadline(time.Time{})
		case "/shortened":
			rc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		if r.Method == http.MethodPost {
			io.ReadFull(r.Body, make([]byte, 10))
			time.Sleep(400 * time.Millisecond)
		}
		io.WriteString(w, "ok "+r.URL.Path)
	})
	const size = 200 << 10 // more than the body pipe holds, less than the drain's limit
	check := func(t *testing.T, addr, path string) {
		c := dial(t, addr)
		io.WriteString(c, "POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(size)+"\r\n\r\n0123456789")
		go func() {
			time.Sleep(600 * time.Millisecond) // the rest comes after the handler returned
			io.WriteString(c, strings.Repeat("b", size-10)+"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
		}()
		br := bufio.NewReader(c)
		first, err := readResponse(br, "POST")
		if err != nil {
			t.Fatal(err)
		}
		if path == "/shortened" {
			if !first.close {
				t.Errorf("%s: the response does not say Connection: close, with the handler's read deadline passed", path)
			}
			return
		}
		if first.close {
			t.Errorf("%s: the response says Connection: close, with no read deadline left to pass", path)
			return
		}
		second, err := readResponse(br, "GET")
		if err != nil || second.body != "ok /next" {
			t.Errorf("%s: second: %+v %v", path, second, err)
		}
	}
	for _, path := range []string{"/lifted", "/shortened"} {
		timeout := 200 * time.Millisecond
		if path == "/shortened" {
			timeout = 10 * time.Second
		}
		t.Run(path[1:], func(t *testing.T) {
			t.Run("nethttp", func(t *testing.T) {
				check(t, netHTTPRef(t, h, func(s *http.Server) { s.ReadTimeout, s.IdleTimeout = timeout, 10*time.Second }), path)
			})
			forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
				check(t, start(t, engine, &http1.Server{Handler: h, ReadTimeout: timeout, IdleTimeout: 10 * time.Second, ErrorLog: newLogger(io.Discard)}), path)
			})
		})
	}
}
