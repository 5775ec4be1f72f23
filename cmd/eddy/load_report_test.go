package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

// In http mode, the report's addr is the address dialed (the URL's host and port without --addr), not
// the default of --addr, 127.0.0.1:9000, which the run never connected to.
func TestLoadJSONAddrIsTheAddressDialed(t *testing.T) {
	base := startHello(t, helloConfig{style: "native", engine: "auto", loops: 1})
	hostPort := strings.TrimPrefix(base, "http://")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--url", base + "/"}, "tcp://" + hostPort},
		{[]string{"--url", "http://example.invalid/", "--addr", hostPort}, hostPort},
	} {
		args := append([]string{"load", "--json", "--conns", "1", "--requests", "3"}, tt.args...)
		code, stdout, stderr := runCmd(t, t.Context(), args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d, stderr %q", args, code, stderr)
		}
		var rep loadReport
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("%q: %v\n%s", args, err, stdout)
		}
		if rep.Addr != tt.want {
			t.Errorf("%q: addr %q, want %q", args, rep.Addr, tt.want)
		}
	}
}

// runLoadInterrupted runs eddy load with args under a context cancelled once the load generator has
// said it is opening the connections, and returns the exit code and stderr.
func runLoadInterrupted(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"load"}, args...), &syncBuffer{}, &errOut) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(errOut.String(), "opening") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the dials under way; the outcome is the same without
	cancel()
	select {
	case code := <-done:
		return code, errOut.String()
	case <-time.After(10 * time.Second):
		t.Fatal("eddy load did not return within 10s of the interruption")
	}
	panic("unreachable")
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader on different goroutines.
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

// One connection, one request: the log lines say "1 connection" and "1 request", not "1 connections".
func TestLoadSaysOneConnection(t *testing.T) {
	srv := startEcho(t, echoConfig{engine: "auto", loops: 1})
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--requests", "1"}, []string{"eddy load: opening 1 connection to ", "eddy load: running 1 connection for 1 request\n"}},
		{[]string{"--hold", "10ms"}, []string{"eddy load: opening 1 connection to ", "eddy load: holding 1 connection for 10ms"}},
	} {
		args := append([]string{"load", "--addr", srv.Addr.String(), "--conns", "1"}, tt.args...)
		code, _, stderr := runCmd(t, t.Context(), args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d, stderr %q", args, code, stderr)
		}
		for _, w := range tt.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%q: stderr %q, want %q in it", args, stderr, w)
			}
		}
	}
}
