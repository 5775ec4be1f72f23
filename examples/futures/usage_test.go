package main

import (
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// A bad command line is a usage error: status 2, the reason and the usage on standard error, as for
// flag's own errors. futures read the directory "." when given a directory as an argument rather than
// with -dir, and silently did nothing for -max 0 or below.
func TestUsageErrors(t *testing.T) {
	prog := progtest.Build(t)
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{dir}, "unexpected argument"},
		{[]string{"-dir", dir, "-max", "0"}, "-max 0: want at least 1"},
		{[]string{"-dir", dir, "-max", "-5"}, "-max -5: want at least 1"},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		progtest.UsageError(t, runTimeout, prog, tc.want, tc.args...)
	}
}
