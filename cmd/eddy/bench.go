package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// benchCommand is "eddy bench": eddy's engines against package net on the echo and HTTP plaintext cases,
// every server and load generator a child process of this same binary.
var benchCommand = command{
	name:    "bench",
	summary: "compare eddy's engines with package net and net/http on echo and HTTP plaintext, and print a table of ratios",
	usage:   "eddy bench [--duration D] [--rounds N] [--echo-conns 100,1000] [--http-conns 100] [--size B] [--server-cpu C] [--load-cpu C] [--json]",
	flags: func() (*flag.FlagSet, func(context.Context, io.Writer, io.Writer) error) {
		cfg := defaultBenchConfig()
		fs := flag.NewFlagSet("bench", flag.ContinueOnError)
		fs.DurationVar(&cfg.duration, "duration", cfg.duration, "measured `duration` of each run")
		fs.IntVar(&cfg.rounds, "rounds", cfg.rounds, "number of rounds; each runs every case on every server once, each round starting one server further along")
		fs.Func("echo-conns", "comma `list` of connection counts for the echo cases (\"\": none; default 100,1000)", func(s string) error {
			n, err := parseCounts(s)
			cfg.echoConns = n
			return err
		})
		fs.Func("http-conns", "comma `list` of connection counts for the HTTP plaintext cases (\"\": none; default 100)", func(s string) error {
			n, err := parseCounts(s)
			cfg.httpConns = n
			return err
		})
		fs.IntVar(&cfg.size, "size", cfg.size, "echo message size in `bytes`")
		fs.IntVar(&cfg.serverCPU, "server-cpu", cfg.serverCPU, "`CPU` the servers are pinned to (Linux, with taskset; default 0)")
		fs.IntVar(&cfg.loadCPU, "load-cpu", cfg.loadCPU, "`CPU` the load generator is pinned to (Linux, with taskset)")
		fs.BoolVar(&cfg.json, "json", false, "print the results as JSON instead of tables")
		return fs, func(ctx context.Context, stdout, stderr io.Writer) error {
			fs.Visit(func(f *flag.Flag) {
				switch f.Name {
				case "server-cpu":
					cfg.serverCPUSet = true
				case "load-cpu":
					cfg.loadCPUSet = true
				}
			})
			_, err := runBench(ctx, cfg, stdout, stderr)
			return err
		}
	},
}

// benchConfig is the configuration of a benchmark.
type benchConfig struct {
	duration  time.Duration
	rounds    int
	echoConns []int
	httpConns []int
	size      int
	serverCPU int
	loadCPU   int
	json      bool

	// serverCPUSet and loadCPUSet say that the CPU was given on the command line: it must exist. The
	// defaults may not, and then the children run unpinned.
	serverCPUSet, loadCPUSet bool

	// command returns the command line and the extra environment that run this binary as "eddy args...".
	// It is selfCommand but for tests, whose binary is not eddy.
	command func(args []string) (argv, env []string)
}

// defaultBenchConfig returns the configuration of a plain "eddy bench": 2 rounds of 2 s runs on three
// cases and eleven servers, about 75 s in all.
func defaultBenchConfig() benchConfig {
	return benchConfig{
		duration:  2 * time.Second,
		rounds:    2,
		echoConns: []int{100, 1000},
		httpConns: []int{100},
		size:      64,
		serverCPU: 0,
		loadCPU:   1,
		command:   selfCommand,
	}
}

// selfCommand runs this executable with args.
func selfCommand(args []string) (argv, env []string) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	return append([]string{exe}, args...), nil
}

