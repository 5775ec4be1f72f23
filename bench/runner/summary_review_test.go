package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// reviewReport returns a report of one round per entry of runs, on servers eddy-epoll and gnet and the
// cases echo-c100-64B and idle-c10000.
func reviewReport(runs ...result) *report {
	servers := []server{{Name: "eddy-epoll", Kind: kindEcho}, {Name: "gnet", Kind: kindEcho}}
	rep := newReport(config{duration: time.Second, rounds: 2, loadCPU: 1}, nil)
	rep.start([]benchCase{allCases[0], allCases[4]}, servers)
	for _, r := range runs {
		rep.add(r)
	}
	rep.finish()
	return rep
}

// A case in which every run failed (here the idle case: eddy load opened no connection) has nothing to
// draw; the charts of the cases that did run are drawn all the same.
func TestChartsSkipACaseWithoutASuccessfulRun(t *testing.T) {
	echo, idle := allCases[0], allCases[4]
	good := func(s string, ops float64) result {
		return result{Case: echo.ID, Server: s, Round: 1, Window: 1, Ops: uint64(ops), OpsPerSec: ops, P99: 100,
			UserSeconds: 0.1, SysSeconds: 0.9, OpsPerCPU: ops}
	}
	rep := reviewReport(good("eddy-epoll", 100000), good("gnet", 90000),
		result{Case: idle.ID, Server: "eddy-epoll", Round: 1, Error: "eddy load opened no connection"},
		result{Case: idle.ID, Server: "gnet", Round: 1, Error: "eddy load opened no connection"})
	dir := t.TempDir()
	files, err := rep.charts(dir)
	if err != nil {
		t.Errorf("charts: %v", err)
	}
	for _, want := range []string{"efficiency-echo.png", "throughput-echo.png"} {
		if !slices.Contains(files, want) {
			t.Errorf("charts %q lack %s", files, want)
		}
		if _, err := os.Stat(filepath.Join(dir, want)); err != nil {
			t.Errorf("%s not drawn: %v", want, err)
		}
	}
	if slices.Contains(files, idle.ID+".png") {
		t.Errorf("charts %q include the idle case, in which every run failed", files)
	}

	// A case of a kind in which every run failed gives no chart of that kind, and no error.
	rep = reviewReport(result{Case: echo.ID, Server: "eddy-epoll", Round: 1, Error: "boom"})
	if files, err := rep.charts(t.TempDir()); err != nil || len(files) != 0 {
		t.Errorf("charts of a report without a successful run: %q, %v; want none and no error", files, err)
	}
}

// A run whose window counted no server CPU tick (a window cut short, a server starved of its core) has
// no per-CPU-second figure: it does not count in the median as 0 round trips per CPU-second.
func TestPerCPUMedianLeavesOutRunsWithoutCPU(t *testing.T) {
	echo := allCases[0]
	rep := reviewReport(
		result{Case: echo.ID, Server: "eddy-epoll", Round: 1, Window: 0.9, Ops: 90000, OpsPerSec: 100000, P99: 100,
			UserSeconds: 0.1, SysSeconds: 0.8, OpsPerCPU: 100000},
		// Round 2: no tick of server CPU in the window, so drive left OpsPerCPU unset.
		result{Case: echo.ID, Server: "eddy-epoll", Round: 2, Window: 0.05, Ops: 5000, OpsPerSec: 100000, P99: 100},
	)
	sm := rep.find(echo.ID, "eddy-epoll")
	if sm == nil || sm.Runs != 2 {
		t.Fatalf("summary %+v, want 2 runs", sm)
	}
	if sm.OpsPerCPU != 100000 {
		t.Errorf("per CPU-second %.0f, want 100,000: the median of the one run in which it was measured", sm.OpsPerCPU)
	}
	if sm.XPerCPU != 1 {
		t.Errorf("ratio per CPU-second to itself %v, want 1", sm.XPerCPU)
	}
}

// Servers that serve none of the cases asked for (echo servers for the HTTP cases) are a usage error,
// reported before anything is built: not a results folder of empty tables after the build, with "no run
// succeeded" as if every run had failed.
func TestServersThatServeNoCaseAreRefused(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results")
	err := run(t.Context(), []string{"--cases", "http", "--servers", "gnet,net", "--duration", "1s", "--rounds", "1", "--out", out}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "serve none of the cases") {
		t.Errorf("run: %v; want the usage error that gnet and net serve none of the HTTP cases", err)
	}
	if _, serr := os.Stat(out); serr == nil {
		t.Errorf("%s was written although there was nothing to run", out)
	}
}
