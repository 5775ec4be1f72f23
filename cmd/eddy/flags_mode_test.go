package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

// Flags accepted and silently ignored by the mode they were given to.

// "eddy load" in echo mode (the default, or --mode echo) took --insecure, --method, --body-size and
// --expect-status, which only the http mode reads, and ran an echo load as if they were not there; in
// http mode it took --size, the echo mode's message size. Given to the other mode they are now a usage
// error that names them; left at their defaults they are not refused (every other test runs so).
func TestLoadFlagsOfTheOtherModeAreUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--body-size", "1000"}, "eddy: load: --body-size applies to --mode http only (this run is --mode echo, the default)"},
		{[]string{"--mode", "echo", "--insecure"}, "eddy: load: --insecure applies to --mode http only (this run is --mode echo)"},
		{[]string{"--method", "POST"}, "--method applies to --mode http only"},
		{[]string{"--expect-status", "204"}, "--expect-status applies to --mode http only"},
		{[]string{"--body-size", "0"}, "--body-size applies to --mode http only"}, // given, though to its default
		{[]string{"--hold", "1s", "--method", "GET", "--insecure"}, "--insecure, --method apply to --mode http only"},
		{[]string{"--url", "http://127.0.0.1:1/", "--size", "100"},
			"eddy: load: --size applies to --mode echo only (this run is --mode http, as --url implies; the size of its requests' bodies is --body-size)"},
		{[]string{"--mode", "http", "--size", "64"}, "--size applies to --mode echo only (this run is --mode http;"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			// The port is never dialed: the command line is refused before anything starts.
			args := append([]string{"load", "--addr", "127.0.0.1:1", "--conns", "1", "--duration", "100ms"}, tt.args...)
			code, stdout, stderr := runCmd(t, t.Context(), args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || !strings.Contains(stderr, "Run 'eddy help load' for usage.") {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.want)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing (no run)", stdout)
			}
		})
	}
}

// The flags of a mode still work in that mode: the refusal is of the other mode's flags only.
func TestLoadFlagsOfTheirOwnModeAreTaken(t *testing.T) {
	echo := startEcho(t, echoConfig{engine: "auto", loops: 1})
	web := startHello(t, helloConfig{style: "native", engine: "auto", loops: 1})
	for _, args := range [][]string{
		{"--mode", "echo", "--addr", echo.Addr.String(), "--size", "100"},
		{"--url", web + "/", "--method", "GET", "--body-size", "0", "--expect-status", "200"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, r, stderr := runLoadJSON(t, append(args, "--conns", "1", "--requests", "5", "--duration", "10s")...)
			if code != exitOK || r.RoundTrips != 5 || r.Errors != 0 {
				t.Errorf("exit %d, %d round trips, %d errors (%s); want %d, 5, 0\n%s", code, r.RoundTrips, r.Errors, r.FirstError, exitOK, stderr)
			}
			if strings.Contains(stderr, "warning") {
				t.Errorf("a warning for flags of the run's own mode:\n%s", stderr)
			}
		})
	}
}

