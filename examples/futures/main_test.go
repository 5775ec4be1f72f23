package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The tests build the example and run it as a user would, on a temporary directory whose files,
// sizes and line counts they know, and check what it prints.

const runTimeout = 10 * time.Second // the program takes milliseconds; this only bounds a hang

func TestMain(m *testing.M) { progtest.Main(m) }

func TestFutures(t *testing.T) {
	prog := progtest.Build(t)
	big := strings.Repeat("0123456789abcdef\n", 4096) // 69632 bytes, 4096 lines
	files := map[string]string{
		"a.txt":            "one\ntwo\nthree\n",                    // 3 lines
		"sub/b.go":         "package b\n\n// the needle is here\n", // 3 lines
		"sub/deep/big.txt": big,
		"empty":            "",
		"noeol":            "no newline at the end", // 0 lines
		".hidden/x.txt":    "needle in a hidden directory\n" + big + big,
		"sub/.git/HEAD":    "needle\n",
	}
	dir := progtest.Tree(t, files)
	path := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	size := len(files["a.txt"]) + len(files["sub/b.go"]) + len(big) + len(files["noeol"])
	lines := 3 + 3 + 4096
	summary := fmt.Sprintf("read 5 files (0 failed): %d bytes, %d lines\nlargest: %s (%d bytes)\n",
		size, lines, path("sub/deep/big.txt"), len(big))

	t.Run("found", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-word", "needle")
		want := summary + fmt.Sprintf("first file found containing %q: %s\n", "needle", path("sub/b.go"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("not-found", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-word", "haystack")
		if want := summary + "no file contains \"haystack\"\n"; out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("several-found", func(t *testing.T) {
		// "\n" is in four files: any of them may win the race, and only one is printed.
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-word", "\n")
		rest, ok := strings.CutPrefix(out, summary)
		if !ok {
			t.Fatalf("output:\n%s\nwant it to begin with:\n%s", out, summary)
		}
		var winners []string
		for _, name := range []string{"a.txt", "sub/b.go", "sub/deep/big.txt"} {
			line := fmt.Sprintf("first file found containing %q: %s\n", "\n", path(name))
			if rest == line {
				return
			}
			winners = append(winners, line)
		}
		t.Errorf("output ends with %q, want one of %q", rest, winners)
	})
	t.Run("max", func(t *testing.T) {
		// The walk is in lexical order: a.txt, empty, noeol, sub/...
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-max", "2", "-word", "needle")
		want := fmt.Sprintf("read 2 files (0 failed): 14 bytes, 3 lines\nlargest: %s (14 bytes)\nno file contains \"needle\"\n", path("a.txt"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("empty-dir", func(t *testing.T) {
		out := progtest.Output(t, runTimeout, prog, "-dir", t.TempDir(), "-word", "needle")
		if want := "read 0 files (0 failed): 0 bytes, 0 lines\nno file contains \"needle\"\n"; out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("unreadable-file", func(t *testing.T) {
		dir := progtest.Tree(t, map[string]string{"a.txt": "needle\n", "b.txt": "needle\n"})
		progtest.Unreadable(t, filepath.Join(dir, "a.txt"))
		out := progtest.Output(t, runTimeout, prog, "-dir", dir, "-word", "needle")
		want := fmt.Sprintf("read 1 files (1 failed): 7 bytes, 1 lines\nlargest: %s (7 bytes)\nfirst file found containing %q: %s\n",
			filepath.Join(dir, "b.txt"), "needle", filepath.Join(dir, "b.txt"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("missing-dir", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing")
		stderr := progtest.RunError(t, runTimeout, 1, prog, "-dir", missing)
		if !strings.HasPrefix(stderr, "futures: ") || !strings.Contains(stderr, "missing") {
			t.Errorf("stderr:\n%s\nwant an error that names the directory", stderr)
		}
	})
}