// check validates the configuration.
func (cfg benchConfig) check() error {
	switch {
	case cfg.duration < 100*time.Millisecond:
		return usagef("bench", "--duration %v: want at least 100ms", cfg.duration)
	case cfg.rounds < 1:
		return usagef("bench", "--rounds %d: want at least 1", cfg.rounds)
	case cfg.size < 1 || cfg.size > 64<<20:
		return usagef("bench", "--size %d: want 1..%d", cfg.size, 64<<20)
	case len(cfg.echoConns) > 0 && echoBytes(slices.Max(cfg.echoConns), cfg.size, 1) > maxEchoBytes:
		return usagef("bench", "--echo-conns %d with --size %d would hold %d MiB of messages in the load generator: want at most %d MiB",
			slices.Max(cfg.echoConns), cfg.size, echoBytes(slices.Max(cfg.echoConns), cfg.size, 1)>>20, maxEchoBytes>>20)
	case len(cfg.echoConns)+len(cfg.httpConns) == 0:
		return usagef("bench", "--echo-conns and --http-conns are both empty: nothing to run")
	case cfg.serverCPU < 0 || cfg.loadCPU < 0:
		return usagef("bench", "--server-cpu %d, --load-cpu %d: want 0 or more", cfg.serverCPU, cfg.loadCPU)
	case cfg.serverCPU == cfg.loadCPU:
		return usagef("bench", "--server-cpu and --load-cpu are both %d: want two CPUs", cfg.loadCPU)
	}
	return nil
}

// parseCounts reads a comma list of connection counts; "" is the empty list.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a connection count", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// caseKind is what a case measures, and so which servers serve it and which load mode drives it.
type caseKind string

const (
	kindEcho caseKind = "echo" // ping-pong round trips of size bytes
	kindHTTP caseKind = "http" // keep-alive GET / for "Hello, World!", one request in flight per connection
)

// benchCase is one measured situation.
type benchCase struct {
	ID    string   `json:"id"`
	Kind  caseKind `json:"kind"`
	Conns int      `json:"conns"`
	Size  int      `json:"size,omitempty"` // echo only
}

// title describes c for people.
func (c benchCase) title() string {
	if c.Kind == kindEcho {
		return fmt.Sprintf("Echo, %s connections, %d B messages", thousands(float64(c.Conns)), c.Size)
	}
	return fmt.Sprintf("HTTP plaintext, %s connections", thousands(float64(c.Conns)))
}

// cases returns the cases of cfg in the order each round runs them.
func (cfg benchConfig) cases() []benchCase {
	var out []benchCase
	for _, n := range cfg.echoConns {
		out = append(out, benchCase{ID: fmt.Sprintf("echo-c%d-%dB", n, cfg.size), Kind: kindEcho, Conns: n, Size: cfg.size})
	}
	for _, n := range cfg.httpConns {
		out = append(out, benchCase{ID: fmt.Sprintf("http-c%d", n), Kind: kindHTTP, Conns: n})
	}
	return out
}

// benchServer is one server under test: an eddy subcommand and its flags, to which the bench adds
// --addr tcp://127.0.0.1:0. Every server logs "listening on <addr>" on standard error once it is ready.
type benchServer struct {
	Name string
	Kind caseKind
	Eddy bool // one of eddy's engines; the others are the peers
	args []string
}

// The reference servers, to which the others are compared when they ran.
const (
	echoReference = "eddy-epoll"
	httpReference = "eddy-epoll-native"
)

// rotate returns s starting at its k-th element (modulo its length), the elements before it moved to
// the end.
func rotate[T any](s []T, k int) []T {
	if len(s) == 0 {
		return s
	}
	k %= len(s)
	return append(s[k:len(s):len(s)], s[:k]...)
}

// benchServers lists the servers in the order each case runs them: every engine, epoll and uring with
// one loop (the server gets one CPU; std serves on goroutines, not loops, and warns of --loops), then
// the package net peer.
func benchServers() []benchServer {
	engines := []string{"epoll", "uring", "std"}
	engineArgs := func(e string) []string {
		if e == "std" {
			return []string{"--engine", e}
		}
		return []string{"--engine", e, "--loops", "1"}
	}
	var out []benchServer
	for _, e := range engines {
		out = append(out, benchServer{Name: "eddy-" + e, Kind: kindEcho, Eddy: true,
			args: append([]string{"echo"}, engineArgs(e)...)})
	}
	out = append(out, benchServer{Name: "net", Kind: kindEcho, args: []string{"echo", "--baseline"}})
	for _, e := range engines {
		for _, style := range []string{"native", "nethttp"} {
			out = append(out, benchServer{Name: "eddy-" + e + "-" + style, Kind: kindHTTP, Eddy: true,
				args: append([]string{"hello", "--style", style}, engineArgs(e)...)})
		}
	}
	out = append(out, benchServer{Name: "net/http", Kind: kindHTTP, args: []string{"hello", "--baseline"}})
	return out
}

