//go:build unix

package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"regexp"
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
// download the client does not read) instead of waiting out serveStopTimeout.
func TestServeSecondSignalKills(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/big.bin", bytes.Repeat([]byte("x"), 32<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd, lines := startSelf(t, "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--engine", "std")
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
	go func() {
		for lines.Scan() {
		}
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	// The second signal again every 200 ms: one that comes before the child has restored the default
	// action (context.AfterFunc(ctx, stop) in main; a child starved on a loaded machine may be late
	// to run it) is caught and dropped.
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(5 * time.Second)
	for {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-waited:
			t.Logf("exit after a second signal: %v", err)
			return
		case <-deadline:
			t.Fatal("still running 5s after a second SIGINT")
		case <-tick.C:
		}
	}
}
