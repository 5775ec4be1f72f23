package main

import (
	"strings"
	"testing"
)

// A unix socket path too long for the system is a bad address, refused before anything starts, by
// every command and the baseline servers alike (exit 2), as the engine's parser refuses it. It was
// exit 1: the engine's New refused it after the command line had passed, and the baseline server only
// failed at bind with EINVAL. The fuzz target FuzzSplitAddr found it.
func TestLongUnixPathIsUsageError(t *testing.T) {
	path := "/tmp/" + strings.Repeat("d", 110)
	addr := "unix://" + path
	for _, cmd := range [][]string{
		{"echo", "--engine", "std"},
		{"echo", "--baseline"},
		{"hello", "--engine", "std"},
		{"hello", "--baseline"},
		{"serve", "--engine", "std", "--dir", t.TempDir()},
		{"load", "--engine", "std", "--conns", "1"},
	} {
		args := append(append([]string{}, cmd...), "--addr", addr, "--duration", "10ms")
		code, _, stderr := runCmd(t, t.Context(), args...)
		want := "eddy: " + cmd[0] + `: --addr: bad address "` + addr + `": socket path of 115 bytes`
		if code != exitUsage || !strings.Contains(stderr, want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", strings.Join(args, " "), code, stderr, exitUsage, want)
		}
	}
}
