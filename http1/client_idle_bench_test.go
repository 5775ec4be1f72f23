package http1_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/future"
	"github.com/eddyio/eddy/http1"
)

// BenchmarkClientIdleMemory measures what a keep-alive connection costs a client while it sits idle in
// the pool: heap and goroutine stacks in use after conns requests made at once (so that each has a
// connection of its own) have been answered and their bodies read, minus before, per connection. The
// server runs in a child process (this test binary, re-run), so that only the client is measured.
// Reports heap-B/conn, stack-B/conn and goroutines/conn. Run with -benchtime 1x; EDDY_IDLE_CONNS sets the count (default 2000).
func BenchmarkClientIdleMemory(b *testing.B) {
	conns := 2000
	if s := os.Getenv("EDDY_IDLE_CONNS"); s != "" {
		conns, _ = strconv.Atoi(s)
	}
	url := childHelloServer(b, conns)
	for _, name := range []string{"eddy", "net-http"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				var rt http.RoundTripper
				var closeFn func()
				if name == "eddy" {
					tr := &http1.Transport{Loops: 1, MaxIdleConnsPerHost: conns}
					rt, closeFn = tr, func() { tr.Close() }
				} else {
					tr := &http.Transport{MaxIdleConnsPerHost: conns}
					rt, closeFn = tr, tr.CloseIdleConnections
				}
				before := inUse()
				fs := make([]future.Future[*http.Response], conns)
				for i := range fs {
					req, _ := http.NewRequest("GET", url, nil)
					fs[i] = future.Go(context.Background(), func(context.Context) (*http.Response, error) { return rt.RoundTrip(req) })
				}
				for _, f := range fs {
					resp, err := f.Await(context.Background())
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				fs = nil
				time.Sleep(200 * time.Millisecond) // let the goroutines of the calls end
				after := inUse()
				b.ReportMetric(float64(after.heap-before.heap)/float64(conns), "heap-B/conn")
				b.ReportMetric(float64(after.stack-before.stack)/float64(conns), "stack-B/conn")
				b.ReportMetric(float64(after.goroutines-before.goroutines)/float64(conns), "goroutines/conn")
				closeFn()
			}
		})
	}
}

type memInUse struct{ heap, stack, goroutines int64 }

// inUse returns the heap and stack bytes in use after a collection, and the goroutine count.
func inUse() memInUse {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memInUse{int64(ms.HeapInuse), int64(ms.StackInuse), int64(runtime.NumGoroutine())}
}

// childHelloServer runs a hello server that holds each request 300 ms (so that concurrent requests
// need a connection each) in a child process, and returns its URL.
func childHelloServer(b *testing.B, conns int) string {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChildHelloServer$")
	cmd.Env = append(os.Environ(), "EDDY_CHILD_HELLO=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "addr ") {
		b.Fatalf("child: %q %v", line, err)
	}
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "addr ")) + "/"
}

// TestChildHelloServer is the child process of childHelloServer; it does nothing in a normal run.
func TestChildHelloServer(t *testing.T) {
	if os.Getenv("EDDY_CHILD_HELLO") == "" {
		t.Skip("the child process of BenchmarkClientIdleMemory")
	}
	srv := &http1.Server{Addr: "127.0.0.1:0", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "Hello, World!")
	}), PoolSize: 20000}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("addr %s\n", srv.Addrs()[0])
	io.Copy(io.Discard, os.Stdin) // until the parent closes it
	srv.Close()
}
