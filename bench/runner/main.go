// Command runner measures eddy's echo (and, where they exist, HTTP) servers against the peers people
// would otherwise pick, on this machine, and writes the results to a folder: a Markdown table, the raw
// JSON of every run and charts.
//
// Run it from the bench module:
//
//	cd bench && go run ./runner --duration 10s --rounds 3
//
// It builds the servers of bench/cmd (and bench/http), and the eddy CLI from the parent module, then for
// each round, each case and each server in turn (A B C, B C A, ...: each round starts one server further
// along): starts the server pinned to one CPU
// (taskset -c 0, GOMAXPROCS=1), drives it with eddy load (echo, idle and HTTP modes; wrk for HTTP with
// --http-load wrk) pinned to another (taskset -c 1), and reads the server's CPU time from /proc/PID/stat and its memory from /proc/PID/status. The
// tables report the median over the rounds and every server's ratio to eddy on epoll (to eddy's native
// HTTP/1 handler for HTTP).
//
// Every process the runner starts gets a process group of its own and is stopped by its PID when its
// run ends, when a run fails, and on Ctrl-C or SIGTERM; results gathered so far are written all the same.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyio/eddy/internal/cpuset"
)

// config is the command line.
type config struct {
	duration  time.Duration
	rounds    int
	servers   string
	cases     string
	out       string
	serverCPU int
	loadCPU   int
	settle    time.Duration
	nice      int
	render    string
	httpLoad  string // "eddy" or "wrk": what drives the HTTP cases
	loadEng   string // the engine of eddy load
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "runner: %v\n", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("runner", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "measured `duration` of each echo and HTTP run")
	fs.IntVar(&cfg.rounds, "rounds", 3, "number of rounds; each runs every case on every server once")
	fs.StringVar(&cfg.servers, "servers", "all", "comma `list` of servers: echo (eddy-epoll, eddy-uring, eddy-std, gnet, nbio, evio, netpoll, net) and HTTP (eddy-http1-native, eddy-http1-nethttp, fasthttp, nethttp, nbhttp)")
	fs.StringVar(&cfg.cases, "cases", "all", "comma `list` of cases: all, echo, idle, http, or case IDs ("+caseIDs()+")")
	fs.StringVar(&cfg.out, "out", filepath.Join("results", time.Now().Format("2006-01-02")), "results `folder`")
	fs.IntVar(&cfg.serverCPU, "server-cpu", 0, "`CPU` the servers are pinned to")
	fs.IntVar(&cfg.loadCPU, "load-cpu", 1, "`CPU` the load generator is pinned to")
	fs.DurationVar(&cfg.settle, "settle", time.Second, "idle case: wait this long before each memory reading")
	fs.StringVar(&cfg.render, "render", "", "measure nothing: redraw results.md and the charts of the results `folder` from its results.json")
	fs.StringVar(&cfg.httpLoad, "http-load", "eddy", "load generator of the HTTP cases: eddy (eddy load --mode http) or wrk (wrk -t1, as a cross-check)")
	fs.StringVar(&cfg.loadEng, "load-engine", "auto", "`engine` of eddy load (auto, epoll, uring or std); auto picks uring where the kernel has it, the cheaper client, so that the server and not the load generator is the limit")
	fs.IntVar(&cfg.nice, "nice", 0, "`niceness` of the servers and load generators and of their autogroups (negative needs root; 0 leaves them as they are): on a shared machine, -20 makes other work take less of their cores, and starves it")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	switch {
	case fs.NArg() > 0:
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case cfg.duration < time.Second:
		return cfg, fmt.Errorf("--duration %v: want at least 1s", cfg.duration)
	case cfg.httpLoad != "eddy" && cfg.httpLoad != "wrk":
		return cfg, fmt.Errorf("--http-load %q: want eddy or wrk", cfg.httpLoad)
	case cfg.rounds < 1:
		return cfg, fmt.Errorf("--rounds %d: want at least 1", cfg.rounds)
	case cfg.serverCPU == cfg.loadCPU:
		return cfg, fmt.Errorf("--server-cpu and --load-cpu are both %d: want two CPUs", cfg.loadCPU)
	}
	return cfg, checkCPUs(cfg.serverCPU, cfg.loadCPU, cpuAllowed())
}

