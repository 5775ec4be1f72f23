package main

import (
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// A bad command line is a usage error: status 2, the reason and the usage on standard error, as for
// flag's own errors and as echo and fetch do. hello-http exited with status 1 (log.Fatal) for an
// unknown -engine or -style, and ignored arguments that were not flags and a negative -loops,
// serving anyway.
func TestUsageErrors(t *testing.T) {
	prog := progtest.Build(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-style", "bogus"}, `unknown -style "bogus"`},
		{[]string{"-engine", "bogus"}, `unknown engine "bogus"`},
		{[]string{"-loops", "-2"}, `-loops -2 is negative`},
		{[]string{"8080"}, `unexpected argument "8080"`},
		{[]string{"-bogus"}, "flag provided but not defined"},
	} {
		progtest.UsageError(t, progtest.ExitTimeout, prog, tc.want, append([]string{"-addr", "127.0.0.1:0"}, tc.args...)...)
	}
}
