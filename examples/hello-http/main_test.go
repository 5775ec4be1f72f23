package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests build the example and run it as a user would: a subprocess on a loopback port, asked
// over HTTP with net/http's client and stopped with SIGTERM.

const (
	startTimeout = 15 * time.Second // build is done; this bounds the start of the server
	ioTimeout    = 20 * time.Second // bounds every request
	exitTimeout  = 5 * time.Second  // a graceful stop takes milliseconds; this only bounds a hang
)

// engines are the engines the platform has, as the root tests choose them.
func engines() []string {
	if runtime.GOOS == "linux" {
		return []string{"epoll", "uring", "std"}
	}
	return []string{"std"}
}

// TestHelloHTTP runs the server in each handler style on each engine, and checks GET / (status,
// headers, body), HEAD /, 404 for another path and 405 for another method, all on one kept-alive
// connection; then it stops the server with SIGTERM while that connection is idle and checks that
// the program exits with status 0 and without a shutdown error.
func TestHelloHTTP(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test stops the server with SIGTERM, which Windows cannot send")
	}
	prog := build(t)
	for _, style := range []string{"native", "nethttp"} {
		for _, engine := range engines() {
			t.Run(style+"/"+engine, func(t *testing.T) {
				p := start(t, prog, "-addr", "127.0.0.1:0", "-engine", engine, "-style", style, "-loops", "2")
				m := p.waitFor(t, regexp.MustCompile(`hello-http: (\S+) style, (\S+) engine, listening on (\S+);`))
				if m == nil {
					if p.exited() && strings.Contains(p.output(), "not supported") {
						t.Skipf("engine %s is not supported here:\n%s", engine, p.output())
					}
					t.Fatalf("the server did not report its address; output:\n%s", p.output())
				}
				if m[1] != style || m[2] != engine {
					t.Errorf("server runs the %s style on the %s engine, want %s on %s", m[1], m[2], style, engine)
				}
				c := newClient(t, "http://"+m[3])

				for i := range 3 {
					r := c.do(t, "GET", "/")
					if r.status != http.StatusOK || r.body != hello {
						t.Errorf("GET / #%d: %d %q, want 200 %q", i, r.status, r.body, hello)
					}
					if r.proto != "HTTP/1.1" {
						t.Errorf("GET / #%d: protocol %s, want HTTP/1.1", i, r.proto)
					}
					if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
						t.Errorf("GET / #%d: Content-Type %q", i, ct)
					}
					if cl := r.header.Get("Content-Length"); cl != fmt.Sprint(len(hello)) {
						t.Errorf("GET / #%d: Content-Length %q, want %d", i, cl, len(hello))
					}
				}
				if r := c.do(t, "HEAD", "/"); r.status != http.StatusOK || r.body != "" {
					t.Errorf("HEAD /: %d %q, want 200 and no body", r.status, r.body)
				}
				if r := c.do(t, "GET", "/missing"); r.status != http.StatusNotFound || r.body != "404 page not found\n" {
					t.Errorf("GET /missing: %d %q, want 404", r.status, r.body)
				}
				r := c.do(t, "POST", "/")
				if r.status != http.StatusMethodNotAllowed {
					t.Errorf("POST /: %d %q, want 405", r.status, r.body)
				}
				if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
					t.Errorf("POST /: Allow %q, want GET in it", allow)
				}
				if c.opened != 1 {
					t.Errorf("the client opened %d connections for %d requests, want 1: keep-alive is broken", c.opened, c.requests)
				}

				// Stop with the kept-alive connection idle in the client's pool.
				p.stop(t)
				if out := p.output(); strings.Contains(out, "shutdown") {
					t.Errorf("the stop reported an error; output:\n%s", out)
				}
			})
		}
	}
}

// client sends requests to one server and counts the connections it opens.
type client struct {
	base     string
	hc       *http.Client
	opened   int // connections opened, not reused
	requests int
}

func newClient(t *testing.T, base string) *client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{base: base, hc: &http.Client{Transport: tr, Timeout: ioTimeout}}
}

type response struct {
	status int
	proto  string
	header http.Header
	body   string
}

// do sends one request and reads the whole response, so that the connection can be reused.
func (c *client) do(t *testing.T, method, path string) response {
	t.Helper()
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if !info.Reused {
				c.opened++
			}
		},
	}))
	c.requests++
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: string(body)}
}

// TestBadFlags checks that an unknown style or engine stops the program with status 1 and a
// message that names it.
func TestBadFlags(t *testing.T) {
	prog := build(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-style", "bogus"}, `unknown -style "bogus"`},
		{[]string{"-engine", "bogus"}, `unknown engine "bogus"`},
	} {
		cmd := command(prog, append([]string{"-addr", "127.0.0.1:0"}, tc.args...)...)
		out, err := runBounded(cmd)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Errorf("%v: exit %v, want status 1; output:\n%s", tc.args, err, out)
			continue
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: output lacks %q:\n%s", tc.args, tc.want, out)
		}
	}
}

// runBounded runs cmd to its end, killing it if it runs for more than exitTimeout.
func runBounded(cmd *exec.Cmd) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(exitTimeout):
		cmd.Process.Kill()
		<-done
		return out.Bytes(), fmt.Errorf("still running after %v: killed", exitTimeout)
	}
}

// build compiles the example into a temporary directory, with the race detector when the test
// itself has it, and returns the path of the program. VCS stamping is off: it fails when the
// checkout belongs to another user, and the program does not need it.
func build(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	prog := filepath.Join(t.TempDir(), "prog")
	if runtime.GOOS == "windows" {
		prog += ".exe"
	}
	args := []string{"build", "-buildvcs=false", "-o", prog}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return prog
}

// command returns the command that runs prog with args. A program built with the race detector
// sleeps a second at exit, for the reports of other goroutines (GORACE atexit_sleep_ms); the
// command turns that off, so that the exit after SIGTERM is measured and not the sleep.
func command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	if raceEnabled() {
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	return cmd
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// proc is a running example.
type proc struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{} // closed when the program has exited
	err  error         // the result of Wait, once done is closed
}

// start starts prog with args; the test's cleanup kills it if it is still running.
func start(t *testing.T, prog string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: command(prog, args...), out: new(syncBuffer), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) output() string { return p.out.String() }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitFor waits until the output matches re and returns the submatches, or nil if the program
// exits or startTimeout passes first.
func (p *proc) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		exited := p.exited()
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		if exited || time.Now().After(deadline) {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stop sends SIGTERM and checks that the program exits with status 0 within exitTimeout.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	begin := time.Now()
	select {
	case <-p.done:
	case <-time.After(exitTimeout):
		t.Fatalf("still running %v after SIGTERM; output:\n%s", exitTimeout, p.output())
	}
	if p.err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0; output:\n%s", p.err, p.output())
	}
	t.Logf("exited %v after SIGTERM", time.Since(begin).Round(time.Millisecond))
}

// syncBuffer is a bytes.Buffer that the program's output is copied into while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
