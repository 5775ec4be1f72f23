package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeLoadEnv, set in a child that runs "eddy load --mode http", replaces that load generator by one
// without an HTTP mode ("reject"), which fails as eddy load does on a mode it does not know: the test of
// the skip path.
const fakeLoadEnv = "EDDY_CMD_TEST_FAKE_LOAD"

func init() {
	if os.Getenv(fakeLoadEnv) == "reject" && os.Getenv(childEnv) != "" {
		fmt.Fprintln(os.Stderr, `eddy: load: --mode "http": want echo`)
		fmt.Fprintln(os.Stderr, "Run 'eddy help load' for usage.")
		os.Exit(exitUsage)
	}
}

// quickEchoBench is testBenchConfig(""), its echo case only (2 connections) in runs of 200 ms; with
// loadEnv, every load generator runs with loadEnv=1 in its environment.
func quickEchoBench(loadEnv string) benchConfig {
	cfg := testBenchConfig("")
	cfg.echoConns, cfg.httpConns = []int{2}, nil
	cfg.duration = 200 * time.Millisecond
	if loadEnv != "" {
		inner := cfg.command
		cfg.command = func(args []string) (argv, env []string) {
			argv, env = inner(args)
			if args[0] == "load" {
				env = append(env, loadEnv+"=1")
			}
			return argv, env
		}
	}
	return cfg
}

// testBenchConfig is a quick benchmark whose children are this test binary run as eddy; fake, when not
// empty, replaces the HTTP load generator (see fakeLoadEnv).
func testBenchConfig(fake string) benchConfig {
	cfg := defaultBenchConfig()
	cfg.duration = 300 * time.Millisecond
	cfg.rounds = 1
	cfg.echoConns = []int{2, 8}
	cfg.httpConns = []int{4}
	cfg.command = func(args []string) (argv, env []string) {
		// GORACE: the race detector otherwise sleeps a second at the exit of each child.
		env = []string{childEnv + "=1", childArgsEnv + "=" + strings.Join(args, "\n"), "GORACE=atexit_sleep_ms=0"}
		if fake != "" && args[0] == "load" && slices.Contains(args, "http") {
			env = append(env, fakeLoadEnv+"="+fake)
		}
		return []string{os.Args[0], "-test.run=^$"}, env
	}
	return cfg
}

// checkChildrenGone fails the test for every child process of rep still alive.
func checkChildrenGone(t *testing.T, rep *benchReport) {
	t.Helper()
	if len(rep.pids) == 0 {
		t.Error("no child process recorded")
	}
	for _, pid := range rep.pids {
		if p, err := os.FindProcess(pid); err == nil && p.Signal(syscall.Signal(0)) == nil {
			t.Errorf("child process %d is still running", pid)
		}
	}
}

