package main

import (
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would, on a temporary directory of known files,
// and check every digest it prints against crypto/sha256, the order of the files, the digest of the
// tree and the pool's counters.

const runTimeout = 10 * time.Second // the program takes milliseconds; this only bounds a hang

func TestMain(m *testing.M) { progtest.Main(m) }

// expect returns what the program prints for the files named, in this order, under dir: with
// quiet, only the summary.
func expect(dir string, files map[string]string, names []string, quiet bool) string {
	var out, list strings.Builder
	for _, name := range names {
		line := fmt.Sprintf("%x  %s\n", sha256.Sum256([]byte(files[name])), filepath.Join(dir, filepath.FromSlash(name)))
		list.WriteString(line)
	}
	if !quiet {
		out.WriteString(list.String())
	}
	fmt.Fprintf(&out, "%d files, tree digest %x\n", len(names), sha256.Sum256([]byte(list.String())))
	fmt.Fprintf(&out, "pool: %d completed, 0 panics, 0 rejected\n", len(names))
	return out.String()
}

func TestPool(t *testing.T) {
	prog := progtest.Build(t)
	// big spans several of the 64 KiB blocks that hashFile reads, and ends inside one.
	big := strings.Repeat("the quick brown fox jumps over the lazy dog\n", 5000)
	files := map[string]string{
		"c.txt":           "cee\n",
		"a.txt":           "hello\n",
		"b/x.bin":         "\x00\x01\x02\xff",
		"b/y/empty":       "",
		"big.dat":         big,
		".git/config":     "hidden: skipped\n",
		"b/.cache/ignore": "hidden: skipped\n",
	}
	// Lexical walk order: "b" sorts before "big.dat"; hidden directories are skipped.
	order := []string{"a.txt", "b/x.bin", "b/y/empty", "big.dat", "c.txt"}
	dir := progtest.Tree(t, files)

	for _, workers := range []string{"1", "3", "16"} {
		t.Run("workers="+workers, func(t *testing.T) {
			out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-workers", workers)
			if want := expect(dir, files, order, false); out != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
	t.Run("quiet", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-q")
		if want := expect(dir, files, order, true); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("max", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-max", "3", "-workers", "2")
		if want := expect(dir, files, order[:3], false); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("empty-dir", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", t.TempDir())
		if want := expect("", nil, nil, false); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("unreadable-file", func(t *testing.T) {
		dir := progtest.Tree(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
		progtest.Unreadable(t, filepath.Join(dir, "b.txt"))
		stderr := progtest.RunError(t, runTimeout, 1, prog, "-dir", dir)
		if !strings.HasPrefix(stderr, "pool: hashing: ") || !strings.Contains(stderr, "b.txt") {
			t.Errorf("stderr:\n%s\nwant an error that names the file", stderr)
		}
	})
	t.Run("missing-dir", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing")
		stderr := progtest.RunError(t, runTimeout, 1, prog, "-dir", missing)
		if !strings.HasPrefix(stderr, "pool: ") || !strings.Contains(stderr, "missing") {
			t.Errorf("stderr:\n%s\nwant an error that names the directory", stderr)
		}
	})
}
