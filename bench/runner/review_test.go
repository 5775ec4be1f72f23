package main

import (
	"context"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// parseWrk divides wrk's request count, which covers wrk's whole run (secs), by the server CPU of the
// runner's window, which httpWrk closes windowMargin before wrk's end; drive scales the count to the
// window (Window/Seconds), parseWrk does not, so per CPU-second is overstated by secs/(secs-0.1).
func TestReviewParseWrkPerCPUUsesTheSameWindowAsTheCPU(t *testing.T) {
	out := `Running 1s test @ http://127.0.0.1:1234/
  1 threads and 100 connections
  Latency Distribution
     50%  1.00ms
     99%  2.00ms
  90000 requests in 1.00s, 10.00MB read
Requests/sec:  90000.00
`
	// The server was busy all the time (0.9 CPU-s over a 0.9 s window) while wrk did 90,000 requests a
	// second: 90,000 requests per server CPU-second.
	r := result{Window: 0.9, UserSeconds: 0.1, SysSeconds: 0.8}
	if err := parseWrk(out, &r); err != nil {
		t.Fatal(err)
	}
	if want := 90000.0; math.Abs(r.OpsPerCPU-want)/want > 0.01 {
		t.Errorf("OpsPerCPU = %.0f, want %.0f: wrk's requests over %gs divided by CPU over a %gs window", r.OpsPerCPU, want, 1.0, r.Window)
	}
}

// reference is documented as eddy-epoll for echo (docs/benchmarks.md: "Ratios (×): ... eddy-epoll for
// echo and idle"), but it takes the first eddy server in the --servers list, which keeps the user's order.
func TestReviewReferenceDoesNotDependOnServersOrder(t *testing.T) {
	all := make([]server, len(echoServers))
	copy(all, echoServers)
	for i := range all {
		all[i].Kind = kindEcho
	}
	servers, err := selectServers(all, "gnet,eddy-std,eddy-epoll")
	if err != nil {
		t.Fatal(err)
	}
	rep := newReport(config{duration: time.Second, rounds: 1, loadCPU: 1}, nil)
	rep.start([]benchCase{allCases[0]}, servers)
	if got := rep.Reference[string(kindEcho)]; got != "eddy-epoll" {
		t.Errorf("echo ratios are to %q, want eddy-epoll (with --servers gnet,eddy-std,eddy-epoll)", got)
	}
}

// A server that fails to start in a later round (rounds() marks it unavailable "from then on") loses
// the runs it completed in the earlier rounds: finish() skips unavailable servers altogether, so the
// reference's good runs vanish and no other server gets a ratio.
func TestReviewLaterStartFailureKeepsEarlierRuns(t *testing.T) {
	servers := []server{{Name: "eddy-epoll", Kind: kindEcho}, {Name: "gnet", Kind: kindEcho}}
	c := allCases[0]
	rep := newReport(config{duration: time.Second, rounds: 2, loadCPU: 1}, nil)
	rep.start([]benchCase{c}, servers)
	good := func(s string, ops float64) result {
		return result{Case: c.ID, Server: s, Round: 1, Window: 1, Ops: uint64(ops), OpsPerSec: ops, P99: 100,
			UserSeconds: 0.1, SysSeconds: 0.9, OpsPerCPU: ops}
	}
	rep.add(good("eddy-epoll", 100000))
	rep.add(good("gnet", 90000))
	// Round 2: eddy-epoll exits before listening (a port taken meanwhile, say).
	rep.unavailable("eddy-epoll", errNotStarted{"eddy-epoll", "listen tcp 127.0.0.1:40000: bind: address already in use"})
	r2 := good("gnet", 90000)
	r2.Round = 2
	rep.add(r2)
	rep.finish()

	if sm := rep.find(c.ID, "eddy-epoll"); sm == nil || sm.Runs != 1 {
		t.Errorf("eddy-epoll's round-1 run is gone from the summary: %+v", sm)
	}
	if sm := rep.find(c.ID, "gnet"); sm == nil || sm.XOps == 0 {
		t.Errorf("gnet has no ratio to eddy-epoll although eddy-epoll ran in round 1: %+v", sm)
	}
}

// drive waits for eddy load to exit with no bound once the window is over (finishLoad waits on ctx
// only): a load generator that never exits hangs the runner for ever. eddy bench bounds the same wait
// (loadGrace); the runner should give up and fail the run.
func TestReviewDriveGivesUpOnAHungLoadGenerator(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "eddy")
	// A load generator that says it runs, then never ends.
	script := "#!/bin/sh\necho 'eddy load: running 1 connections for 1s' >&2\nexec sleep 600\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	rn := &runner{cfg: config{duration: time.Second, serverCPU: 0, loadCPU: 1, loadEng: "auto"}, eddyCLI: fake, ticks: 100}
	defer rn.procs.killAll()
	sp, err := rn.procs.start("server", 0, nil, "sleep", "600")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.stop(time.Second)
	lp, err := rn.startLoad("127.0.0.1:1", "--conns", "1", "--duration", "1s")
	if err != nil {
		t.Fatal(err)
	}
	// The test's own bound: eight times the 1 s run.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	var r result
	start := time.Now()
	err = rn.drive(ctx, sp, lp, &r)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("drive returned only when the test's context expired, after %v: it waits for a hung load generator for ever", time.Since(start).Round(time.Second))
	}
	if err == nil {
		t.Fatalf("drive: no error for a load generator that never exited")
	}
	if !strings.Contains(err.Error(), "load") {
		t.Logf("drive: %v", err)
	}
}

