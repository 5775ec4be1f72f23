// Package progtest helps the tests of the example programs run each program as a user would: it
// builds the program of the package under test once per test binary (with the race detector when
// the test has it), runs it as a subprocess with a deadline, reads its output while it runs, stops
// it with SIGTERM and checks how it exits, and writes the temporary directory trees that some
// programs read.
//
// It is test-support code: only _test.go files import it, and it panics if it is linked into a
// binary that is not a test. A test file that calls [Build] must have a TestMain that calls [Main],
// which removes the program when the tests are done:
//
//	func TestMain(m *testing.M) { progtest.Main(m) }
package progtest

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyio/eddy/internal/fdcheck"
)

func init() {
	if !testing.Testing() {
		panic("progtest is test-support code, imported by a binary that is not a test")
	}
}

const (
	// StartTimeout bounds [Proc.WaitFor]: the program is built by then, so this only bounds the
	// start of a server.
	StartTimeout = 15 * time.Second
	// ExitTimeout bounds the exit after [Proc.Stop]'s SIGTERM: a graceful stop takes
	// milliseconds, so this only bounds a hang.
	ExitTimeout = 5 * time.Second
)

// the program that Build compiles, shared by the tests of one test binary.
var built struct {
	sync.Mutex
	inMain bool   // Main is running the tests
	dir    string // the temporary directory that holds the program, removed by Main
	prog   string // the path of the program, once built
	err    error  // why the build failed, once tried
}

// Main runs the tests of m and exits with their status, after removing the program that [Build]
// compiled. A test binary whose tests call Build calls Main from its TestMain. A run that passed but
// left goroutines running or file descriptors open (a program's pipes, a connection to it) fails, as
// the library's own packages do (internal/fdcheck).
func Main(m *testing.M) {
	built.Lock()
	built.inMain = true
	built.Unlock()
	fdcheck.Main(removeAfter{m})
}

// removeAfter runs the tests, then removes the program that Build compiled.
type removeAfter struct{ m *testing.M }

func (r removeAfter) Run() int {
	code := r.m.Run()
	built.Lock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	built.Unlock()
	return code
}

// Build returns the path of the program in the current directory, which is the directory of the
// package under test, compiling it on the first call of the test binary. The build has the race
// detector when the test binary has it. VCS stamping is off: it fails when the checkout belongs to
// another user, and the programs do not need it. A failed build fails every test that calls Build.
func Build(t testing.TB) string {
	t.Helper()
	built.Lock()
	defer built.Unlock()
	if !built.inMain {
		t.Fatal("progtest.Build needs a TestMain that calls progtest.Main")
	}
	if built.prog == "" && built.err == nil {
		built.prog, built.err = build()
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.prog
}

func build() (string, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	built.dir, err = os.MkdirTemp("", "progtest")
	if err != nil {
		return "", err
	}
	prog := filepath.Join(built.dir, "prog")
	if runtime.GOOS == "windows" {
		prog += ".exe"
	}
	args := []string{"build", "-buildvcs=false", "-o", prog}
	if raceEnabled {
		args = append(args, "-race")
	}
	cmd := exec.Command(goTool, append(args, ".")...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + "\n" + string(out))
	}
	return prog, nil
}

// Command returns the command that runs prog with args. A program built with the race detector
// sleeps a second at exit, for the reports of other goroutines (GORACE atexit_sleep_ms); the
// command turns that off, so that a test measures the exit itself and not the sleep.
func Command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(prog, args...)
	if raceEnabled {
		cmd.Env = append(os.Environ(), "GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	}
	return cmd
}

// Run runs prog with args to its end and returns its standard output, its standard error and the
// result of Wait. If the program runs for longer than timeout, Run kills it and fails the test.
func Run(t testing.TB, timeout time.Duration, prog string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := Command(prog, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v: still running after %v: killed; stdout:\n%s\nstderr:\n%s", args, timeout, &out, &errb)
	}
	return out.String(), errb.String(), err
}

// Output runs prog with args as [Run] does, checks that it exits with status 0 and prints nothing
// on standard error, and returns its standard output.
func Output(t testing.TB, timeout time.Duration, prog string, args ...string) string {
	t.Helper()
	stdout, stderr, err := Run(t, timeout, prog, args...)
	if err != nil || stderr != "" {
		t.Fatalf("%v: exit %v, want status 0; stdout:\n%s\nstderr:\n%s", args, err, stdout, stderr)
	}
	return stdout
}

// RunError runs prog with args as [Run] does, checks that it exits with status and prints nothing
// on standard output, and returns what it printed on standard error.
func RunError(t testing.TB, timeout time.Duration, status int, prog string, args ...string) (stderr string) {
	t.Helper()
	stdout, stderr, err := Run(t, timeout, prog, args...)
	if ExitCode(err) != status || stdout != "" {
		t.Fatalf("%v: exit %v, want status %d and no standard output; stdout:\n%s\nstderr:\n%s", args, err, status, stdout, stderr)
	}
	return stderr
}

// UsageError runs prog with args as [RunError] does and checks that it fails as a bad command line
// does: status 2, and standard error holding want (the reason) and the flag package's usage ("Usage
// of"). It returns standard error.
func UsageError(t testing.TB, timeout time.Duration, prog, want string, args ...string) (stderr string) {
	t.Helper()
	stderr = RunError(t, timeout, 2, prog, args...)
	if !strings.Contains(stderr, want) || !strings.Contains(stderr, "Usage of") {
		t.Errorf("%v: standard error lacks %q or the usage:\n%s", args, want, stderr)
	}
	return stderr
}

// ExitCode returns the exit status that err, a result of [Run], reports: 0 for nil, the status
// for an [*exec.ExitError], and -1 for any other error, such as a program killed by a signal.
func ExitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// Tree writes files (a path with slashes -> its content) under a new temporary directory of the
// test, creating the directories on the way, and returns the directory.
func Tree(t testing.TB, files map[string]string) string {
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

// Unreadable makes the file at path unreadable to the test, or skips the test where that cannot
// be done: on Windows, and as root, who reads any file.
func Unreadable(t testing.TB, path string) {
	t.Helper()
	if runtime.GOOS == "windows" || os.Geteuid() == 0 {
		t.Skip("needs a file that this user cannot read: not on Windows, not as root")
	}
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
}

// Engines returns the names of the engines that the platform has, as the tests of the eddy
// package choose them.
func Engines() []string {
	if runtime.GOOS == "linux" {
		return []string{"epoll", "uring", "std"}
	}
	return []string{"std"}
}

// NeedSIGTERM skips the test where [Proc.Stop] cannot send SIGTERM: on Windows.
func NeedSIGTERM(t testing.TB) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the test stops the program with SIGTERM, which Windows cannot send")
	}
}
