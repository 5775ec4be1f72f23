package main

import (
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// eddy load --requests N without --duration ends once requests in flight have had no answer for longer
// than --timeout ("bound on ... each request"), with their errors: against a server that accepts and
// never answers it ran until a signal (found by a review; here the test's 4 s cancel would end it).
func TestLoadRequestsEndsOnASilentServer(t *testing.T) {
	addr := rawServer(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	start := time.Now()
	code, _, stderr := runCmd(t, ctx, "load", "--engine", "epoll", "--addr", addr, "--conns", "2",
		"--requests", "10", "--timeout", "200ms")
	took := time.Since(start)
	if code != exitFail || !strings.Contains(stderr, "unanswered") {
		t.Errorf("exit %d, want %d with the unanswered requests as errors; stderr:\n%s", code, exitFail, stderr)
	}
	if took > 2*time.Second {
		t.Errorf("eddy load --requests 10 --timeout 200ms against a server that never answers ran %v (ended only by the cancel); exit %d\nstderr:\n%s",
			took.Round(time.Millisecond), code, stderr)
	}
}

// eddy hello --baseline loads its certificate before it says "listening on https://...", as the eddy
// servers do: it said it first and then failed, and a script (or eddy bench) waiting for the line was
// told the server was up (found by a review).
func TestHelloBaselineLoadsItsCertificateFirst(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "missing.pem"), filepath.Join(dir, "missing.key")
	code, _, stderr := runCmd(t, t.Context(), "hello", "--baseline", "--addr", "127.0.0.1:0", "--duration", "2s",
		"--tls-cert", cert, "--tls-key", key)
	if code != exitFail {
		t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitFail, stderr)
	}
	if strings.Contains(stderr, "listening on") {
		t.Errorf("a server that could not load its certificate said it was listening:\n%s", stderr)
	}
}

// eddy get refuses a URL whose port is out of range as a command-line error (exit 2), as eddy load
// does; it tried it and failed with exit 1 and an error about a "tcp://" address it was never given
// (found by a review).
func TestGetOutOfRangePortIsAUsageError(t *testing.T) {
	code, _, stderr := runCmd(t, t.Context(), "load", "--url", "http://127.0.0.1:99999/")
	if code != exitUsage {
		t.Fatalf("load: exit %d, want %d (the reference behaviour)\n%s", code, exitUsage, stderr)
	}
	out := filepath.Join(t.TempDir(), "f")
	code, _, stderr = runCmd(t, t.Context(), "get", "--out", out, "http://127.0.0.1:99999/f")
	if code != exitUsage {
		t.Errorf("get http://127.0.0.1:99999/f: exit %d, want %d (a bad URL); stderr:\n%s", code, exitUsage, stderr)
	}
}

// --baseline serves on package net (net/http for hello), so the flags that configure eddy's server
// are refused with it, as a command-line error, rather than ignored (found by a review in session 17).
func TestBaselineRefusesEngineFlags(t *testing.T) {
	for _, args := range [][]string{
		{"echo", "--baseline", "--engine", "uring"},
		{"echo", "--baseline", "--loops", "4"},
		{"hello", "--baseline", "--style", "nethttp"},
		{"hello", "--baseline", "--engine", "epoll", "--loops", "2"},
	} {
		code, _, stderr := runCmd(t, t.Context(), append(args, "--addr", "127.0.0.1:0", "--duration", "1s")...)
		if code != exitUsage || !strings.Contains(stderr, "--baseline serves on package net") {
			t.Errorf("eddy %s: exit %d, want %d with the reason; stderr:\n%s", strings.Join(args, " "), code, exitUsage, stderr)
		}
	}
	// The defaults alone are no error.
	code, _, stderr := runCmd(t, t.Context(), "echo", "--baseline", "--addr", "127.0.0.1:0", "--duration", "100ms")
	if code != 0 {
		t.Errorf("eddy echo --baseline: exit %d; stderr:\n%s", code, stderr)
	}
}
