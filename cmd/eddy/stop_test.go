package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// floodUnread connects to addr and writes chunk over and over without reading a byte back, until the
// writes block (the server's output to it is backed up and it stopped reading), and returns the
// connection, left open.
func floodUnread(t *testing.T, addr string, chunk []byte) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.(*net.TCPConn).SetReadBuffer(4096)
	stalls := 0 // writes in a row that took nothing for 200ms: three, and the server reads no more
	for total := 0; total < 256<<20; {
		c.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := c.Write(chunk)
		total += n
		switch {
		case err == nil || errors.Is(err, os.ErrDeadlineExceeded) && n > 0:
			stalls = 0
		case errors.Is(err, os.ErrDeadlineExceeded):
			if stalls++; stalls == 3 {
				return c
			}
		default:
			t.Fatalf("write: %v", err)
		}
	}
	t.Fatal("the server kept reading 256 MiB that it could not send back")
	return nil
}

// A server stopped (SIGINT, SIGTERM) while a peer reads none of its output waits for the stop's bound,
// closes that connection, says so and exits 0, as eddy serve does: eddy echo and eddy hello said
// "context deadline exceeded" (twice over for hello's native style) and exited 1. (hello --baseline, on
// net/http, does the same when net/http's Shutdown times out, which this flood does not make it do
// in-process; a peer in another process does.)
func TestServerStopTimeoutIsNoFailure(t *testing.T) {
	defer func(e, h time.Duration) { echoStopTimeout, helloStopTimeout = e, h }(echoStopTimeout, helloStopTimeout)
	echoStopTimeout, helloStopTimeout = 300*time.Millisecond, 300*time.Millisecond
	echoChunk := bytes.Repeat([]byte("x"), 64<<10)
	httpChunk := bytes.Repeat([]byte("GET / HTTP/1.1\r\nHost: h.test\r\n\r\n"), 2000)
	for _, tt := range []struct {
		args  []string
		chunk []byte
	}{
		{[]string{"echo", "--engine", "auto"}, echoChunk},
		{[]string{"echo", "--engine", "std"}, echoChunk},
		{[]string{"hello", "--style", "native"}, httpChunk},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stderr syncBuffer
			done := make(chan int, 1)
			go func() { done <- run(ctx, append(tt.args, "--addr", "127.0.0.1:0"), &syncBuffer{}, &stderr) }()
			listening := regexp.MustCompile(`listening on (127\.0\.0\.1:\d+)`)
			var m []string
			for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				m = listening.FindStringSubmatch(stderr.String())
			}
			if m == nil {
				cancel()
				t.Fatalf("no listening line: %q", stderr.String())
			}
			floodUnread(t, m[1], tt.chunk)
			cancel()
			var code int
			select {
			case code = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the server did not stop within 10s")
			}
			name := tt.args[0]
			want := "eddy " + name + ": the graceful stop took longer than 300ms: the connections still open were closed\neddy " + name + ": stopped\n"
			if code != exitOK || !strings.HasSuffix(stderr.String(), want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitOK, want)
			}
		})
	}
}
