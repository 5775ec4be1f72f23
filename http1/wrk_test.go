package http1_test

import (
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/eddyio/eddy"
	"github.com/eddyio/eddy/http1"
)

// wrkTotal and wrkBad read wrk's summary: "N requests in ...", and the lines it prints only when some
// responses were not 2xx/3xx or sockets failed.
var (
	wrkTotal = regexp.MustCompile(`(\d+) requests in `)
	wrkBad   = regexp.MustCompile(`Non-2xx or 3xx responses|Socket errors`)
)

// TestWrk drives the server with wrk, a real HTTP/1.1 benchmarking client that keeps 16 connections
// alive and reuses them as fast as it can for a second: wrk must see no socket error and no status
// outside 2xx/3xx, and the handler must have run for every response wrk counted. .ci/run installs wrk;
// without it the test skips.
func TestWrk(t *testing.T) {
	wrk, err := exec.LookPath("wrk")
	if err != nil {
		t.Skip("wrk is not installed: install the Debian package wrk (apt-get install -y wrk) to run this test")
	}
	forEachEngine(t, func(t *testing.T, engine eddy.EngineKind) {
		for _, style := range styles {
			t.Run(style, func(t *testing.T) {
				var served atomic.Int64
				srv := &http1.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					served.Add(1)
					io.WriteString(w, "Hello, World!")
				})}
				if style == "native" {
					srv = &http1.Server{Native: http1.NativeHandlerFunc(func(w *http1.ResponseBuffer, r *http1.NativeRequest) {
						served.Add(1)
						w.WriteString("Hello, World!")
					})}
				}
				addr := start(t, engine, srv)
				out, err := exec.Command(wrk, "-t1", "-c16", "-d1s", "--timeout", "5s", "http://"+addr+"/").CombinedOutput()
				if err != nil {
					t.Fatalf("wrk: %v\n%s", err, out)
				}
				m := wrkTotal.FindSubmatch(out)
				if m == nil {
					t.Fatalf("no request count in wrk's output:\n%s", out)
				}
				n, _ := strconv.ParseInt(string(m[1]), 10, 64)
				if n == 0 {
					t.Fatalf("wrk completed no request:\n%s", out)
				}
				if wrkBad.Match(out) {
					t.Fatalf("wrk saw errors:\n%s", out)
				}
				if s := served.Load(); s < n {
					t.Fatalf("wrk counted %d responses, the handler ran %d times", n, s)
				}
			})
		}
	})
}
