package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
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

// The tests build the example and run it as a user would: a subprocess on a loopback port, talked
// to over TCP and stopped with SIGTERM.

const (
	startTimeout = 15 * time.Second // build is done; this bounds the start of the server
	ioTimeout    = 20 * time.Second // bounds every exchange with the server
	exitTimeout  = 5 * time.Second  // a graceful stop takes milliseconds; this only bounds a hang
)

// engines are the engines the platform has, as the root tests choose them.
func engines() []string {
	if runtime.GOOS == "linux" {
		return []string{"epoll", "uring", "std"}
	}
	return []string{"std"}
}

// TestEcho runs the server on each engine, echoes random messages of several sizes on several
// connections at once, closes some of them, then stops the server with SIGTERM while one is still
// open and checks that it closes that connection, logs the stop and exits with status 0.
func TestEcho(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("the test stops the server with SIGTERM, which Windows cannot send")
	}
	prog := build(t)
	for _, engine := range engines() {
		t.Run(engine, func(t *testing.T) {
			p := start(t, prog, "-addr", "tcp://127.0.0.1:0", "-engine", engine)
			m := p.waitFor(t, regexp.MustCompile(`echo: listening on (\S+) with the (\S+) engine`))
			if m == nil {
				if p.exited() && strings.Contains(p.output(), "not supported") {
					t.Skipf("engine %s is not supported here:\n%s", engine, p.output())
				}
				t.Fatalf("the server did not report its address; output:\n%s", p.output())
			}
			addr, got := m[1], m[2]
			if got != engine {
				t.Errorf("server runs the %s engine, want %s", got, engine)
			}

			const nconns = 3
			conns := make([]net.Conn, nconns)
			for i := range conns {
				c, err := net.DialTimeout("tcp", addr, ioTimeout)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { c.Close() })
				c.SetDeadline(time.Now().Add(ioTimeout))
				conns[i] = c
			}
			var wg sync.WaitGroup
			errs := make([]error, nconns)
			for i, c := range conns {
				wg.Go(func() { errs[i] = exchange(c, uint64(i)) })
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("connection %d: %v", i, err)
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			if n := strings.Count(p.output(), " connected ("); n != nconns {
				t.Errorf("server logged %d connections, want %d", n, nconns)
			}

			// Hang up on all but the last connection: the server sees EOF and logs the close.
			for _, c := range conns[:nconns-1] {
				c.Close()
			}
			if p.waitFor(t, regexp.MustCompile(`(?s)(closed: EOF.*){2}`)) == nil {
				t.Fatalf("the server did not log the closes of 2 connections; output:\n%s", p.output())
			}

			// Stop with the last connection open: the engine closes it, then the program exits.
			last := conns[nconns-1]
			p.stop(t)
			if n, err := last.Read(make([]byte, 1)); err == nil {
				t.Errorf("the open connection read %d bytes after the stop, want it closed", n)
			} else if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
				t.Errorf("the open connection: %v after the stop, want EOF", err)
			}
			out := p.output()
			for _, want := range []string{"closed: eddy: engine stopped (0 open)", "echo: stopped"} {
				if !strings.Contains(out, want) {
					t.Errorf("the output lacks %q; output:\n%s", want, out)
				}
			}
		})
	}
}

// exchange writes random messages of several sizes to c, up to 1 MiB, and checks that each comes
// back whole. The writer runs in its own goroutine: a large message comes back while it is still
// being written, and the server would stop reading if nobody read its answer.
func exchange(c net.Conn, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, 0xec40))
	for _, size := range []int{1, 13, 1000, 4096, 65536 + 7, 300_001, 1 << 20} {
		msg := make([]byte, size)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
		got := make([]byte, size)
		_, rerr := io.ReadFull(c, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("writing %d bytes: %w", size, err)
		}
		if rerr != nil {
			return fmt.Errorf("reading back %d bytes: %w", size, rerr)
		}
		if i := firstDiff(got, msg); i >= 0 {
			return fmt.Errorf("message of %d bytes came back different from byte %d", size, i)
		}
	}
	return nil
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// TestBadEngine checks that an unknown -engine is a usage error: status 2 and a message.
func TestBadEngine(t *testing.T) {
	prog := build(t)
	cmd := command(prog, "-addr", "tcp://127.0.0.1:0", "-engine", "bogus")
	out, err := runBounded(cmd)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("exit: %v, want status 2; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), `unknown engine "bogus"`) {
		t.Errorf("output lacks the reason:\n%s", out)
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
