//go:build unix

package main

import (
	"errors"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An "eddy get" stopped by SIGINT says it was interrupted, not "context canceled" (the error of the
// request the signal cut short), exits 1 and leaves no file behind.
func TestGetSIGINTSaysInterrupted(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // accepts and never answers: the probe waits until the signal
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	dir := t.TempDir()
	cmd, lines := startSelf(t, "get", "--timeout", "0", "--out", filepath.Join(dir, "f"), "http://"+ln.Addr().String()+"/f")
	defer cmd.Process.Kill() // only if the test fails before Wait
	select {
	case c := <-accepted:
		defer c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("eddy get did not connect")
	}
	time.Sleep(100 * time.Millisecond) // the request on its way; not needed for the result
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	for lines.Scan() {
		stderr.WriteString(lines.Text() + "\n")
	}
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	select {
	case err := <-waited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFail {
			t.Errorf("exit: %v, want status %d", err, exitFail)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("eddy get did not exit within 10s of SIGINT")
	}
	if s := stderr.String(); !strings.Contains(s, "eddy: get: interrupted") || strings.Contains(s, "context canceled") {
		t.Errorf("stderr %q: want it to say interrupted, without context canceled", s)
	}
	if names := dirEntries(t, dir); len(names) > 0 {
		t.Errorf("left behind: %q", names)
	}
}
