package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would, against an httptest server whose answers
// they know, on each engine.

const runTimeout = 30 * time.Second // the program takes milliseconds; this only bounds a hang

func TestMain(m *testing.M) { progtest.Main(m) }

// content is the body served at /n/<size>: size bytes of a pattern.
func content(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func TestFetch(t *testing.T) {
	var active, most atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		defer active.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(20 * time.Millisecond) // so that requests overlap
		var size int
		if _, err := fmt.Sscanf(r.URL.Path, "/n/%d", &size); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Write(content(size))
	}))
	defer srv.Close()
	sizes := []int{0, 1, 1000, 100 << 10, 3 << 20, 17}
	for _, engine := range progtest.Engines() {
		t.Run(engine, func(t *testing.T) {
			most.Store(0)
			args := []string{"-engine", engine, "-conns", "3"}
			for _, n := range sizes {
				args = append(args, fmt.Sprintf("%s/n/%d", srv.URL, n))
			}
			out := progtest.Output(t, runTimeout, progtest.Build(t), args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(sizes) {
				t.Fatalf("%d lines for %d URLs:\n%s", len(lines), len(sizes), out)
			}
			for i, n := range sizes {
				sum := sha256.Sum256(content(n))
				want := fmt.Sprintf("%s/n/%d: 200 OK, %d bytes, sha256 %x", srv.URL, n, n, sum[:8])
				if lines[i] != want {
					t.Errorf("line %d: %q, want %q", i, lines[i], want)
				}
			}
			if m := most.Load(); m > 3 || m < 2 {
				t.Errorf("the server saw up to %d requests at once, want 2 or 3 (-conns 3)", m)
			}
		})
	}
}

// A URL that fails (404 is not a failure; a refused connection and a bad URL are) is reported on its
// line and makes the exit status 1; the others are fetched all the same.
func TestFetchFailures(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ok" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("fine"))
	}))
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	prog := progtest.Build(t)
	stdout, _, err := progtest.Run(t, runTimeout, prog, srv.URL+"/ok", srv.URL+"/missing", closed.URL+"/x", "ftp://127.0.0.1:1/")
	if code := progtest.ExitCode(err); code != 1 {
		t.Fatalf("exit status %d (%v), want 1; output:\n%s", code, err, stdout)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	want := []string{
		srv.URL + "/ok: 200 OK, 4 bytes",
		srv.URL + "/missing: 404 Not Found, 19 bytes",
		closed.URL + "/x: error: ",
		"ftp://127.0.0.1:1/: error: http1: unsupported protocol scheme \"ftp\"",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), stdout)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d: %q, want it to start with %q", i, lines[i], w)
		}
	}
	if !strings.Contains(lines[2], "connection refused") {
		t.Errorf("line 2 does not say the connection was refused: %q", lines[2])
	}
	if _, _, err := progtest.Run(t, runTimeout, prog); progtest.ExitCode(err) != 2 {
		t.Errorf("no URL: exit status %d, want 2", progtest.ExitCode(err))
	}
}

// More responses at once than the readers' pool queues must not stall the client: the bodies are
// handed to the pool on the client's loop, and a pool.Go that waited there for room blocked the loop
// that feeds the bodies the pool's workers were reading, until the job's timeout.
func TestFetchMoreResponsesThanThePoolQueues(t *testing.T) {
	if testing.Short() {
		t.Skip("1,100 downloads")
	}
	body := content(200 << 10) // more than the client's body pipe: the reader needs the loop
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(body) }))
	defer srv.Close()
	const urls = 1100 // above the pool's default queue (1,024) and readers
	args := []string{"-engine", "epoll", "-conns", "2000", "-readers", "1", "-timeout", "20s"}
	for i := range urls {
		args = append(args, fmt.Sprintf("%s/%d", srv.URL, i))
	}
	out := progtest.Output(t, runTimeout, progtest.Build(t), args...)
	sum := sha256.Sum256(body)
	want := fmt.Sprintf("200 OK, %d bytes, sha256 %x", len(body), sum[:8])
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != urls || strings.Count(out, want) != urls {
		t.Fatalf("%d lines for %d URLs, want each %q; first: %q", len(lines), urls, want, lines[0])
	}
}
