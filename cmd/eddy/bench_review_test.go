package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// reviewFailLoadEnv, set in a child run as "eddy load", makes it fail as eddy load does when it cannot
// reach the server: exit 1, a message, and no report.
const reviewFailLoadEnv = "EDDY_CMD_TEST_REVIEW_FAIL_LOAD"

func init() {
	if os.Getenv(reviewFailLoadEnv) != "" && os.Getenv(childEnv) != "" {
		fmt.Fprintln(os.Stderr, "eddy: no connection could be opened to 127.0.0.1:1; first error: connection refused")
		os.Exit(exitFail)
	}
}

// A server that ran in round 1 and failed to start in round 2 is marked unavailable; its row then says
// "not available" and hides the figures of its good run, while the table still takes it as the
// reference ("ratios to eddy-epoll") from that same run.
func TestReviewBenchUnavailableRowKeepsItsRuns(t *testing.T) {
	cfg := defaultBenchConfig()
	cfg.echoConns, cfg.httpConns, cfg.rounds = []int{2}, nil, 2
	rep := newBenchReport(cfg, pinning{why: "test"})
	c := cfg.cases()[0]
	run := func(server string, round int, ops float64) benchRun {
		cpu, per := 1.0, ops
		return benchRun{Case: c.ID, Server: server, Round: round, Seconds: 1, Ops: uint64(ops), OpsPerSec: ops,
			P99: int64(time.Millisecond), ServerCPU: &cpu, OpsPerCPU: &per}
	}
	rep.add(run("eddy-epoll", 1, 123456))
	rep.add(run("net", 1, 100000))
	// Round 2: eddy-epoll exits before listening.
	for _, s := range benchServers() {
		if s.Name == "eddy-epoll" {
			rep.markUnavailable(s, &errNotStarted{reason: "listen: address already in use"})
		}
	}
	rep.add(run("net", 2, 100000))
	rep.finish(time.Second)

	var out bytes.Buffer
	rep.writeText(&out)
	text := out.String()
	t.Logf("\n%s", text)
	if strings.Contains(text, "(ratios to eddy-epoll)") {
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "eddy-epoll ") && strings.Contains(line, "not available") {
				t.Errorf("the ratios are to eddy-epoll, whose row hides its figures: %q", line)
			}
		}
	}
	if !strings.Contains(text, "123,456") {
		t.Errorf("eddy-epoll's measured round (123,456 round trips/s) is missing from the table")
	}
}

// When every run fails (here the load generator cannot reach any server), eddy bench prints tables of
// failures and returns no error: the command exits 0 although it measured nothing.
func TestReviewBenchEveryRunFailedIsAnError(t *testing.T) {
	cfg := quickEchoBench(reviewFailLoadEnv)
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), cfg, &stdout, &stderr)
	checkChildrenGone(t, rep)
	ok := 0
	for _, r := range rep.Runs {
		if r.Error == "" {
			ok++
		}
	}
	if ok != 0 {
		t.Fatalf("%d runs succeeded; the fake load generator should fail them all\n%s", ok, stderr.String())
	}
	if err == nil {
		t.Errorf("runBench returned no error (exit status 0) with %d runs, all failed:\n%s", len(rep.Runs), stdout.String())
	}
}
