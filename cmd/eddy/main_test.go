package main

import (
	"bytes"
	"context"
	"flag"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/eddyio/eddy/internal/fdcheck"
)

// childEnv, when set, makes the test binary run eddy's main with the arguments in childArgsEnv, so that
// tests can check what only a process shows: exit codes and signals.
const (
	childEnv     = "EDDY_CMD_TEST_CHILD"
	childArgsEnv = "EDDY_CMD_TEST_ARGS" // the arguments, separated by newlines
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Args = append([]string{"eddy"}, strings.Split(os.Getenv(childArgsEnv), "\n")...)
		main()
	}
	fdcheck.Main(m)
}

// runCmd runs eddy in-process with args and returns the exit code and what it printed.
func runCmd(t *testing.T, ctx context.Context, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(ctx, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // a substring of stdout, if not empty
		stderr   string // a substring of stderr, if not empty
		noStderr bool
	}{
		{name: "no command", args: nil, code: exitUsage, stderr: "eddy: no command given"},
		{name: "help", args: []string{"help"}, code: exitOK, stdout: "Commands:", noStderr: true},
		{name: "help flag", args: []string{"--help"}, code: exitOK, stdout: "eddy <command> [flags]", noStderr: true},
		{name: "help echo", args: []string{"help", "echo"}, code: exitOK, stdout: "-baseline", noStderr: true},
		{name: "help load", args: []string{"help", "load"}, code: exitOK, stdout: "-conns", noStderr: true},
		{name: "command -h", args: []string{"load", "-h"}, code: exitOK, stdout: "Usage: eddy load", noStderr: true},
		{name: "help unknown", args: []string{"help", "nope"}, code: exitUsage, stderr: `eddy: help: unknown command "nope"`},
		{name: "unknown command", args: []string{"nope"}, code: exitUsage, stderr: `eddy: unknown command "nope"`},
		{name: "unknown flag", args: []string{"echo", "--nope"}, code: exitUsage, stderr: "eddy: echo: flag provided but not defined: -nope"},
		{name: "bad flag value", args: []string{"load", "--conns", "many"}, code: exitUsage, stderr: `eddy: load: invalid value "many" for flag -conns`},
		{name: "stray argument", args: []string{"echo", "extra"}, code: exitUsage, stderr: `eddy: echo: unexpected argument "extra"`},
		{name: "echo bad engine", args: []string{"echo", "--engine", "fast"}, code: exitUsage, stderr: `eddy: echo: --engine "fast"`},
		{name: "echo negative loops", args: []string{"echo", "--loops", "-1"}, code: exitUsage, stderr: "eddy: echo: --loops -1"},
		{name: "echo negative duration", args: []string{"echo", "--duration", "-1s"}, code: exitUsage, stderr: "eddy: echo: --duration -1s"},
		{name: "help help", args: []string{"help", "help"}, code: exitOK, stdout: "Commands:", noStderr: true},
		{name: "echo bad address", args: []string{"echo", "--addr", "udp://127.0.0.1:0", "--duration", "1ms"}, code: exitUsage, stderr: `eddy: echo: --addr: bad address "udp://127.0.0.1:0"`},
		{name: "baseline bad address", args: []string{"echo", "--baseline", "--addr", "udp://127.0.0.1:0"}, code: exitUsage, stderr: `eddy: echo: --addr: bad address "udp://127.0.0.1:0"`},
		{name: "load no conns", args: []string{"load", "--conns", "0"}, code: exitUsage, stderr: "eddy: load: --conns 0"},
		{name: "load zero size", args: []string{"load", "--size", "0"}, code: exitUsage, stderr: "eddy: load: --size 0"},
		{name: "load bad mode", args: []string{"load", "--mode", "ftp"}, code: exitUsage, stderr: `eddy: load: --mode "ftp"`},
		{name: "load bad address", args: []string{"load", "--addr", "sctp://127.0.0.1:1"}, code: exitUsage, stderr: "eddy: load: --addr: bad address"},
		{name: "load negative hold", args: []string{"load", "--hold", "-1s"}, code: exitUsage, stderr: "eddy: load: --hold -1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, t.Context(), tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.stdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.stdout, stdout)
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.stderr, stderr)
			}
			if tt.noStderr && stderr != "" {
				t.Errorf("unexpected stderr:\n%s", stderr)
			}
			if strings.Count(stderr, "eddy: ") > 1 {
				t.Errorf("stderr says \"eddy: \" more than once:\n%s", stderr)
			}
		})
	}
}

