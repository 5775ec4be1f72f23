package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// The tests build the example and run it as a user would, on a temporary directory whose files,
// sizes and line counts they know, and check what it prints.

const runTimeout = 10 * time.Second // the program takes milliseconds; this only bounds a hang

// tree writes files (path with slashes -> content) under a new temporary directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFutures(t *testing.T) {
	prog := build(t)
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
	dir := tree(t, files)
	path := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	size := len(files["a.txt"]) + len(files["sub/b.go"]) + len(big) + len(files["noeol"])
	lines := 3 + 3 + 4096
	summary := fmt.Sprintf("read 5 files (0 failed): %d bytes, %d lines\nlargest: %s (%d bytes)\n",
		size, lines, path("sub/deep/big.txt"), len(big))

	t.Run("found", func(t *testing.T) {
		out := run(t, prog, "-dir", dir, "-word", "needle")
		want := summary + fmt.Sprintf("first file found containing %q: %s\n", "needle", path("sub/b.go"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("not-found", func(t *testing.T) {
		out := run(t, prog, "-dir", dir, "-word", "haystack")
		if want := summary + "no file contains \"haystack\"\n"; out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("several-found", func(t *testing.T) {
		// "\n" is in four files: any of them may win the race, and only one is printed.
		out := run(t, prog, "-dir", dir, "-word", "\n")
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
		out := run(t, prog, "-dir", dir, "-max", "2", "-word", "needle")
		want := fmt.Sprintf("read 2 files (0 failed): 14 bytes, 3 lines\nlargest: %s (14 bytes)\nno file contains \"needle\"\n", path("a.txt"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("empty-dir", func(t *testing.T) {
		out := run(t, prog, "-dir", t.TempDir(), "-word", "needle")
		if want := "read 0 files (0 failed): 0 bytes, 0 lines\nno file contains \"needle\"\n"; out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("unreadable-file", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("needs a file that this user cannot read: not on Windows, not as root")
		}
		dir := tree(t, map[string]string{"a.txt": "needle\n", "b.txt": "needle\n"})
		if err := os.Chmod(filepath.Join(dir, "a.txt"), 0); err != nil {
			t.Fatal(err)
		}
		out := run(t, prog, "-dir", dir, "-word", "needle")
		want := fmt.Sprintf("read 1 files (1 failed): 7 bytes, 1 lines\nlargest: %s (7 bytes)\nfirst file found containing %q: %s\n",
			filepath.Join(dir, "b.txt"), "needle", filepath.Join(dir, "b.txt"))
		if out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("missing-dir", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing")
		stdout, stderr, err := runCmd(t, prog, "-dir", missing)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1; stdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !strings.HasPrefix(stderr, "futures: ") || !strings.Contains(stderr, "missing") || stdout != "" {
			t.Errorf("stdout:\n%s\nstderr:\n%s\nwant only an error that names the directory", stdout, stderr)
		}
	})
}

// run runs prog with args, checks that it exits with status 0 and prints nothing on stderr, and
// returns its standard output.
func run(t *testing.T, prog string, args ...string) string {
	t.Helper()
	stdout, stderr, err := runCmd(t, prog, args...)
	if err != nil || stderr != "" {
		t.Fatalf("%v: exit %v, want status 0; stdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	return stdout
}

// runCmd runs prog with args to its end, killing it if it runs for more than runTimeout.
func runCmd(t *testing.T, prog string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	if raceEnabled() {
		// A program built with the race detector sleeps a second at exit for the reports of
		// other goroutines; there are none to wait for once it returns from main.
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(runTimeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: still running after %v: killed; stdout:\n%s\nstderr:\n%s", args, runTimeout, &out, &errb)
	}
	return out.String(), errb.String(), err
}

// build compiles the example into a temporary directory, with the race detector when the test
// itself has it, and returns the path of the program. VCS stamping is off: it fails when the
// checkout belongs to another user, and the program does not need it.
func build(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	prog := filepath.Join(t.TempDir(), "prog")
	if runtime.GOOS == "windows" {
		prog += ".exe"
	}
	args := []string{"build", "-buildvcs=false", "-o", prog}
	if raceEnabled() {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return prog
}

func raceEnabled() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
