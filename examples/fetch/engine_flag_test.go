package main

import (
	"testing"

	"github.com/eddyio/eddy/examples/internal/progtest"
)

// The doc comment promises "2 on a bad command line". An unknown -engine is a bad command line, but
// it was found only when the first request failed, and every URL was then reported as failed with
// status 1, as if the network had failed (session 19).
func TestBadEngineIsUsageError(t *testing.T) {
	prog := progtest.Build(t)
	stdout, stderr, err := progtest.Run(t, runTimeout, prog, "-engine", "bogus", "http://127.0.0.1:1/x")
	if code := progtest.ExitCode(err); code != 2 {
		t.Errorf("fetch -engine bogus URL: exit %d, want 2 (a bad command line); stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