// An error is printed with the engine's "eddy: " prefixes removed, but a path that ends in "eddy" (the
// binary "go build ./cmd/eddy" makes, a checkout called eddy) is printed whole.
func TestRunErrorKeepsPathsNamedEddy(t *testing.T) {
	parent := t.TempDir()
	file := filepath.Join(parent, "eddy") // a file, not a directory
	if err := os.WriteFile(file, []byte("binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(parent, "src", "eddy")
	for _, tt := range []struct{ dir, want string }{
		{file, file + ": not a directory"},
		{missing, missing + ": no such file or directory"},
	} {
		code, _, stderr := runCmd(t, t.Context(), "serve", "--dir", tt.dir, "--addr", "127.0.0.1:0", "--duration", "10ms")
		if code != exitFail || !strings.Contains(stderr, tt.want) {
			t.Errorf("serve --dir %s: exit %d, stderr %q; want %d and %q", tt.dir, code, stderr, exitFail, tt.want)
		}
	}
}

func TestWithoutEddyPrefixes(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"eddy: bad option WithLoops(2000): want 1..1024", "bad option WithLoops(2000): want 1..1024"},
		{`load: eddy: engine "uring": eddy: not supported`, `load: engine "uring": not supported`},
		{"dial tcp 127.0.0.1:1: eddy: engine stopped", "dial tcp 127.0.0.1:1: engine stopped"},
		{"serve: --dir /src/eddy: not a directory", "serve: --dir /src/eddy: not a directory"},
		{"stat eddy: no such file or directory", "stat eddy: no such file or directory"},
		{"eddy: ", ""},
		{"", ""},
	} {
		if got := withoutEddyPrefixes(tt.in); got != tt.want {
			t.Errorf("withoutEddyPrefixes(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// --loops out of the engine's range (1..1024) is a command-line error on every server, as it is on
// "eddy load", named by its flag.
func TestServersLoopsOutOfRange(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"echo", "--addr", "127.0.0.1:0", "--duration", "10ms", "--loops", "2000"},
		{"hello", "--addr", "127.0.0.1:0", "--duration", "10ms", "--loops", "2000"},
		{"serve", "--dir", dir, "--addr", "127.0.0.1:0", "--duration", "10ms", "--loops", "2000"},
	} {
		code, _, stderr := runCmd(t, t.Context(), args...)
		if code != exitUsage || !strings.Contains(stderr, "--loops 2000") {
			t.Errorf("%s --loops 2000: exit %d, stderr %q; want %d and the flag named", args[0], code, stderr, exitUsage)
		}
	}
}

// An --addr the engine's parser would refuse is a command-line error (exit 2) on every command that has
// the flag, named with its value and found before anything starts: eddy load has not begun to dial.
func TestBadAddrIsAUsageError(t *testing.T) {
	dir := t.TempDir()
	commands := [][]string{
		{"echo"},
		{"echo", "--baseline"},
		{"hello"},
		{"hello", "--baseline"},
		{"serve", "--dir", dir},
		{"load", "--conns", "1"},
		{"load", "--url", "http://127.0.0.1:1/", "--conns", "1"},
	}
	addrs := []string{
		"foo://x",
		"tcp://127.0.0.1:99999",
		"127.0.0.1:99999",
		"127.0.0.1",
		"tcp://[::1",
		"tcp4://[::1]:0",
		"tcp6://127.0.0.1:0",
		"unix://",
	}
	for _, cmd := range commands {
		for _, addr := range addrs {
			args := append(append([]string{}, cmd...), "--addr", addr, "--duration", "10ms")
			code, _, stderr := runCmd(t, t.Context(), args...)
			want := "eddy: " + cmd[0] + `: --addr: bad address "` + addr + `"`
			if code != exitUsage || !strings.Contains(stderr, want) || !strings.Contains(stderr, "Run 'eddy help "+cmd[0]+"'") {
				t.Errorf("%s: exit %d, stderr %q; want %d and %q with the pointer to help", strings.Join(args, " "), code, stderr, exitUsage, want)
			}
			if strings.Contains(stderr, "opening") || strings.Contains(stderr, "listening") {
				t.Errorf("%s: started before refusing the address:\n%s", strings.Join(args, " "), stderr)
			}
		}
	}
}

// An address that parses but cannot be listened on (it is taken) is a failure at run time: exit 1.
func TestListenFailureIsExit1(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	addr := ln.Addr().String()
	for _, args := range [][]string{
		{"echo", "--engine", "std"},
		{"echo", "--baseline"},
		{"hello", "--engine", "std"},
		{"hello", "--baseline"},
		{"serve", "--engine", "std", "--dir", t.TempDir()},
	} {
		args = append(args, "--addr", addr, "--duration", "1s")
		code, _, stderr := runCmd(t, t.Context(), args...)
		if code != exitFail || strings.Contains(stderr, "Run 'eddy help") {
			t.Errorf("%s: exit %d, stderr %q; want %d without the pointer to help", strings.Join(args, " "), code, stderr, exitFail)
		}
	}
}

// Every flag of every command is in its usage line, and every --addr takes the same forms, its default
// written as host:port.
func TestUsageListsEveryFlag(t *testing.T) {
	for _, cmd := range commands {
		fs, _ := cmd.flags()
		fs.VisitAll(func(f *flag.Flag) {
			if !regexp.MustCompile(`[\[ ]--` + regexp.QuoteMeta(f.Name) + `[ \]]`).MatchString(cmd.usage) {
				t.Errorf("eddy %s: usage %q lacks --%s", cmd.name, cmd.usage, f.Name)
			}
			if f.Name != "addr" {
				return
			}
			if !strings.Contains(f.Usage, addrForms) || strings.Contains(f.DefValue, "://") {
				t.Errorf("eddy %s --addr: help %q, default %q; want %q and a host:port default", cmd.name, f.Usage, f.DefValue, addrForms)
			}
			if !strings.Contains(cmd.usage, "[--addr "+f.DefValue) {
				t.Errorf("eddy %s: usage %q does not show --addr %s, the default", cmd.name, cmd.usage, f.DefValue)
			}
		})
	}
}

// "eddy help <command>" prints the synopsis, then the one-line summary, then the notes, then the flags.
func TestCommandHelpOrder(t *testing.T) {
	for _, cmd := range commands {
		code, stdout, _ := runCmd(t, t.Context(), "help", cmd.name)
		if code != exitOK {
			t.Fatalf("help %s: exit %d", cmd.name, code)
		}
		usage, summary, flags := strings.Index(stdout, "Usage: eddy "+cmd.name), strings.Index(stdout, cmd.summary+"."), strings.Index(stdout, "\nFlags:\n")
		if usage != 0 || summary < usage || flags < summary {
			t.Errorf("help %s: usage at %d, summary at %d, flags at %d; want them in that order:\n%s", cmd.name, usage, summary, flags, stdout)
		}
		if cmd.notes == "" {
			continue
		}
		if notes := strings.Index(stdout, cmd.notes); notes < summary || notes > flags {
			t.Errorf("help %s: notes at %d, not between the summary (%d) and the flags (%d):\n%s", cmd.name, notes, summary, flags, stdout)
		}
	}
	for _, name := range []string{"echo", "load", "get"} {
		if c, _ := lookup(name); c.notes == "" {
			t.Errorf("eddy %s has no notes", name)
		}
	}
}

// timely runs a measurement up to three times and fails the test only if none of the runs met its
// timing: run returns "" when its run was on time, or what fell short. The load generator and the
// servers of these tests share the test process and a 2-core machine with the other packages' tests,
// where a goroutine starved for a few hundred milliseconds makes a short window miss its figures
// without anything being wrong. Checks of correctness (errors, counts that may never be exceeded)
// belong in run's t.Fatal, not in its result.
func timely(t *testing.T, run func() string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		why := run()
		if why == "" {
			return
		}
		if attempt == 3 {
			t.Errorf("short of its timing in each of 3 runs; the last: %s", why)
			return
		}
		t.Logf("run %d short of its timing (%s); again", attempt, why)
	}
}