// serversFor returns the servers of kind k.
func serversFor(all []benchServer, k caseKind) []benchServer {
	var out []benchServer
	for _, s := range all {
		if s.Kind == k {
			out = append(out, s)
		}
	}
	return out
}

// runBench runs every case on every server once per round, interleaved (A B C B C A C A B: each round
// starts one server further along, since the first run of a round is favoured by a few per cent, and
// the ratios are to the first server, eddy on epoll), prints progress to stderr and the tables (or
// JSON) to stdout, and returns the report. Interrupted by ctx, it stops its children, still prints what
// it measured, and returns an error that wraps ctx's. When no run succeeded it prints the tables and
// returns an error too.
func runBench(ctx context.Context, cfg benchConfig, stdout, stderr io.Writer) (*benchReport, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := cfg.checkCPUs(platformCPUAllowed()); err != nil {
		return nil, err
	}
	start := time.Now()
	b := &bench{cfg: cfg, pin: platformPinning(cfg.serverCPU, cfg.loadCPU), cpu: platformCPU()}
	if b.pin.pinned() && b.cpu != nil {
		b.core = platformCore()
	}
	rep := newBenchReport(cfg, b.pin)
	if b.cpu == nil {
		rep.note("Server CPU time is not measured on this platform (it is read from /proc/PID/stat on Linux).")
	}
	prog := newProgress(stderr)
	prog.println("eddy bench: " + b.pin.String())

	cases := cfg.cases()
	servers := benchServers()
	total := 0
	for _, c := range cases {
		total += len(serversFor(servers, c.Kind))
	}
	total *= cfg.rounds
	prog.println(fmt.Sprintf("eddy bench: %s, %s of %v per case and server: %s",
		plural(len(cases), "case"), plural(cfg.rounds, "round"), cfg.duration, plural(total, "run")))

	var err error
	n := 0
rounds:
	for round := 1; round <= cfg.rounds; round++ {
		rep.round = round
		for _, c := range cases {
			for _, s := range rotate(serversFor(servers, c.Kind), round-1) {
				n++
				if rep.skipReason(c, s) != "" {
					continue // the server is not available here, or the load generator cannot run the case
				}
				if err = ctx.Err(); err != nil {
					break rounds
				}
				label := fmt.Sprintf("[%d/%d] round %d  %-15s %-18s", n, total, round, c.ID, s.Name)
				stopTrack := prog.track(label, cfg.duration, start)
				r, merr := b.measure(ctx, c, s, round)
				stopTrack()
				if err = ctx.Err(); err != nil {
					break rounds
				}
				var notStarted *errNotStarted
				var cannot *errLoadCannot
				switch {
				case errors.As(merr, &notStarted):
					rep.markUnavailable(s, merr)
					prog.println(fmt.Sprintf("%s not available: %v", label, merr))
				case errors.As(merr, &cannot):
					rep.loadCannot(c, merr)
					prog.println(fmt.Sprintf("%s skipped: %v", label, merr))
				default:
					if merr != nil {
						r.Error = merr.Error()
					}
					rep.add(r)
					prog.println(label + " " + r.line())
				}
			}
		}
	}
	rep.pids = b.pids
	rep.finish(time.Since(start))
	if err != nil {
		rep.note("Interrupted: the tables hold the runs finished before.")
		err = interruptedError{err}
	} else if !rep.succeeded() && (len(rep.Runs) > 0 || len(rep.unavailable) > 0) {
		// The tables of failures are printed all the same, but a bench that measured nothing fails
		// (exit 1), so that a script does not take it for results. Cases the load generator cannot run
		// are skipped, not failed: when they are all there is, there is nothing to fail.
		err = errors.New("no run succeeded: every server failed or could not start (see above)")
	}
	if cfg.json {
		if werr := rep.writeJSON(stdout); werr != nil {
			return rep, errors.Join(err, werr)
		}
	} else {
		rep.writeText(stdout)
	}
	return rep, err
}

// interruptedError is the error of a bench that SIGINT or SIGTERM stopped: it says "interrupted", and
// wraps ctx's error. It said "interrupted (context canceled)", the cancellation that the signal makes
// being no news to the user who sent it.
type interruptedError struct{ cause error }

func (e interruptedError) Error() string { return "interrupted" }

func (e interruptedError) Unwrap() error { return e.cause }

// plural returns "1 run", "2 runs".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