// --insecure skips the check of an https server's certificate: with an http:// URL it does nothing, and
// says so on stderr. A warning, not an error: a script driving http and https servers with one set of
// flags (bench/http/wrkab.sh) passes it to both. With https, or without --insecure, no warning.
func TestLoadInsecureWithAnHTTPURLWarns(t *testing.T) {
	const warning = "eddy load: warning: --insecure does not apply to an http:// URL"
	plain := rawHTTPServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", false)
	secure := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	t.Cleanup(secure.Close)
	tests := []struct {
		args []string
		warn bool
	}{
		{[]string{"--url", "http://" + plain + "/", "--insecure"}, true},
		{[]string{"--url", "HTTP://" + plain + "/", "--insecure"}, true},
		{[]string{"--url", "http://" + plain + "/"}, false},
		{[]string{"--url", secure.URL + "/", "--insecure"}, false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, r, stderr := runLoadJSON(t, append(tt.args, "--conns", "1", "--requests", "3", "--duration", "10s")...)
			if code != exitOK || r.RoundTrips != 3 {
				t.Fatalf("exit %d, %d round trips (%s); want %d, 3\n%s", code, r.RoundTrips, r.FirstError, exitOK, stderr)
			}
			if got := strings.Count(stderr, warning); got != b2i(tt.warn) {
				t.Errorf("%d warnings %q, want %d; stderr:\n%s", got, warning, b2i(tt.warn), stderr)
			}
		})
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// eddy echo, hello and serve took --loops on the std engine, which serves each connection on goroutines
// of its own, and said nothing: the listening line names no loops. They now warn, once, on stderr; the
// server still runs (exit 0): scripts comparing the engines pass the same --loops to each. Without
// --loops, or with an engine that has loops, there is no warning.
func TestServersWarnOfLoopsOnStd(t *testing.T) {
	dir := t.TempDir()
	for _, cmd := range []string{"echo", "hello", "serve"} {
		base := []string{cmd, "--addr", "127.0.0.1:0", "--duration", "100ms"}
		if cmd == "serve" {
			base = append(base, "--dir", dir)
		}
		warning := "eddy " + cmd + ": warning: --loops 3 does not apply to engine std"
		tests := []struct {
			args []string
			warn bool
		}{
			{[]string{"--engine", "std", "--loops", "3"}, true},
			{[]string{"--engine=std", "--loops=3"}, true},
			{[]string{"--engine", "std"}, false},
		}
		if !slices.Contains(loadEngines(), "epoll") { // elsewhere auto is std
			tests = append(tests, struct {
				args []string
				warn bool
			}{[]string{"--loops", "3"}, true})
		} else {
			tests = append(tests, struct {
				args []string
				warn bool
			}{[]string{"--engine", "epoll", "--loops", "3"}, false})
		}
		for _, tt := range tests {
			t.Run(cmd+" "+strings.Join(tt.args, " "), func(t *testing.T) {
				code, _, stderr := runCmd(t, t.Context(), append(slices.Clone(base), tt.args...)...)
				if code != exitOK {
					t.Fatalf("exit %d, want %d; stderr:\n%s", code, exitOK, stderr)
				}
				if got := strings.Count(stderr, warning); got != b2i(tt.warn) {
					t.Errorf("%d warnings %q, want %d; stderr:\n%s", got, warning, b2i(tt.warn), stderr)
				}
				if !tt.warn && strings.Contains(stderr, "warning") {
					t.Errorf("a warning with no --loops on std:\n%s", stderr)
				}
				if lines := strings.Split(strings.TrimSpace(stderr), "\n"); tt.warn && (len(lines) < 2 || !strings.HasPrefix(lines[0], warning)) {
					t.Errorf("the warning is not the first line, before the listening line:\n%s", stderr)
				}
			})
		}
	}
}

// eddy bench gives --loops 1 to the servers on engines with loops, and none to std's, which would warn.
func TestBenchGivesNoLoopsToStd(t *testing.T) {
	var std int
	for _, s := range benchServers() {
		if !slices.Contains(s.args, "std") {
			if s.Eddy && !slices.Contains(s.args, "--loops") {
				t.Errorf("%s: args %q, want --loops 1", s.Name, s.args)
			}
			continue
		}
		std++
		if slices.Contains(s.args, "--loops") {
			t.Errorf("%s: args %q give --loops to the std engine", s.Name, s.args)
		}
	}
	if std != 3 {
		t.Errorf("%d servers on std, want 3 (echo, hello native and nethttp)", std)
	}
}

// The help says which flags a mode refuses, and what --loops does on std.
func TestFlagHelpSaysWhatIsRefusedOrWarned(t *testing.T) {
	for cmd, want := range map[string]string{
		"load":  "given to a run of\nthe other mode, they are refused (exit 2)",
		"echo":  "the std engine serves on goroutines, not loops, and warns of it",
		"hello": "the std engine serves on goroutines, not loops, and warns of it",
		"serve": "the std engine serves on goroutines, not loops, and warns of it",
	} {
		code, stdout, _ := runCmd(t, t.Context(), "help", cmd)
		if code != exitOK || !strings.Contains(stdout, want) {
			t.Errorf("help %s: exit %d, does not say %q:\n%s", cmd, code, want, stdout)
		}
	}
}