// checkCPUs refuses a server or load CPU that this process may not run on (allowed): taskset would
// refuse it in every run.
func checkCPUs(serverCPU, loadCPU int, allowed func(cpu int) bool) error {
	if !allowed(serverCPU) || !allowed(loadCPU) {
		return fmt.Errorf("--server-cpu %d, --load-cpu %d: this process may run on CPUs %s", serverCPU, loadCPU, cpuset.List(allowed))
	}
	return nil
}

// cpuAllowed reports whether this process may run on a CPU: whether it is in the process's affinity set
// (on a machine or container that restricts it, not every CPU is), or, when that cannot be read,
// whether it is one of the first runtime.NumCPU.
func cpuAllowed() func(cpu int) bool {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		n := runtime.NumCPU()
		return func(cpu int) bool { return cpu >= 0 && cpu < n }
	}
	return func(cpu int) bool { return cpu >= 0 && set.IsSet(cpu) }
}

// run is the whole runner: set up, build, measure, write the results.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if cfg.render != "" {
		return render(cfg.render)
	}
	cases, err := selectCases(cfg.cases)
	if err != nil {
		return err
	}
	benchDir, err := benchModuleDir(ctx)
	if err != nil {
		return err
	}
	rn := &runner{cfg: cfg}
	if cfg.httpLoad == "wrk" {
		rn.wrk = lookWrk()
	}
	rn.procs.nice = cfg.nice
	defer rn.procs.killAll()
	if rn.ticks, err = clockTicks(); err != nil {
		return err
	}
	rep := newReport(cfg, args)

	// Servers: the echo servers, and the HTTP servers when an HTTP case is asked for and can run.
	all := make([]server, len(echoServers))
	copy(all, echoServers)
	for i := range all {
		all[i].Kind = kindEcho
	}
	if hasKind(cases, kindHTTP) {
		httpServers, why := discoverHTTPServers(benchDir)
		switch {
		case why != "":
			rep.note("HTTP plaintext cases skipped: %s.", why)
		case cfg.httpLoad == "wrk" && rn.wrk == "":
			rep.note("HTTP plaintext cases skipped: --http-load wrk, and wrk is not installed (apt-get install -y wrk).")
			httpServers = nil
		case cfg.httpLoad == "wrk":
			rep.note("HTTP plaintext is driven by wrk (%s), one thread, pinned like eddy load.", rn.wrk)
		default:
			rep.note("HTTP plaintext is driven by eddy load --mode http (keep-alive GET /, one request in flight per connection).")
		}
		all = append(all, httpServers...)
		if len(httpServers) == 0 {
			cases = withoutKind(cases, kindHTTP)
		}
	}
	servers, err := selectServers(all, cfg.servers)
	if err != nil {
		return err
	}
	if len(cases) == 0 {
		return errors.New("no case left to run")
	}
	// Echo servers serve the echo and idle cases, HTTP servers the HTTP ones: servers that serve none of
	// the cases would build everything to measure nothing, and end as if every run had failed.
	if !slices.ContainsFunc(cases, func(c benchCase) bool { return len(serversFor(servers, c)) > 0 }) {
		ids := make([]string, len(cases))
		for i, c := range cases {
			ids[i] = c.ID
		}
		return fmt.Errorf("--servers %s: they serve none of the cases asked for (%s)", cfg.servers, strings.Join(ids, ", "))
	}

	binDir, err := os.MkdirTemp("", "eddy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(binDir)
	fmt.Fprintf(stderr, "runner: building the servers and eddy load\n")
	if rn.eddyCLI, err = build(ctx, benchDir, binDir, servers); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}

	rep.start(cases, servers)
	err = rn.rounds(ctx, cases, servers, rep, stderr)
	if err != nil {
		rep.note("The run was interrupted (%v): the tables hold the runs finished before.", err)
	}
	rep.finish()
	if werr := rep.write(cfg.out); werr != nil {
		return errors.Join(err, werr)
	}
	fmt.Fprintf(stderr, "runner: results in %s\n", cfg.out)
	if err == nil && !rep.succeeded() {
		// Tables of failures are written all the same, but a run that measured nothing is a failure:
		// a script that checks the exit status must not take it for results.
		err = fmt.Errorf("no run succeeded (see %s)", filepath.Join(cfg.out, "results.md"))
	}
	return err
}

