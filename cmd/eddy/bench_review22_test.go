package main

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"
)

// reviewPanicLoadEnv, set in a child run as "eddy load", makes it crash as a Go program does on a
// panic: a stack trace on standard error, no report, and exit status 2, the status of a usage error.
const reviewPanicLoadEnv = "EDDY_CMD_TEST_REVIEW_PANIC_LOAD"

func init() {
	if os.Getenv(reviewPanicLoadEnv) != "" && os.Getenv(childEnv) != "" {
		panic("review: the load generator crashes")
	}
}

// A load generator that crashes (a panic exits with status 2 and prints no report) has not rejected
// its command line: its run fails, the case is not skipped as one the load generator cannot run, and a
// bench in which every run failed so is an error (exit 1), not a success with a table of skipped cases.
func TestBenchCrashingLoadGeneratorFailsItsRuns(t *testing.T) {
	cfg := quickEchoBench(reviewPanicLoadEnv)
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), cfg, &stdout, &stderr)
	checkChildrenGone(t, rep)
	if len(rep.Cases) != 1 {
		t.Fatalf("%d cases, want 1", len(rep.Cases))
	}
	c := rep.Cases[0]
	if c.Skipped != "" {
		t.Errorf("case skipped as one the load generator cannot run: %s", c.Skipped)
	}
	failed := 0
	for _, row := range c.Rows {
		failed += len(row.Failed)
	}
	if want := len(serversFor(benchServers(), kindEcho)); failed != want {
		t.Errorf("%d failed runs, want one per echo server (%d):\n%s", failed, want, stdout.String())
	}
	if err == nil {
		t.Errorf("runBench returned no error although the load generator crashed in every run:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "review: the load generator crashes") {
		t.Errorf("the tables do not say why the runs failed:\n%s", stdout.String())
	}
}

// A server that rejects its command line exits before listening with eddy's usage error, then the
// pointer to its usage ("Run 'eddy help echo' for usage."): the reason the tables give for its absence is
// the error, not the pointer.
func TestBenchServerThatCannotStartSaysWhy(t *testing.T) {
	cfg := quickEchoBench("")
	inner := cfg.command
	cfg.command = func(args []string) (argv, env []string) {
		if args[0] == "echo" && slices.Contains(args, "std") {
			args = append(slices.Clone(args), "--review-no-such-flag")
		}
		return inner(args)
	}
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), cfg, &stdout, &stderr)
	checkChildrenGone(t, rep)
	if err != nil {
		t.Fatalf("runBench: %v\n%s", err, stderr.String())
	}
	for _, row := range rep.Cases[0].Rows {
		if row.Server != "eddy-std" {
			continue
		}
		if !strings.Contains(row.Unavailable, "review-no-such-flag") {
			t.Errorf("eddy-std is not available because %q; want its error about --review-no-such-flag", row.Unavailable)
		}
		return
	}
	t.Errorf("no row of eddy-std:\n%s", stdout.String())
}