// The tables, the rounds and the reference are the same however --servers spells the set.
func TestSelectServersKeepsTheRunnersOrder(t *testing.T) {
	got, err := selectServers(echoServers, "net, gnet,eddy-std,gnet")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
	}
	if want := "eddy-std gnet net"; strings.Join(names, " ") != want {
		t.Errorf("servers %q, want %q", names, want)
	}
	if _, err := selectServers(echoServers, "gnet,nope"); err == nil || !strings.Contains(err.Error(), `unknown server "nope"`) {
		t.Errorf("unknown server: error %v", err)
	}
	// Without eddy-epoll, the first eddy server of the runner's order.
	echo := make([]server, len(got))
	for i, s := range got {
		s.Kind = kindEcho
		echo[i] = s
	}
	if ref := reference(echo, kindEcho); ref != "eddy-std" {
		t.Errorf("reference %q without eddy-epoll, want eddy-std", ref)
	}
}

// A server unavailable from a later round stays in the tables and the ratio table, with a note
// instead of the "Not available" line of a server that never ran.
func TestMarkdownKeepsAServerUnavailableFromALaterRound(t *testing.T) {
	servers := []server{{Name: "eddy-epoll", Kind: kindEcho}, {Name: "eddy-uring", Kind: kindEcho}, {Name: "gnet", Kind: kindEcho}}
	c := allCases[0]
	rep := newReport(config{duration: time.Second, rounds: 2, loadCPU: 1}, nil)
	rep.start([]benchCase{c}, servers)
	rep.round = 1
	rep.unavailable("eddy-uring", errNotStarted{"eddy-uring", "no io_uring"})
	for round := 1; round <= 2; round++ {
		rep.round = round
		if round == 2 {
			rep.unavailable("eddy-epoll", errNotStarted{"eddy-epoll", "address already in use"})
		} else {
			rep.add(result{Case: c.ID, Server: "eddy-epoll", Round: round, Window: 1, OpsPerSec: 100, P99: 10, SysSeconds: 1, OpsPerCPU: 100})
		}
		rep.add(result{Case: c.ID, Server: "gnet", Round: round, Window: 1, OpsPerSec: 50, P99: 20, SysSeconds: 1, OpsPerCPU: 50})
	}
	rep.finish()
	var md strings.Builder
	rep.markdown(&md, nil)
	text := md.String()
	for _, want := range []string{
		"- eddy-epoll is unavailable from round 2 (eddy-epoll exited before listening: address already in use)",
		"- Not available: eddy-uring (eddy-uring exited before listening: no io_uring)",
		"| eddy-epoll | 1.00 / 1.00 |",
		"| gnet | 0.50 / 0.50 |",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("results.md lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Not available: eddy-epoll") {
		t.Errorf("eddy-epoll, which ran in round 1, is listed as not available:\n%s", text)
	}
	if !rep.succeeded() {
		t.Error("succeeded() is false with successful runs")
	}
}

// A run that measured nothing is no success.
func TestSucceededWantsARunWithoutError(t *testing.T) {
	rep := newReport(config{duration: time.Second, rounds: 1, loadCPU: 1}, nil)
	if rep.succeeded() {
		t.Error("succeeded() with no run")
	}
	rep.add(result{Server: "gnet", Error: "boom"})
	if rep.succeeded() {
		t.Error("succeeded() with only a failed run")
	}
}

// The CPUs are checked against the affinity set, which need not be 0..NumCPU-1.
func TestCheckCPUsUsesTheAffinitySet(t *testing.T) {
	allowed := func(cpu int) bool { return cpu == 2 || cpu == 3 || cpu == 5 }
	if err := checkCPUs(2, 5, allowed); err != nil {
		t.Errorf("CPUs 2 and 5 of 2,3,5: %v", err)
	}
	err := checkCPUs(0, 1, allowed)
	if want := "--server-cpu 0, --load-cpu 1: this process may run on CPUs 2-3,5"; err == nil || err.Error() != want {
		t.Errorf("CPUs 0 and 1 of 2,3,5: error %v, want %q", err, want)
	}
	if _, err := parseFlags([]string{"--server-cpu", "4096"}, io.Discard); err == nil || !strings.Contains(err.Error(), "this process may run on CPUs") {
		t.Errorf("--server-cpu 4096: error %v", err)
	}
}

// wrk prints minutes for runs of a minute or more.
func TestParseWrkMinutes(t *testing.T) {
	out := "  1 threads and 100 connections\n  6000000 requests in 1.00m, 1.00GB read\nRequests/sec: 100000.00\n"
	r := result{Window: 59.9, SysSeconds: 59.9}
	if err := parseWrk(out, &r); err != nil {
		t.Fatal(err)
	}
	if math.Abs(r.OpsPerCPU-100000) > 1 {
		t.Errorf("OpsPerCPU = %.0f, want 100000", r.OpsPerCPU)
	}
}
