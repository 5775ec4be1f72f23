package main

import (
	"context"
	"strings"
	"testing"
)

// An interrupted bench says so, without the "(context canceled)" of the context the signal cancelled,
// and exits 1, still printing its (empty) tables.
func TestBenchInterruptedSaysSo(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // SIGINT before the first run
	code, stdout, stderr := runCmd(t, ctx, "bench", "--duration", "100ms", "--rounds", "1", "--echo-conns", "1", "--http-conns", "")
	if code != exitFail || !strings.Contains(stderr, "eddy: bench: interrupted\n") || strings.Contains(stderr, "context canceled") {
		t.Errorf("exit %d, stderr %q; want %d and \"eddy: bench: interrupted\"", code, stderr, exitFail)
	}
	if !strings.Contains(stdout, "Interrupted: the tables hold the runs finished before.") {
		t.Errorf("stdout %q: no note of the interruption", stdout)
	}
}

// "eddy help bench" gives the default of --server-cpu, 0, as it gives --load-cpu's: package flag leaves
// a zero default out, and the help said nothing of where the servers go.
func TestBenchHelpGivesServerCPUDefault(t *testing.T) {
	code, stdout, _ := runCmd(t, t.Context(), "help", "bench")
	i := strings.Index(stdout, "\n  -server-cpu ")
	if code != exitOK || i < 0 || !strings.Contains(strings.SplitN(stdout[i+1:], "\n  -", 2)[0], "default 0") {
		t.Errorf("exit %d, help:\n%s\nwant --server-cpu's default, 0", code, stdout)
	}
}
