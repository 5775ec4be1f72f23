package main

import (
	"bytes"
	"crypto/sha256"
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

// The tests build the example and run it as a user would, on a temporary directory of known files,
// and check every digest it prints against crypto/sha256, the order of the files, the digest of the
// tree and the pool's counters.

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
	prog := build(t)
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
	dir := tree(t, files)

	for _, workers := range []string{"1", "3", "16"} {
		t.Run("workers="+workers, func(t *testing.T) {
			out := run(t, prog, "-dir", dir, "-workers", workers)
			if want := expect(dir, files, order, false); out != want {
				t.Errorf("output:\n%s\nwant:\n%s", out, want)
			}
		})
	}
	t.Run("quiet", func(t *testing.T) {
		out := run(t, prog, "-dir", dir, "-q")
		if want := expect(dir, files, order, true); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("max", func(t *testing.T) {
		out := run(t, prog, "-dir", dir, "-max", "3", "-workers", "2")
		if want := expect(dir, files, order[:3], false); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("empty-dir", func(t *testing.T) {
		out := run(t, prog, "-dir", t.TempDir())
		if want := expect("", nil, nil, false); out != want {
			t.Errorf("output:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("unreadable-file", func(t *testing.T) {
		if runtime.GOOS == "windows" || os.Geteuid() == 0 {
			t.Skip("needs a file that this user cannot read: not on Windows, not as root")
		}
		dir := tree(t, map[string]string{"a.txt": "a\n", "b.txt": "b\n"})
		if err := os.Chmod(filepath.Join(dir, "b.txt"), 0); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := runCmd(t, prog, "-dir", dir)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1; stdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !strings.HasPrefix(stderr, "pool: hashing: ") || !strings.Contains(stderr, "b.txt") || stdout != "" {
			t.Errorf("stdout:\n%s\nstderr:\n%s\nwant only an error that names the file", stdout, stderr)
		}
	})
	t.Run("missing-dir", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing")
		stdout, stderr, err := runCmd(t, prog, "-dir", missing)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("exit: %v, want status 1; stdout:\n%s\nstderr:\n%s", err, stdout, stderr)
		}
		if !strings.HasPrefix(stderr, "pool: ") || !strings.Contains(stderr, "missing") || stdout != "" {
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
