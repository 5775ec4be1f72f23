//go:build unix

package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServeStopsGracefullyOnSignal(t *testing.T) {
	dir, _ := fileDir(t, 10)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd, lines := startSelf(t, "serve", "--dir", dir, "--addr", "127.0.0.1:0")
			defer cmd.Process.Kill() // only if the test fails before Wait
			if !lines.Scan() {
				t.Fatalf("no log line from the server: %v", lines.Err())
			}
			m := regexp.MustCompile(`on (http://\S+)`).FindStringSubmatch(lines.Text())
			if m == nil {
				t.Fatalf("log line %q does not name the address", lines.Text())
			}
			cl := httpClient(t)
			resp, err := cl.Get(m[1] + "hello.txt")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(b) != "hello, eddy\n" {
				t.Fatalf("GET hello.txt: %q", b)
			}
			stopSelf(t, cmd, lines, sig, 15*time.Second, "eddy serve: stopped")
		})
	}
}

// The first SIGINT starts a graceful stop; a second ends a stop that takes too long (here, held by a
// download the client does not read) instead of waiting out serveStopTimeout, with the status of a
// process killed by SIGINT. So too in a server started with SIGINT ignored (a script's background
// job), which used to stop on the first and ignore the second (Go restores an inherited "ignore").
func TestServeSecondSignalKills(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/big.bin", bytes.Repeat([]byte("x"), 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		start func(*testing.T, ...string) (*exec.Cmd, *bufio.Scanner)
	}{{"default", startSelf}, {"SIGINT ignored", startSelfIgnoringINT}} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, lines := tc.start(t, "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--engine", "std")
			defer cmd.Process.Kill() // only if the test fails before Wait
			if !lines.Scan() {
				t.Fatalf("no log line: %v", lines.Err())
			}
			m := regexp.MustCompile(`on http://(\S+)/`).FindStringSubmatch(lines.Text())
			if m == nil {
				t.Fatalf("log line %q", lines.Text())
			}
			c, err := net.Dial("tcp", m[1])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.(*net.TCPConn).SetReadBuffer(4 << 10)
			io.WriteString(c, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
			c.Read(make([]byte, 1024)) // the response is under way; the rest is never read
			time.Sleep(200 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGINT)
			time.Sleep(300 * time.Millisecond)
			var said strings.Builder
			scanned := make(chan struct{})
			go func() {
				defer close(scanned)
				for lines.Scan() {
					said.WriteString(lines.Text() + "\n")
				}
			}()
			waited := make(chan error, 1)
			go func() { <-scanned; waited <- cmd.Wait() }()
			// The second signal again every 200 ms: one that comes before the child has taken the
			// first (a child starved on a loaded machine) counts as the first.
			tick := time.NewTicker(200 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(5 * time.Second)
			for {
				cmd.Process.Signal(syscall.SIGINT)
				select {
				case err := <-waited:
					var ee *exec.ExitError
					if !errors.As(err, &ee) || ee.ExitCode() != 128+int(syscall.SIGINT) {
						t.Errorf("exit after a second signal: %v, want status %d\n%s", err, 128+int(syscall.SIGINT), said.String())
					}
					if !strings.Contains(said.String(), "eddy: interrupt again: exiting without waiting for the stop") {
						t.Errorf("the child did not say why it exits:\n%s", said.String())
					}
					return
				case <-deadline:
					t.Fatal("still running 5s after a second SIGINT")
				case <-tick.C:
				}
			}
		})
	}
}
