package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// A bad command line is a usage error: status 2, the reason and the usage on standard error, as
// for flag's own errors (and as echo and fetch do). files exited with status 1, as for a failed
// copy, and ignored arguments that were not flags.
func TestFilesUsageErrors(t *testing.T) {
	prog := progtest.Build(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, "d")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no-args", nil, "-src and -dst are required"},
		{"no-dst", []string{"-src", src}, "-src and -dst are required"},
		{"bad-chunk", []string{"-src", src, "-dst", dst, "-chunk", "0"}, "must be positive"},
		{"bad-inflight", []string{"-src", src, "-dst", dst, "-inflight", "-1"}, "must be positive"},
		{"bad-backend", []string{"-src", src, "-dst", dst, "-backend", "disk"}, `unknown -backend "disk"`},
		{"extra-argument", []string{"-src", src, "-dst", dst, "other"}, `unexpected argument "other"`},
		{"unknown-flag", []string{"-bogus"}, "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			progtest.UsageError(t, runTimeout, prog, tc.want, tc.args...)
			if _, err := os.Stat(dst); err == nil {
				t.Errorf("a bad command line created %s", dst)
			}
		})
	}
}

// -chunk bounds the size of a read and a write; it is not the size of the buffers to allocate
// whatever the file. files made -inflight buffers of -chunk bytes each, so a large -chunk ended the
// program with "fatal error: runtime: out of memory" on a file of a few bytes.
func TestFilesLargeChunkSmallFile(t *testing.T) {
	prog := progtest.Build(t)
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	content := []byte("a small file\n")
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, backend := range backends(t) {
		out := progtest.Output(t, runTimeout, prog, "-backend", backend, "-src", src, "-dst", dst, "-chunk", "1000000000000", "-inflight", "4")
		if !strings.Contains(out, "copied 13 bytes in 1 chunks") || !strings.Contains(out, "digests match") {
			t.Errorf("%s: output %q", backend, out)
		}
		if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, content) {
			t.Errorf("%s: copy %q, %v; want %q", backend, got, err, content)
		}
	}
	// An empty file too: no chunk at all.
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := progtest.Output(t, runTimeout, prog, "-src", empty, "-dst", dst, "-chunk", "1000000000000"); !strings.Contains(out, "copied 0 bytes in 0 chunks") {
		t.Errorf("empty file: output %q", out)
	}
}
