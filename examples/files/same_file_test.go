package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Copying a file onto itself (-src and -dst naming the same file) must fail without harming the
// source, as cp does ("are the same file"). files opened -dst with O_TRUNC before reading -src, so the
// source was emptied first and its contents lost (found in session 19).
func TestCopyOntoItselfKeepsTheSource(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "data.bin")
	content := bytes.Repeat([]byte("precious data "), 10000)
	if err := os.WriteFile(src, content, 0o644); err != nil {
		t.Fatal(err)
	}
	err := run(src, filepath.Join(dir, ".", "data.bin"), 1<<16, 4, "pool")
	got, rerr := os.ReadFile(src)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err == nil || !strings.Contains(err.Error(), "same file") {
		t.Errorf("files onto itself: error %v, want \"... are the same file\"", err)
	}
	if !bytes.Equal(got, content) {
		t.Errorf("files -src %s -dst (the same file): error %v; the source now holds %d bytes, had %d", src, err, len(got), len(content))
	}
}
