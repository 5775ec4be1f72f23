package progtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"
)

// TestRaceEnabled checks the build tag against what the test binary says of itself.
func TestRaceEnabled(t *testing.T) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		t.Skip("no build information")
	}
	want := false
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			want = s.Value == "true"
		}
	}
	if raceEnabled != want {
		t.Errorf("raceEnabled = %v, the build information says -race=%v", raceEnabled, want)
	}
}

func TestTree(t *testing.T) {
	dir := Tree(t, map[string]string{"a": "x", "b/c/d": "yz", "b/e": ""})
	for name, want := range map[string]string{"a": "x", "b/c/d": "yz", "b/e": ""} {
		got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || string(got) != want {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
	}
}

func TestExitCode(t *testing.T) {
	if got := ExitCode(nil); got != 0 {
		t.Errorf("ExitCode(nil) = %d, want 0", got)
	}
	if got := ExitCode(exec.ErrNotFound); got != -1 {
		t.Errorf("ExitCode(%v) = %d, want -1", exec.ErrNotFound, got)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool")
	}
	err = exec.Command(goTool, "bogus-subcommand").Run()
	if got := ExitCode(err); got <= 0 {
		t.Errorf("ExitCode(%v) = %d, want a positive status", err, got)
	}
}
