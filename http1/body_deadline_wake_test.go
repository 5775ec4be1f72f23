package http1_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// Two goroutines of a handler read the request body at once; a third moves the read deadline into
// the past (http.ResponseController.SetReadDeadline). net/http fails both reads (its body's mutex
// lets the second read the connection after the first, past the deadline). The body's deadline
// wakes its waiting reads through the one-slot ready channel: the woken read timed out and
// returned, and the other waited on until more of the body came, for ever here.
func TestBodyDeadlineWakesEveryBlockedRead(t *testing.T) {
	handler := func(blockedIn string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					_, err := r.Body.Read(make([]byte, 1))
					errs <- err
				}()
			}
			waitGoroutinesIn(blockedIn, 2, 3*time.Second)
			http.NewResponseController(w).SetReadDeadline(time.Now().Add(-time.Second))
			timedOut, stuck := 0, 0
			giveUp := time.After(5 * time.Second)
			for range 2 {
				select {
				case err := <-errs:
					if errors.Is(err, os.ErrDeadlineExceeded) {
						timedOut++
					}
				case <-giveUp:
					stuck++
				}
			}
			fmt.Fprintf(w, "timedOut=%d stuck=%d", timedOut, stuck)
		})
	}
	const want = "timedOut=2 stuck=0"
	check := func(t *testing.T, addr string) {
		c := dial(t, addr)
		io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
		r, err := readResponse(bufio.NewReader(c), "POST")
		if err != nil {
			t.Fatal(err)
		}
		if r.body != want {
			t.Errorf("handler saw %q; want %q", r.body, want)
		}
	}
	t.Run("nethttp", func(t *testing.T) {
		check(t, netHTTPRef(t, handler("net/http.(*body).Read"), nil))
	})
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		check(t, start(t, engine, &http1.Server{Handler: handler("http1.awaitDeadline"), ErrorLog: newLogger(io.Discard)}))
	})
}

// waitGoroutinesIn waits, up to within, for n goroutines whose stacks show fn.
func waitGoroutinesIn(fn string, n int, within time.Duration) {
	buf := make([]byte, 1<<20)
	for stop := time.Now().Add(within); time.Now().Before(stop); time.Sleep(5 * time.Millisecond) {
		k := runtime.Stack(buf, true)
		if strings.Count(string(buf[:k]), fn) >= n {
			return
		}
	}
}
