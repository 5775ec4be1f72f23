//go:build unix

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestEchoStopsGracefullyOnSignal(t *testing.T) {
	tests := []struct {
		sig   syscall.Signal
		extra string
	}{
		{syscall.SIGINT, "--engine=auto"},
		{syscall.SIGINT, "--engine=std"},
		{syscall.SIGINT, "--baseline"},
		{syscall.SIGTERM, "--engine=auto"},
	}
	for _, tt := range tests {
		sig, extra := tt.sig, tt.extra
		t.Run(sig.String()+" "+extra, func(t *testing.T) {
			cmd, lines := startSelf(t, "echo", "--addr", "127.0.0.1:0", extra)
			defer cmd.Process.Kill() // only if the test fails before Wait
			if !lines.Scan() {
				t.Fatalf("no log line from the server: %v", lines.Err())
			}
			m := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(lines.Text())
			if m == nil {
				t.Fatalf("log line %q does not name the address", lines.Text())
			}
			echoRoundTrip(t, m[1], 7, 4096)
			c, err := net.Dial("tcp", m[1]) // left open: the stop must not wait for the peer
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			stopSelf(t, cmd, lines, sig, 10*time.Second, "eddy echo: stopped")
		})
	}
}

func TestEchoReportsMemoryOnSIGUSR1(t *testing.T) {
	cmd, lines := startSelf(t, "echo", "--addr", "127.0.0.1:0")
	defer cmd.Process.Kill() // only if the test fails before Wait
	if !lines.Scan() || !strings.Contains(lines.Text(), "listening on") {
		t.Fatalf("no listening line from the server: %q %v", lines.Text(), lines.Err())
	}
	for range 2 { // twice: the handler keeps answering
		if err := cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if !lines.Scan() {
			t.Fatalf("no line after SIGUSR1: %v", lines.Err())
		}
		if !regexp.MustCompile(`^eddy echo: after GC: heap \d+ KiB live, \d+ KiB in use, \d+ KiB stacks, [1-9]\d* GCs$`).MatchString(lines.Text()) {
			t.Fatalf("line after SIGUSR1: %q", lines.Text())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the server did not stop cleanly after SIGTERM: %v", err)
	}
}

// startSelf runs this test binary as "eddy ARGS..." (see childEnv) and returns it with a scanner of its
// stderr lines. The caller kills it if it fails before Wait.
func startSelf(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	return startSelfCmd(t, exec.Command(os.Args[0], "-test.run=^$"), args...)
}

// startSelfIgnoringINT is startSelf with SIGINT ignored in the child from its start, as in a
// background job of a shell without job control (a script's "eddy serve &"): a shell sets the
// disposition and execs the test binary, which inherits it.
func startSelfIgnoringINT(t *testing.T, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	return startSelfCmd(t, exec.Command("sh", "-c", `trap "" INT; exec "$0" -test.run='^$'`, os.Args[0]), args...)
}

// startSelfCmd starts cmd, the test binary (or a shell that execs it), as eddy with args.
func startSelfCmd(t *testing.T, cmd *exec.Cmd, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd.Env = append(os.Environ(), childEnv+"=1", childArgsEnv+"="+strings.Join(args, "\n"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(stderr)
}

// stopSelf sends sig to a child started by startSelf, collects the rest of its stderr, and checks
// that it exits 0 within limit, having logged stopped.
func stopSelf(t *testing.T, cmd *exec.Cmd, lines *bufio.Scanner, sig syscall.Signal, limit time.Duration, stopped string) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	var rest strings.Builder
	for lines.Scan() {
		rest.WriteString(lines.Text() + "\n")
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		if err != nil {
			t.Errorf("exit: %v; stderr:\n%s", err, rest.String())
		}
	case <-time.After(limit):
		t.Fatalf("the child did not exit within %v of %v", limit, sig)
	}
	if !strings.Contains(rest.String(), stopped) {
		t.Errorf("no stop logged:\n%s", rest.String())
	}
}

// "eddy load" with no limit runs until SIGINT or SIGTERM (--duration 0), then prints its report and exits 0.
func TestLoadStopsOnSignalWithReport(t *testing.T) {
	srv := startEcho(t, echoConfig{engine: "auto", loops: 1})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"=1", childArgsEnv+"="+strings.Join([]string{"load", "--json", "--addr", srv.Addr.String(), "--conns", "2", "--duration", "0"}, "\n"))
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill() // only if the test fails before Wait
			lines := bufio.NewScanner(stderr)
			for lines.Scan() && !strings.Contains(lines.Text(), "running 2 connections until interrupted") {
			}
			time.Sleep(200 * time.Millisecond)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			for lines.Scan() {
			}
			waited := make(chan error, 1)
			go func() { waited <- cmd.Wait() }()
			select {
			case err := <-waited:
				if err != nil {
					t.Errorf("exit: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("eddy load did not exit within 10s of the signal")
			}
			var r loadReport
			if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
				t.Fatalf("report: %v\n%s", err, stdout.String())
			}
			if r.RoundTrips == 0 || r.Errors != 0 || r.Seconds < 0.1 {
				t.Errorf("round trips %d, errors %d (%s), window %vs; want some, none, at least 0.1s", r.RoundTrips, r.Errors, r.FirstError, r.Seconds)
			}
		})
	}
}

// "eddy hello", on eddy's http1 and on net/http, stops gracefully on SIGTERM, logs it and exits 0.
func TestHelloStopsOnSignal(t *testing.T) {
	for _, extra := range []string{"--engine=auto", "--baseline"} {
		t.Run(extra, func(t *testing.T) {
			cmd, lines := startSelf(t, "hello", "--addr", "127.0.0.1:0", extra)
			defer cmd.Process.Kill() // only if the test fails before Wait
			if !lines.Scan() || !strings.Contains(lines.Text(), "listening on") {
				t.Fatalf("no listening line: %q %v", lines.Text(), lines.Err())
			}
			stopSelf(t, cmd, lines, syscall.SIGTERM, 10*time.Second, "eddy hello: stopped")
		})
	}
}