func TestBenchShortRunMeasuresEveryServerAndCase(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 30 processes; skipped with -short")
	}
	defer goleak.VerifyNone(t)
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), testBenchConfig(""), &stdout, &stderr)
	if err != nil {
		t.Fatalf("runBench: %v\n%s", err, stderr.String())
	}
	checkChildrenGone(t, rep)

	measuredCPU := 0 // rows with server CPU time: a loaded machine may leave a few without a tick
	wantCases := []string{"echo-c2-64B", "echo-c8-64B", "http-c4"}
	if len(rep.Cases) != len(wantCases) {
		t.Fatalf("%d cases, want %v", len(rep.Cases), wantCases)
	}
	for i, c := range rep.Cases {
		if c.ID != wantCases[i] {
			t.Errorf("case %d is %s, want %s", i, c.ID, wantCases[i])
		}
		if c.Skipped != "" {
			t.Errorf("%s skipped: %s", c.ID, c.Skipped)
			continue
		}
		wantServers := serversFor(benchServers(), c.Kind)
		if len(c.Rows) != len(wantServers) {
			t.Errorf("%s: %d rows, want %d", c.ID, len(c.Rows), len(wantServers))
		}
		for j, row := range c.Rows {
			if row.Server != wantServers[j].Name {
				t.Errorf("%s: row %d is %s, want %s", c.ID, j, row.Server, wantServers[j].Name)
			}
			if row.Unavailable != "" && strings.Contains(row.Server, "uring") {
				t.Logf("%s: %s not available here: %s", c.ID, row.Server, row.Unavailable)
				continue
			}
			if row.Runs != 1 || row.OpsPerSec <= 0 || row.P99 <= 0 || row.RatioOps <= 0 {
				t.Errorf("%s, %s: %d runs, %v/s, p99 %v, ratio %v; want a measured run (failed: %v, unavailable: %q)",
					c.ID, row.Server, row.Runs, row.OpsPerSec, row.P99, row.RatioOps, row.Failed, row.Unavailable)
			}
			if row.ServerCPU != nil {
				measuredCPU++
			}
		}
		if want := map[caseKind]string{kindEcho: echoReference, kindHTTP: httpReference}[c.Kind]; c.Reference != want {
			t.Errorf("%s: ratios to %q, want %q", c.ID, c.Reference, want)
		}
	}

	if rep.Pinned && measuredCPU == 0 {
		t.Error("no server CPU time measured")
	}

	out := stdout.String()
	for _, want := range []string{"Echo, 2 connections, 64 B messages (ratios to eddy-epoll)", "HTTP plaintext, 4 connections",
		"eddy-std", "net/http", "eddy-uring-nethttp", "Total elapsed"} {
		if !strings.Contains(out, want) {
			t.Errorf("tables lack %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(stderr.String(), "eddy bench: "+rep.Pinning+"\n") {
		t.Errorf("stderr does not start with where the processes run:\n%s", stderr.String())
	}
	if n, want := strings.Count(stderr.String(), "] round 1 "), 2*4+7; n != want {
		t.Errorf("%d progress lines, want one per run (%d):\n%s", n, want, stderr.String())
	}

	var buf bytes.Buffer
	if err := rep.writeJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var decoded benchReport
	if err := json.Unmarshal(buf.Bytes(), &decoded); err != nil {
		t.Fatalf("decoding the JSON report: %v", err)
	}
	if len(decoded.Cases) != 3 || len(decoded.Runs) != len(rep.Runs) || decoded.Pinning != rep.Pinning {
		t.Errorf("JSON report has %d cases, %d runs, pinning %q; want 3, %d, %q",
			len(decoded.Cases), len(decoded.Runs), decoded.Pinning, len(rep.Runs), rep.Pinning)
	}
}

func TestBenchSkipsCaseTheLoadGeneratorCannotRun(t *testing.T) {
	defer goleak.VerifyNone(t)
	cfg := testBenchConfig("reject")
	cfg.echoConns = nil
	cfg.rounds = 2
	var stdout, stderr bytes.Buffer
	rep, err := runBench(t.Context(), cfg, &stdout, &stderr)
	if err != nil {
		t.Fatalf("runBench: %v\n%s", err, stderr.String())
	}
	checkChildrenGone(t, rep)
	if len(rep.pids) != 2 {
		t.Errorf("%d processes started, want 2: one server and one load generator, then the case is skipped", len(rep.pids))
	}
	if len(rep.Cases) != 1 || !strings.Contains(rep.Cases[0].Skipped, `--mode "http": want echo`) {
		t.Fatalf("cases %+v: want http-c4 skipped with the load generator's complaint", rep.Cases)
	}
	if want := "HTTP plaintext, 4 connections: skipped, eddy load cannot run this case (it rejected its command line: eddy: load: --mode"; !strings.Contains(stdout.String(), want) {
		t.Errorf("output lacks %q:\n%s", want, stdout.String())
	}
}

func TestBenchUsage(t *testing.T) {
	tests := []struct {
		args   []string
		stderr string
	}{
		{[]string{"--rounds", "0"}, "eddy: bench: --rounds 0"},
		{[]string{"--duration", "1ms"}, "eddy: bench: --duration 1ms"},
		{[]string{"--server-cpu", "1", "--load-cpu", "1"}, "both 1"},
		{[]string{"--echo-conns", "x"}, `"x" is not a connection count`},
		{[]string{"--echo-conns", "", "--http-conns", ""}, "nothing to run"},
		{[]string{"--echo-conns", "10,100", "--size", "67108864"}, "--echo-conns 100 with --size 67108864 would hold 12800 MiB"},
		// No machine has CPU 4096 (an affinity set holds 1024): named, it is refused rather than left
		// unpinned.
		{[]string{"--server-cpu", "4096"}, "--server-cpu 4096: no such CPU available to this process (it may run on CPUs 0"},
		{[]string{"--load-cpu", "4096"}, "--load-cpu 4096: no such CPU"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := runCmd(t, t.Context(), append([]string{"bench"}, tt.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit code %d, stderr %q; want %d and %q", code, stderr, exitUsage, tt.stderr)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{4, 2}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{10, 1, 2, 4}, 3},
	}
	for _, tt := range tests {
		xs := slices.Clone(tt.xs)
		if got := median(xs); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.xs, got, tt.want)
		}
		if !slices.Equal(xs, tt.xs) {
			t.Errorf("median reordered its argument: %v", xs)
		}
	}
}

func TestRatiosAreToTheReference(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	servers := benchServers()
	tests := []struct {
		name string
		kind caseKind
		rows []serverRow
		ref  string
		want map[string][2]float64 // server: throughput ratio, per CPU-second ratio
	}{
		{
			name: "eddy-epoll",
			kind: kindEcho,
			rows: []serverRow{
				{Server: "eddy-epoll", Runs: 2, OpsPerSec: 100, OpsPerCPU: f(200)},
				{Server: "eddy-std", Runs: 2, OpsPerSec: 150, OpsPerCPU: f(100)},
				{Server: "net", Runs: 1, OpsPerSec: 50, OpsPerCPU: f(300)},
			},
			ref:  "eddy-epoll",
			want: map[string][2]float64{"eddy-epoll": {1, 1}, "eddy-std": {1.5, 0.5}, "net": {0.5, 1.5}},
		},
		{
			name: "best eddy engine when epoll did not run",
			kind: kindHTTP,
			rows: []serverRow{
				{Server: "eddy-epoll-native", Unavailable: "no epoll"},
				{Server: "eddy-std-native", Runs: 1, OpsPerSec: 80, OpsPerCPU: f(100)},
				{Server: "eddy-std-nethttp", Runs: 1, OpsPerSec: 40, OpsPerCPU: f(50)},
				{Server: "net/http", Runs: 1, OpsPerSec: 200, OpsPerCPU: f(400)},
			},
			ref:  "eddy-std-native",
			want: map[string][2]float64{"eddy-std-native": {1, 1}, "eddy-std-nethttp": {0.5, 0.5}, "net/http": {2.5, 4}},
		},
		{
			name: "no eddy server ran",
			kind: kindEcho,
			rows: []serverRow{{Server: "eddy-epoll"}, {Server: "net", Runs: 1, OpsPerSec: 50}},
			ref:  "",
			want: map[string][2]float64{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tab := caseTable{benchCase: benchCase{Kind: tt.kind}, Rows: tt.rows}
			tab.Reference = reference(tt.kind, servers, tab.Rows)
			if tab.Reference != tt.ref {
				t.Fatalf("reference %q, want %q", tab.Reference, tt.ref)
			}
			tab.fillRatios()
			for _, row := range tab.Rows {
				want, ok := tt.want[row.Server]
				if !ok {
					if row.RatioOps != 0 || row.RatioPerCPU != nil {
						t.Errorf("%s: ratios %v, %v; want none", row.Server, row.RatioOps, row.RatioPerCPU)
					}
					continue
				}
				if row.RatioOps != want[0] || row.RatioPerCPU == nil || *row.RatioPerCPU != want[1] {
					t.Errorf("%s: ratios %v / %v, want %v", row.Server, row.RatioOps, row.RatioPerCPU, want)
				}
			}
		})
	}
}

func TestFinishTakesMediansOfRunsWithoutError(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	cfg := defaultBenchConfig()
	cfg.echoConns, cfg.httpConns = []int{100}, nil
	rep := newBenchReport(cfg, pinning{why: "test"})
	id := cfg.cases()[0].ID
	for i, ops := range []float64{100, 300, 200} {
		rep.add(benchRun{Case: id, Server: "eddy-epoll", Round: i + 1, OpsPerSec: ops, P99: int64(ops),
			ServerCPU: f(ops / 100), OpsPerCPU: f(ops * 2), LoadErrors: 1, FirstError: []string{"first", "second", "third"}[i]})
	}
	rep.add(benchRun{Case: id, Server: "eddy-epoll", Round: 4, OpsPerSec: 1e9, Error: "boom"})
	rep.add(benchRun{Case: id, Server: "net", Round: 1, OpsPerSec: 400, P99: 1, ServerCPU: f(1), OpsPerCPU: f(1600)})
	rep.markUnavailable(benchServer{Name: "eddy-uring"}, errors.New("no io_uring"))
	rep.finish(time.Second)

	rows := rep.Cases[0].Rows
	epoll, uring, net := rows[0], rows[1], rows[3]
	if epoll.Runs != 3 || epoll.OpsPerSec != 200 || epoll.OpsMin != 100 || epoll.OpsMax != 300 || epoll.P99 != 200 ||
		*epoll.ServerCPU != 2 || *epoll.OpsPerCPU != 400 || epoll.LoadErrors != 3 || len(epoll.Failed) != 1 {
		t.Errorf("eddy-epoll row %+v", epoll)
	}
	if uring.Unavailable != "no io_uring" || uring.Runs != 0 {
		t.Errorf("eddy-uring row %+v", uring)
	}
	if net.RatioOps != 2 || *net.RatioPerCPU != 4 {
		t.Errorf("net ratios %v / %v, want 2 / 4", net.RatioOps, *net.RatioPerCPU)
	}
	var out bytes.Buffer
	rep.writeText(&out)
	for _, want := range []string{"eddy-uring  not available: no io_uring", "eddy-std    no run", "echo-c100-64B, eddy-epoll failed in round 4: boom",
		"echo-c100-64B, eddy-epoll: the load generator counted 3 errors; the first: first"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestChoosePinning(t *testing.T) {
	all := func(int) bool { return true }
	tests := []struct {
		name     string
		numCPU   int
		allowed  func(int) bool
		taskset  string
		err      error
		pinned   bool
		describe string
	}{
		{"two CPUs and taskset", 2, all, "/usr/bin/taskset", nil, true, "server pinned to CPU 0 (GOMAXPROCS=1), load generator to CPU 1"},
		{"one CPU", 1, all, "/usr/bin/taskset", nil, false, "not pinned (1 CPU available, pinning needs 2)"},
		{"no taskset", 4, all, "", errors.New("not found"), false, "not pinned (taskset not found"},
		{"CPU not allowed", 4, func(c int) bool { return c != 1 }, "/usr/bin/taskset", nil, false, "not pinned (CPUs 0 and 1 are not both available"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := choosePinning(0, 1, tt.numCPU, tt.allowed, tt.taskset, tt.err)
			if p.pinned() != tt.pinned || !strings.HasPrefix(p.String(), tt.describe) {
				t.Errorf("pinned %v, %q; want %v, %q", p.pinned(), p, tt.pinned, tt.describe)
			}
			argv := p.wrap(1, []string{"eddy", "load"})
			want := []string{"eddy", "load"}
			if tt.pinned {
				want = []string{tt.taskset, "-c", "1", "eddy", "load"}
			}
			if !slices.Equal(argv, want) {
				t.Errorf("wrap: %q, want %q", argv, want)
			}
		})
	}
}

// A CPU given with --server-cpu or --load-cpu must be one this process may run on; the defaults, 0
// and 1, need not be: on a machine with one CPU the bench runs unpinned.
func TestBenchCheckCPUs(t *testing.T) {
	oneCPU := func(c int) bool { return c == 0 }
	someCPUs := func(c int) bool { return c == 0 || c == 1 || c == 2 || c == 5 }
	tests := []struct {
		name      string
		server    int
		load      int
		serverSet bool
		loadSet   bool
		allowed   func(int) bool
		want      string // "" for no error
	}{
		{"defaults on one CPU", 0, 1, false, false, oneCPU, ""},
		{"named server CPU exists", 0, 1, true, false, oneCPU, ""},
		{"named load CPU missing", 0, 1, false, true, oneCPU, "--load-cpu 1: no such CPU available to this process (it may run on CPUs 0)"},
		{"named server CPU missing", 7, 1, true, false, someCPUs, "--server-cpu 7: no such CPU available to this process (it may run on CPUs 0-2,5)"},
		{"both named and there", 5, 2, true, true, someCPUs, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := defaultBenchConfig()
			cfg.serverCPU, cfg.loadCPU, cfg.serverCPUSet, cfg.loadCPUSet = tt.server, tt.load, tt.serverSet, tt.loadSet
			err := cfg.checkCPUs(tt.allowed)
			var ue *usageError
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("error %v, want none", err)
			case tt.want != "" && (!errors.As(err, &ue) || err.Error() != tt.want):
				t.Errorf("error %v, want the usage error %q", err, tt.want)
			}
		})
	}
}

func TestCPUWindowCutsToTheLoadWindow(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	trace := cpuTrace{
		{at: ms(0), server: 0, load: 0},
		{at: ms(100), server: 10 * time.Millisecond, load: 50 * time.Millisecond, coreBusy: 20 * time.Millisecond, coreTotal: 100 * time.Millisecond},
		{at: ms(600), server: 260 * time.Millisecond, load: 550 * time.Millisecond},
		{at: ms(1100), server: 510 * time.Millisecond, load: 1050 * time.Millisecond, coreBusy: 720 * time.Millisecond, coreTotal: 1100 * time.Millisecond},
		{at: ms(1200), server: 600 * time.Millisecond, load: 1100 * time.Millisecond},
	}
	w := trace.window(ms(50), ms(1150))
	if w.span != time.Second || w.server != 500*time.Millisecond || w.load != time.Second {
		t.Fatalf("window %+v, want 1s span, 500ms server, 1s load", w)
	}
	r := benchRun{Seconds: 1.1, Ops: 11000}
	r.fillCPU(w)
	if r.ServerCPU == nil || *r.ServerCPU < 0.549 || *r.ServerCPU > 0.551 || *r.OpsPerCPU < 19999 || *r.OpsPerCPU > 20001 || *r.LoadCPU != 1 {
		t.Errorf("server CPU %v s, %v per CPU-s, load %v; want 0.55, 20000, 1", *r.ServerCPU, *r.OpsPerCPU, *r.LoadCPU)
	}
	// The CPU was busy 700 ms of 1 s, 500 ms of them the server's own.
	if r.CoreOthers == nil || *r.CoreOthers < 0.199 || *r.CoreOthers > 0.201 {
		t.Errorf("others on the server's CPU %v, want 0.2", r.CoreOthers)
	}
	if w := trace.window(ms(700), ms(1000)); w.span != 0 {
		t.Errorf("window with no two samples inside: %+v, want none", w)
	}
	var none benchRun
	none.fillCPU(cpuWindow{})
	if none.ServerCPU != nil {
		t.Error("CPU figures from an empty window")
	}
}

func TestThousands(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 999.4: "999", 1000: "1,000", 45123.6: "45,124", 1234567: "1,234,567", -2500: "-2,500"} {
		if got := thousands(v); got != want {
			t.Errorf("thousands(%v) = %q, want %q", v, got, want)
		}
	}
}

// A server that could not start after it ran keeps its row, and a note says from which round it is
// missing; one that never started is "not available".
func TestBenchNotesTheRoundAServerStoppedStarting(t *testing.T) {
	cfg := defaultBenchConfig()
	cfg.echoConns, cfg.httpConns = []int{2}, nil
	rep := newBenchReport(cfg, pinning{why: "test"})
	id := cfg.cases()[0].ID
	rep.round = 1
	rep.markUnavailable(benchServer{Name: "eddy-uring"}, errors.New("no io_uring"))
	rep.add(benchRun{Case: id, Server: "eddy-epoll", Round: 1, OpsPerSec: 100, Error: "boom"})
	rep.round = 2
	rep.markUnavailable(benchServer{Name: "eddy-epoll"}, errors.New("address in use"))
	rep.finish(time.Second)
	var out bytes.Buffer
	rep.writeText(&out)
	for _, want := range []string{"eddy-uring  not available: no io_uring", "eddy-epoll  every run failed (see below)",
		"eddy-epoll could not start from round 2 (address in use): its figures are those of its runs before."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "eddy-uring could not start from round") {
		t.Errorf("a note for eddy-uring, which never ran:\n%s", out.String())
	}
}