// rounds runs every case on every server once per round, each round starting one server further along
// (the first run of a round is favoured by a few per cent, and the ratios are to one server), and adds each
// run to rep. A server that exits before listening (an engine this build lacks, a port taken) is skipped
// from then on; its runs before are kept. It returns early only when ctx ends.
func (rn *runner) rounds(ctx context.Context, cases []benchCase, servers []server, rep *report, stderr io.Writer) error {
	total := 0
	for _, c := range cases {
		total += len(serversFor(servers, c))
	}
	total *= rn.cfg.rounds
	n := 0
	for round := 1; round <= rn.cfg.rounds; round++ {
		rep.round = round
		for _, c := range cases {
			list := serversFor(servers, c)
			for i := range list {
				s := list[(i+round-1)%len(list)]
				n++
				if _, ok := rep.Unavailable[s.Name]; ok {
					continue
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				r := result{Case: c.ID, Server: s.Name, Round: round}
				err := rn.measure(ctx, s, c, &r)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if isNotStarted(err) {
					rep.unavailable(s.Name, err)
					fmt.Fprintf(stderr, "[%d/%d] %-16s %-11s not available: %v\n", n, total, c.ID, s.Name, err)
					continue
				}
				if err != nil {
					r.Error = err.Error()
				}
				rep.add(r)
				fmt.Fprintf(stderr, "[%d/%d] round %d %-16s %-11s %s\n", n, total, round, c.ID, s.Name, r.line())
			}
		}
	}
	return nil
}

// serversFor returns the servers that serve case c.
func serversFor(servers []server, c benchCase) []server {
	want := kindEcho
	if c.Kind == kindHTTP {
		want = kindHTTP
	}
	var out []server
	for _, s := range servers {
		if s.Kind == want {
			out = append(out, s)
		}
	}
	return out
}

// hasKind reports whether a case of kind k is in cases.
func hasKind(cases []benchCase, k kind) bool {
	for _, c := range cases {
		if c.Kind == k {
			return true
		}
	}
	return false
}

// withoutKind returns cases without those of kind k.
func withoutKind(cases []benchCase, k kind) []benchCase {
	var out []benchCase
	for _, c := range cases {
		if c.Kind != k {
			out = append(out, c)
		}
	}
	return out
}

// line summarises a run on one progress line.
func (r *result) line() string {
	switch {
	case r.Error != "":
		return "error: " + r.Error
	case r.Open > 0:
		return fmt.Sprintf("%d conns, RSS %s -> %s, %.0f B/conn  load %.1f",
			r.Open, mib(r.RSSBefore), mib(r.RSSAfter), r.PerConn, r.LoadAvg)
	}
	s := fmt.Sprintf("%9.0f/s  p99 %s  cpu %.2fs  %7.0f per cpu-s  others %2.0f%%  load gen %.2f  loadavg %.1f",
		r.OpsPerSec, latency(r.P99), r.cpuSeconds(), r.OpsPerCPU, 100*r.CoreOthers, r.LoadGenCPU, r.LoadAvg)
	if r.LoadErrors > 0 {
		s += fmt.Sprintf("  (%d load errors)", r.LoadErrors)
	}
	return s
}

// mib prints bytes as MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// latency prints microseconds with a unit.
func latency(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us < 1000:
		return fmt.Sprintf("%.0f µs", us)
	default:
		return fmt.Sprintf("%.2f ms", us/1000)
	}
}

// commandLine is how the runner was started, for the results: the go run form from bench/.
func commandLine(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " \t'\"") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		quoted[i] = a
	}
	return strings.TrimSpace("cd bench && go run ./runner " + strings.Join(quoted, " "))
}
